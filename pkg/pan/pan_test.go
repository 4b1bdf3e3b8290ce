package pan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Test numbers: each in its scheme's range and passing Luhn.
const (
	unionPay16 = "6228489911223343"
	visa16     = "4111111111111111"
	visa13     = "4222222222222"
	master16   = "5555555555554444"
	master2    = "2223000048400011"
	amex15     = "378282246310005"
	jcb16      = "3530111333300000"
	discover16 = "6011111111111117"
	diners14   = "30569309025904"
)

var unionPay19 = luhnComplete("621700123456789012")

func TestSchemeFixtures(t *testing.T) {
	d := Default()
	for _, tt := range []struct{ digits, scheme string }{
		{unionPay16, "unionpay"}, {unionPay19, "unionpay"}, {visa16, "visa"}, {visa13, "visa"},
		{master16, "mastercard"}, {master2, "mastercard"}, {amex15, "amex"}, {jcb16, "jcb"},
		{discover16, "discover"}, {diners14, "diners"},
	} {
		if got := d.Scheme([]byte(tt.digits)); got != tt.scheme {
			t.Errorf("Scheme(%s) = %q, want %q", tt.digits, got, tt.scheme)
		}
	}
}

func TestScheme(t *testing.T) {
	d := Default()
	tests := []struct {
		name, digits string
		want         bool
	}{
		{"visa", visa16, true},
		{"Luhn fails", "4111111111111112", false},
		{"visa at 15 digits is no length visa uses", luhnComplete("41111111111111"), false},
		{"amex at 16 digits", luhnComplete("378282246310005"), false},
		{"mastercard 2-series low edge", luhnComplete("222100000000000"), true},
		{"below the 2-series", luhnComplete("222000000000000"), false},
		{"above the 2-series", luhnComplete("272100000000000"), false},
		{"epoch milliseconds", luhnComplete("179689267800"), false},
		{"snowflake", luhnComplete("213412345678901234"), false},
		{"starts with 9", luhnComplete("912345678901234"), false},
		{"starts with 1", luhnComplete("112345678901234"), false},
		{"12 digits", luhnComplete("41111111111"), false},
		{"20 digits", luhnComplete("4111111111111111111"), false},
		{"unionpay 19", unionPay19, true},
		{"jcb low edge", luhnComplete("352800000000000"), true},
		{"jcb below", luhnComplete("352700000000000"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Scheme([]byte(tt.digits)) != ""; got != tt.want {
				t.Errorf("Scheme(%s) found = %v, want %v", tt.digits, got, tt.want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true}, {"79927398713", true}, {"4111111111111112", false},
		{"79927398710", false}, {"0000000000000000", true},
	} {
		if got := Luhn([]byte(tt.in)); got != tt.want {
			t.Errorf("Luhn(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// spell writes the 16 digits of unionPay16 in four groups of four, joined
// by sep, each digit mapped by digit.
func spell(sep string, digit func(byte) string) string {
	var b strings.Builder
	for i := 0; i < len(unionPay16); i++ {
		if i > 0 && i%4 == 0 {
			b.WriteString(sep)
		}
		b.WriteString(digit(unionPay16[i]))
	}
	return b.String()
}

func ascii(c byte) string     { return string(c) }
func fullWidth(c byte) string { return string(rune(0xFF10 + int(c-'0'))) }
func arabic(c byte) string    { return string(rune(0x0660 + int(c-'0'))) }
func escaped(c byte) string   { return fmt.Sprintf(`\u%04x`, c) }
func escapedFull(c byte) string {
	return fmt.Sprintf(`\u%04x`, 0xFF10+int(c-'0'))
}
func mathBold(c byte) string { return string(rune(0x1D7CE + int(c-'0'))) }
func mathBoldEscaped(c byte) string {
	r := 0x1D7CE + int(c-'0') - 0x10000
	return fmt.Sprintf(`\u%04x\u%04x`, 0xD800+r>>10, 0xDC00+r&0x3FF)
}
func superscript(c byte) string {
	return string([]rune("⁰¹²³⁴⁵⁶⁷⁸⁹")[c-'0'])
}
func zeroWidthEach(c byte) string { return string(c) + "\u200b" }

func TestFindSpellings(t *testing.T) {
	d := Default()
	found := []struct{ name, text string }{
		{"contiguous", "card " + unionPay16 + " ok"},
		{"spaces", "card " + spell(" ", ascii)},
		{"dashes", "card " + spell("-", ascii)},
		{"dots", "card " + spell(".", ascii)},
		{"space dash space", spell(" - ", ascii)},
		{"no-break spaces", spell("\u00a0", ascii)},
		{"ideographic spaces", spell("\u3000", ascii)},
		{"en dashes", spell("\u2013", ascii)},
		{"full-width hyphen", spell("\uff0d", ascii)},
		{"zero-width space", spell("\u200b", ascii)},
		{"zero-width joiner", spell("\u200d", ascii)},
		{"word joiner", spell("\u2060", ascii)},
		{"BOM", spell("\ufeff", ascii)},
		{"zero-width between every digit", spell("", zeroWidthEach)},
		{"soft hyphen", spell("\u00ad", ascii)},
		{"RTL mark", spell("\u200f", ascii)},
		{"space and zero-width", spell(" \u200b", ascii)},
		{"full-width digits", spell("", fullWidth)},
		{"full-width digits, spaced", spell(" ", fullWidth)},
		{"Arabic-Indic digits", spell("", arabic)},
		{"mathematical digits", spell("", mathBold)},
		{"superscript digits", spell("", superscript)},
		{"JSON-escaped digits", spell("", escaped)},
		{"JSON-escaped full-width digits", spell(" ", escapedFull)},
		{"JSON-escaped surrogate pairs", spell("", mathBoldEscaped)},
		{"JSON-escaped zero-width space", spell(`\u200b`, ascii)},
		{"JSON-escaped newline", spell(`\n`, ascii)},
		{"mixed", spell("-", func(c byte) string {
			if c%2 == 0 {
				return fullWidth(c)
			}
			return ascii(c)
		})},
		{"amex 4-6-5", "3782 822463 10005"},
		{"19 digits 4-4-4-4-3", unionPay19[:4] + " " + unionPay19[4:8] + " " + unionPay19[8:12] + " " + unionPay19[12:16] + " " + unionPay19[16:]},
		{"after a date", "2026-12-02 " + spell(" ", ascii)},
		{"in JSON", `{"note":"pay ` + spell(" ", ascii) + `"}`},
		{"as a JSON number", `{"x":` + visa16 + `}`},
		{"13-digit visa", "x" + visa13 + "y"},
		{"after a word", "Visa" + spell(" ", ascii)},
		{"contiguous in a hex word", "ab" + visa16 + "cd"},
	}
	for _, tt := range found {
		t.Run(tt.name, func(t *testing.T) {
			if !d.Contains([]byte(tt.text)) {
				t.Errorf("no card found in %q", tt.text)
			}
			masked := d.Mask([]byte(tt.text))
			if d.Contains(masked) {
				t.Errorf("a card is left after masking: %q", masked)
			}
			if len(masked) != len(tt.text) || !utf8.Valid(masked) {
				t.Errorf("masking changed the length or broke UTF-8: %q", masked)
			}
		})
	}
	clean := []struct{ name, text string }{
		{"Luhn fails", "card 6228 4899 1122 3344"},
		{"epoch milliseconds", `{"ts":1796892678000}`},
		{"snowflake id", `{"event_id":"2134123456789012345"}`},
		{"20 digits", "41111111111111111111"},
		{"12 digits", "411111111111"},
		{"uuid", "6228e400-4899-4122-a334-112233445566"},
		{"numeric uuid", "12345678-4111-1111-1111-111111111111"},
		{"uuid with a Luhn-valid digit run", "7bc42621-6011-1111-1117-9af0c1d2e3f4"},
		{"uuid tail and head", "00a46228-4899-1122-3343-e3f4aa00bb11"},
		{"hex word before the groups", "deadbeef4111-1111-1111-1111"},
		{"groups of two", "62 28 48 99 11 22 33 43"},
		{"one digit per space", "6 2 2 8 4 8 9 9 1 1 2 2 3 3 4 3"},
		{"group of seven", "6228489 911223343"},
		{"four separators", spell("    ", ascii)},
		{"comma separated", spell(",", ascii)},
		{"letters between", spell("x", ascii)},
		{"amount and date", `{"amount":"6228.48","occurred_at":"2026-12-02T10:04:38+08:00"}`},
		{"phone", "+86 138 0013 8000"},
		{"ip addresses", "10.62.28.48 99.112.23.343"},
		{"escaped backslash is no escape", `\\u0036228489911223343`},
		{"invalid UTF-8", "\xff\xfe" + "6228 4899 1122 334"},
	}
	for _, tt := range clean {
		t.Run("clean/"+tt.name, func(t *testing.T) {
			if s, e, ok := d.Find([]byte(tt.text), 0); ok {
				t.Errorf("found a card at %q in %q", tt.text[s:e], tt.text)
			}
			if got := d.Mask([]byte(tt.text)); string(got) != tt.text {
				t.Errorf("Mask changed clean text: %q", got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	d := Default()
	tests := []struct{ in, want string }{
		{`{"card_bin":"` + visa16 + `"}`, `{"card_bin":"411111******1111"}`},
		{"card " + spell(" ", ascii), "card 6228 48** **** 3343"},
		{"card " + spell("-", ascii) + ", again " + unionPay16, "card 6228-48**-****-3343, again 622848******3343"},
		{`"\u0036\u00322` + unionPay16[3:] + `"`, `"\u0036\u00322848******3343"`},
		{visa16 + "x" + visa16, "411111******1111x411111******1111"},
		{spell("", fullWidth), "６２２８４８" + strings.Repeat("***", 6) + "３３４３"},
		{"", ""},
	}
	for _, tt := range tests {
		got := d.Mask([]byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("Mask(%q)\n got  %q\n want %q", tt.in, got, tt.want)
		}
	}
	in := []byte(visa16)
	out := d.Mask(in)
	if string(in) != visa16 || &out[0] == &in[0] {
		t.Error("Mask modified or aliased its input")
	}
	if s := "no card here"; d.MaskString(s) != s {
		t.Error("MaskString changed clean text")
	}
}

func TestNew(t *testing.T) {
	tests := []struct{ name, json string }{
		{"not JSON", `{`},
		{"no version", `{"schemes":[{"scheme":"x","ranges":[{"from":"4","to":"4","lengths":[16]}]}]}`},
		{"no schemes", `{"version":"1","schemes":[]}`},
		{"unequal prefixes", `{"version":"1","schemes":[{"scheme":"x","ranges":[{"from":"4","to":"45","lengths":[16]}]}]}`},
		{"from above to", `{"version":"1","schemes":[{"scheme":"x","ranges":[{"from":"5","to":"4","lengths":[16]}]}]}`},
		{"length out of range", `{"version":"1","schemes":[{"scheme":"x","ranges":[{"from":"4","to":"4","lengths":[12]}]}]}`},
		{"no lengths", `{"version":"1","schemes":[{"scheme":"x","ranges":[{"from":"4","to":"4"}]}]}`},
		{"letters", `{"version":"1","schemes":[{"scheme":"x","ranges":[{"from":"4a","to":"4b","lengths":[16]}]}]}`},
	}
	for _, tt := range tests {
		if _, err := New([]byte(tt.json)); err == nil {
			t.Errorf("%s: New accepted %s", tt.name, tt.json)
		}
	}
	if Default().Version() == "" {
		t.Error("the bundled catalogue has no version")
	}
}

// findReference is Find written the slow, obvious way: split the text into
// characters, then into digit groups and the gaps between them, then try
// every window of groups.
func findReference(d *Detector, data []byte, from int) (int, int, bool) {
	type char struct {
		cls        uint8
		digit      byte
		start, end int
	}
	var chars []char
	for i := from; i < len(data); {
		cls, dg, w := classify(data, i)
		chars = append(chars, char{cls, dg, i, i + w})
		i += w
	}
	type grp struct {
		digits     []byte
		start, end int
		linked     bool // to the group before: 1-3 visible separators and invisible characters between
		hex        bool // part of a hexadecimal word
	}
	// The ASCII letters and digits directly around data[start:end].
	word := func(start, end int) string {
		alnum := func(c byte) bool { return c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))) }
		s, e := start, end
		for s > 0 && alnum(data[s-1]) {
			s--
		}
		for e < len(data) && alnum(data[e]) {
			e++
		}
		return string(data[s:start]) + string(data[end:e])
	}
	var groups []grp
	for i := 0; i < len(chars); {
		if chars[i].cls != digit0 {
			i++
			continue
		}
		g := grp{start: chars[i].start}
		j := i
		for ; j < len(chars) && (chars[j].cls == digit0 || chars[j].cls == ignored); j++ {
			if chars[j].cls == digit0 {
				g.digits = append(g.digits, chars[j].digit)
				g.end = chars[j].end
			}
		}
		w := word(g.start, g.end)
		g.hex = strings.Trim(w, "0123456789abcdefABCDEF") == "" && strings.Trim(w, "0123456789") != ""
		// Gap before this group.
		if len(groups) > 0 {
			seps, ok := 0, true
			k := i - 1
			for ; k >= 0 && chars[k].start >= groups[len(groups)-1].end; k-- {
				switch chars[k].cls {
				case separator:
					seps++
				case ignored:
				default:
					ok = false
				}
			}
			g.linked = ok && seps >= 1 && seps <= maxGap
		}
		groups = append(groups, g)
		i = j
	}
	bestS, bestE, found := 0, 0, false
	for j := range groups {
		for i := j; i >= 0; i-- {
			if i < j && !groups[i+1].linked {
				break
			}
			var digits []byte
			shaped := true
			for _, g := range groups[i : j+1] {
				digits = append(digits, g.digits...)
				if i < j && (len(g.digits) < minGroup || len(g.digits) > maxGroup || g.hex) {
					shaped = false
				}
			}
			if shaped && d.Scheme(digits) != "" {
				if !found || groups[j].end < bestE {
					bestS, bestE, found = groups[i].start, groups[j].end, true
				}
				break // the shortest window ending here
			}
		}
		if found {
			return bestS, bestE, true
		}
	}
	return 0, 0, false
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{
		spell(" ", ascii), spell("", fullWidth), spell("\u200b", ascii), spell("", escaped), visa16 + "x" + amex15,
		"1234 " + spell(" - ", ascii) + " 99", "12345678-4111-1111-1111-111111111111", spell("", mathBoldEscaped),
		`{"a":"6228 4899","b":"1122 3343"}`, "622 848 991 122 334 3", spell(" ", zeroWidthEach),
	} {
		f.Add([]byte(s), 0)
	}
	d := Default()
	f.Fuzz(func(t *testing.T, data []byte, from int) {
		if from < 0 || from > len(data) {
			return
		}
		s, e, ok := d.Find(data, from)
		rs, re, rok := findReference(d, data, from)
		if s != rs || e != re || ok != rok {
			t.Fatalf("Find(%q, %d) = %d, %d, %v; reference %d, %d, %v", data, from, s, e, ok, rs, re, rok)
		}
		masked := d.Mask(data)
		if len(masked) != len(data) || d.Contains(masked) {
			t.Fatalf("Mask(%q) = %q: a card is left or the length changed", data, masked)
		}
		if utf8.Valid(data) && !utf8.Valid(masked) {
			t.Fatalf("Mask(%q) = %q is not UTF-8", data, masked)
		}
		if !d.Contains(data) && !bytes.Equal(masked, data) {
			t.Fatalf("Mask changed %q without a card: %q", data, masked)
		}
	})
}

func TestFindMatchesReference(t *testing.T) {
	d := Default()
	texts := []string{
		"1234 " + spell(" ", ascii) + " 5678", spell("  ", ascii), "4111 1111 1111 1111 4111 1111 1111 1111",
		"622 848 991 122 334 3", "6228 4899 1122 3343 - " + visa16, "7bc42621-6011-1111-1117-9af0c1d2e3f4",
		"Visa4111 1111 1111 1111", "ab4111 1111 1111 1111cd", "0x4111 1111 1111 1111", "1 2 3 " + amex15[:4] + " " + amex15[4:10] + " " + amex15[10:],
	}
	for _, s := range texts {
		for from := 0; from <= len(s); from++ {
			a, b, ok := d.Find([]byte(s), from)
			ra, rb, rok := findReference(d, []byte(s), from)
			if a != ra || b != rb || ok != rok {
				t.Errorf("Find(%q, %d) = %d, %d, %v; reference %d, %d, %v", s, from, a, b, ok, ra, rb, rok)
			}
		}
	}
}

// luhnComplete appends the check digit that makes digits pass Luhn.
func luhnComplete(digits string) string {
	for c := byte('0'); c <= '9'; c++ {
		if s := digits + string(c); Luhn([]byte(s)) {
			return s
		}
	}
	panic("unreachable")
}

func BenchmarkContains(b *testing.B) {
	d := Default()
	payload := []byte(`{"event_id":"au-1868712345678901234","type":"authorization","occurred_at":"2026-12-02T10:04:38.123+08:00",` +
		`"trace_no":"T20261202000123","merchant_id":"m-000123","terminal_id":"t-0001","response_code":"00","card_bin":"622848",` +
		`"card_last4":"3343","currency":"CNY","amount":"1288.00","mcc":"5812"}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if d.Contains(payload) {
			b.Fatal("found a card")
		}
	}
}
