package alert

import (
	"maps"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/store"
)

func TestBatchConditions(t *testing.T) {
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	tx, _ := fact.Describe(fact.BatchStalled)
	open := fact.Anomaly{ID: "batch_stalled:payouts:PB-1:1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Open,
		BatchID: "PB-1", DetectedAt: ms(0), Details: "payouts batch PB-1 stopped", Action: tx.Action, Version: 10}
	resolved := open
	resolved.Status, resolved.ResolvedAt, resolved.Details, resolved.Version = fact.Resolved, ms(2*time.Hour), "payouts batch PB-1 resumed", 20
	second := open
	second.ID, second.DetectedAt, second.Version = "batch_stalled:payouts:PB-1:2", ms(3*time.Hour), 30
	incomplete := fact.Anomaly{ID: "batch_incomplete:clearing:CB-7", Kind: fact.BatchIncomplete, Severity: fact.Critical, Status: fact.Open,
		BatchID: "CB-7", DetectedAt: ms(time.Hour), Version: 5}
	overdue := fact.Anomaly{ID: "payout_overdue:T1", Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: "T1", Version: 1}

	tests := []struct {
		name     string
		versions []fact.Anomaly
		want     []string // "alertname anomaly_id firing|resolved start→end"
	}{
		{name: "open only: fires", versions: []fact.Anomaly{open},
			want: []string{"BatchStalled batch_stalled:payouts:PB-1:1 firing 02:00→"}},
		{name: "open and resolved versions: fired and cleared", versions: []fact.Anomaly{open, resolved},
			want: []string{"BatchStalled batch_stalled:payouts:PB-1:1 resolved 02:00→04:00"}},
		{name: "open version merged away: still fired and cleared", versions: []fact.Anomaly{resolved},
			want: []string{"BatchStalled batch_stalled:payouts:PB-1:1 resolved 02:00→04:00"}},
		{name: "versions out of order, duplicated", versions: []fact.Anomaly{resolved, open, resolved},
			want: []string{"BatchStalled batch_stalled:payouts:PB-1:1 resolved 02:00→04:00"}},
		{name: "a second episode is a second alert; incomplete fires; other kinds ignored",
			versions: []fact.Anomaly{open, resolved, second, incomplete, overdue},
			want: []string{"BatchStalled batch_stalled:payouts:PB-1:1 resolved 02:00→04:00", "BatchStalled batch_stalled:payouts:PB-1:2 firing 05:00→",
				"BatchIncomplete batch_incomplete:clearing:CB-7 firing 03:00→"}},
		{name: "nothing", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range BatchConditions(tc.versions) {
				state, end := "firing", ""
				if c.Resolved {
					state, end = "resolved", c.EndsAt.Format("15:04")
				}
				got = append(got, c.Name()+" "+c.Labels[LabelAnomalyID]+" "+state+" "+c.StartsAt.Format("15:04")+"→"+end)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}

	c := BatchConditions([]fact.Anomaly{open, resolved})[0]
	wantLabels := map[string]string{"alertname": "BatchStalled", "severity": "critical", "batch_id": "PB-1", "source": "payouts",
		"kind": "batch_stalled", "anomaly_id": "batch_stalled:payouts:PB-1:1"}
	if !maps.Equal(c.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", c.Labels, wantLabels)
	}
	if c.Annotations[AnnotationAction] != tx.Action || !strings.Contains(c.Annotations[AnnotationDescription], "resumed") ||
		c.Annotations[AnnotationSummary] != "payouts batch PB-1 stalled" {
		t.Errorf("annotations = %v", c.Annotations)
	}
	if c.Fingerprint() != BatchConditions([]fact.Anomaly{open})[0].Fingerprint() {
		t.Error("the fingerprint changes when the anomaly resolves")
	}
	inc := BatchConditions([]fact.Anomaly{incomplete})[0]
	itx, _ := fact.Describe(fact.BatchIncomplete)
	if inc.Annotations[AnnotationAction] != itx.Action || inc.Labels[LabelSource] != "clearing" {
		t.Errorf("incomplete: action from the taxonomy and source expected, got %v %v", inc.Labels, inc.Annotations)
	}
}

func TestBatchSource(t *testing.T) {
	for id, want := range map[string]string{
		"batch_stalled:payouts:PB-1:1":  "payouts",
		"batch_stalled:clearing:CB:2:1": "clearing",
		"batch_stalled:PB-1:1":          "", // no source in the id
		"batch_stalled:nowhere:PB-1:1":  "",
		"something_else:payouts:PB":     "",
	} {
		if got := batchSource(fact.Anomaly{ID: id, Kind: fact.BatchStalled}); got != want {
			t.Errorf("batchSource(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestSourceConditions(t *testing.T) {
	rows := []store.SourceStatus{
		{Source: "auth", Status: "ok"},
		{Source: "payouts", Status: "lagging", WatermarkLagS: 7200, ThresholdS: 1800, Watermark: t0.UnixMilli()},
		{Source: "clearing", Status: "unknown"},
	}
	got := SourceConditions(rows)
	if len(got) != 1 {
		t.Fatalf("got %d conditions, want 1 (payouts)", len(got))
	}
	c := got[0]
	if c.Name() != SourceLagging || c.Labels[LabelSource] != "payouts" || c.Resolved || !c.StartsAt.IsZero() {
		t.Errorf("condition = %+v", c)
	}
	if s := c.Annotations[AnnotationSummary]; !strings.Contains(s, "2h0m0s") {
		t.Errorf("summary %q lacks the lag", s)
	}
}

func TestOverdueConditions(t *testing.T) {
	const maxN, maxAmount = 100, 1_000_000_00
	tests := []struct {
		n      uint64
		amount int64
		fire   bool
	}{
		{0, 0, false},
		{100, maxAmount, false}, // at the thresholds: not above
		{101, 1, true},
		{3, maxAmount + 1, true},
	}
	for _, tc := range tests {
		got := OverdueConditions(tc.n, tc.amount, maxN, maxAmount)
		if (len(got) == 1) != tc.fire || len(got) > 1 {
			t.Errorf("OverdueConditions(%d, %d) = %d conditions, want fire=%v", tc.n, tc.amount, len(got), tc.fire)
			continue
		}
		if tc.fire {
			c := got[0]
			if c.Name() != PayoutsOverdue || len(c.Labels) != 3 || c.Labels[LabelKind] != "payout_overdue" {
				t.Errorf("labels = %v: want alertname, severity and kind only (one aggregate alert)", c.Labels)
			}
		}
	}
	c := OverdueConditions(150, 123_456_789, maxN, maxAmount)[0]
	if s := c.Annotations[AnnotationSummary]; s != "150 payouts overdue, 1,234,567.89 yuan in total" {
		t.Errorf("summary = %q", s)
	}
	tx, _ := fact.Describe(fact.PayoutOverdue)
	if c.Annotations[AnnotationAction] != tx.Action {
		t.Errorf("action = %q, want the taxonomy's", c.Annotations[AnnotationAction])
	}
}

func TestDeadLetterConditions(t *testing.T) {
	if got := DeadLetterConditions(100, 5*time.Minute, 100); got != nil {
		t.Errorf("at the threshold: %v", got)
	}
	got := DeadLetterConditions(101, 5*time.Minute, 100)
	if len(got) != 1 || got[0].Name() != DeadLetterRate || got[0].Labels[LabelSeverity] != "warning" {
		t.Fatalf("above the threshold: %+v", got)
	}
	if s := got[0].Annotations[AnnotationSummary]; s != "101 messages dead-lettered in the last 5m0s" {
		t.Errorf("summary = %q", s)
	}
}
