//go:build integration

package joiner_test

import (
	"context"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/joiner"
	"settlemon/pkg/store/storetest"
)

// TestMeasureRestore checkpoints a partition of open traces through a real
// ClickHouse and restores it (MeasureRestore fails if the restored state
// holds another number of traces). It logs the figures; speed is shown by
// `settlemon-dev bench`, which runs it at 1M open traces, not asserted here.
func TestMeasureRestore(t *testing.T) {
	st := storetest.New(t)
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	m, err := joiner.MeasureRestore(context.Background(), st, sched, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	if m.OpenTraces != 200_000 || m.Bytes == 0 {
		t.Fatalf("measured %+v, want 200000 open traces and a non-empty checkpoint", m)
	}
	t.Log(m)
}
