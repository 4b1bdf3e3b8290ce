package join

import (
	"testing"

	"settlemon/pkg/event"
)

// TestWatermarkOverSeveralIngestInstances: the payout feed's four partitions
// are read by two ingest instances (0, 1 and 2, 3), and partition 2 later
// moves to the first, which re-reads it from its committed offset and so
// broadcasts an older watermark for it. The source's watermark is the
// minimum over the partitions, whoever reports them: nothing until all four
// have reported, never lowered by the new owner's older value, and the
// absence rule (payout_overdue) waits while one instance is missing.
func TestWatermarkOverSeveralIngestInstances(t *testing.T) {
	pw := func(part int32, when string) step {
		return step{wmSource: event.Payouts, wmParts: 4, wmPart: part, at: when}
	}
	const (
		before = "2026-09-29 12:00" // before the T1 payout deadline (Tuesday 18:00)
		past   = "2026-09-29 18:01" // after it
		later  = "2026-09-30 09:00"
	)
	steps := []struct {
		name        string
		step        step
		wantWM      string // "" = no watermark yet
		wantOverdue bool
	}{
		{"the sale", ev(event.Authorization, "a1", "T900", "MT1", "2026-09-28 10:00", 5000), "", false},
		{"its clearing", step{typ: event.Cleared, id: "c1", trace: "T900", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30}, "", false},
		{"auth feed past the deadline", wm(event.Auth, later), "", false},
		{"instance 1 reports partition 0", pw(0, past), "", false},
		{"instance 1 reports partition 1", pw(1, past), "", false},
		{"instance 2 reports partition 2", pw(2, before), "", false},
		{"instance 2 reports partition 3: all four known", pw(3, before), before, false},
		{"instance 2 is killed; instance 1 runs on", pw(0, later), before, false},
		{"instance 1 runs on further", pw(1, later), before, false},
		{"partition 2 moves to instance 1, which re-reads from its commit", pw(2, "2026-09-29 11:00"), before, false},
		{"instance 1 catches up on partition 2", pw(2, later), before, false},
		{"partition 3 moves too and passes the deadline", pw(3, past), past, true},
	}
	p := newPartition(t)
	overdue := false
	for _, s := range steps {
		r := s.step.record(t)
		p.Apply(&r)
		for _, a := range p.Take().Anomalies {
			if a.ID == "payout_overdue:T900" {
				overdue = true
			}
		}
		want := int64(0)
		if s.wantWM != "" {
			want = at(t, s.wantWM)
		}
		if got := p.Watermark(event.Payouts); got != want {
			t.Fatalf("%s: payout watermark %d, want %d (%s)", s.name, got, want, s.wantWM)
		}
		if overdue != s.wantOverdue {
			t.Fatalf("%s: payout_overdue raised %v, want %v", s.name, overdue, s.wantOverdue)
		}
	}
}
