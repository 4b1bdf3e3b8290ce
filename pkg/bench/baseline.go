package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/ingest"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/simulator"
)

// baseline reads every source topic to its end with plain kafka-go readers,
// one consumer group per topic as ingest has, with ingest's fetch settings,
// decoding and writing nothing and committing nothing: the fastest this
// client and broker deliver the input.
func baseline(ctx context.Context, k kafkaio.Config, totals map[string]int64, ic ingest.Config, m meter) (Phase, error) {
	dialer, err := k.Dialer()
	if err != nil {
		return Phase{}, err
	}
	var (
		read        atomic.Int64
		mu          sync.Mutex
		first, last time.Time
	)
	before := m.read()
	g, gctx := errgroup.WithContext(ctx)
	for topic, want := range totals {
		if want == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: k.Brokers, GroupID: "settlemon-bench-baseline-" + topic, Topic: topic, Dialer: dialer,
			StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: kafkaio.LongPoll,
			QueueCapacity: ic.MaxBatch, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second,
			RebalanceTimeout: 10 * time.Second,
		})
		g.Go(func() error {
			defer r.Close()
			var n int64
			for n < want {
				if _, err := r.FetchMessage(gctx); err != nil {
					return fmt.Errorf("baseline: reading %s: %w", topic, err)
				}
				if n == 0 {
					mu.Lock()
					if first.IsZero() {
						first = time.Now()
					}
					mu.Unlock()
				}
				n++
				read.Add(1)
			}
			mu.Lock()
			if now := time.Now(); now.After(last) {
				last = now
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Phase{}, err
	}
	return Phase{Messages: read.Load(), Elapsed: last.Sub(first), CPU: m.read().since(before)}, nil
}

func toKafka(msgs []simulator.Message) []kafka.Message {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafkaio.NewMessage(m.Topic, m.Key, m.Value, m.Partition)
	}
	return out
}
