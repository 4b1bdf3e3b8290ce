package join_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"settlemon/pkg/bench/workload"
	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/simulator"
)

// benchWorkload is a simulated run as one joiner partition sees it: the
// acceptance mix (every cause injected) over 5 days of 30,000
// traces, about 560k records. It is built once per test binary.
var benchWorkload = sync.OnceValues(func() (*workload.Workload, error) {
	cal, err := calendar.Default()
	if err != nil {
		return nil, err
	}
	return workload.Build(context.Background(), workload.Config{Simulator: simulator.FullConfig()}, cal)
})

func benchSchedule(tb testing.TB) *calendar.Schedule {
	tb.Helper()
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	return sched
}

func loadWorkload(b *testing.B) *workload.Workload {
	b.Helper()
	w, err := benchWorkload()
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkApply feeds prebuilt records through Partition.Apply and takes the
// facts after each, as the joiner does, on one goroutine. One op is one
// record; when the run is exhausted a fresh partition starts it again
// (outside the timer). records/s is the join's throughput on one core.
func BenchmarkApply(b *testing.B) {
	w := loadWorkload(b)
	sched := benchSchedule(b)
	fresh := func() *join.Partition {
		p, err := join.New(join.DefaultConfig(), sched, w.Merchants)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	p := fresh()
	i, facts := 0, 0
	var f join.Facts
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for b.Loop() {
		if i == len(w.Records) {
			b.StopTimer()
			cpu.pause()
			p, i = fresh(), 0
			cpu.resume()
			b.StartTimer()
		}
		p.Apply(&w.Records[i])
		p.TakeInto(&f)
		facts += f.Len()
		f.Reset()
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(facts)/float64(b.N), "facts/record")
	cpu.report(b)
}

// BenchmarkApplySteady measures the join in steady state: the first half of
// the run (two and a half days, so that completed traces are being purged as
// fast as new ones open) is applied outside the timer, then the second half
// is timed; when it is exhausted a fresh partition is warmed up again outside
// the timer. allocs/op here is the allocation per record once the state has
// reached its working size.
func BenchmarkApplySteady(b *testing.B) {
	w := loadWorkload(b)
	sched := benchSchedule(b)
	half := len(w.Records) / 2
	var p *join.Partition
	var f join.Facts
	warm := func() {
		var err error
		if p, err = join.New(join.DefaultConfig(), sched, w.Merchants); err != nil {
			b.Fatal(err)
		}
		for i := range half {
			p.Apply(&w.Records[i])
			p.TakeInto(&f)
			f.Reset()
		}
	}
	warm()
	i := half
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for b.Loop() {
		if i == len(w.Records) {
			b.StopTimer()
			cpu.pause()
			warm()
			i = half
			cpu.resume()
			b.StartTimer()
		}
		p.Apply(&w.Records[i])
		p.TakeInto(&f)
		f.Reset()
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cpu.report(b)
}

// BenchmarkDecodeApply is the joiner's whole per-record work without Kafka:
// decode the settle.events envelope into a reused Record, apply it, take the
// facts.
func BenchmarkDecodeApply(b *testing.B) {
	w := loadWorkload(b)
	bufs := workload.Encode(w.Records)
	sched := benchSchedule(b)
	fresh := func() *join.Partition {
		p, err := join.New(join.DefaultConfig(), sched, w.Merchants)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	p := fresh()
	var rec event.Record
	var f join.Facts
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for b.Loop() {
		if i == len(bufs) {
			b.StopTimer()
			cpu.pause()
			p, i = fresh(), 0
			cpu.resume()
			b.StartTimer()
		}
		if err := event.DecodeRecord(bufs[i], &rec); err != nil {
			b.Fatal(err)
		}
		p.Apply(&rec)
		p.TakeInto(&f)
		f.Reset()
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cpu.report(b)
}

// BenchmarkApplyByKind splits the cost by what a record carries: one op
// applies the records of that kind from a full run, in order; the other
// records are applied outside the timer so that the state is the real one.
func BenchmarkApplyByKind(b *testing.B) {
	w := loadWorkload(b)
	sched := benchSchedule(b)
	for _, k := range []struct {
		name string
		of   func(*event.Record) bool
	}{
		{"authorization", func(r *event.Record) bool {
			return r.Kind == event.RecordEvent && r.Event.Type == event.Authorization
		}},
		{"payout_paid", func(r *event.Record) bool { return r.Kind == event.RecordEvent && r.Event.Type == event.PayoutPaid }},
		{"watermark", func(r *event.Record) bool { return r.Kind == event.RecordWatermark }},
		{"batch_item", func(r *event.Record) bool { return r.Kind == event.RecordBatchItem }},
	} {
		b.Run(k.name, func(b *testing.B) {
			p, err := join.New(join.DefaultConfig(), sched, w.Merchants)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for i == len(w.Records) || !k.of(&w.Records[i]) {
					if i == len(w.Records) {
						if p, err = join.New(join.DefaultConfig(), sched, w.Merchants); err != nil {
							b.Fatal(err)
						}
						i = 0
						continue
					}
					p.Apply(&w.Records[i])
					p.Take()
					i++
				}
				b.StartTimer()
				p.Apply(&w.Records[i])
				p.Take()
				i++
			}
		})
	}
}

// BenchmarkOpenTraceBytes measures the heap an open trace holds: it fills a
// partition with n approved authorizations (no watermark, so none closes)
// and reports the live heap growth per trace after a GC, with the
// partition's own estimate (StateBytes) next to it. The 10M case needs
// about 4 GiB and a minute: set SETTLEMON_BENCH_10M=1 to run it.
func BenchmarkOpenTraceBytes(b *testing.B) {
	sizes := []int{1_000_000}
	if os.Getenv("SETTLEMON_BENCH_10M") != "" {
		sizes = append(sizes, 10_000_000)
	}
	sched := benchSchedule(b)
	const merchants = 5000
	m := workload.FillMerchants(merchants)
	start := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC).UnixMilli()
	for _, n := range sizes {
		b.Run(strconv.Itoa(n/1_000_000)+"M", func(b *testing.B) {
			for b.Loop() {
				before := liveHeap()
				p, err := join.New(join.DefaultConfig(), sched, m)
				if err != nil {
					b.Fatal(err)
				}
				workload.Fill(p, n, merchants, start)
				after := liveHeap()
				if p.Open() != n {
					b.Fatalf("%d open traces, want %d", p.Open(), n)
				}
				b.ReportMetric(float64(after-before)/float64(n), "heapB/trace")
				b.ReportMetric(float64(p.StateBytes())/float64(n), "estB/trace")
				runtime.KeepAlive(p)
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cpuClock sums the process's CPU time (user and system, every thread, so
// the garbage collector's background work counts) and its heap allocations
// over the timed part of a benchmark. On a shared machine CPU time is
// steadier than wall time, and allocs/record is the exact ratio that the
// integer allocs/op rounds down (0.7 allocations per record shows as 0).
type cpuClock struct {
	total, since      time.Duration
	mallocs, mallocs0 uint64
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

func startCPU() *cpuClock { c := &cpuClock{}; c.resume(); return c }
func (c *cpuClock) pause() {
	c.total += processCPU() - c.since
	c.mallocs += mallocs() - c.mallocs0
}
func (c *cpuClock) resume() { c.mallocs0, c.since = mallocs(), processCPU() }
func (c *cpuClock) report(b *testing.B) {
	c.pause()
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/record")
	b.ReportMetric(float64(c.mallocs)/float64(b.N), "allocs/record")
}
