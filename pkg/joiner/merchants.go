package joiner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/kafkaio"
)

// Merchants is the merchant profile table, read in full from the compacted
// acq.merchants topic by every joiner instance (a global table: profiles are
// keyed by merchant, events by trace, so no partitioning lines them up).
// Invalid profiles are skipped here; ingest dead-letters them.
type Merchants struct {
	mu       sync.RWMutex
	profiles map[string]join.Profile
	log      *slog.Logger
	loaded   uint64
}

// NewMerchants returns an empty table.
func NewMerchants(logger *slog.Logger) *Merchants {
	return &Merchants{profiles: map[string]join.Profile{}, log: logger}
}

// Lookup implements join.Merchants.
func (m *Merchants) Lookup(id string) (join.Profile, bool) {
	m.mu.RLock()
	p, ok := m.profiles[id]
	m.mu.RUnlock()
	return p, ok
}

// Len is the number of profiles held.
func (m *Merchants) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.profiles)
}

func (m *Merchants) apply(value []byte) {
	ev, err := event.Decode(event.Merchants, value)
	if err != nil || ev.Type != event.Merchant {
		return
	}
	m.mu.Lock()
	m.profiles[ev.MerchantID] = join.Profile{Mode: ev.Mode, FeeRatePPM: ev.FeeRatePPM, RegisteredMCC: ev.RegisteredMCC}
	m.loaded++
	m.mu.Unlock()
}

// Follow reads every partition of topic from the start: it returns once the
// table holds everything that was in the topic when it was called (the
// bootstrap), and keeps applying updates in the background until ctx ends.
func (m *Merchants) Follow(ctx context.Context, k kafkaio.Config, topic string) error {
	offs, err := kafkaio.TopicOffsets(ctx, k, topic)
	if err != nil {
		return fmt.Errorf("loading merchant profiles: %w", err)
	}
	dialer, err := k.Dialer()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, o := range offs {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: topic, Partition: o.Partition, Dialer: dialer,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			return err
		}
		wg.Add(1)
		end := o.End
		go func() {
			caughtUp := end <= o.First
			if caughtUp {
				wg.Done()
			}
			defer r.Close()
			for {
				msg, err := r.ReadMessage(ctx)
				if err != nil {
					if !caughtUp {
						wg.Done()
					}
					if ctx.Err() == nil {
						m.log.Error("merchant profile reader stopped", "partition", o.Partition, "err", err)
					}
					return
				}
				m.apply(msg.Value)
				if !caughtUp && msg.Offset+1 >= end {
					caughtUp = true
					wg.Done()
				}
			}
		}()
	}
	wg.Wait()
	m.log.Info("merchant profiles loaded", "merchants", m.Len(), "topic", topic)
	return ctx.Err()
}
