package service

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that ends on the first SIGINT or SIGTERM,
// so components drain and commit; a second signal exits at once.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(os.Stderr, "received %s: draining and committing; send it again to exit at once\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		<-ch
		fmt.Fprintln(os.Stderr, "second signal: exiting without draining")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
