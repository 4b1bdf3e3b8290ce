package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
)

// Publisher writes messages to several topics, one writer per topic, keeping
// each topic's messages in the order given. It is for producers of source
// traffic (the simulator, replays); pipeline stages use NewWriter directly.
type Publisher struct {
	cfg     Config
	writers map[string]*kafka.Writer
	// MaxElapsed bounds the retries of one Publish call.
	MaxElapsed time.Duration
}

// NewPublisher returns a publisher; writers are created on first use.
func NewPublisher(c Config) *Publisher {
	return &Publisher{cfg: c, writers: map[string]*kafka.Writer{}, MaxElapsed: 2 * time.Minute}
}

// Publish writes msgs, each to its Topic, synchronously. A message pinned to
// a partition carries the ToPartition header. Failed writes are retried whole,
// so a message can be stored twice: consumers de-duplicate by event id.
func (p *Publisher) Publish(ctx context.Context, msgs []kafka.Message) error {
	var order []string
	byTopic := map[string][]kafka.Message{}
	for _, m := range msgs {
		if m.Topic == "" {
			return errors.New("publish: message without a topic")
		}
		if _, ok := byTopic[m.Topic]; !ok {
			order = append(order, m.Topic)
		}
		t := m.Topic
		m.Topic = ""
		byTopic[t] = append(byTopic[t], m)
	}
	for _, t := range order {
		w, err := p.writer(t)
		if err != nil {
			return err
		}
		batch := byTopic[t]
		bo := backoff.NewExponentialBackOff()
		bo.MaxElapsedTime = p.MaxElapsed
		if err := backoff.Retry(func() error { return w.WriteMessages(ctx, batch...) }, backoff.WithContext(bo, ctx)); err != nil {
			return fmt.Errorf("publishing %d messages to %s: %w", len(batch), t, err)
		}
	}
	return nil
}

func (p *Publisher) writer(topic string) (*kafka.Writer, error) {
	if w, ok := p.writers[topic]; ok {
		return w, nil
	}
	w, err := NewWriter(p.cfg, topic, WriterConfig{BatchSize: 5000})
	if err != nil {
		return nil, err
	}
	p.writers[topic] = w
	return w, nil
}

// Close flushes and closes every writer.
func (p *Publisher) Close() error {
	var errs []error
	for _, w := range p.writers {
		errs = append(errs, CloseWriter(w))
	}
	return errors.Join(errs...)
}
