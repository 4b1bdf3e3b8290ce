package joiner

import (
	"context"
	"errors"
	"sync"

	"settlemon/pkg/join"
	"settlemon/pkg/store"
)

// sink writes the facts of every partition this joiner owns with one insert
// per table at a time (group commit). A partition hands over its facts and
// waits until they are durable; whatever other partitions hand over while an
// insert is running goes out together in the next one. There is no timer:
// groups form only from writes that would otherwise have waited.
//
// Each partition flushes at least every FlushInterval, so with six partitions
// writing on their own ClickHouse received six small inserts per table per
// second. Every insert makes new parts for the server to write and merge
// later: under load the server's CPU per source event doubled between two
// bench runs that differed only in how often the partitions flushed. With
// the sink the inserts are as many as one partition would make, and as large
// as all of them together.
type sink struct {
	// insert makes one group's facts durable: storeFacts in the joiner.
	insert func(context.Context, *join.Facts) error

	mu      sync.Mutex
	queue   []*sinkWrite // writes waiting for the next group, the leader's first
	running bool         // a leader is writing

	all join.Facts // the facts of one group, reused; only the leader touches it
}

type sinkWrite struct {
	facts *join.Facts
	done  chan error // the group's outcome, or errLead
}

// errLead tells a waiting writer that it now leads: it writes the next group.
var errLead = errors.New("joiner sink: lead the next group")

// write makes f durable together with whatever other partitions hand over
// meanwhile. f is left untouched; the caller resets it after a success.
//
// One writer at a time leads: it takes everything queued (its own facts
// among them), inserts it, tells the group the outcome and passes the lead
// to the first writer that queued meanwhile. So no partition writes for
// others longer than one insert.
func (s *sink) write(ctx context.Context, f *join.Facts) error {
	if f.Len() == 0 {
		return nil
	}
	w := &sinkWrite{facts: f, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, w)
	leading := !s.running
	s.running = true
	s.mu.Unlock()
	if !leading {
		if err := <-w.done; err != errLead {
			return err
		}
	}
	s.mu.Lock()
	group := s.queue
	s.queue = nil
	s.mu.Unlock()
	err := s.insertGroup(ctx, group)
	for _, g := range group {
		if g != w {
			g.done <- err
		}
	}
	s.mu.Lock()
	if len(s.queue) > 0 {
		s.queue[0].done <- errLead
	} else {
		s.running = false
	}
	s.mu.Unlock()
	return err
}

func (s *sink) insertGroup(ctx context.Context, group []*sinkWrite) error {
	all := &s.all
	all.Reset()
	for _, w := range group {
		all.Lags = append(all.Lags, w.facts.Lags...)
		all.Anomalies = append(all.Anomalies, w.facts.Anomalies...)
		all.Batches = append(all.Batches, w.facts.Batches...)
	}
	defer all.Reset() // hold no strings between groups
	return s.insert(ctx, all)
}

// storeFacts inserts facts into st, one insert per table.
func storeFacts(st *store.Store) func(context.Context, *join.Facts) error {
	return func(ctx context.Context, f *join.Facts) error {
		if err := st.InsertLags(ctx, f.Lags); err != nil {
			return err
		}
		if err := st.InsertAnomalies(ctx, f.Anomalies); err != nil {
			return err
		}
		return st.InsertBatches(ctx, f.Batches)
	}
}
