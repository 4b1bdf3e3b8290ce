// Package pan finds payment card numbers (PANs) in any bytes, in any
// spelling — Unicode digits, JSON escapes, separators, invisible characters —
// and masks them to BIN + last 4. A candidate counts as a card number only
// when it starts with an issuer range of the catalogue (schemas/cards), has a
// length that range allows and passes Luhn, so numeric identifiers outside
// those ranges are never taken for cards. Detector.Find states the rule in full; the
// README's "Card numbers" section gives the measured false-positive rates. It
// does no I/O.
package pan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"settlemon/schemas"
)

// Card-number lengths and the shape of a separated spelling.
const (
	MinLen   = 13
	MaxLen   = 19
	minGroup = 3 // digits in each group of a separated spelling
	maxGroup = 6
	maxGap   = 3 // visible separators between two groups
)

// Detector decides whether digit sequences are card numbers. It is
// immutable and safe for concurrent use.
type Detector struct {
	version string
	ranges  []issuerRange
}

type issuerRange struct {
	scheme   string
	from, to uint32 // inclusive, as the first 8 digits of a number: "62" is 62000000-62999999
	lengths  uint32 // bit n set: n digits allowed
	prefix   int    // digits in the catalogue's prefixes
}

// catalogue is the JSON shape of schemas/cards/issuer-ranges.json.
type catalogue struct {
	Version string `json:"version"`
	Schemes []struct {
		Scheme string `json:"scheme"`
		Ranges []struct {
			From    string `json:"from"`
			To      string `json:"to"`
			Lengths []int  `json:"lengths"`
		} `json:"ranges"`
	} `json:"schemes"`
}

// New builds a detector from an issuer-range catalogue (the JSON of
// schemas/cards/issuer-ranges.json).
func New(data []byte) (*Detector, error) {
	var c catalogue
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("pan: reading the issuer-range catalogue: %w", err)
	}
	if c.Version == "" {
		return nil, fmt.Errorf("pan: the issuer-range catalogue has no version")
	}
	d := &Detector{version: c.Version}
	for _, s := range c.Schemes {
		if s.Scheme == "" || len(s.Ranges) == 0 {
			return nil, fmt.Errorf("pan: catalogue %s: a scheme needs a name and at least one range", c.Version)
		}
		for _, r := range s.Ranges {
			if len(r.From) == 0 || len(r.From) != len(r.To) || len(r.From) > 8 || !allDigits(r.From) || !allDigits(r.To) || r.From > r.To {
				return nil, fmt.Errorf("pan: catalogue %s: scheme %s: range %q-%q must be two digit prefixes of equal length (at most 8), from <= to",
					c.Version, s.Scheme, r.From, r.To)
			}
			ir := issuerRange{scheme: s.Scheme, from: prefix8(r.From, '0'), to: prefix8(r.To, '9'), prefix: len(r.From)}
			for _, n := range r.Lengths {
				if n < MinLen || n > MaxLen {
					return nil, fmt.Errorf("pan: catalogue %s: scheme %s: length %d is outside %d-%d", c.Version, s.Scheme, n, MinLen, MaxLen)
				}
				ir.lengths |= 1 << n
			}
			if ir.lengths == 0 {
				return nil, fmt.Errorf("pan: catalogue %s: scheme %s: range %s-%s lists no length", c.Version, s.Scheme, r.From, r.To)
			}
			d.ranges = append(d.ranges, ir)
		}
	}
	if len(d.ranges) == 0 {
		return nil, fmt.Errorf("pan: catalogue %s lists no scheme", c.Version)
	}
	// The longest prefix decides where ranges overlap (6011 is Discover
	// within 60).
	slices.SortStableFunc(d.ranges, func(a, b issuerRange) int { return b.prefix - a.prefix })
	return d, nil
}

var defaultDetector = sync.OnceValue(func() *Detector {
	d, err := New(schemas.CardRanges)
	if err != nil {
		panic(err) // the embedded catalogue is tested
	}
	return d
})

// Default returns the detector of the bundled catalogue.
func Default() *Detector { return defaultDetector() }

// Version is the catalogue's version.
func (d *Detector) Version() string { return d.version }

// Scheme returns the scheme whose issuer range and lengths the ASCII digits
// fall in, when they also pass the Luhn check; "" otherwise.
func (d *Detector) Scheme(digits []byte) string {
	n := len(digits)
	if n < MinLen || n > MaxLen {
		return ""
	}
	p := prefix8(string(digits[:8]), '0')
	for i := range d.ranges {
		r := &d.ranges[i]
		if r.lengths&(1<<n) == 0 {
			continue
		}
		if p >= r.from && p <= r.to {
			if Luhn(digits) {
				return r.scheme
			}
			return ""
		}
	}
	return ""
}

// Luhn reports whether the ASCII digits pass the Luhn (mod 10) check.
func Luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Contains reports whether data holds a card number.
func (d *Detector) Contains(data []byte) bool {
	_, _, ok := d.Find(data, 0)
	return ok
}

// ContainsString is Contains for a string.
func (d *Detector) ContainsString(s string) bool {
	return d.Contains([]byte(s))
}

// group is a run of digits: its byte span and its digits as ASCII.
type group struct {
	start, end int
	n          int
	digits     [MaxLen]byte
}

// scan is the state of Find between characters.
type scan struct {
	d    *Detector
	runs [MaxLen/minGroup + 1]group // the groups of 3-6 digits of the current separated spelling
	h    int                        // groups in runs
	cur  group
	buf  [MaxLen]byte
}

// endGroup closes s.cur and checks every spelling that ends with it.
func (s *scan) endGroup(data []byte) (start, end int, ok bool) {
	cur := &s.cur
	if cur.n >= MinLen && cur.n <= MaxLen && s.d.Scheme(cur.digits[:cur.n]) != "" {
		return cur.start, cur.end, true
	}
	if cur.n < minGroup || cur.n > maxGroup || hexWord(data, cur.start, cur.end) {
		s.h = 0
		return 0, 0, false
	}
	if s.h == len(s.runs) {
		copy(s.runs[:], s.runs[1:])
		s.h--
	}
	s.runs[s.h] = *cur
	s.h++
	total := cur.n
	for k := s.h - 2; k >= 0; k-- {
		total += s.runs[k].n
		if total > MaxLen {
			break
		}
		if total < MinLen {
			continue
		}
		n := 0
		for _, g := range s.runs[k:s.h] {
			n += copy(s.buf[n:], g.digits[:g.n])
		}
		if s.d.Scheme(s.buf[:n]) != "" {
			return s.runs[k].start, cur.end, true
		}
	}
	return 0, 0, false
}

// Find returns the byte span [start, end) of the first card number that
// starts at or after offset from, or ok == false.
//
// What counts as a spelling of a card number:
//   - digits: ASCII 0-9, every Unicode decimal digit (full-width, Arabic-Indic,
//     …) and the compatibility digits whose NFKC form is one ASCII digit
//     (superscripts, circled digits), written literally or as JSON \u escapes;
//   - invisible characters (Unicode format characters such as zero-width
//     spaces and joiners, word joiner, BOM, soft hyphen, bidi marks; variation
//     selectors) are ignored wherever they stand;
//   - a card number is either one run of 13-19 digits, or two or more groups
//     of 3-6 digits each, separated by one to three visible separators (any
//     Unicode space, any dash, a dot, tab or line break), 13-19 digits in all;
//   - a group glued to letters that make a hexadecimal word with it (the
//     "123e4567" of a UUID) takes no part in a separated spelling, so the
//     digit groups of UUIDs and hashes are not read as one; a run of 13-19
//     digits is a candidate wherever it stands;
//   - and its digits start with an issuer range of the catalogue, have a
//     length that range lists, and pass the Luhn check.
func (d *Detector) Find(data []byte, from int) (start, end int, ok bool) {
	s := scan{d: d}
	inGroup := false
	gap := 0 // visible separators since the last group
	for i := from; i < len(data); {
		c := data[i]
		cls, digit, w := asciiClass[c], c, 1
		if cls == other && !inGroup {
			// Fast path: no digit, separator, escape or multi-byte
			// character, outside a group.
			s.h, gap = 0, 0
			for i++; i < len(data) && asciiClass[data[i]] == other; i++ {
			}
			continue
		}
		if cls >= escape {
			cls, digit, w = classify(data, i)
		}
		switch cls {
		case digit0:
			if !inGroup {
				if gap > maxGap {
					s.h = 0
				}
				s.cur.start, s.cur.n = i, 0
				inGroup = true
			}
			if s.cur.n < MaxLen {
				s.cur.digits[s.cur.n] = digit
			}
			s.cur.n++
			s.cur.end = i + w
		case ignored:
		case separator:
			if inGroup {
				inGroup = false
				if start, end, ok := s.endGroup(data); ok {
					return start, end, true
				}
				gap = 0
			}
			gap++
		default:
			if inGroup {
				inGroup = false
				if start, end, ok := s.endGroup(data); ok {
					return start, end, true
				}
			}
			s.h, gap = 0, 0
		}
		i += w
	}
	if inGroup {
		return s.endGroup(data)
	}
	return 0, 0, false
}

// hexWord reports whether the digits at data[start:end] are part of a
// hexadecimal word: the ASCII letters and digits directly around them are all
// hex digits, and there is at least one letter among them.
func hexWord(data []byte, start, end int) bool {
	letter := false
	for i := start - 1; i >= 0 && isAlnum(data[i]); i-- {
		if !isHex(data[i]) {
			return false
		}
		letter = letter || data[i] > '9'
	}
	for i := end; i < len(data) && isAlnum(data[i]); i++ {
		if !isHex(data[i]) {
			return false
		}
		letter = letter || data[i] > '9'
	}
	return letter
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Mask returns a copy of data in which every card number keeps its first 6
// and last 4 digits and has the digits between replaced by asterisks of the
// same width in bytes (an escaped digit by the escaped asterisk \u002a), so
// the result has data's length and valid JSON stays valid JSON. Data without
// card numbers is returned as an equal copy.
func (d *Detector) Mask(data []byte) []byte {
	out := make([]byte, len(data))
	copy(out, data)
	for pos := 0; ; {
		s, e, ok := d.Find(out, pos)
		if !ok {
			return out
		}
		maskSpan(out, s, e)
		pos = s
	}
}

// MaskString is Mask for a string; it returns s itself when s holds no card
// number.
func (d *Detector) MaskString(s string) string {
	b := []byte(s)
	if !d.Contains(b) {
		return s
	}
	return string(d.Mask(b))
}

// maskSpan masks the digits of the card number at data[s:e] in place.
func maskSpan(data []byte, s, e int) {
	n := 0
	for j := s; j < e; {
		cls, _, w := classify(data, j)
		if cls == digit0 {
			n++
		}
		j += w
	}
	k := 0
	for j := s; j < e; {
		cls, _, w := classify(data, j)
		if cls == digit0 {
			if k >= 6 && k < n-4 {
				star := "*"
				if data[j] == '\\' {
					star = `\u002a`
				}
				for f := j; f < j+w; f += len(star) {
					copy(data[f:], star)
				}
			}
			k++
		}
		j += w
	}
}

// Character classes.
const (
	other uint8 = iota
	digit0
	separator
	ignored
	escape // ASCII only: a backslash, resolved by classify
	multi  // ASCII table only: the first byte of a multi-byte character
)

var asciiClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = digit0
	}
	for _, c := range " -.\t\n\r" {
		t[c] = separator
	}
	t['\\'] = escape
	for c := 0x80; c < 0x100; c++ {
		t[c] = multi
	}
	return t
}()

// classify returns the class of the character at data[i], its value as an
// ASCII digit when it is one, and its width in bytes.
func classify(data []byte, i int) (cls uint8, digit byte, width int) {
	c := data[i]
	switch asciiClass[c] {
	case digit0:
		return digit0, c, 1
	case separator:
		return separator, 0, 1
	case other:
		return other, 0, 1
	case escape:
		return classifyEscape(data, i)
	}
	r, w := utf8.DecodeRune(data[i:])
	cls, digit = classifyRune(r)
	return cls, digit, w
}

// classifyEscape classifies a JSON escape at data[i] (a backslash): \uXXXX,
// a surrogate pair of two, \t \n \r, or any other escape of two bytes. A
// backslash that starts no escape is one byte of another character.
func classifyEscape(data []byte, i int) (cls uint8, digit byte, width int) {
	if i+1 >= len(data) {
		return other, 0, 1
	}
	switch data[i+1] {
	case 't', 'n', 'r':
		return separator, 0, 2
	case 'u':
	default:
		return other, 0, 2
	}
	r, ok := hex4(data, i+2)
	if !ok {
		return other, 0, 1
	}
	w := 6
	if utf16IsHigh(r) && i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
		if lo, ok := hex4(data, i+8); ok && utf16IsLow(lo) {
			r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
			w = 12
		}
	}
	if r < utf8.RuneSelf {
		switch asciiClass[r] {
		case digit0:
			return digit0, byte(r), w
		case separator:
			return separator, 0, w
		}
		return other, 0, w
	}
	cls, digit = classifyRune(r)
	return cls, digit, w
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

// classifyRune classifies a non-ASCII character.
func classifyRune(r rune) (cls uint8, digit byte) {
	switch {
	case r == utf8.RuneError:
		return other, 0
	case unicode.Is(unicode.Cf, r) || r == 0x034F || r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF:
		return ignored, 0
	case unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Pd, r) || strings.ContainsRune(dots, r):
		return separator, 0
	}
	if d, ok := nonASCIIDigits()[r]; ok {
		return digit0, d
	}
	return other, 0
}

// dots are the full stops and middle dots people write between digit groups
// (besides '.'), and the minus sign, which Unicode files as a math symbol.
const dots = "\u00B7\u2024\u2027\u2212\u3002\u30FB\uFF0E\uFF61\uFE52"

// nonASCIIDigits maps every non-ASCII decimal digit (Unicode Nd) and every
// character whose NFKC form is one ASCII digit to that digit.
var nonASCIIDigits = sync.OnceValue(func() map[rune]byte {
	m := make(map[rune]byte, 1024)
	add := func(lo, hi, stride uint32, nd bool) {
		for r := lo; r <= hi; r += stride {
			if r < utf8.RuneSelf {
				continue
			}
			if nd { // Nd digits come in runs of ten, zero first
				m[rune(r)] = byte('0' + (r-lo)%10)
				continue
			}
			if s := norm.NFKC.String(string(rune(r))); len(s) == 1 && s[0] >= '0' && s[0] <= '9' {
				m[rune(r)] = s[0]
			}
		}
	}
	for _, t := range []*unicode.RangeTable{unicode.Nd, unicode.No, unicode.Nl} {
		nd := t == unicode.Nd
		for _, r := range t.R16 {
			add(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride), nd)
		}
		for _, r := range t.R32 {
			add(r.Lo, r.Hi, r.Stride, nd)
		}
	}
	return m
})

// prefix8 reads the ASCII digits of p, padded with pad to 8 digits, as a
// number.
func prefix8(p string, pad byte) uint32 {
	var v uint32
	for i := 0; i < 8; i++ {
		c := pad
		if i < len(p) {
			c = p[i]
		}
		v = v*10 + uint32(c-'0')
	}
	return v
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
