package event

// Card-number detection and masking.
//
// A card number (PAN) is recognised as a maximal run of 13 to 19 consecutive
// decimal digits that passes the Luhn check, anywhere in the raw payload:
// inside any string (key or value), inside any number, in known and unknown
// fields alike. A digit may be written literally or as a JSON escape
// (\u0030 … \u0039), so that escaping cannot smuggle a number past the scan.
// Runs longer than 19 digits are not card numbers. The check runs on the raw
// bytes so it needs no JSON parse and also covers payloads that fail to
// parse.

const (
	minPAN = 13
	maxPAN = 19
)

// digitAt reports whether data[i:] starts with a digit, literal or escaped,
// and returns the digit and its width in bytes (1 or 6).
func digitAt(data []byte, i int) (d byte, width int) {
	c := data[i]
	if c >= '0' && c <= '9' {
		return c, 1
	}
	if c == '\\' && i+5 < len(data) && data[i+1] == 'u' && data[i+2] == '0' &&
		data[i+3] == '0' && data[i+4] == '3' && data[i+5] >= '0' && data[i+5] <= '9' {
		return data[i+5], 6
	}
	return 0, 0
}

// nextCard returns the byte span [start, end) of the first card number at or
// after offset i, or ok == false when there is none.
func nextCard(data []byte, i int) (start, end int, ok bool) {
	for i < len(data) {
		// Most bytes can start no digit: skip them without a call.
		if c := data[i]; c-'0' > 9 && c != '\\' {
			i++
			continue
		}
		start = i
		n := 0
		for i < len(data) {
			if data[i]-'0' <= 9 {
				n++
				i++
			} else if _, w := digitAt(data, i); w != 0 {
				n++
				i += w
			} else {
				break
			}
		}
		if n == 0 { // a backslash that escapes no digit
			i++
			continue
		}
		if n >= minPAN && n <= maxPAN && luhnRun(data[start:i]) {
			return start, i, true
		}
	}
	return 0, 0, false
}

// luhnRun reports whether the run of at most maxPAN digits, literal or
// escaped, passes the Luhn check.
func luhnRun(run []byte) bool {
	var digits [maxPAN]byte
	n := 0
	for j := 0; j < len(run); n++ {
		d, w := digitAt(run, j)
		digits[n] = d
		j += w
	}
	return luhn(digits[:n])
}

// luhn reports whether the ASCII digits pass the Luhn (mod 10) check.
func luhn(digits []byte) bool {
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

// containsCard reports whether data contains a card number, and where.
func containsCard(data []byte) (start int, ok bool) {
	start, _, ok = nextCard(data, 0)
	return start, ok
}

// MaskCardNumbers returns a copy of data in which every card number (see the
// package rules above) keeps its first 6 and last 4 digits and has the digits
// between replaced by '*', so the result has the same length. An escaped
// digit (\u0034) is replaced by the escaped star (\u002a) of the same width,
// so a valid JSON payload stays valid JSON. Input without card numbers is
// returned as an equal copy.
func MaskCardNumbers(data []byte) []byte {
	out := make([]byte, len(data))
	copy(out, data)
	for i := 0; ; {
		start, end, ok := nextCard(data, i)
		if !ok {
			return out
		}
		n := 0
		for j := start; j < end; n++ {
			_, w := digitAt(data, j)
			j += w
		}
		k := 0
		for j := start; j < end; k++ {
			_, w := digitAt(data, j)
			if k >= 6 && k < n-4 {
				if w == 1 {
					out[j] = '*'
				} else {
					copy(out[j:j+6], `\u002a`)
				}
			}
			j += w
		}
		i = end
	}
}
