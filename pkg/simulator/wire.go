package simulator

import (
	"strconv"
	"time"
)

// obj builds one JSON object by appending fields. Keys are constants of this
// package and need no escaping; values are escaped.
type obj struct {
	b []byte
}

func (o *obj) field(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) {
	o.field(k)
	o.b = appendString(o.b, v)
}

func (o *obj) int(k string, v int64) {
	o.field(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// money writes fen as a decimal string with exactly two fractional digits.
func (o *obj) money(k string, fen int64) {
	o.field(k)
	o.b = append(o.b, '"')
	o.b = appendMoney(o.b, fen)
	o.b = append(o.b, '"')
}

// time writes the instant ms (whole seconds) as RFC 3339 in loc.
func (o *obj) time(k string, ms int64, loc *time.Location) {
	o.field(k)
	o.b = append(o.b, '"')
	o.b = time.UnixMilli(ms).In(loc).AppendFormat(o.b, time.RFC3339)
	o.b = append(o.b, '"')
}

func (o *obj) done() []byte { return append(o.b, '}') }

// appendMoney appends fen as "1288.00".
func appendMoney(b []byte, fen int64) []byte {
	if fen < 0 {
		b = append(b, '-')
		fen = -fen
	}
	b = strconv.AppendInt(b, fen/100, 10)
	c := fen % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// FormatMoney formats fen as a decimal string with two fractional digits:
// FormatMoney(128800) = "1288.00".
func FormatMoney(fen int64) string { return string(appendMoney(nil, fen)) }

// formatRate formats a rate in parts per million as a fraction with four
// decimals: 6000 → "0.0060".
func formatRate(ppm int64) string {
	return strconv.FormatInt(ppm/1_000_000, 10) + "." + pad(ppm%1_000_000/100, 4)
}

// appendString appends s as a JSON string. Non-ASCII UTF-8 passes through.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendBase36 appends v in base 36.
func appendBase36(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 36) }
