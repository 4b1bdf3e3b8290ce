package fact

import "strconv"

// Yuan formats an amount in fen as yuan with two decimals: -123456 is
// "-1234.56". It is the one money formatter of the facts' text, the API and
// the report (YuanGrouped for people).
func Yuan(fen int64) string { return formatYuan(fen, false) }

// YuanGrouped is Yuan with thousands separators: -123456789 is
// "-1,234,567.89".
func YuanGrouped(fen int64) string { return formatYuan(fen, true) }

// YuanSigned is Yuan with a sign always: 50 is "+0.50", -50 "-0.50", 0
// "+0.00". It renders differences.
func YuanSigned(fen int64) string {
	if fen >= 0 {
		return "+" + Yuan(fen)
	}
	return Yuan(fen)
}

func formatYuan(fen int64, grouped bool) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", -u // two's complement: exact for math.MinInt64 too
	}
	whole := strconv.FormatUint(u/100, 10)
	b := make([]byte, 0, len(sign)+len(whole)+len(whole)/3+3)
	b = append(b, sign...)
	for i := range len(whole) {
		if grouped && i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, whole[i])
	}
	return string(append(b, '.', byte('0'+u%100/10), byte('0'+u%10)))
}
