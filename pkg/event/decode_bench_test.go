package event_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/simulator"
)

// benchMessage is one simulated source message with its source.
type benchMessage struct {
	src   event.Source
	value []byte
}

var errEnough = errors.New("enough messages")

// benchMessages returns the first 100,000 messages of the acceptance
// simulation, every topic and event type in its real proportion.
var benchMessages = sync.OnceValues(func() ([]benchMessage, error) {
	cal, err := calendar.Default()
	if err != nil {
		return nil, err
	}
	cfg := simulator.FullConfig()
	src := map[string]event.Source{cfg.Topics.Authorizations: event.Auth, cfg.Topics.Clearing: event.Clearing,
		cfg.Topics.Payouts: event.Payouts, cfg.Topics.Merchants: event.Merchants}
	sim, err := simulator.New(cfg, cal)
	if err != nil {
		return nil, err
	}
	var out []benchMessage
	_, err = sim.Run(context.Background(), func(msgs []simulator.Message) error {
		for _, m := range msgs {
			out = append(out, benchMessage{src[m.Topic], m.Value})
		}
		if len(out) >= 100_000 {
			return errEnough
		}
		return nil
	}, nil)
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
})

// BenchmarkDecodeMix decodes the simulator's messages in their real mix
// (authorizations, clearing, payouts, heartbeats, merchant profiles): one op
// is one message, as ingest decodes it.
func BenchmarkDecodeMix(b *testing.B) {
	msgs, err := benchMessages()
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, m := range msgs {
		bytes += int64(len(m.value))
	}
	b.SetBytes(bytes / int64(len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := &msgs[i%len(msgs)]
		if _, err := event.Decode(m.src, m.value); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRecordRoundTrip is the repartition hop's own encoding cost per
// event: ingest appends the envelope, the joiner decodes it into a reused
// Record.
func BenchmarkRecordRoundTrip(b *testing.B) {
	msgs, err := benchMessages()
	if err != nil {
		b.Fatal(err)
	}
	var recs []event.Record
	for _, m := range msgs {
		ev, err := event.Decode(m.src, m.value)
		if err != nil || ev.Type == event.Heartbeat || m.src == event.Merchants {
			continue
		}
		recs = append(recs, event.Record{Kind: event.RecordEvent, Source: m.src, Event: ev, Topic: "t", Offset: int64(len(recs))})
	}
	buf := make([]byte, 0, 1024)
	var r event.Record
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = event.AppendRecord(buf[:0], &recs[i%len(recs)])
		if err := event.DecodeRecord(buf, &r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
