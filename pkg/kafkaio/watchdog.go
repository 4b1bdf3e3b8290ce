package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"
)

// ErrStuck is returned by Watchdog.Run when a consumer group has stopped
// making progress while it has work: the process should exit so that its
// supervisor restarts it and the group is formed anew.
var ErrStuck = errors.New("consumer group stuck")

// Watchdog notices a consumer group that has stopped making progress
// although its topic holds unconsumed messages, while this process is idle:
// for instance partitions left assigned to a member that was killed while it
// was joining. That stall is silent (no error anywhere), so the watchdog
// turns it into an exit. It never fires while the process is busy, which is
// what back-pressure looks like (an insert being retried during a ClickHouse
// outage).
type Watchdog struct {
	Kafka    Config
	Group    string
	Topic    string
	Interval time.Duration        // how often to look, default 15s
	Patience time.Duration        // how long without progress, default 2m
	Idle     func() time.Duration // how long this process has had nothing to do; 0 while busy
	Logger   *slog.Logger
}

// Run watches until ctx ends (nil) or the group is stuck (ErrStuck).
func (w *Watchdog) Run(ctx context.Context) error {
	interval, patience := w.Interval, w.Patience
	if interval <= 0 {
		interval = 15 * time.Second
	}
	if patience <= 0 {
		patience = 2 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last map[int]int64
	since := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		lag, err := GroupLag(ctx, w.Kafka, w.Group, w.Topic)
		if err != nil {
			continue // the broker may be restarting: no verdict
		}
		var behind int64
		for _, v := range lag {
			behind += v
		}
		committed, err := GroupCommitted(ctx, w.Kafka, w.Group, w.Topic)
		if err != nil {
			continue
		}
		if behind == 0 || !maps.Equal(committed, last) {
			last, since = committed, time.Now()
			continue
		}
		idle := w.Idle()
		if time.Since(since) >= patience && idle >= patience {
			stuck := map[int]int64{}
			for p, v := range lag {
				if v > 0 {
					stuck[p] = v
				}
			}
			if w.Logger != nil {
				w.Logger.Error("consumer group stuck: its partitions are behind and nothing was committed while this process had nothing to do; exiting so the supervisor restarts it",
					"group", w.Group, "topic", w.Topic, "behind", stuck, "for", time.Since(since).Round(time.Second),
					"action", "if it repeats, check the group's members (kafka-consumer-groups --describe)")
			}
			return fmt.Errorf("%w: group %s on %s: %d messages behind, no commit for %s", ErrStuck, w.Group, w.Topic, behind, time.Since(since).Round(time.Second))
		}
	}
}

// GroupCommitted returns group's committed offsets on topic, by partition
// (partitions it never committed are absent).
func GroupCommitted(ctx context.Context, c Config, group, topic string) (map[int]int64, error) {
	cl, release, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer release()
	return cl.ConsumerOffsets(ctx, kafkaTopicAndGroup(topic, group))
}
