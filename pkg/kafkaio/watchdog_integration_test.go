//go:build integration

package kafkaio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/kafkaio"
)

// TestWatchdog: a group with unconsumed messages and no commits is stuck
// once this process has been idle for the patience; while the process is
// busy (back-pressure) or the group is caught up, it is not.
func TestWatchdog(t *testing.T) {
	b, err := devbroker.New(devbroker.Config{Port: 0, Partitions: 2, Topics: []string{"t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := kafkaio.NewWriter(k, "t", kafkaio.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("a"), Value: []byte("1")}, kafka.Message{Key: []byte("b"), Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	run := func(idle time.Duration, within time.Duration) error {
		wd := &kafkaio.Watchdog{Kafka: k, Group: "g", Topic: "t", Interval: 50 * time.Millisecond, Patience: 300 * time.Millisecond,
			Idle: func() time.Duration { return idle }}
		wctx, stop := context.WithTimeout(ctx, within)
		defer stop()
		return wd.Run(wctx)
	}
	if err := run(time.Hour, 5*time.Second); !errors.Is(err, kafkaio.ErrStuck) {
		t.Errorf("an idle process whose group is behind without commits: %v, want ErrStuck", err)
	}
	if err := run(0, 2*time.Second); err != nil {
		t.Errorf("a busy process (back-pressure) must not be called stuck: %v", err)
	}
	empty := &kafkaio.Watchdog{Kafka: k, Group: "g2", Topic: "none-such", Interval: 50 * time.Millisecond, Patience: 100 * time.Millisecond,
		Idle: func() time.Duration { return time.Hour }}
	ectx, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if err := empty.Run(ectx); err != nil {
		t.Errorf("no verdict without a readable group: %v", err)
	}
}
