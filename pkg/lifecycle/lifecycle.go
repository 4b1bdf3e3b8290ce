// Package lifecycle gives a component's Run a Close: Close ends a running
// Run the way cancelling its context does, and waits until Run has drained
// and returned. It holds no goroutines of its own.
package lifecycle

import (
	"context"
	"sync"
)

// Runs tracks the Run calls of one component. The zero value is ready.
type Runs struct {
	mu      sync.Mutex
	cancels map[int]context.CancelFunc
	next    int
	closed  bool
	wg      sync.WaitGroup
}

// Start derives the context a Run works under and returns the function Run
// calls when it returns. After Close, the context starts cancelled.
func (r *Runs) Start(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		cancel()
		return ctx, func() {}
	}
	if r.cancels == nil {
		r.cancels = map[int]context.CancelFunc{}
	}
	id := r.next
	r.next++
	r.cancels[id] = cancel
	r.wg.Add(1)
	return ctx, func() {
		r.mu.Lock()
		delete(r.cancels, id)
		r.mu.Unlock()
		cancel()
		r.wg.Done()
	}
}

// Close cancels every running Run and waits for each to return. It is safe
// to call more than once and before any Run.
func (r *Runs) Close() {
	r.mu.Lock()
	r.closed = true
	for _, cancel := range r.cancels {
		cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
