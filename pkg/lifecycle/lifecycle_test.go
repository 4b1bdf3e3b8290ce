package lifecycle

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestCloseEndsRunAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Runs
		drained := false
		returned := make(chan struct{})
		go func() {
			ctx, done := r.Start(context.Background())
			defer done()
			<-ctx.Done()
			time.Sleep(time.Second) // draining
			drained = true
			close(returned)
		}()
		synctest.Wait()
		r.Close()
		if !drained {
			t.Fatal("Close returned before Run drained")
		}
		<-returned
	})
}

func TestCloseBeforeRun(t *testing.T) {
	var r Runs
	r.Close()
	r.Close() // twice is fine
	ctx, done := r.Start(context.Background())
	defer done()
	if ctx.Err() == nil {
		t.Fatal("a Run started after Close must see a cancelled context")
	}
}

func TestParentCancelStillWorks(t *testing.T) {
	var r Runs
	parent, cancel := context.WithCancel(context.Background())
	ctx, done := r.Start(parent)
	cancel()
	<-ctx.Done()
	done()
	r.Close() // nothing running: returns at once
}
