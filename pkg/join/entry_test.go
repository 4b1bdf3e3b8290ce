package join

import (
	"maps"
	"math"
	"testing"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// TestTimeOffsets checks the 32-bit time encoding at the edges of its range
// and that a time beyond them is refused, never wrapped.
func TestTimeOffsets(t *testing.T) {
	const r = 1<<31 - 1
	for _, c := range []struct {
		base, v int64
		ok      bool
	}{
		{1_790_000_000_000, 0, true},
		{1_790_000_000_000, 1_790_000_000_000, true},
		{1_790_000_000_000, 1_790_000_000_000 + r, true},
		{1_790_000_000_000, 1_790_000_000_000 - r, true},
		{1_790_000_000_000, 1_790_000_000_000 + r + 1, false},
		{1_790_000_000_000, 1_790_000_000_000 - r - 1, false},
		{1_790_000_000_000, 1, false},
		{0, r, true},
		{0, -r, true},
		{-5, -5 - r, true},
		{math.MaxInt64, math.MinInt64, false},
		{math.MinInt64, math.MaxInt64, false},
		{math.MaxInt64, math.MaxInt64 - r, true},
		{math.MinInt64, math.MinInt64 + r, true},
	} {
		got, ok := offset(c.base, c.v)
		if ok != c.ok {
			t.Errorf("offset(%d, %d): ok = %v, want %v", c.base, c.v, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		e := entry{base: c.base}
		e.times[tPaid] = got
		if back := (&Partition{}).time(&e, tPaid); back != c.v {
			t.Errorf("offset(%d, %d) decodes to %d", c.base, c.v, back)
		}
	}
}

// TestWideTimes follows a trace whose hold is released seven weeks after
// its first event, beyond the 32-bit offsets: its times move to full width
// and every fact keeps them to the millisecond, through a snapshot and
// restore, and dropping the trace forgets them.
func TestWideTimes(t *testing.T) {
	head := []step{
		ev(event.Authorization, "a1", "W1", "MT1", "2026-09-28 10:00", 5000),
		{typ: event.Cleared, id: "c1", trace: "W1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
		ev(event.PayoutHeld, "h1", "W1", "MT1", "2026-09-29 10:00", 4970),
	}
	tail := []step{
		ev(event.PayoutReleased, "r1", "W1", "MT1", "2026-11-16 09:00", 4970),
		ev(event.PayoutPaid, "p1", "W1", "MT1", "2026-11-16 09:05", 4970),
	}
	p := newPartition(t)
	run(t, p, head)
	q := restored(t, p)
	lags, anomalies := run(t, q, tail)
	if len(q.wide) != 1 {
		t.Fatalf("%d wide entries, want 1", len(q.wide))
	}
	if len(lags) != 1 || lags[0].PaidAt != at(t, "2026-11-16 09:05") || lags[0].AuthorizedAt != at(t, "2026-09-28 10:00") ||
		lags[0].ClearedAt != at(t, "2026-09-29 02:10") || lags[0].ExpectedPayoutAt != at(t, "2026-09-29 18:00") {
		t.Fatalf("lag rows %s", js(lags))
	}
	var held *fact.Anomaly
	for i := range anomalies {
		if anomalies[i].Kind == fact.PayoutHeld {
			held = &anomalies[i]
		}
	}
	if held == nil || held.Status != fact.Resolved || held.ResolvedAt != at(t, "2026-11-16 09:00") || held.DetectedAt != at(t, "2026-09-30 10:00") {
		t.Fatalf("payout_held %s", js(held))
	}
	// Restored again from a snapshot taken with the wide entry.
	r := restored(t, q)
	if !maps.Equal(r.wide, q.wide) {
		t.Fatalf("wide times after restore %v, want %v", r.wide, q.wide)
	}
	run(t, r, allFeeds("2026-11-18 00:00"))
	if r.holds("W1") || len(r.wide) != 0 {
		t.Fatalf("the completed trace is still held (%d wide entries)", len(r.wide))
	}
}
