package join_test

import (
	"testing"

	"settlemon/pkg/join"
)

// TestSteadyStateAllocatesNothing applies the second half of the bench
// workload (the first half warms the partition up to its working size, as
// in BenchmarkApplySteady) in runs of 10,000 records and fails if the join
// allocates per record in steady state. A run may allocate at most
// maxPerRun times (8 per 10,000 records, 0.0008 per record; one allocation
// per record anywhere would be 10,000, and before the join's strings moved
// to the arena it was about 760). What remains, about 4 per run: the
// arena's 32 KiB chunks, which hold the facts' strings and cannot be
// reused while a fact may refer to them (under 1 per run); the tombstone
// slab and free list doubling while tombstones, which live seven days,
// still accumulate (under 1); and the id sets and queues of batches that
// open while fewer judged batches have left theirs to reuse (about 2).
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bench workload")
	}
	w, err := benchWorkload()
	if err != nil {
		t.Fatal(err)
	}
	p, err := join.New(join.DefaultConfig(), benchSchedule(t), w.Merchants)
	if err != nil {
		t.Fatal(err)
	}
	var f join.Facts
	apply := func(from, to int) {
		for i := from; i < to; i++ {
			p.Apply(&w.Records[i])
			p.TakeInto(&f)
			f.Reset()
		}
	}
	half := len(w.Records) / 2
	apply(0, half)
	const perRun, maxPerRun = 10_000, 8
	runs := (len(w.Records)-half)/perRun - 1 // AllocsPerRun runs once more to warm up
	next, facts := half, 0
	allocs := testing.AllocsPerRun(runs, func() {
		apply(next, next+perRun)
		next += perRun
	})
	if facts = int(p.Stats().LagFacts + p.Stats().AnomalyFacts); facts == 0 {
		t.Fatal("no facts")
	}
	t.Logf("%.0f allocations per %d records in steady state (%d runs, %d facts in all)", allocs, perRun, runs, facts)
	if allocs > maxPerRun {
		t.Errorf("the join allocates %.0f times per %d records in steady state, want at most %d", allocs, perRun, maxPerRun)
	}
}
