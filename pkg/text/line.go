package text

import (
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/fact"
)

// template is a catalogue message parsed for rendering without fmt: its
// literal pieces and the argument each verb takes. Only %s, %[n]s and %%
// are parsed; a message with any other verb has no template and is
// rendered by the printer (S).
type template struct {
	segs  []segment
	nargs int // arguments the message takes: its highest index, plus one
}

// segment is a literal (arg < 0) or the argument arg.
type segment struct {
	lit string
	arg int
}

// parseTemplate parses format as fmt would read it with string arguments;
// ok is false for a verb it does not handle.
func parseTemplate(format string) (t *template, ok bool) {
	t = &template{}
	var lit strings.Builder
	next := 0 // fmt's argument number for the next plain %s
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{lit: lit.String(), arg: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		rest := format[i+1:]
		switch {
		case strings.HasPrefix(rest, "%"):
			lit.WriteByte('%')
			i++
		case strings.HasPrefix(rest, "s"):
			flush()
			t.segs = append(t.segs, segment{arg: next})
			next++
			i++
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]s")
			if end < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 1 {
				return nil, false
			}
			flush()
			t.segs = append(t.segs, segment{arg: n - 1})
			next = n
			i += end + 2
		default:
			return nil, false
		}
	}
	flush()
	for _, s := range t.segs {
		t.nargs = max(t.nargs, s.arg+1)
	}
	return t, true
}

// line renders a sentence of catalogue messages into buffers it reuses,
// without allocating once they have grown. The arguments are a stack of
// byte ranges in buf: each of the value methods pushes one, and msg
// replaces the top ones with the message they fill in, which can then be
// the argument of another message. A message the templates cannot render
// exactly as S would (a verb they do not parse, or a number of arguments
// other than the message's) goes through S.
type line struct {
	p    *Printer
	buf  []byte
	ends []int // end of each argument in buf
	tmp  []byte
}

func (l *line) reset(p *Printer) {
	l.p, l.buf, l.ends = p, l.buf[:0], l.ends[:0]
}

// start is where the argument being pushed begins.
func (l *line) start() int {
	if len(l.ends) == 0 {
		return 0
	}
	return l.ends[len(l.ends)-1]
}

func (l *line) end() { l.ends = append(l.ends, len(l.buf)) }

// arg returns argument i of the n on top of the stack.
func (l *line) arg(n, i int) []byte {
	j := len(l.ends) - n + i
	from := 0
	if j > 0 {
		from = l.ends[j-1]
	}
	return l.buf[from:l.ends[j]]
}

func (l *line) str(s string) { l.buf = append(l.buf, s...); l.end() }

func (l *line) count(n int64) { l.buf = strconv.AppendInt(l.buf, n, 10); l.end() }

// signedCount is Count(n) with a plus sign when n is not negative.
func (l *line) signedCount(n int64) {
	if n >= 0 {
		l.buf = append(l.buf, '+')
	}
	l.count(n)
}

// yuan is fact.Yuan in every language.
func (l *line) yuan(fen int64) { l.buf = fact.AppendYuan(l.buf, fen); l.end() }

// money is Printer.Money.
func (l *line) money(fen int64) {
	if l.p.Chinese() {
		l.str(l.p.Money(fen))
		return
	}
	l.yuan(fen)
}

// moneySigned is Printer.MoneySigned.
func (l *line) moneySigned(fen int64) {
	if l.p.Chinese() {
		l.str(l.p.MoneySigned(fen))
		return
	}
	l.buf = fact.AppendYuanSigned(l.buf, fen)
	l.end()
}

// instant is Printer.Instant.
func (l *line) instant(ms int64) {
	if l.p.Chinese() {
		l.str(l.p.Instant(ms))
		return
	}
	l.buf = time.UnixMilli(ms).In(l.p.loc).AppendFormat(l.buf, instantLayout)
	l.end()
}

// span is Printer.Span.
func (l *line) span(d time.Duration) {
	if l.p.Chinese() {
		l.str(l.p.Span(d))
		return
	}
	l.buf = appendDuration(l.buf, d)
	l.end()
}

// ppm renders parts per million as a percentage with two decimals, cut
// not rounded: 6000 is "0.60%", 3840 "0.38%".
func (l *line) ppm(v int64) {
	l.buf = strconv.AppendInt(l.buf, v/10000, 10)
	l.buf = append(l.buf, '.')
	l.buf = strconv.AppendInt(l.buf, v%10000/1000, 10)
	l.buf = strconv.AppendInt(l.buf, v%1000/100, 10)
	l.buf = append(l.buf, '%')
	l.end()
}

// msg replaces the n arguments on top of the stack with message id filled
// in with them.
func (l *line) msg(id string, n int) {
	t := l.p.tmpls[id]
	if t == nil || t.nargs != n {
		args := make([]string, n)
		for i := range n {
			args[i] = string(l.arg(n, i))
		}
		l.pop(n)
		l.str(l.p.S(id, args...))
		return
	}
	l.tmp = l.tmp[:0]
	for _, s := range t.segs {
		if s.arg < 0 {
			l.tmp = append(l.tmp, s.lit...)
		} else {
			l.tmp = append(l.tmp, l.arg(n, s.arg)...)
		}
	}
	l.pop(n)
	l.buf = append(l.buf, l.tmp...)
	l.end()
}

// pop drops the n arguments on top of the stack.
func (l *line) pop(n int) {
	l.ends = l.ends[:len(l.ends)-n]
	l.buf = l.buf[:l.start()]
}

// result is the last argument pushed: the sentence.
func (l *line) result() []byte { return l.arg(1, 0) }

// instantLayout is how Instant writes an instant in English.
const instantLayout = "Mon 2006-01-02 15:04 -07:00"

// appendDuration appends d.String() to b.
func appendDuration(b []byte, d time.Duration) []byte {
	var buf [32]byte
	w := len(buf)
	u := uint64(d)
	neg := d < 0
	if neg {
		u = -u
	}
	if u < uint64(time.Second) {
		// Less than a second: one unit, with a fraction (1.5ms, 120ns).
		var prec int
		w--
		buf[w] = 's'
		w--
		switch {
		case u == 0:
			buf[w] = '0'
			return append(b, buf[w:]...)
		case u < uint64(time.Microsecond):
			buf[w] = 'n'
		case u < uint64(time.Millisecond):
			prec = 3
			w-- // µ is two bytes
			copy(buf[w:], "µ")
		default:
			prec = 6
			buf[w] = 'm'
		}
		w, u = fmtFrac(buf[:w], u, prec)
		w = fmtInt(buf[:w], u)
	} else {
		w--
		buf[w] = 's'
		w, u = fmtFrac(buf[:w], u, 9)
		w = fmtInt(buf[:w], u%60)
		u /= 60
		if u > 0 {
			w--
			buf[w] = 'm'
			w = fmtInt(buf[:w], u%60)
			u /= 60
			if u > 0 {
				w--
				buf[w] = 'h'
				w = fmtInt(buf[:w], u)
			}
		}
	}
	if neg {
		w--
		buf[w] = '-'
	}
	return append(b, buf[w:]...)
}

// fmtFrac writes the fraction of v/10^prec into the end of buf, omitting
// trailing zeros and the point when it is zero, and returns where it
// starts and v/10^prec.
func fmtFrac(buf []byte, v uint64, prec int) (int, uint64) {
	w := len(buf)
	written := false
	for range prec {
		digit := v % 10
		written = written || digit != 0
		if written {
			w--
			buf[w] = byte(digit) + '0'
		}
		v /= 10
	}
	if written {
		w--
		buf[w] = '.'
	}
	return w, v
}

// fmtInt writes v into the end of buf and returns where it starts.
func fmtInt(buf []byte, v uint64) int {
	w := len(buf)
	if v == 0 {
		w--
		buf[w] = '0'
		return w
	}
	for v > 0 {
		w--
		buf[w] = byte(v%10) + '0'
		v /= 10
	}
	return w
}
