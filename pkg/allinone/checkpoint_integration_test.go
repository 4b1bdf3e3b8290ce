//go:build integration

package allinone_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestJoinerRestartsFromCheckpoint stops the joiner midway through a run,
// damages two partitions' checkpoints in ClickHouse (64 bytes flipped in one,
// the other cut short) and starts a new joiner: it must restore the intact
// partition from its checkpoint (replaying only what came after it), refuse
// the damaged ones — counted by reason — and replay them from their first
// offsets, and the facts must still equal the truth.
func TestJoinerRestartsFromCheckpoint(t *testing.T) {
	ctx := testCtx(t, 10*time.Minute)
	st := storetest.New(t)
	h := newHarness(t, ctx, st)
	truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
	sim := smallSim(11)
	sim.Partitions = h.partitions
	h.publish(t, ctx, sim, truthFile, 1)

	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	g, gctx := errgroup.WithContext(runCtx)
	groups := groupsOf(h.pipeline)
	events := h.pipeline.Topics.Events
	delete(groups, events)
	for s := event.Auth; s < event.NumSources; s++ {
		in, err := ingest.New(h.pipeline.IngestConfig(s), ingest.Deps{Kafka: h.kafka, Store: st, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		g.Go(func() error { return in.Run(gctx) })
	}
	jc := h.pipeline.JoinerConfig()
	jc.CheckpointRecords, jc.FlushInterval = 1000, 200*time.Millisecond
	newJoiner := func() *joiner.Joiner {
		jn, err := joiner.New(jc, joiner.Deps{Kafka: h.kafka, Store: st, Schedule: testSchedule(t), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return jn
	}

	// The first joiner runs until every partition has written a checkpoint
	// by record count (not only the one it writes when released): a
	// partition whose reader started late would otherwise hold a
	// near-empty state.
	first := newJoiner()
	firstCtx, stopFirst := context.WithCancel(gctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(firstCtx) }()
	for !everyPartitionCheckpointed(t, ctx, st, jc.Group, events, h.partitions, jc.CheckpointRecords) {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case err := <-done:
			t.Fatalf("the first joiner stopped before every partition checkpointed: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	stopFirst()
	if err := <-done; err != nil {
		t.Fatalf("first joiner: %v", err)
	}
	s1 := first.Stats()
	if s1.Checkpoints == 0 {
		t.Fatalf("the first joiner wrote no checkpoint: %+v", s1)
	}
	if got := refusedCounts(t, first); !maps.Equal(got, map[string]float64{"corrupt": 0, "truncated": 0, "layout": 0, "unreadable": 0}) {
		t.Errorf("the first joiner's refused checkpoints: %v, want every reason at 0", got)
	}

	// Partition 0's newest checkpoint gets 64 bytes flipped, partition 1's is
	// cut short, partition 2's stays intact.
	group := jc.Group
	damage := []func([]byte) []byte{
		func(b []byte) []byte {
			for i := len(b) / 2; i < len(b)/2+64; i++ {
				b[i] ^= 0xff
			}
			return b
		},
		func(b []byte) []byte { return b[:len(b)*2/3] },
		nil,
	}
	covered := make([]int64, h.partitions) // the offset each partition's checkpoint covers
	for p := range h.partitions {
		off, data, ok, err := st.LoadCheckpoint(ctx, group, events, int32(p), math.MaxInt64)
		if err != nil || !ok || len(data) < 200 {
			t.Fatalf("partition %d's checkpoint: %d bytes, found %v, %v", p, len(data), ok, err)
		}
		covered[p] = off
		if p < len(damage) && damage[p] != nil {
			if err := st.SaveCheckpoint(ctx, group, events, int32(p), off, damage[p](data)); err != nil {
				t.Fatal(err)
			}
		}
	}

	second := newJoiner()
	groups[events] = group
	g.Go(func() error { return second.Run(gctx) })
	waitCaughtUp(t, gctx, h.kafka, groups)
	stopAll()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s2 := second.Stats()
	t.Logf("first joiner: %d records, %d checkpoints; second: %d records, %d replayed below the commit, %d partitions restored from checkpoints, refused %v",
		s1.Records, s1.Checkpoints, s2.Records, s2.Restored, s2.Restores, s2.Refused)
	if want := uint64(h.partitions - 2); s2.Restores != want {
		t.Errorf("the second joiner restored %d partitions from checkpoints, want the %d intact", s2.Restores, want)
	}
	if got, want := refusedCounts(t, second), map[string]float64{"corrupt": 1, "truncated": 1, "layout": 0, "unreadable": 0}; !maps.Equal(got, want) {
		t.Errorf("settlemon_joiner_checkpoints_refused_total: %v, want %v", got, want)
	}
	// The damaged partitions are replayed from their first offsets (0); the
	// intact one only from its checkpoint.
	replayed := uint64(covered[0] + covered[1])
	if s2.Restored < replayed {
		t.Errorf("the second joiner re-read %d records below the commit, fewer than the %d of the two damaged partitions: they were not replayed from the start", s2.Restored, replayed)
	} else if intact := s2.Restored - replayed; intact > uint64(covered[2])/2 {
		t.Errorf("the second joiner re-read %d records of the intact partition (checkpoint at %d): its checkpoint did not shorten recovery", intact, covered[2])
	}
	conn := storetest.Conn(t, st)
	checkAgainstTruth(t, readTruth(t, truthFile), readLags(t, ctx, conn), readAnomalies(t, ctx, conn))
}

// refusedCounts is what the joiner's collector reports as
// settlemon_joiner_checkpoints_refused_total, by reason.
func refusedCounts(tb testing.TB, j *joiner.Joiner) map[string]float64 {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(joiner.NewCollector(j))
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "settlemon_joiner_checkpoints_refused_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// everyPartitionCheckpointed reports whether each partition of the
// topic has a checkpoint at or past offset min.
func everyPartitionCheckpointed(tb testing.TB, ctx context.Context, st *store.Store, group, topic string, partitions int, min int64) bool {
	tb.Helper()
	for p := range partitions {
		off, _, ok, err := st.LoadCheckpoint(ctx, group, topic, int32(p), math.MaxInt64)
		if err != nil {
			tb.Fatalf("reading partition %d's checkpoint: %v", p, err)
		}
		if !ok || off < min {
			return false
		}
	}
	return true
}
