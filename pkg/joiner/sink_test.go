package joiner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/join"
)

// recorder is a sink's insert that records the trace numbers of each insert
// and fails those listed in fail (1-based).
type recorder struct {
	mu      sync.Mutex
	inserts [][]string
	fail    map[int]error
}

func (r *recorder) insert(_ context.Context, f *join.Facts) error {
	var traces []string
	for _, l := range f.Lags {
		traces = append(traces, l.TraceNo)
	}
	slices.Sort(traces)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inserts = append(r.inserts, traces)
	return r.fail[len(r.inserts)]
}

func (r *recorder) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.inserts)
}

func lags(traces ...string) *join.Facts {
	f := &join.Facts{}
	for _, t := range traces {
		f.Lags = append(f.Lags, fact.Lag{TraceNo: t})
	}
	return f
}

// outcome returns what arrived on done, or that nothing did.
func outcome(done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

// TestSinkInsertsPerInterval: the facts of every hand-over within an
// interval go out in one insert, whose outcome each hand-over learns, and
// nothing is written twice or lost.
func TestSinkInsertsPerInterval(t *testing.T) {
	errInsert := errors.New("insert failed")
	tests := []struct {
		name        string
		fail        map[int]error
		wantInserts [][]string
		wantErr     map[string]error
	}{
		{"one insert per interval", nil, [][]string{{"a", "b", "c"}, {"d"}}, map[string]error{}},
		{"a failed insert fails its hand-overs only", map[int]error{1: errInsert}, [][]string{{"a", "b", "c"}, {"d"}},
			map[string]error{"a": errInsert, "b": errInsert, "c": errInsert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &recorder{fail: tt.fail}
				var busy atomic.Int32
				s := newSink(r.insert, time.Second, 1000, &busy)
				ctx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { s.Run(ctx) })
				synctest.Wait()
				done := map[string]<-chan error{}
				for _, trace := range []string{"a", "b", "c"} {
					f := lags(trace)
					done[trace] = s.handOver(ctx, f, false)
					f.Reset() // the caller reuses its facts at once
					time.Sleep(100 * time.Millisecond)
				}
				synctest.Wait()
				if got := r.got(); len(got) != 0 {
					t.Fatalf("inserts before the interval is up: %v", got)
				}
				for trace, d := range done {
					if _, ok := outcome(d); ok {
						t.Errorf("hand-over %s settled before its insert", trace)
					}
				}
				time.Sleep(time.Second)
				synctest.Wait()
				done["d"] = s.handOver(ctx, lags("d"), false)
				time.Sleep(time.Second)
				synctest.Wait()
				if got := r.got(); !slices.EqualFunc(got, tt.wantInserts, slices.Equal) {
					t.Errorf("inserts %v, want %v", got, tt.wantInserts)
				}
				for trace, d := range done {
					err, ok := outcome(d)
					if !ok || err != tt.wantErr[trace] {
						t.Errorf("hand-over %s: outcome %v (arrived %v), want %v", trace, err, ok, tt.wantErr[trace])
					}
				}
				stop()
				wg.Wait()
				if busy.Load() != 0 {
					t.Errorf("busy %d after the last insert", busy.Load())
				}
			})
		})
	}
}

// TestSinkInsertsEarly: a hurried hand-over, or enough facts waiting, start
// the insert before the interval is up.
func TestSinkInsertsEarly(t *testing.T) {
	tests := []struct {
		name  string
		facts []*join.Facts
		hurry bool
		want  [][]string
	}{
		{"hurry", []*join.Facts{lags("a"), lags("b")}, true, [][]string{{"a", "b"}}},
		{"rows", []*join.Facts{lags("a"), lags("b", "c")}, false, [][]string{{"a", "b", "c"}}},
		{"neither", []*join.Facts{lags("a"), lags("b")}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &recorder{}
				var busy atomic.Int32
				s := newSink(r.insert, time.Hour, 3, &busy)
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				go s.Run(ctx)
				synctest.Wait()
				for i, f := range tt.facts {
					s.handOver(ctx, f, tt.hurry && i == len(tt.facts)-1)
				}
				time.Sleep(time.Minute)
				synctest.Wait()
				if got := r.got(); !slices.EqualFunc(got, tt.want, slices.Equal) {
					t.Errorf("inserts within a minute %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestSinkStops: what was handed over is inserted when the sink stops, and
// later hand-overs insert on their own.
func TestSinkStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		var busy atomic.Int32
		s := newSink(r.insert, time.Hour, 1000, &busy)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { s.Run(ctx) })
		synctest.Wait()
		before := s.handOver(ctx, lags("a"), false)
		stop()
		wg.Wait()
		if err, ok := outcome(before); !ok || err != nil {
			t.Errorf("hand-over before the stop: outcome %v (arrived %v), want nil", err, ok)
		}
		after := s.handOver(ctx, lags("b"), false)
		if err, ok := outcome(after); !ok || err != nil {
			t.Errorf("hand-over after the stop: outcome %v (arrived %v), want nil", err, ok)
		}
		if got, want := r.got(), [][]string{{"a"}, {"b"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("inserts %v, want %v", got, want)
		}
	})
}

func TestSinkSkipsEmptyHandOvers(t *testing.T) {
	r := &recorder{}
	var busy atomic.Int32
	s := newSink(r.insert, time.Second, 10, &busy)
	if err, ok := outcome(s.handOver(context.Background(), &join.Facts{}, true)); !ok || err != nil {
		t.Fatalf("empty hand-over: outcome %v (arrived %v), want nil at once", err, ok)
	}
	if got := r.got(); len(got) != 0 {
		t.Fatalf("empty hand-over inserted %v", got)
	}
}

// TestSinkCatchesUp: while behind reports a backlog, hand-overs wait for
// catchUp instead of the interval; once it is gone, the interval applies
// again.
func TestSinkCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		var busy atomic.Int32
		var behind atomic.Bool
		behind.Store(true)
		s := newSink(r.insert, time.Second, 1000, &busy)
		s.catchUp, s.behind = 5*time.Second, behind.Load
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go s.Run(ctx)
		synctest.Wait()
		s.handOver(ctx, lags("a"), false)
		time.Sleep(4500 * time.Millisecond)
		synctest.Wait()
		if got := r.got(); len(got) != 0 {
			t.Fatalf("inserts while behind, before the catch-up interval: %v", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := r.got(), [][]string{{"a"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("inserts after the catch-up interval %v, want %v", got, want)
		}
		behind.Store(false)
		s.handOver(ctx, lags("b"), false)
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if got, want := r.got(), [][]string{{"a"}, {"b"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("inserts once caught up %v, want %v", got, want)
		}
	})
}
