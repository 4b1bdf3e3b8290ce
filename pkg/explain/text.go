package explain

import (
	"fmt"
	"io"
	"text/tabwriter"

	"settlemon/pkg/event"
)

// textLayout shows an instant with its offset; the explanation's times are
// already in the calendar's time zone.
const textLayout = "Mon 2006-01-02 15:04:05 -07:00"

// WriteText writes the explanation for a person: the summary first, then the
// expected payout, the timeline and the anomalies. Times are shown in the
// calendar's time zone.
//
// Every string is printed through event.EscapeText, whatever the store
// holds: a control character, an ANSI escape or a bidi override in an id or
// a detail shows as \x1b or \u202e instead of acting on the terminal (or
// the page showing ?format=text). The JSON form carries the text exactly.
func (e Explanation) WriteText(w io.Writer) {
	esc := event.EscapeText
	fmt.Fprintf(w, "trace %s", esc(e.TraceNo))
	if e.MerchantID != "" {
		fmt.Fprintf(w, "  merchant %s", esc(e.MerchantID))
	}
	if e.Mode != "" {
		fmt.Fprintf(w, "  mode %s", esc(e.Mode))
	}
	fmt.Fprintf(w, "\nstatus:   %s\nsummary:  %s\n", esc(e.Status), esc(e.Summary))
	if e.ExpectedPayoutAt != nil {
		fmt.Fprintf(w, "expected: %s", e.ExpectedPayoutAt.Format(textLayout))
		if e.CalendarVersion != "" {
			fmt.Fprintf(w, "  (calendar %s", esc(e.CalendarVersion))
			if e.CalendarFallback {
				fmt.Fprint(w, ", year missing: weekends only")
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
	}
	if !e.AsOf.IsZero() {
		fmt.Fprintf(w, "as of:    %s (payout feed delivered up to)\n", e.AsOf.Format(textLayout))
	}
	if !e.Found() {
		return
	}

	fmt.Fprintln(w, "\ntimeline:")
	if len(e.Timeline) == 0 {
		fmt.Fprintln(w, "  (no archived events)")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range e.Timeline {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", s.At.Format(textLayout), esc(s.Stage), esc(s.Amount), esc(s.Batch), esc(s.Detail), esc(s.Source))
		}
		_ = tw.Flush()
	}

	fmt.Fprintln(w, "\nanomalies:")
	if len(e.Anomalies) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, a := range e.Anomalies {
		fmt.Fprintf(w, "  %s %s %s", esc(a.Status), esc(a.Severity), esc(a.Kind))
		if a.Reason != "" {
			fmt.Fprintf(w, " (%s)", esc(a.Reason))
		}
		fmt.Fprintf(w, ", detected %s", a.DetectedAt.Format(textLayout))
		if a.ResolvedAt != nil {
			fmt.Fprintf(w, ", resolved %s", a.ResolvedAt.Format(textLayout))
		}
		fmt.Fprintln(w)
		for _, l := range []struct{ k, v string }{{"details", a.Details}, {"cause", a.Cause}, {"action", a.Action}} {
			if l.v != "" {
				fmt.Fprintf(w, "      %s: %s\n", l.k, esc(l.v))
			}
		}
	}
}
