package text

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// Msg is a catalogue message with its arguments, free of any language: what
// is stored beside a rendered sentence (an alert's annotations) so that a
// reader sees it in the reader's language. Render renders it.
type Msg struct {
	Key  string `json:"key"`
	Args []Arg  `json:"args,omitempty"`
}

// Arg is one argument of a Msg: exactly one of its values is set, and the
// printer formats it in its language when the message is rendered.
type Arg struct {
	Text    *string  `json:"s,omitempty"`        // as it is: an identifier, a count, an id
	Money   *int64   `json:"money,omitempty"`    // fen, with thousands separators (MoneyGrouped)
	Span    *int64   `json:"span_ms,omitempty"`  // an exact duration in ms (Span)
	Instant *int64   `json:"stamp_ms,omitempty"` // Unix ms, UTC: RFC 3339 in English, Stamp in Chinese
	Cause   string   `json:"cause,omitempty"`    // a kind: what usually causes it (Cause)
	Action  string   `json:"action,omitempty"`   // a kind: what to do about it (Action)
	Kinds   []string `json:"kinds,omitempty"`    // kinds in plain words, listed
	Msg     *Msg     `json:"msg,omitempty"`      // a message of its own
	// Incident is an incident whose title (Part "title") or action (Part
	// "action") is the argument.
	Incident *incident.Summary `json:"incident,omitempty"`
	Part     string            `json:"part,omitempty"`
	// Details is the details sentence of an anomaly (DetailsOf).
	Details *Details `json:"details,omitempty"`
	// Upper capitalizes the first letter of the rendered argument.
	Upper bool `json:"upper,omitempty"`
}

// Details is an anomaly's details sentence as an argument. The store keeps
// the sentence in English only, and not the Args it was rendered from: in
// English it is Text (the kind's cause when empty); in another language the
// sentence rendered from the Args when the anomaly had them (In, one
// sentence per language of the catalogues), else the kind's cause.
type Details struct {
	Kind string          `json:"kind"`
	Text string          `json:"text,omitempty"`
	In   map[Lang]string `json:"in,omitempty"`
}

// DetailsOf is the details argument of a, its times shown in loc.
func DetailsOf(a fact.Anomaly, loc *time.Location) Arg {
	d := &Details{Kind: string(a.Kind), Text: a.Details}
	if a.Args != (fact.Args{}) {
		d.In = make(map[Lang]string)
		for _, l := range Langs() {
			if l != English {
				d.In[l] = NewPrinter(l, loc).AnomalyDetails(a)
			}
		}
	}
	return Arg{Details: d}
}

// M is the message id with args.
func M(id string, args ...Arg) Msg { return Msg{Key: id, Args: args} }

// Just is the message that is arg alone.
func Just(arg Arg) Msg { return Msg{Args: []Arg{arg}} }

// T is an argument shown as it is.
func T(s string) Arg { return Arg{Text: &s} }

// Yuan is an amount in fen, shown with thousands separators.
func Yuan(fen int64) Arg { return Arg{Money: &fen} }

// SpanArg is an exact duration.
func SpanArg(d time.Duration) Arg { ms := d.Milliseconds(); return Arg{Span: &ms} }

// InstantArg is an instant, Unix ms.
func InstantArg(ms int64) Arg { return Arg{Instant: &ms} }

// Sub is a message as an argument.
func Sub(m Msg) Arg { return Arg{Msg: &m} }

// Render renders m in p's language: a message without id (Just) is its
// arguments one after the other. A message id the catalogue lacks renders
// as the id, as S does.
func (p *Printer) Render(m Msg) string {
	args := make([]string, len(m.Args))
	for i := range m.Args {
		args[i] = p.arg(&m.Args[i])
	}
	if m.Key == "" {
		return strings.Join(args, "")
	}
	return p.S(m.Key, args...)
}

// RenderAll renders a map of messages (an alert's annotations).
func (p *Printer) RenderAll(ms map[string]Msg) map[string]string {
	if ms == nil {
		return nil
	}
	out := make(map[string]string, len(ms))
	for k, m := range ms {
		out[k] = p.Render(m)
	}
	return out
}

func (p *Printer) arg(a *Arg) string {
	s := ""
	switch {
	case a.Text != nil:
		s = *a.Text
	case a.Money != nil:
		s = p.MoneyGrouped(*a.Money)
	case a.Span != nil:
		s = p.Span(time.Duration(*a.Span) * time.Millisecond)
	case a.Instant != nil:
		s = p.stampUTC(*a.Instant)
	case a.Cause != "":
		s = p.Cause(fact.Kind(a.Cause))
	case a.Action != "":
		s = p.Action(fact.Kind(a.Action))
	case a.Kinds != nil:
		s = p.kindList(a.Kinds)
	case a.Msg != nil:
		s = p.Render(*a.Msg)
	case a.Incident != nil && a.Part == "action":
		s = p.IncidentAction(*a.Incident)
	case a.Incident != nil:
		s = p.IncidentTitle(*a.Incident)
	case a.Details != nil:
		s = p.details(a.Details)
	}
	if a.Upper && s != "" {
		r, size := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[size:]
	}
	return s
}

// stampUTC is an instant in an alert's annotation: RFC 3339 in English,
// "2026年2月24日（周二）18:00:00 +00:00" in Chinese.
func (p *Printer) stampUTC(ms int64) string {
	t := time.Time{}
	if ms > 0 {
		t = time.UnixMilli(ms).UTC()
	}
	if p.Chinese() {
		return p.Stamp(t)
	}
	return t.Format(time.RFC3339)
}

func (p *Printer) kindList(kinds []string) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = p.KindName(fact.Kind(k))
	}
	return strings.Join(parts, p.S("list.sep"))
}

// details renders a Details argument.
func (p *Printer) details(d *Details) string {
	if s := d.In[p.lang]; s != "" {
		return s
	}
	if p.lang == English && d.Text != "" {
		return d.Text
	}
	return p.Cause(fact.Kind(d.Kind))
}
