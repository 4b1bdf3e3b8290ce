package ingest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

var errBenchEnough = errors.New("enough")

// benchSourceMessages returns up to n simulated messages of one source topic
// as the reader hands them over.
func benchSourceMessages(tb testing.TB, src event.Source, n int) []kafka.Message {
	tb.Helper()
	cal, err := calendar.Default()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := simulator.FullConfig()
	topic := []string{cfg.Topics.Authorizations, cfg.Topics.Clearing, cfg.Topics.Payouts, cfg.Topics.Merchants}[src]
	sim, err := simulator.New(cfg, cal)
	if err != nil {
		tb.Fatal(err)
	}
	var out []kafka.Message
	_, err = sim.Run(context.Background(), func(msgs []simulator.Message) error {
		for _, m := range msgs {
			if m.Topic == topic {
				out = append(out, kafka.Message{Topic: m.Topic, Partition: len(out) % cfg.Partitions, Offset: int64(len(out)), Key: m.Key, Value: m.Value})
			}
		}
		if len(out) >= n {
			return errBenchEnough
		}
		return nil
	}, nil)
	if err != nil && !errors.Is(err, errBenchEnough) {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkClassify is ingest's CPU per message without Kafka or ClickHouse:
// decode and validate, the raw archive row, the settle.events envelope and
// key (and the batch copy), in batches of MaxBatch as process builds them.
func BenchmarkClassify(b *testing.B) {
	for _, src := range []event.Source{event.Auth, event.Clearing, event.Payouts} {
		b.Run(src.String(), func(b *testing.B) {
			msgs := benchSourceMessages(b, src, 50_000)
			in, err := New(DefaultConfig().ForSource(src), Deps{Kafka: kafkaio.DefaultConfig(), Store: &store.Store{}})
			if err != nil {
				b.Fatal(err)
			}
			bt := &batch{last: map[int]kafka.Message{}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%in.cfg.MaxBatch == 0 {
					bt = &batch{last: map[int]kafka.Message{}}
				}
				in.classify(bt, &msgs[i%len(msgs)])
				i++
			}
			if in.dead.Load() > 0 {
				b.Fatalf("%d simulated messages dead-lettered", in.dead.Load())
			}
		})
	}
}

// BenchmarkClassifyGather is what one fetch of MaxBatch authorizations
// costs between Kafka and ClickHouse: classified into a batch (classifyAll),
// the batch's rows gathered for the archive insert (gathered.add, its raw
// array handed back for the next batch), the gathered rows dropped as after
// an insert once they reach ArchiveRows. One op is one batch; B/op is what
// the batches allocate in steady state.
func BenchmarkClassifyGather(b *testing.B) {
	cfg := DefaultConfig().ForSource(event.Auth)
	msgs := benchSourceMessages(b, event.Auth, cfg.MaxBatch)
	if len(msgs) < cfg.MaxBatch {
		b.Fatalf("simulated %d authorizations, want %d", len(msgs), cfg.MaxBatch)
	}
	in, err := New(cfg, Deps{Kafka: kafkaio.DefaultConfig(), Store: &store.Store{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	g := newGathered(cfg.ArchiveRows + cfg.MaxBatch)
	b.ReportAllocs()
	for b.Loop() {
		bt := in.classifyAll(msgs)
		in.recycleRaw(g.add(bt, time.Now()))
		if g.rows() >= cfg.ArchiveRows {
			g.reset()
		}
	}
	if in.dead.Load() > 0 {
		b.Fatalf("%d simulated messages dead-lettered", in.dead.Load())
	}
}
