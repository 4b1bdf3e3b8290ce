package joiner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"settlemon/pkg/fact"
	"settlemon/pkg/join"
)

// TestSinkGroupsWrites: writes handed over while an insert runs go out
// together in the next insert, each writer learns its own group's outcome,
// and nothing is written twice or lost.
func TestSinkGroupsWrites(t *testing.T) {
	errInsert := errors.New("insert failed")
	tests := []struct {
		name       string
		failGroup  int // 1-based group whose insert fails; 0: none
		wantGroups [][]string
		wantErr    map[string]error
	}{
		{"grouped", 0, [][]string{{"a"}, {"b", "c", "d"}}, map[string]error{}},
		{"a failed group fails its writers only", 2, [][]string{{"a"}, {"b", "c", "d"}},
			map[string]error{"b": errInsert, "c": errInsert, "d": errInsert}},
		{"the first group fails", 1, [][]string{{"a"}, {"b", "c", "d"}}, map[string]error{"a": errInsert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				var mu sync.Mutex
				var groups [][]string
				s := &sink{insert: func(_ context.Context, f *join.Facts) error {
					var traces []string
					for _, l := range f.Lags {
						traces = append(traces, l.TraceNo)
					}
					slices.Sort(traces)
					mu.Lock()
					groups = append(groups, traces)
					n := len(groups)
					mu.Unlock()
					if n == 1 {
						<-release // hold the first insert until the others queue
					}
					if n == tt.failGroup {
						return errInsert
					}
					return nil
				}}
				got := map[string]error{}
				var wg sync.WaitGroup
				write := func(trace string) {
					wg.Go(func() {
						err := s.write(context.Background(), &join.Facts{Lags: []fact.Lag{{TraceNo: trace}}})
						mu.Lock()
						got[trace] = err
						mu.Unlock()
					})
				}
				write("a")
				synctest.Wait() // a leads, its insert is held
				for _, trace := range []string{"b", "c", "d"} {
					write(trace)
				}
				synctest.Wait() // b, c and d wait in the queue
				close(release)
				wg.Wait()
				if !slices.EqualFunc(groups, tt.wantGroups, slices.Equal) {
					t.Errorf("inserts %v, want %v", groups, tt.wantGroups)
				}
				for _, trace := range []string{"a", "b", "c", "d"} {
					if got[trace] != tt.wantErr[trace] {
						t.Errorf("write of %s returned %v, want %v", trace, got[trace], tt.wantErr[trace])
					}
				}
				if s.running || len(s.queue) != 0 {
					t.Errorf("after the last write: running %v, %d queued", s.running, len(s.queue))
				}
			})
		})
	}
}

func TestSinkSkipsEmptyWrites(t *testing.T) {
	calls := 0
	s := &sink{insert: func(context.Context, *join.Facts) error { calls++; return nil }}
	if err := s.write(context.Background(), &join.Facts{}); err != nil || calls != 0 {
		t.Fatalf("empty write: err %v, %d inserts; want none", err, calls)
	}
}
