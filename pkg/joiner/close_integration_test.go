//go:build integration

package joiner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/logtest"
	"settlemon/pkg/store/storetest"
)

// TestCloseStopsRun: Close ends a running Run as cancelling its context
// does; Run drains and returns without error, and Close returns after it.
func TestCloseStopsRun(t *testing.T) {
	b, err := devbroker.New(devbroker.Config{Port: 0, Partitions: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kafkaio.EnsureTopics(ctx, k, []kafkaio.TopicSpec{{Name: "settle.events", Partitions: 2},
		{Name: event.ProfilesTopic, Partitions: 1, Compacted: true}, {Name: event.Merchants.DefaultTopic(), Partitions: 1, Compacted: true}}); err != nil {
		t.Fatal(err)
	}
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	cfg := joiner.DefaultConfig()
	cfg.Group, cfg.Clock, cfg.FlushInterval, cfg.HealthInterval = "close-test", joiner.ClockReplay, 100*time.Millisecond, 100*time.Millisecond
	var logs logtest.Buffer
	j, err := joiner.New(cfg,
		joiner.Deps{Kafka: k, Store: storetest.New(t), Schedule: sched, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	for j.Stats().Generations == 0 {
		select {
		case err := <-done:
			t.Fatalf("Run returned before Close: %v", err)
		case <-ctx.Done():
			t.Fatal("the joiner never joined its group")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Run's last act before returning is the "joiner stopped" line; its
	// result reaches the channel only after it returned, so the log, not
	// the channel, tells whether Close waited.
	if !strings.Contains(logs.String(), "joiner stopped") {
		t.Fatalf("Close returned while Run was still running; logs:\n%s", logs.String())
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
}
