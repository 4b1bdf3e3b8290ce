package ingest

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
	"settlemon/pkg/store"
)

func TestGatheredCommitsTheLastOffsetOfEveryPartition(t *testing.T) {
	g := newGathered(0)
	t0 := time.Unix(1_800_000_000, 0)
	batches := []*batch{
		{raw: []store.RawRow{{Partition: 0, Offset: 10}, {Partition: 1, Offset: 4}},
			controls: []store.ControlRow{{Partition: 1, Offset: 5}},
			last:     map[int]kafka.Message{0: {Partition: 0, Offset: 10}, 1: {Partition: 1, Offset: 5}}},
		{raw: []store.RawRow{{Partition: 0, Offset: 11}},
			dead: []store.DeadLetter{{Partition: 2, Offset: 0}},
			last: map[int]kafka.Message{0: {Partition: 0, Offset: 11}, 2: {Partition: 2, Offset: 0}}},
	}
	for i, b := range batches {
		g.add(b, t0.Add(time.Duration(i)*time.Second))
		if b.raw != nil || b.controls != nil || b.dead != nil {
			t.Fatalf("batch %d still holds its rows after add", i)
		}
	}
	if g.batches != 2 || g.rows() != 5 || len(g.raw) != 3 || len(g.controls) != 1 || len(g.dead) != 1 {
		t.Fatalf("gathered %d batches, %d rows (%d raw, %d control, %d dead), want 2 batches, 5 rows (3, 1, 1)",
			g.batches, g.rows(), len(g.raw), len(g.controls), len(g.dead))
	}
	if !g.since.Equal(t0) {
		t.Errorf("since = %v, want the first batch's %v", g.since, t0)
	}
	want := map[int]int64{0: 11, 1: 5, 2: 0}
	for p, off := range want {
		if m, ok := g.last[p]; !ok || m.Offset != off {
			t.Errorf("partition %d commits offset %d (present %v), want %d", p, m.Offset, ok, off)
		}
	}
	g.reset()
	if g.batches != 0 || g.rows() != 0 || len(g.last) != 0 {
		t.Fatalf("after reset: %d batches, %d rows, %d partitions to commit", g.batches, g.rows(), len(g.last))
	}
	g.add(&batch{raw: []store.RawRow{{Partition: 3, Offset: 1}}, last: map[int]kafka.Message{3: {Partition: 3, Offset: 1}}}, t0.Add(time.Minute))
	if !g.since.Equal(t0.Add(time.Minute)) || len(g.last) != 1 {
		t.Errorf("after reset and one batch: since %v, %d partitions to commit; want %v, 1", g.since, len(g.last), t0.Add(time.Minute))
	}
}

func TestConfigRequiresArchiveBounds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no archive rows", func(c *Config) { c.ArchiveRows = 0 }, false},
		{"no archive wait", func(c *Config) { c.ArchiveWait = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig().ForSource(event.Auth)
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestGatheredHandsBackClearedRawArrays(t *testing.T) {
	g := newGathered(0)
	raw := make([]store.RawRow, 3, 8)
	for i := range raw {
		raw[i] = store.RawRow{Topic: "t", Offset: int64(i), Payload: []byte("{}")}
	}
	spare := g.add(&batch{raw: raw, last: map[int]kafka.Message{}}, time.Now())
	if len(spare) != 0 || cap(spare) != 8 || &spare[:1][0] != &raw[0] {
		t.Fatalf("spare array: len %d cap %d, want b's array emptied (len 0, cap 8)", len(spare), cap(spare))
	}
	for i, r := range spare[:cap(spare)] {
		if r.Topic != "" || r.Payload != nil {
			t.Errorf("spare row %d still refers to a message: %+v", i, r)
		}
	}
	if len(g.raw) != 3 || g.raw[2].Offset != 2 || string(g.raw[2].Payload) != "{}" {
		t.Fatalf("gathered raw rows %+v, want the batch's 3 rows", g.raw)
	}
	var in Ingest // no recycling channel: arrays are dropped, fresh ones made
	in.recycleRaw(spare)
	if got := in.spareRaw(5); len(got) != 0 || cap(got) < 5 {
		t.Errorf("spareRaw(5) without a recycled array: len %d cap %d", len(got), cap(got))
	}
	in.rawFree = make(chan []store.RawRow, 1)
	in.recycleRaw(spare)
	if got := in.spareRaw(9); cap(got) < 9 {
		t.Errorf("spareRaw(9) returned cap %d, want a fresh array for 9 rows", cap(got))
	}
	in.recycleRaw(spare)
	if got := in.spareRaw(8); cap(got) != 8 || &got[:1][0] != &raw[0] {
		t.Errorf("spareRaw(8) did not return the recycled array of cap 8 (cap %d)", cap(got))
	}
}

func TestGatheredRawGrowsOnceToItsBoundWhenBusy(t *testing.T) {
	const maxRaw = 1000
	g := newGathered(maxRaw)
	g.add(&batch{raw: make([]store.RawRow, 10), last: map[int]kafka.Message{}}, time.Now())
	if c := cap(g.raw); c >= maxRaw/4 {
		t.Fatalf("a quiet start allocated %d raw rows, want fewer than %d", c, maxRaw/4)
	}
	g.add(&batch{raw: make([]store.RawRow, maxRaw/4), last: map[int]kafka.Message{}}, time.Now())
	grown := cap(g.raw) // the bound, rounded up to the allocator's size class
	if grown < maxRaw || grown > maxRaw*9/8 {
		t.Fatalf("cap after a busy batch = %d, want the bound %d", grown, maxRaw)
	}
	arr := &g.raw[0]
	for g.rows()+maxRaw/4 <= maxRaw {
		g.add(&batch{raw: make([]store.RawRow, maxRaw/4), last: map[int]kafka.Message{}}, time.Now())
	}
	g.reset()
	g.add(&batch{raw: make([]store.RawRow, maxRaw/2), last: map[int]kafka.Message{}}, time.Now())
	if &g.raw[0] != arr || cap(g.raw) != grown {
		t.Errorf("raw rows moved to a new array (cap %d) within the bound %d", cap(g.raw), maxRaw)
	}
}
