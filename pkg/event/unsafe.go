package event

import (
	"unicode"
	"unicode/utf8"
)

// Unsafe reports whether r must not appear in an identifier (strict) or in
// free text (!strict) of an accepted event, because a terminal, a log viewer
// or a page would act on it instead of showing it: C0 and C1 control
// characters and DEL (ANSI escapes start with ESC), bidi embeddings,
// overrides, isolates and marks (they reorder what a reader sees), and line
// and paragraph separators. Identifiers also refuse every other invisible
// format character (zero-width spaces and joiners, soft hyphen, BOM), which
// would make two ids that look the same differ.
func Unsafe(r rune, strict bool) bool {
	switch {
	case r < 0x20 || r >= 0x7F && r <= 0x9F:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return strict && r >= 0x80 && unicode.Is(unicode.Cf, r)
}

// unsafeAt returns the byte offset of the first Unsafe character of s, or -1.
func unsafeAt(s string, strict bool) int {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7F {
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if Unsafe(r, strict) {
			return i
		}
		i += w
	}
	return -1
}
