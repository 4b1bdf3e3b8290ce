package explain

import (
	"fmt"
	"io"
	"text/tabwriter"

	"settlemon/pkg/event"
	"settlemon/pkg/text"
)

// WriteText writes the explanation for a person, in its language: the
// summary and the reply to the merchant first, then the expected payout,
// the timeline and the anomalies. Times are shown in the calendar's time
// zone.
//
// Every string is printed through event.EscapeText, whatever the store
// holds: a control character, an ANSI escape or a bidi override in an id or
// a detail shows as \x1b or \u202e instead of acting on the terminal (or
// the page showing ?format=text). The JSON form carries the text exactly.
func (e Explanation) WriteText(w io.Writer) {
	esc := event.EscapeText
	lang, _ := text.ParseLang(e.Lang)
	p := text.NewPrinter(lang, nil)
	fmt.Fprint(w, p.S("text.trace", esc(e.TraceNo)))
	if e.MerchantID != "" {
		fmt.Fprint(w, p.S("text.merchant", esc(e.MerchantID)))
	}
	if e.Mode != "" {
		fmt.Fprint(w, p.S("text.mode", esc(e.Mode)))
	}
	status := esc(e.Status)
	if id := "status." + e.Status; p.Has(id) {
		status = p.S(id, status)
	}
	fmt.Fprint(w, "\n", p.S("text.status", status), "\n", p.S("text.summary", esc(e.Summary)), "\n")
	if e.Reply != "" {
		fmt.Fprint(w, p.S("text.reply", esc(e.Reply)), "\n")
	}
	if e.ExpectedPayoutAt != nil {
		fmt.Fprint(w, p.S("text.expected", p.Stamp(*e.ExpectedPayoutAt)))
		if e.CalendarVersion != "" {
			if e.CalendarFallback {
				fmt.Fprint(w, p.S("text.calendar.fallback", esc(e.CalendarVersion)))
			} else {
				fmt.Fprint(w, p.S("text.calendar", esc(e.CalendarVersion)))
			}
		}
		fmt.Fprintln(w)
	}
	if !e.AsOf.IsZero() {
		fmt.Fprint(w, p.S("text.as_of", p.Stamp(e.AsOf)), "\n")
	}
	if !e.Found() {
		return
	}

	fmt.Fprint(w, "\n", p.S("text.timeline"), "\n")
	if len(e.Timeline) == 0 {
		fmt.Fprint(w, "  ", p.S("text.timeline.empty"), "\n")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range e.Timeline {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Stamp(s.At), esc(s.Stage), esc(s.Amount), esc(s.Batch), esc(s.Detail), esc(s.Source))
		}
		_ = tw.Flush()
	}

	fmt.Fprint(w, "\n", p.S("text.anomalies"), "\n")
	if len(e.Anomalies) == 0 {
		fmt.Fprint(w, "  ", p.S("text.anomalies.none"), "\n")
	}
	for _, a := range e.Anomalies {
		fmt.Fprintf(w, "  %s %s %s", esc(a.Status), esc(a.Severity), esc(a.Kind))
		if a.Reason != "" {
			fmt.Fprintf(w, " (%s)", esc(a.Reason))
		}
		fmt.Fprint(w, p.S("text.detected", p.Stamp(a.DetectedAt)))
		if a.ResolvedAt != nil {
			fmt.Fprint(w, p.S("text.resolved", p.Stamp(*a.ResolvedAt)))
		}
		fmt.Fprintln(w)
		for _, l := range []struct{ k, v string }{{"text.details", a.Details}, {"text.cause", a.Cause}, {"text.action", a.Action}} {
			if l.v != "" {
				fmt.Fprint(w, "      ", p.S(l.k, esc(l.v)), "\n")
			}
		}
	}
}
