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

// Merchants is the merchant profile table, read in full by every joiner
// instance (a global table: profiles are keyed by merchant, events by trace,
// so no partitioning lines them up) from the compacted settle.merchants,
// which holds only the profiles of acq.merchants that ingest accepted: a
// profile ingest dead-letters never takes effect.
type Merchants struct {
	mu       sync.RWMutex
	profiles map[string]join.Profile
	log      *slog.Logger
	loaded   uint64
	refused  uint64 // records of the profiles topic that did not decode
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
		// Only a writer other than ingest can put this here.
		m.mu.Lock()
		m.refused++
		m.mu.Unlock()
		m.log.Warn("merchant profile record refused: it is not a valid profile; only ingest should write the profiles topic", "err", err)
		return
	}
	m.mu.Lock()
	m.profiles[ev.MerchantID] = join.Profile{Mode: ev.Mode, FeeRatePPM: ev.FeeRatePPM, RegisteredMCC: ev.RegisteredMCC}
	m.loaded++
	m.mu.Unlock()
}

// awaitIngest waits, for at most patience (negative: not at all), until
// group has committed every message that was in source when it was called:
// the merchants ingest commits only after the accepted profiles are on the
// profiles topic, so the table then holds every profile that preceded this
// joiner. It logs progress, and a warning naming the fix when it gives up.
func (m *Merchants) awaitIngest(ctx context.Context, k kafkaio.Config, source, group string, patience time.Duration) error {
	if patience < 0 {
		return nil
	}
	offs, err := kafkaio.TopicOffsets(ctx, k, source)
	if err != nil {
		return fmt.Errorf("waiting for the merchants ingest: %w", err)
	}
	start := time.Now()
	last := start
	for {
		committed, err := kafkaio.GroupCommitted(ctx, k, group, source)
		if err != nil {
			return fmt.Errorf("waiting for the merchants ingest: %w", err)
		}
		pending := int64(0)
		for _, o := range offs {
			at, ok := committed[o.Partition]
			if !ok || at < o.First {
				at = o.First
			}
			pending += max(o.End-at, 0)
		}
		if pending == 0 {
			return nil
		}
		if time.Since(start) >= patience {
			m.log.Warn("starting before the merchants ingest has validated every profile: some merchants may be missing until it does",
				"pending", pending, "source", source, "group", group,
				"action", "start `ingest --source merchants` (group "+group+") or check its log; joiner --merchants-wait sets how long to wait")
			return nil
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			m.log.Info("waiting for the merchants ingest to validate profiles", "pending", pending, "source", source, "group", group)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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
