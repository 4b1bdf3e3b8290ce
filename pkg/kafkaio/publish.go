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
// a partition carries the ToPartition header. A write that fails for some
// messages only (a partition whose leader moved) is retried for those; one
// that fails whole is retried whole. A message can still be stored twice (an
// ambiguous ack): consumers de-duplicate by event id.
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
		pending := byTopic[t]
		bo := backoff.NewExponentialBackOff()
		bo.MaxElapsedTime = p.MaxElapsed
		write := func() error {
			err := w.WriteMessages(ctx, pending...)
			pending = unwritten(pending, err)
			return err
		}
		if err := backoff.Retry(write, backoff.WithContext(bo, ctx)); err != nil {
			return fmt.Errorf("publishing %d of %d messages to %s: %w", len(pending), len(byTopic[t]), t, err)
		}
	}
	return nil
}

// unwritten returns the messages of msgs that err says were not written:
// those with an error of their own when err is a kafka.WriteErrors for
// msgs, else all of them.
func unwritten(msgs []kafka.Message, err error) []kafka.Message {
	var werrs kafka.WriteErrors
	if err == nil || !errors.As(err, &werrs) || len(werrs) != len(msgs) {
		return msgs
	}
	var out []kafka.Message
	for i, e := range werrs {
		if e != nil {
			out = append(out, msgs[i])
		}
	}
	return out
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
