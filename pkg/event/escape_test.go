package event

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain id", "M-001_x", "M-001_x"},
		{"chinese name", "北京烤鸭店（朝阳）", "北京烤鸭店（朝阳）"},
		{"emoji and accents", "café ☕ 🍜", "café ☕ 🍜"},
		{"backslash kept", `C:\x1b`, `C:\x1b`},
		{"replacement char kept", "a\uFFFDb", "a\uFFFDb"},
		{"NUL", "M\x00X", `M\x00X`},
		{"ANSI red", "M\x1b[31mRED\x1b[0m", `M\x1b[31mRED\x1b[0m`},
		{"OSC title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"BEL", "a\x07", `a\x07`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"tab newline CR", "a\tb\nc\rd", `a\tb\nc\rd`},
		{"C1 CSI as a rune", "a\u009b31m", `a\u009b31m`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"invalid byte 0x9b", "a\x9b31m", `a\x9b31m`},
		{"invalid byte 0xff", "\xff", `\xff`},
		{"truncated rune", "ab\xe4\xb8", `ab\xe4\xb8`},
		{"RLO", "M001\u202Egnp.exe", `M001\u202egnp.exe`},
		{"LRE PDF", "\u202Ax\u202C", `\u202ax\u202c`},
		{"isolates", "\u2066a\u2067b\u2068c\u2069", `\u2066a\u2067b\u2068c\u2069`},
		{"marks", "\u200E\u200F\u061C", `\u200e\u200f\u061c`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"zero width space and joiner", "M\u200B0\u200D1", `M\u200b0\u200d1`},
		{"soft hyphen", "M\u00AD1", `M\u00ad1`},
		{"BOM", "\uFEFFM1", `\ufeffM1`},
		{"tag character", "a\U000E0041", `a\U000e0041`},
		{"everything at once", "M\x00\x1b[31m\u202E1", `M\x00\x1b[31m\u202e1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EscapeText(tt.in)
			if got != tt.want {
				t.Errorf("EscapeText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("EscapeText(%q) = %q is not valid UTF-8", tt.in, got)
			}
			if again := EscapeText(got); again != got {
				t.Errorf("EscapeText is not idempotent on %q: %q", got, again)
			}
		})
	}
}

// TestEscapeTextLeavesNothingUnsafe: for every rune, the escaped form holds
// no character a terminal would act on.
func TestEscapeTextLeavesNothingUnsafe(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		s := EscapeText("a" + string(r) + "b")
		if i := escapeAt(s); i >= 0 {
			t.Fatalf("EscapeText(U+%04X) = %q still has %q at %d", r, s, s[i:], i)
		}
		if escaped := s != "a"+string(r)+"b"; escaped != Unsafe(r, true) {
			t.Fatalf("EscapeText(U+%04X) = %q: escaped %v, but Unsafe says %v", r, s, escaped, Unsafe(r, true))
		}
	}
}

func TestEscapeTextNoCopy(t *testing.T) {
	s := strings.Repeat("商户M-001 ", 10)
	if n := testing.AllocsPerRun(100, func() { _ = EscapeText(s) }); n != 0 {
		t.Errorf("EscapeText of clean text allocates %v times", n)
	}
}
