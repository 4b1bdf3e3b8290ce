//go:build integration

package store_test

import (
	"testing"

	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestLatestHealthIsStrict writes, per source, a lagging report and then an
// ok report with the same observed_at (to the millisecond, as the joiner does
// in replay once the input is read), each in its own insert, and reads the
// latest status back many times: every query that shows the latest report
// says ok every time. The payouts source gets them the other way round and
// must read lagging every time: the order is the writer's, not chance.
func TestLatestHealthIsStrict(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const at = int64(1_760_000_000_123)
	h := func(src, status string) store.SourceHealth {
		return store.SourceHealth{Source: src, Reporter: "joiner", Instance: "j1", ObservedAt: at, Watermark: at - 60_000,
			WatermarkLagS: 60, ConsumerLag: -1, IdleS: -1, Status: status, ThresholdS: 1800}
	}
	want := map[string]string{"auth": "ok", "clearing": "ok", "payouts": "lagging"}
	order := map[string][]string{"auth": {"lagging", "ok"}, "clearing": {"lagging", "ok"}, "payouts": {"ok", "lagging"}}
	for round := 0; round < 3; round++ { // several parts per status, interleaved
		for _, src := range []string{"auth", "clearing", "payouts"} {
			for _, st := range order[src] {
				if err := s.InsertSourceHealth(ctx, []store.SourceHealth{h(src, st)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	for i := 0; i < 20; i++ {
		latest, err := s.LatestSourceHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 3 {
			t.Fatalf("LatestSourceHealth returned %d rows, want 3: %+v", len(latest), latest)
		}
		for _, r := range latest {
			if r.Status != want[r.Source] {
				t.Fatalf("read %d: LatestSourceHealth says %s is %s, want %s", i, r.Source, r.Status, want[r.Source])
			}
		}
		status, err := s.JoinerSourceStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range status {
			if r.Status != want[r.Source] {
				t.Fatalf("read %d: JoinerSourceStatus says %s is %s, want %s", i, r.Source, r.Status, want[r.Source])
			}
		}
		sums, err := s.SourceSummaries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range sums {
			if r.Status != want[r.Source] {
				t.Fatalf("read %d: SourceSummaries says %s is %s, want %s", i, r.Source, r.Status, want[r.Source])
			}
		}
	}
}

// TestLatestHealthAcrossInstances: a stopped reporter instance and the one
// that replaced it reported the same observed_at; the one that wrote last
// (the running one, a later store) is the source's status.
func TestLatestHealthAcrossInstances(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const at = int64(1_760_000_000_000)
	for _, r := range []store.SourceHealth{
		{Source: "payouts", Reporter: "joiner", Instance: "old", ObservedAt: at, Watermark: at - 7200_000, WatermarkLagS: 7200, Status: "lagging", ThresholdS: 1800},
		{Source: "payouts", Reporter: "joiner", Instance: "new", ObservedAt: at, Watermark: at, Status: "ok", ThresholdS: 1800},
	} {
		if err := s.InsertSourceHealth(ctx, []store.SourceHealth{r}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		status, err := s.JoinerSourceStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(status) != 1 || status[0].Status != "ok" {
			t.Fatalf("read %d: JoinerSourceStatus = %+v, want payouts ok (the instance that reported last)", i, status)
		}
	}
}
