//go:build integration

package allinone_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"settlemon/pkg/allinone"
	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/store/storetest"
)

// TestJoinerRestartsFromCheckpoint stops the joiner midway through a run and
// starts a new one: the new one must restore every partition from a
// checkpoint (replaying only what came after it, not the partitions from
// their first offsets), and the facts must still equal the truth.
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
	topics := []string{h.topics.Authorizations, h.topics.Clearing, h.topics.Payouts, h.topics.Merchants}
	groups := map[string]string{}
	for s := event.Auth; s < event.NumSources; s++ {
		ic := ingest.Config{Source: s, Topic: topics[s], OutTopic: allinone.EventsTopic, DLQTopic: allinone.DLQTopic}
		in, err := ingest.New(ic, ingest.Deps{Kafka: h.kafka, Store: st, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		groups[topics[s]] = ic.Defaults().Group
		g.Go(func() error { return in.Run(gctx) })
	}
	jc := joiner.Config{Topic: allinone.EventsTopic, MerchantsTopic: h.topics.Merchants, CheckpointRecords: 2000, FlushInterval: 200 * time.Millisecond}
	newJoiner := func() *joiner.Joiner {
		jn, err := joiner.New(jc, joiner.Deps{Kafka: h.kafka, Store: st, Schedule: testSchedule(t), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return jn
	}

	// The first joiner runs until it has read about half the input.
	first := newJoiner()
	firstCtx, stopFirst := context.WithCancel(gctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(firstCtx) }()
	for first.Stats().Records < 12000 {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
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

	second := newJoiner()
	groups[allinone.EventsTopic] = jc.Defaults().Group
	g.Go(func() error { return second.Run(gctx) })
	waitCaughtUp(t, gctx, h.kafka, groups)
	stopAll()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s2 := second.Stats()
	t.Logf("first joiner: %d records, %d checkpoints; second: %d records, %d replayed below the commit, %d partitions restored from checkpoints",
		s1.Records, s1.Checkpoints, s2.Records, s2.Restored, s2.Restores)
	if s2.Restores != uint64(h.partitions) {
		t.Errorf("the second joiner restored %d partitions from checkpoints, want all %d", s2.Restores, h.partitions)
	}
	if s2.Records >= s1.Records+s2.Records-s2.Restored && s2.Restored > s1.Records/2 {
		t.Errorf("the second joiner replayed %d records below the commit: checkpoints did not shorten recovery", s2.Restored)
	}
	conn := st.Conn()
	checkAgainstTruth(t, readTruth(t, truthFile), readLags(t, ctx, conn), readAnomalies(t, ctx, conn))
}
