package join

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
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

// restored returns p snapshotted and restored with the default
// configuration.
func restored(tb testing.TB, p *Partition) *Partition {
	tb.Helper()
	var snap bytes.Buffer
	if err := p.Snapshot(&snap); err != nil {
		tb.Fatal(err)
	}
	q, err := Restore(DefaultConfig(), p.sched, testMerchants, &snap)
	if err != nil {
		tb.Fatal(err)
	}
	return q
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
	q := restored(t, p)
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

// TestRestoreRefusesDamagedSnapshot damages a valid snapshot the ways
// storage and transfer do — bytes flipped anywhere, the end cut off — and
// wants every one refused as corrupt, naming what happened.
//
// The partition holds a few thousand open traces: on a snapshot that size,
// about half of such flips decoded without an error before snapshots carried
// a checksum.
func TestRestoreRefusesDamagedSnapshot(t *testing.T) {
	p := newPartition(t)
	steps := mixedSteps()
	for i := range 3000 {
		steps = append(steps, ev(event.Authorization, fmt.Sprint("a", i), fmt.Sprint("T", i), "MT1", "2026-10-01 10:00", int64(1000+7*i)))
	}
	run(t, p, steps)
	var buf bytes.Buffer
	if err := p.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	if _, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader(snap)); err != nil {
		t.Fatalf("the intact snapshot: %v", err)
	}
	flip := func(at, n int) []byte {
		b := bytes.Clone(snap)
		for i := at; i < min(at+n, len(b)); i++ {
			b[i] ^= 0xff
		}
		return b
	}
	tests := []struct {
		name      string
		data      []byte
		truncated bool
		says      string
	}{
		{"64 bytes flipped at the start", flip(0, 64), false, "not a join snapshot"},
		{"64 bytes flipped after the header", flip(snapshotHeaderSize, 64), false, "checksum mismatch"},
		{"64 bytes flipped in the middle", flip(len(snap)/2, 64), false, "checksum mismatch"},
		{"64 bytes flipped at the end", flip(len(snap)-64, 64), false, "checksum mismatch"},
		{"one bit flipped in the middle", func() []byte { b := bytes.Clone(snap); b[len(b)/2] ^= 1; return b }(), false, "checksum mismatch"},
		{"the checksum changed", flip(len(snapshotFrame)+8, 1), false, "checksum mismatch"},
		{"a byte appended", append(bytes.Clone(snap), 0), false, "after the payload"},
		{"cut to half", snap[:len(snap)/2], true, "truncated"},
		{"the last byte cut", snap[:len(snap)-1], true, "truncated"},
		{"cut inside the header", snap[:snapshotHeaderSize-1], true, "truncated"},
		{"empty", nil, true, "truncated"},
	}
	for i := range 40 { // 64 bytes flipped at 40 places over the payload
		at := snapshotHeaderSize + i*(len(snap)-snapshotHeaderSize-64)/39
		tests = append(tests, struct {
			name      string
			data      []byte
			truncated bool
			says      string
		}{fmt.Sprintf("64 bytes flipped at %d of %d", at, len(snap)), flip(at, 64), false, "checksum mismatch"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader(tt.data))
			if err == nil {
				t.Fatalf("restored without error (%d open traces)", q.Open())
			}
			if !errors.Is(err, ErrSnapshotCorrupt) {
				t.Errorf("err = %v, want ErrSnapshotCorrupt", err)
			}
			if got := errors.Is(err, ErrSnapshotTruncated); got != tt.truncated {
				t.Errorf("err = %v: ErrSnapshotTruncated %v, want %v", err, got, tt.truncated)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("err = %q, want it to say %q", err, tt.says)
			}
		})
	}
}

// TestRestoreRefusesUnframedSnapshot: a snapshot of the builds before
// checksums (the bare zstd stream) is another build's layout, replayed.
func TestRestoreRefusesUnframedSnapshot(t *testing.T) {
	p := newPartition(t)
	run(t, p, healthyT1("X"))
	var buf bytes.Buffer
	if err := p.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	bare := buf.Bytes()[snapshotHeaderSize:]
	if _, err := Restore(DefaultConfig(), p.sched, testMerchants, bytes.NewReader(bare)); !errors.Is(err, ErrSnapshotLayout) {
		t.Errorf("an unframed snapshot: err = %v, want ErrSnapshotLayout", err)
	}
}
