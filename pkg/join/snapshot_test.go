package join

import (
	"bytes"
	"errors"
	"testing"

	"settlemon/pkg/event"
)

// mixedSteps is a run exercising every part of the state: traces in every
// stage, timers armed and fired, tombstones, interned ids, watermarks, and a
// batch with records waiting for the watermark.
func mixedSteps() []step {
	steps := append(healthyT1("S1"), allFeeds("2026-09-30 12:00")...) // S1 completes and is purged: a tombstone
	steps = append(steps,
		ev(event.Authorization, "a2", "S2", "MD1", "2026-09-30 11:00", 20000),
		step{typ: event.Cleared, id: "c2", trace: "S2", merchant: "MD1", at: "2026-10-01 02:20", amount: 20050, fee: 76},
		ev(event.Authorization, "a3", "S3", "MD0", "2026-09-30 13:00", 8800),
		step{typ: event.Cleared, id: "c3", trace: "S3", merchant: "MT1", at: "2026-10-01 02:00", amount: 100, fee: 1},
		ev(event.PayoutHeld, "h4", "S4", "MT1", "2026-10-01 10:00", 500),
	)
	return steps
}

func tail() []step {
	return append([]step{
		ev(event.PayoutPaid, "p2", "S2", "MD1", "2026-10-01 10:10", 19974),
		ev(event.PayoutPaid, "p-S1-copy", "S1", "MT1", "2026-09-29 10:05", 99400), // late: S1 is closed
		ev(event.PayoutPaid, "p-S1", "S1", "MT1", "2026-09-29 10:05", 99400),      // re-delivered
	}, allFeeds("2026-10-03 00:00")...)
}

func TestSnapshotRestoreContinuesIdentically(t *testing.T) {
	head := mixedSteps()
	whole := newPartition(t)
	run(t, whole, head)
	var snap bytes.Buffer
	if err := whole.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	restored, err := Restore(DefaultConfig(), whole.sched, testMerchants, bytes.NewReader(snap.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if restored.Open() != whole.Open() || restored.Stats() != whole.Stats() || restored.Now() != whole.Now() {
		t.Fatalf("restored open=%d stats=%+v now=%d, want open=%d stats=%+v now=%d",
			restored.Open(), restored.Stats(), restored.Now(), whole.Open(), whole.Stats(), whole.Now())
	}
	for s := range event.NumSources {
		if restored.Watermark(s) != whole.Watermark(s) {
			t.Errorf("watermark of %s: %d, want %d", s, restored.Watermark(s), whole.Watermark(s))
		}
	}
	wl, wa := run(t, whole, tail())
	rl, ra := run(t, restored, tail())
	if js(rl) != js(wl) || js(ra) != js(wa) {
		t.Fatalf("after restore the facts differ:\n got %s\n%s\nwant %s\n%s", js(rl), js(ra), js(wl), js(wa))
	}
	if len(wa) == 0 || len(wl) == 0 {
		t.Fatal("the tail emitted nothing: the test proves nothing")
	}
	// Snapshot of the restored state equals the snapshot of the original.
	var a, b bytes.Buffer
	if err := whole.Snapshot(&a); err != nil {
		t.Fatal(err)
	}
	if err := restored.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	if a.Len() == 0 || b.Len() == 0 {
		t.Fatal("empty snapshot")
	}
}

func TestBatchStateSurvivesRestore(t *testing.T) {
	steps := []bstep{{typ: event.BatchOpened, id: "o", at: "2026-09-29 10:00"},
		item("1", "2026-09-29 10:01", 100, 0), item("3", "2026-09-29 12:10", 300, 1), pwm("2026-09-29 10:30")}
	rest := []bstep{bstep{typ: event.BatchClosed, id: "c", at: "2026-09-29 12:20", declared: 2, total: 400}, pwm("2026-09-29 13:00")}
	p := newPartition(t)
	for _, s := range steps {
		r := s.record(t)
		p.Apply(&r)
	}
	p.Take()
	var snap bytes.Buffer
	if err := p.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	q, err := Restore(DefaultConfig(), p.sched, testMerchants, &snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rest {
		r := s.record(t)
		p.Apply(&r)
		q.Apply(&r)
	}
	if a, b := p.Take(), q.Take(); js(a) != js(b) || len(a.Anomalies) == 0 {
		t.Fatalf("batch facts after restore differ or are empty:\n got %s\nwant %s", js(b), js(a))
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	p := newPartition(t)
	run(t, p, healthyT1("X"))
	var snap bytes.Buffer
	if err := p.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader([]byte("not a snapshot"))); err == nil {
		t.Error("garbage restored without error")
	}
	cut := snap.Bytes()[:snap.Len()/2]
	if _, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader(cut)); err == nil {
		t.Error("a truncated snapshot restored without error")
	}
	saved := snapshotLayout[0]
	snapshotLayout[0]++
	defer func() { snapshotLayout[0] = saved }()
	if _, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader(snap.Bytes())); !errors.Is(err, ErrSnapshotLayout) {
		t.Errorf("a snapshot of another layout: err = %v, want ErrSnapshotLayout", err)
	}
}
