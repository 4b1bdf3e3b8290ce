package score

import (
	"bytes"
	"strings"
	"testing"

	"settlemon/pkg/fact"
	"settlemon/pkg/simulator"
)

// tr is a truth line for trace no with the injected kinds.
func tr(no string, kinds ...fact.Kind) simulator.Truth {
	t := simulator.Truth{TraceNo: no, Approved: true, Anomalies: []simulator.Anomaly{}}
	for _, k := range kinds {
		t.Anomalies = append(t.Anomalies, simulator.Anomaly{Kind: k})
	}
	return t
}

func fd(k fact.Kind, no string) Found { return Found{Kind: k, TraceNo: no, Status: "open"} }

type want struct {
	kind                fact.Kind
	expected, found, tp int
	precision, recall   float64
}

func TestScore(t *testing.T) {
	tests := []struct {
		name  string
		truth []simulator.Truth
		found []Found
		want  []want
		pass  bool
	}{
		{
			name:  "perfect",
			truth: []simulator.Truth{tr("A", fact.PayoutFailed), tr("B", fact.PayoutOverdue), tr("C")},
			found: []Found{fd(fact.PayoutFailed, "A"), fd(fact.PayoutOverdue, "B")},
			want: []want{
				{fact.PayoutFailed, 1, 1, 1, 1, 1},
				{fact.PayoutOverdue, 1, 1, 1, 1, 1},
				{fact.ClearingMissing, 0, 0, 0, 1, 1},
			},
			pass: true,
		},
		{
			name:  "false positive",
			truth: []simulator.Truth{tr("A", fact.PayoutFailed), tr("C")},
			found: []Found{fd(fact.PayoutFailed, "A"), fd(fact.PayoutFailed, "C")},
			want:  []want{{fact.PayoutFailed, 1, 2, 1, 0.5, 1}},
			pass:  false,
		},
		{
			name:  "found a kind nothing was expected of",
			truth: []simulator.Truth{tr("C")},
			found: []Found{fd(fact.LateEvent, "C")},
			want:  []want{{fact.LateEvent, 0, 1, 0, 0, 1}},
			pass:  false,
		},
		{
			name:  "false negative",
			truth: []simulator.Truth{tr("A", fact.ClearingMissing), tr("B", fact.ClearingMissing)},
			found: []Found{fd(fact.ClearingMissing, "A")},
			want:  []want{{fact.ClearingMissing, 2, 1, 1, 1, 0.5}},
			pass:  false,
		},
		{
			name:  "nothing found of an expected kind",
			truth: []simulator.Truth{tr("A", fact.MCCMismatch)},
			want:  []want{{fact.MCCMismatch, 1, 0, 0, 1, 0}},
			pass:  false,
		},
		{
			name:  "right trace, wrong kind",
			truth: []simulator.Truth{tr("A", fact.PayoutHeld)},
			found: []Found{fd(fact.PayoutOverdue, "A")},
			want:  []want{{fact.PayoutHeld, 1, 0, 0, 1, 0}, {fact.PayoutOverdue, 0, 1, 0, 0, 1}},
			pass:  false,
		},
		{
			name:  "duplicate rows of one (kind, trace) count once",
			truth: []simulator.Truth{tr("A", fact.DuplicateTrace), tr("B", fact.PayoutOverdue)},
			found: []Found{
				fd(fact.DuplicateTrace, "A"), fd(fact.DuplicateTrace, "A"), fd(fact.DuplicateTrace, "A"),
				fd(fact.PayoutOverdue, "B"), {Kind: fact.PayoutOverdue, TraceNo: "B", Status: "resolved"},
			},
			want: []want{{fact.DuplicateTrace, 1, 1, 1, 1, 1}, {fact.PayoutOverdue, 1, 1, 1, 1, 1}},
			pass: true,
		},
		{
			name:  "unknown kinds are scored after the taxonomy",
			truth: []simulator.Truth{tr("A")},
			found: []Found{fd("source_lagging", "")},
			want:  []want{{"source_lagging", 0, 1, 0, 0, 1}},
			pass:  false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Score(simulator.RunTruth{Traces: tt.truth}, tt.found, nil)
			for _, w := range tt.want {
				got := r.Kind(w.kind)
				if got.Expected != w.expected || got.Found != w.found || got.TruePositives != w.tp ||
					got.Precision != w.precision || got.Recall != w.recall {
					t.Errorf("%s = %+v, want %+v", w.kind, got, w)
				}
			}
			if got := r.Pass(0.99); got != tt.pass {
				t.Errorf("Pass(0.99) = %v, want %v", got, tt.pass)
			}
			if n := len(r.Kinds); n < len(fact.Kinds()) {
				t.Errorf("%d kinds in the result, want every kind of the taxonomy", n)
			}
		})
	}
}

func TestOverdueDuringOutage(t *testing.T) {
	outage := &Window{From: 1000, To: 2000}
	paidIn := tr("paid-in")
	paidIn.PaidAt, paidIn.ExpectedPayoutAt = 1500, 1200
	dueIn := tr("due-in")
	dueIn.ExpectedPayoutAt = 1999
	dueAfter := tr("due-after")
	dueAfter.ExpectedPayoutAt = 2000 // the window is half-open
	paidAfter := tr("paid-after")
	paidAfter.PaidAt, paidAfter.ExpectedPayoutAt = 2500, 1500 // paid after: the expected time is not used
	delayed := tr("delayed")
	delayed.PaidAt, delayed.ExpectedPayoutAt, delayed.OutageDelayed = 900, 950, true
	missing := tr("missing", fact.PayoutOverdue)
	missing.ExpectedPayoutAt = 1500 // really missing: detected legitimately once the feed caught up
	truth := []simulator.Truth{paidIn, dueIn, dueAfter, paidAfter, delayed, missing, tr("quiet")}

	tests := []struct {
		name  string
		found []Found
		want  int
	}{
		{"none", nil, 0},
		{"payout inside", []Found{{Kind: fact.PayoutOverdue, TraceNo: "paid-in", DetectedAt: 1200}}, 1},
		{"resolved counts too", []Found{{Kind: fact.PayoutOverdue, TraceNo: "paid-in", Status: "resolved", DetectedAt: 3000}}, 1},
		{"expected inside, never paid", []Found{{Kind: fact.PayoutOverdue, TraceNo: "due-in", DetectedAt: 1999}}, 1},
		{"outside", []Found{{Kind: fact.PayoutOverdue, TraceNo: "due-after", DetectedAt: 2000}, {Kind: fact.PayoutOverdue, TraceNo: "paid-after", DetectedAt: 2100}}, 0},
		{"detected inside", []Found{{Kind: fact.PayoutOverdue, TraceNo: "quiet", DetectedAt: 1000}}, 1},
		{"held back by the outage", []Found{{Kind: fact.PayoutOverdue, TraceNo: "delayed", DetectedAt: 950}}, 1},
		{"a really missing payout is not the outage's", []Found{{Kind: fact.PayoutOverdue, TraceNo: "missing", DetectedAt: 1500}}, 0},
		{"other kinds do not count", []Found{{Kind: fact.PayoutFailed, TraceNo: "paid-in", DetectedAt: 1500}}, 0},
		{"one trace counts once", []Found{
			{Kind: fact.PayoutOverdue, TraceNo: "due-in", DetectedAt: 1999},
			{Kind: fact.PayoutOverdue, TraceNo: "due-in", Status: "resolved", DetectedAt: 1999},
			{Kind: fact.PayoutOverdue, TraceNo: "paid-in", DetectedAt: 1200},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Score(simulator.RunTruth{Traces: truth}, tt.found, outage)
			if r.OverdueDuringOutage != tt.want {
				t.Errorf("OverdueDuringOutage = %d, want %d", r.OverdueDuringOutage, tt.want)
			}
			if tt.want > 0 && r.Pass(0) {
				t.Error("Pass(0) = true with overdue anomalies during the outage")
			}
		})
	}
	if r := Score(simulator.RunTruth{Traces: truth}, []Found{{Kind: fact.PayoutOverdue, TraceNo: "paid-in", DetectedAt: 1200}}, nil); r.OverdueDuringOutage != 0 || r.Outage != nil {
		t.Errorf("without an outage: %d, %v", r.OverdueDuringOutage, r.Outage)
	}
}

func TestWriteText(t *testing.T) {
	truth := []simulator.Truth{tr("A", fact.PayoutFailed), tr("B", fact.PayoutFailed)}
	r := Score(simulator.RunTruth{Traces: truth}, []Found{fd(fact.PayoutFailed, "A")}, &Window{From: 1790730000000, To: 1790773200000})
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for _, w := range []string{
		"kind                  expected   found      TP  precision   recall\n",
		"payout_failed                2       1       1     1.0000   0.5000\n",
		"clearing_missing             0       0       0          -        -\n",
		"payout_overdue raised during the payout-feed outage: 0 (outage 2026-09-30T01:00:00Z .. 2026-09-30T13:00:00Z)\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("text lacks %q:\n%s", w, out)
		}
	}
}

// TestScoreBatches: batch kinds come from the run's batch lines and are
// matched by batch id; several episodes of one batch count once.
func TestScoreBatches(t *testing.T) {
	run := simulator.RunTruth{
		Traces:  []simulator.Truth{tr("A")},
		Batches: []simulator.BatchTruth{{BatchID: "PB1", Source: "payouts", Kind: fact.BatchStalled}, {BatchID: "PB2", Source: "payouts", Kind: fact.BatchIncomplete}},
	}
	found := []Found{{Kind: fact.BatchStalled, BatchID: "PB1"}, {Kind: fact.BatchStalled, BatchID: "PB1"}, {Kind: fact.BatchIncomplete, BatchID: "PB3"}}
	r := Score(run, found, nil)
	if k := r.Kind(fact.BatchStalled); k.Expected != 1 || k.Found != 1 || k.TruePositives != 1 {
		t.Errorf("batch_stalled %+v, want 1 expected, found once, 1 true positive", k)
	}
	if k := r.Kind(fact.BatchIncomplete); k.Expected != 1 || k.Found != 1 || k.TruePositives != 0 || k.Precision != 0 || k.Recall != 0 {
		t.Errorf("batch_incomplete %+v, want the wrong batch scored as a miss and a false alarm", k)
	}
}
