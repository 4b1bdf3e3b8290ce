package text

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"settlemon/pkg/fact"
)

// The catalogues: one JSON object per language, message id to format
// string (fmt verbs, %[n]s to reorder). Every argument is passed as a
// string, already formatted here, so the printer never localizes a number
// behind our back.
//
//go:embed locales/*.json
var locales embed.FS

// catalogues are the parsed files, loaded once into one catalog.Builder.
type catalogues struct {
	builder  *catalog.Builder
	messages map[Lang]map[string]string
	tmpls    map[Lang]map[string]*template
	printers map[Lang]*message.Printer
}

var loadCatalogues = sync.OnceValue(func() *catalogues {
	c := &catalogues{
		builder:  catalog.NewBuilder(catalog.Fallback(English.tag())),
		messages: make(map[Lang]map[string]string),
		tmpls:    make(map[Lang]map[string]*template),
		printers: make(map[Lang]*message.Printer),
	}
	for _, l := range Langs() {
		b, err := locales.ReadFile("locales/" + string(l) + ".json")
		if err != nil {
			panic(fmt.Sprintf("text: catalogue %s: %v", l, err)) // embedded: a build error
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("text: catalogue %s: %v", l, err))
		}
		for k, v := range m {
			if err := c.builder.SetString(l.tag(), k, v); err != nil {
				panic(fmt.Sprintf("text: catalogue %s, message %s: %v", l, k, err))
			}
		}
		c.messages[l] = m
		c.tmpls[l] = make(map[string]*template, len(m))
		for k, v := range m {
			if t, ok := parseTemplate(v); ok {
				c.tmpls[l][k] = t
			}
		}
	}
	for _, l := range Langs() {
		c.printers[l] = message.NewPrinter(l.tag(), message.Catalog(c.builder))
	}
	return c
})

// Messages returns the message ids and format strings of l's catalogue
// (a copy), for tests and tools.
func Messages(l Lang) map[string]string {
	out := make(map[string]string)
	for k, v := range loadCatalogues().messages[l] {
		out[k] = v
	}
	return out
}

// Printer renders messages in one language, with times in one location.
// It is immutable and safe for concurrent use.
type Printer struct {
	lang  Lang
	loc   *time.Location
	p     *message.Printer
	msgs  map[string]string
	tmpls map[string]*template // the messages line renders
}

// NewPrinter returns a printer for l (English for a language the
// catalogues lack) showing times in loc (UTC when nil).
func NewPrinter(l Lang, loc *time.Location) *Printer {
	c := loadCatalogues()
	if c.printers[l] == nil {
		l = English
	}
	if loc == nil {
		loc = time.UTC
	}
	return &Printer{lang: l, loc: loc, p: c.printers[l], msgs: c.messages[l], tmpls: c.tmpls[l]}
}

// Lang returns the printer's language.
func (p *Printer) Lang() Lang { return p.lang }

// Location returns the location times are shown in.
func (p *Printer) Location() *time.Location { return p.loc }

// S renders message id with its arguments.
func (p *Printer) S(id string, args ...string) string {
	as := make([]any, len(args))
	for i, a := range args {
		as[i] = a
	}
	return p.p.Sprintf(id, as...)
}

// Has reports whether the catalogue holds message id: for ids built from
// data (a holiday's name), which fall back to the data itself.
func (p *Printer) Has(id string) bool {
	_, ok := p.msgs[id]
	return ok
}

// Chinese reports whether the printer writes Chinese.
func (p *Printer) Chinese() bool { return p.lang == Chinese }

// Money renders fen as people read it: "1288.00" in English (as the
// facts' text always has), "¥1,288.00" in Chinese.
func (p *Printer) Money(fen int64) string {
	if !p.Chinese() {
		return fact.Yuan(fen)
	}
	if fen < 0 {
		return "-¥" + fact.YuanGrouped(fen)[1:]
	}
	return "¥" + fact.YuanGrouped(fen)
}

// MoneyGrouped renders fen with thousands separators: "1,234,567.89" in
// English (the sentence says "yuan"), "¥1,234,567.89" in Chinese.
func (p *Printer) MoneyGrouped(fen int64) string {
	if !p.Chinese() {
		return fact.YuanGrouped(fen)
	}
	return p.Money(fen)
}

// MoneySigned renders a difference with its sign always: "+0.50",
// "-¥0.50".
func (p *Printer) MoneySigned(fen int64) string {
	if !p.Chinese() {
		return fact.YuanSigned(fen)
	}
	if fen >= 0 {
		return "+" + p.Money(fen)
	}
	return p.Money(fen)
}

// date renders the date and weekday of t in Chinese: "2026年2月24日（周二）".
func (p *Printer) date(t time.Time) string {
	return p.S("date.full", strconv.Itoa(t.Year()), strconv.Itoa(int(t.Month())), strconv.Itoa(t.Day()),
		p.S("weekday."+strconv.Itoa(int(t.Weekday()))))
}

// MonthDay renders a date without year and weekday: "02-15" in English,
// "2月15日" in Chinese; withYear adds the year.
func (p *Printer) MonthDay(t time.Time, withYear bool) string {
	if !p.Chinese() {
		if withYear {
			return t.Format("2006-01-02")
		}
		return t.Format("01-02")
	}
	if withYear {
		return p.S("date.ymd", strconv.Itoa(t.Year()), strconv.Itoa(int(t.Month())), strconv.Itoa(t.Day()))
	}
	return p.S("date.md", strconv.Itoa(int(t.Month())), strconv.Itoa(t.Day()))
}

// Time renders an instant as support reads it, in the printer's location,
// with seconds only when there are any: "Tue 2026-02-24 18:00",
// "2026年2月24日（周二）18:00".
func (p *Printer) Time(ms int64) string {
	t := time.UnixMilli(ms).In(p.loc)
	if !p.Chinese() {
		if t.Second() != 0 {
			return t.Format("Mon 2006-01-02 15:04:05")
		}
		return t.Format("Mon 2006-01-02 15:04")
	}
	if t.Second() != 0 {
		return p.date(t) + t.Format("15:04:05")
	}
	return p.date(t) + t.Format("15:04")
}

// Instant renders an instant with its offset, to the minute: "Mon
// 2026-09-28 10:03 +08:00" (an anomaly's details). Chinese writes it as
// Time does, without the offset.
func (p *Printer) Instant(ms int64) string {
	t := time.UnixMilli(ms).In(p.loc)
	if !p.Chinese() {
		return t.Format("Mon 2006-01-02 15:04 -07:00")
	}
	return p.date(t) + t.Format("15:04")
}

// Stamp renders t, in its own location, to the second with its offset:
// "Tue 2026-02-24 18:00:00 +08:00", "2026年2月24日（周二）18:00:00 +08:00".
func (p *Printer) Stamp(t time.Time) string {
	if !p.Chinese() {
		return t.Format("Mon 2006-01-02 15:04:05 -07:00")
	}
	return p.date(t) + t.Format("15:04:05 -07:00")
}

// Duration writes a lag coarsely: "2d 3h", "15h", "1h 5m", "45m", "30s";
// "2天3小时", "15小时", "1小时5分钟", "45分钟", "30秒".
func (p *Printer) Duration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	n := func(v time.Duration) string { return strconv.FormatInt(int64(v), 10) }
	switch {
	case days > 0 && h > 0:
		return p.S("duration.days_hours", n(days), n(h))
	case days > 0:
		return p.S("duration.days", n(days))
	case h > 0 && m > 0:
		return p.S("duration.hours_minutes", n(h), n(m))
	case h > 0:
		return p.S("duration.hours", n(h))
	case m > 0:
		return p.S("duration.minutes", n(m))
	}
	return p.S("duration.seconds", n(d/time.Second))
}

// Span writes an exact duration: Go's "24h0m0s" in English (as the facts'
// details always had); in Chinese its hours, minutes and seconds,
// "15小时30分钟", "1分钟35秒", "24小时".
func (p *Printer) Span(d time.Duration) string {
	if !p.Chinese() {
		return d.String()
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	if d > 0 && d < time.Second {
		return sign + p.S("duration.milliseconds", strconv.FormatInt(d.Milliseconds(), 10))
	}
	h, m, sec := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	out := ""
	if h > 0 {
		out += p.S("duration.hours", strconv.FormatInt(int64(h), 10))
	}
	if m > 0 {
		out += p.S("duration.minutes", strconv.FormatInt(int64(m), 10))
	}
	if sec > 0 || out == "" {
		out += p.S("duration.seconds", strconv.FormatInt(int64(sec), 10))
	}
	return sign + out
}

// Count writes an integer without grouping.
func Count(n int64) string { return strconv.FormatInt(n, 10) }

// Cause is what usually causes an anomaly of kind k.
func (p *Printer) Cause(k fact.Kind) string {
	if id := "cause." + string(k); p.Has(id) {
		return p.S(id)
	}
	t, _ := fact.Describe(k)
	return t.Cause
}

// Action is what to do about an anomaly of kind k.
func (p *Printer) Action(k fact.Kind) string {
	if id := "action." + string(k); p.Has(id) {
		return p.S(id)
	}
	t, _ := fact.Describe(k)
	return t.Action
}

// FailureAction names a payout failure reason in plain words with what to
// do: "account name mismatch — correct the settlement account". An unknown
// reason reads as OtherFailure.
func (p *Printer) FailureAction(r fact.PayoutFailure) string {
	if id := "failure." + string(r); p.Has(id) {
		return p.S(id)
	}
	return p.S("failure." + string(fact.OtherFailure))
}
