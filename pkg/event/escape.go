package event

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// EscapeText returns s ready to be printed on a terminal or in a text/plain
// answer: every character Unsafe even for an identifier (C0 and C1 controls,
// DEL, bidi embeddings, overrides, isolates and marks, line and paragraph
// separators, other invisible format characters) is replaced by its Go
// escape — "\t", "\n", "\r", `\x1b`, `\u202e`, `\U000e0041` — and so is
// every byte that is not valid UTF-8 (`\xff`), since an 8-bit terminal reads
// a stray 0x9b as CSI. Everything else, backslashes included, is left as it
// is, so ordinary text (Chinese merchant names too) reads unchanged and a
// string with nothing to escape is returned without a copy.
//
// Ingest already refuses these characters in accepted events; every text
// output escapes anyway, for rows already in the store and rows other
// writers put there. JSON output does not use it: encoding/json escapes
// the controls, and the exact text is what a machine wants.
func EscapeText(s string) string {
	i := escapeAt(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			writeHex(&b, `\x`, uint32(s[i]), 2)
		case !Unsafe(r, true):
			b.WriteString(s[i : i+w])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			writeHex(&b, `\x`, uint32(r), 2)
		case r <= 0xFFFF:
			writeHex(&b, `\u`, uint32(r), 4)
		default:
			writeHex(&b, `\U`, uint32(r), 8)
		}
		i += w
	}
	return b.String()
}

// escapeAt is the byte offset of the first thing EscapeText replaces, or -1.
func escapeAt(s string) int {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7F {
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 || Unsafe(r, true) {
			return i
		}
		i += w
	}
	return -1
}

// writeHex writes prefix and v in lower-case hex, zero-padded to digits.
func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	h := strconv.FormatUint(uint64(v), 16)
	b.WriteString(prefix)
	for n := len(h); n < digits; n++ {
		b.WriteByte('0')
	}
	b.WriteString(h)
}
