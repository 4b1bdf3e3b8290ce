package join

import (
	"testing"

	"settlemon/pkg/event"
)

// TestRedeliveryChangesNothing: at-least-once delivery re-sends any event,
// at any later point: while its trace is open, after the trace closed, with
// the higher source watermark of a re-read, across a restore. A re-sent copy
// of a trace's second charge, payout retry or late copy must be taken for
// what it is, as a re-sent copy of its first events is: the facts are those
// of the single delivery.
func TestRedeliveryChangesNothing(t *testing.T) {
	dupAuth := ev(event.Authorization, "a2", "R1", "MT1", "2026-09-28 10:05", 100000)
	retry := ev(event.PayoutInitiated, "i2", "R1", "MT1", "2026-09-29 10:01", 99400)
	lateCopy := step{typ: event.Cleared, id: "c2", trace: "R1", merchant: "MT1", at: "2026-09-29 02:11", amount: 100000, fee: 600,
		srcWM: "2026-09-29 05:00"}
	open := append(healthyT1("R1"), dupAuth, retry, lateCopy) // duplicate_trace, an ignored retry, late_event
	closed := allFeeds("2026-09-30 12:00")                    // R1 completes and is purged: a tombstone
	reread := func(s step) step { s.srcWM = "2026-09-30 11:00"; return s }
	tests := []struct {
		name   string
		copies []step // re-delivered while R1 is open
		after  []step // re-delivered after R1 closed
		snap   bool   // snapshot and restore before the copies after the close
	}{
		{name: "the second charge while the trace is open", copies: []step{dupAuth}},
		{name: "the second charge re-read with a later watermark", copies: []step{reread(dupAuth)}},
		{name: "the second charge after the trace closed", after: []step{dupAuth}},
		{name: "the second charge after the close, re-read", after: []step{reread(dupAuth)}},
		{name: "a payout retry after the close", after: []step{retry}},
		{name: "a late copy after the close", after: []step{lateCopy}},
		{name: "every further event, across a restore", copies: []step{retry}, after: []step{dupAuth, retry, lateCopy}, snap: true},
	}
	single := newPartition(t)
	wantL, wantA := run(t, single, append(append([]step{}, open...), closed...))
	if single.holds("R1") || single.Stats().Purged != 1 {
		t.Fatal("R1 was not purged: the test proves nothing after the close")
	}
	kinds := map[string]bool{}
	for _, a := range wantA {
		kinds[string(a.Kind)] = true
	}
	if !kinds["duplicate_trace"] || !kinds["late_event"] {
		t.Fatalf("the single delivery's anomalies %s lack a duplicate_trace or a late_event", js(wantA))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPartition(t)
			steps := append(append(append([]step{}, open...), tc.copies...), closed...)
			lags, anomalies := run(t, p, steps)
			if tc.snap {
				p = restored(t, p)
			}
			more, moreA := run(t, p, tc.after)
			lags, anomalies = latestLags(append(lags, more...)), latestAnomalies(append(anomalies, moreA...))
			if js(lags) != js(wantL) || js(anomalies) != js(wantA) {
				t.Errorf("re-delivery changed the facts:\n got %s\n     %s\nwant %s\n     %s", js(lags), js(anomalies), js(wantL), js(wantA))
			}
			if got, want := p.Stats().Redelivered, single.Stats().Redelivered+uint64(len(tc.copies)+len(tc.after)); got != want {
				t.Errorf("redelivered = %d, want %d", got, want)
			}
		})
	}
}
