// Package score measures detection quality: it compares the anomalies the
// pipeline found with the simulator's ground truth and gives, per anomaly
// kind, expected / found / true positives / precision / recall, plus the
// payout_overdue anomalies raised during a payout-feed outage (there must be
// none: the two-clock rule withholds them while the feed is silent).
//
// An anomaly's identity is (kind, trace_no), or (kind, batch_id) for the batch
// kinds, which the truth gives in its batch lines; several rows with one
// identity (versions, stall episodes, a re-detection) count once, whatever
// their status.
//
// It is pure: no I/O, no clock. Reading the truth file and the anomalies
// table belongs to the caller.
package score

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/simulator"
)

// Found is one anomaly row the pipeline wrote.
type Found struct {
	Kind       fact.Kind
	TraceNo    string
	BatchID    string
	Status     string
	DetectedAt int64 // Unix ms
}

// Window is a span of event time, [From, To) in Unix ms.
type Window struct {
	From, To int64
}

// Contains reports whether ms lies in the window.
func (w Window) Contains(ms int64) bool { return ms >= w.From && ms < w.To }

// KindScore is the score of one anomaly kind.
type KindScore struct {
	Kind          fact.Kind
	Expected      int // distinct identities in the truth
	Found         int // distinct identities found
	TruePositives int
	Precision     float64 // TP / Found; 1 when nothing was found
	Recall        float64 // TP / Expected; 1 when nothing was expected
}

// Result is the score of a run.
type Result struct {
	Kinds []KindScore // every kind of fact.Kinds(), then unknown found kinds by name
	// OverdueDuringOutage counts the traces with a payout_overdue anomaly
	// (any status) that the outage could have caused: the trace's payout
	// (paid_at, or expected_payout_at when never paid) lies in the outage,
	// a payout event of it was held back by the outage, or the anomaly was
	// detected inside the outage. Traces the truth itself marks
	// payout_overdue are not counted: those payouts really are missing.
	OverdueDuringOutage int
	Outage              *Window
}

// IsBatchKind reports whether anomalies of kind k are identified by batch.
func IsBatchKind(k fact.Kind) bool { return k == fact.BatchStalled || k == fact.BatchIncomplete }

type key struct {
	kind fact.Kind
	id   string
}

// Score compares found anomalies with the truth; outage is the payout-feed
// outage, nil when there was none.
func Score(run simulator.RunTruth, found []Found, outage *Window) Result {
	truth := run.Traces
	expected := map[key]bool{}
	byTrace := make(map[string]*simulator.Truth, len(truth))
	for i := range truth {
		t := &truth[i]
		byTrace[t.TraceNo] = t
		for _, a := range t.Anomalies {
			expected[key{a.Kind, t.TraceNo}] = true
		}
	}
	for _, b := range run.Batches {
		expected[key{b.Kind, b.BatchID}] = true
	}
	got := map[key]bool{}
	for _, f := range found {
		id := f.TraceNo
		if IsBatchKind(f.Kind) {
			id = f.BatchID
		}
		got[key{f.Kind, id}] = true
	}

	type counts struct{ exp, fnd, tp int }
	per := map[fact.Kind]*counts{}
	at := func(k fact.Kind) *counts {
		c := per[k]
		if c == nil {
			c = &counts{}
			per[k] = c
		}
		return c
	}
	for k := range expected {
		at(k.kind).exp++
		if got[k] {
			at(k.kind).tp++
		}
	}
	for k := range got {
		at(k.kind).fnd++
	}

	kinds := fact.Kinds()
	var extra []fact.Kind
	for k := range per {
		if !slices.Contains(kinds, k) {
			extra = append(extra, k)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	kinds = append(kinds, extra...)

	var r Result
	for _, k := range kinds {
		c := at(k)
		ks := KindScore{Kind: k, Expected: c.exp, Found: c.fnd, TruePositives: c.tp, Precision: 1, Recall: 1}
		if c.fnd > 0 {
			ks.Precision = float64(c.tp) / float64(c.fnd)
		}
		if c.exp > 0 {
			ks.Recall = float64(c.tp) / float64(c.exp)
		}
		r.Kinds = append(r.Kinds, ks)
	}

	if outage != nil {
		w := *outage
		r.Outage = &w
		during := map[string]bool{}
		for _, f := range found {
			if f.Kind != fact.PayoutOverdue || expected[key{fact.PayoutOverdue, f.TraceNo}] {
				continue
			}
			hit := w.Contains(f.DetectedAt)
			if t := byTrace[f.TraceNo]; t != nil {
				payout := t.PaidAt
				if payout == 0 {
					payout = t.ExpectedPayoutAt
				}
				hit = hit || t.OutageDelayed || payout != 0 && w.Contains(payout)
			}
			if hit {
				during[f.TraceNo] = true
			}
		}
		r.OverdueDuringOutage = len(during)
	}
	return r
}

// Kind returns the score of kind k (zero when k is not in the result).
func (r Result) Kind(k fact.Kind) KindScore {
	for _, ks := range r.Kinds {
		if ks.Kind == k {
			return ks
		}
	}
	return KindScore{Kind: k}
}

// Pass reports whether every kind that was expected or found has precision
// and recall of at least min, and no payout_overdue was raised during the
// outage.
func (r Result) Pass(min float64) bool {
	for _, ks := range r.Kinds {
		if ks.Expected == 0 && ks.Found == 0 {
			continue
		}
		if ks.Precision < min || ks.Recall < min {
			return false
		}
	}
	return r.OverdueDuringOutage == 0
}

// WriteText writes the score as a table, then the outage line. Kinds read
// from the store are printed through event.EscapeText.
func (r Result) WriteText(w io.Writer) {
	width := len("kind")
	for _, ks := range r.Kinds {
		width = max(width, len(event.EscapeText(string(ks.Kind))))
	}
	fmt.Fprintf(w, "%-*s  %8s  %6s  %6s  %9s  %7s\n", width, "kind", "expected", "found", "TP", "precision", "recall")
	for _, ks := range r.Kinds {
		p, rc := "-", "-"
		if ks.Expected > 0 || ks.Found > 0 {
			p, rc = fmt.Sprintf("%.4f", ks.Precision), fmt.Sprintf("%.4f", ks.Recall)
		}
		fmt.Fprintf(w, "%-*s  %8d  %6d  %6d  %9s  %7s\n", width, event.EscapeText(string(ks.Kind)), ks.Expected, ks.Found, ks.TruePositives, p, rc)
	}
	fmt.Fprintf(w, "\npayout_overdue raised during the payout-feed outage: %d", r.OverdueDuringOutage)
	if r.Outage != nil {
		fmt.Fprintf(w, " (outage %s .. %s)", fmtMs(r.Outage.From), fmtMs(r.Outage.To))
	} else {
		fmt.Fprint(w, " (no outage in the truth)")
	}
	fmt.Fprintln(w)
}

func fmtMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// FromAnomalies turns anomaly rows into what Score compares.
func FromAnomalies(as []fact.Anomaly) []Found {
	out := make([]Found, len(as))
	for i, a := range as {
		out[i] = Found{Kind: a.Kind, TraceNo: a.TraceNo, BatchID: a.BatchID, Status: string(a.Status), DetectedAt: a.DetectedAt}
	}
	return out
}

// PayoutOutage returns the payout-feed outage recorded in a run's truth, nil
// when there was none.
func PayoutOutage(outages []simulator.FeedOutage) (*Window, error) {
	var w *Window
	for _, o := range outages {
		if o.Source != event.Payouts.String() {
			continue
		}
		if w != nil {
			return nil, errors.New("more than one payout-feed outage: scoring handles one")
		}
		w = &Window{From: o.From, To: o.To}
	}
	return w, nil
}
