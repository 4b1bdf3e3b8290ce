package fact

import "strconv"

// Yuan formats an amount in fen as yuan with two decimals: -123456 is
// "-1234.56". It is the one money formatter of the facts' text, the API and
// the report (YuanGrouped for people).
func Yuan(fen int64) string {
	var b [32]byte
	return string(AppendYuan(b[:0], fen))
}

// YuanGrouped is Yuan with thousands separators: -123456789 is
// "-1,234,567.89".
func YuanGrouped(fen int64) string {
	var b [32]byte
	return string(appendYuan(b[:0], fen, true))
}

// YuanSigned is Yuan with a sign always: 50 is "+0.50", -50 "-0.50", 0
// "+0.00". It renders differences.
func YuanSigned(fen int64) string {
	var b [32]byte
	return string(AppendYuanSigned(b[:0], fen))
}

// AppendYuan appends Yuan(fen) to dst.
func AppendYuan(dst []byte, fen int64) []byte { return appendYuan(dst, fen, false) }

// AppendYuanSigned appends YuanSigned(fen) to dst.
func AppendYuanSigned(dst []byte, fen int64) []byte {
	if fen >= 0 {
		dst = append(dst, '+')
	}
	return appendYuan(dst, fen, false)
}

func appendYuan(b []byte, fen int64, grouped bool) []byte {
	u := uint64(fen)
	if fen < 0 {
		b, u = append(b, '-'), -u // two's complement: exact for math.MinInt64 too
	}
	var digits [20]byte
	whole := strconv.AppendUint(digits[:0], u/100, 10)
	for i := range len(whole) {
		if grouped && i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, whole[i])
	}
	return append(b, '.', byte('0'+u%100/10), byte('0'+u%10))
}
