package join

import (
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/text"
)

// TestAnomalyArgs checks that the rules give their findings as values, and
// that Details is what package text renders from them.
func TestAnomalyArgs(t *testing.T) {
	p := newPartition(t)
	steps := []step{
		ev(event.Authorization, "a1", "A1", "MT1", "2026-09-28 10:00", 5000),
		{typ: event.Cleared, id: "c1", trace: "A1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 90, mcc: "5999"},
		ev(event.PayoutPaid, "p1", "A1", "MT1", "2026-09-29 10:05", 4000),
		ev(event.PayoutPaid, "p2", "A1", "MT1", "2026-09-29 10:06", 4000),
		ev(event.Authorization, "a3", "A3", "MT1", "2026-09-28 11:00", 7000),
		ev(event.Reversal, "v3", "A3", "MT1", "2026-09-28 11:05", 7000),
		{typ: event.Cleared, id: "c3", trace: "A3", merchant: "MT1", at: "2026-09-29 02:20", amount: 7000, fee: 42},
		ev(event.Authorization, "a4", "A4", "MT1", "2026-09-28 12:00", 3000),
		ev(event.Authorization, "a6", "A6", "MD0", "2026-09-28 12:00", 3000),
		{typ: event.PayoutHeld, id: "h5", trace: "A5", merchant: "MT1", at: "2026-09-29 02:10", amount: 100, srcWM: "2026-09-30 02:10"},
		wm(event.Auth, "2026-10-08 18:30"), wm(event.Clearing, "2026-10-08 18:30"), wm(event.Payouts, "2026-10-08 18:30"),
	}
	var all []fact.Anomaly
	for _, s := range steps {
		r := s.record(t)
		p.Apply(&r)
		all = append(all, p.Take().Anomalies...)
	}
	byID := map[string]fact.Anomaly{}
	loc := p.sched.Calendar().Location()
	for _, a := range all {
		if want := text.AnomalyDetails(a, loc); a.Details != want {
			t.Errorf("%s: Details %q, but its values render %q", a.ID, a.Details, want)
		}
		byID[a.ID] = a
	}
	tests := []struct {
		id   string
		want fact.Args
	}{
		{"amount_mismatch:A1:paid", fact.Args{ClearedAmount: 5000, Fee: 90, Currency: "CNY", ExpectedCurrency: "CNY"}},
		{"fee_rate_deviation:A1", fact.Args{ClearedAmount: 5000, Fee: 90, FeeRatePPM: 18000, ContractRatePPM: 6000}},
		{"mcc_mismatch:A1", fact.Args{MCC: "5999", RegisteredMCC: "5411"}},
		{"duplicate_trace:A1:payout_paid:p2", fact.Args{EventType: event.PayoutPaid, EventID: "p2"}},
		{"reversed_but_settled:A3:cleared", fact.Args{ReversedAt: at(t, "2026-09-28 11:05"), SettledAt: at(t, "2026-09-29 02:20")}},
		{"clearing_missing:A4", fact.Args{AuthorizedAt: at(t, "2026-09-28 12:00")}},
		{"payout_overdue:A6", fact.Args{Mode: event.D0}},
		{"late_event:A5:h5", fact.Args{EventType: event.PayoutHeld, EventID: "h5"}},
		{"orphan_payout:A5", fact.Args{}},
		{"payout_held:A5", fact.Args{HeldAt: at(t, "2026-09-29 02:10"), Window: 24 * time.Hour}},
	}
	for _, tt := range tests {
		a, ok := byID[tt.id]
		if !ok {
			t.Errorf("no anomaly %s (have %d)", tt.id, len(byID))
			continue
		}
		if a.Args != tt.want {
			t.Errorf("%s: Args %+v, want %+v", tt.id, a.Args, tt.want)
		}
	}
}
