package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/store"
)

// strippedInsertRows is the stripped pipeline's insert size.
const strippedInsertRows = 100_000

// stripped measures, in the same run as the product, a pipeline of the same
// topology stripped to its core, on the project's own code paths: the
// authorization, clearing and payout topics read by kafka-go consumer groups
// with ingest's fetch settings, each message decoded and validated
// (event.Decode), re-keyed by trace number onto a topic of its own through
// the product's writer and record codec, and joined by one reader per
// partition that keeps each trace's authorization time and writes one
// settlement_lag row per paid payout, in 100,000-row inserts, into a
// database of its own. No raw archive, no anomaly rules, no batch tracking,
// no watermarks, no checkpoints: "product ÷ stripped" prices what the
// product does beyond it on this machine, whatever the machine.
func stripped(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, totals map[string]int64, m meter) (Phase, error) {
	sc := cfg.Store
	sc.Database = cfg.Store.Database + "_stripped"
	st, err := freshStore(ctx, sc, deps.Logger)
	if err != nil {
		return Phase{}, fmt.Errorf("stripped pipeline: %w", err)
	}
	defer st.Close()
	topic := cfg.Pipeline.Topics.Events + ".stripped"
	if err := kafkaio.EnsureTopics(ctx, k, []kafkaio.TopicSpec{{Name: topic, Partitions: cfg.Pipeline.Partitions}}); err != nil {
		return Phase{}, fmt.Errorf("stripped pipeline: %w", err)
	}
	s := &strippedRun{cfg: cfg, k: k, st: st, topic: topic, targets: make(chan []int64, 1)}
	before := m.read()
	g, gctx := errgroup.WithContext(ctx)
	var hop sync.WaitGroup
	for t, want := range totals {
		if want == 0 || t == cfg.Pipeline.Topics.Sources[event.Merchants] {
			continue
		}
		hop.Add(1)
		g.Go(func() error {
			defer hop.Done()
			return s.repartition(gctx, t, want)
		})
	}
	g.Go(func() error {
		hop.Wait()
		if gctx.Err() != nil {
			return nil
		}
		offs, err := kafkaio.TopicOffsets(gctx, k, topic)
		if err != nil {
			return fmt.Errorf("stripped pipeline: %w", err)
		}
		ends := make([]int64, cfg.Pipeline.Partitions)
		for _, o := range offs {
			ends[o.Partition] = o.End
		}
		s.targets <- ends
		return nil
	})
	var joins sync.WaitGroup
	ends := make([]chan int64, cfg.Pipeline.Partitions)
	for p := range ends {
		ends[p] = make(chan int64, 1)
		joins.Add(1)
		g.Go(func() error {
			defer joins.Done()
			return s.join(gctx, p, ends[p])
		})
	}
	g.Go(func() error {
		select {
		case e := <-s.targets:
			for p, c := range ends {
				c <- e[p]
			}
		case <-gctx.Done():
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return Phase{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ph := Phase{Messages: s.read.Load(), Elapsed: s.last.Sub(s.first), CPU: m.read().since(before)}
	fmt.Fprintf(deps.Out, "bench: stripped pipeline consumed %d messages in %s (%.0f/s), %d lag rows\n",
		ph.Messages, ph.Elapsed.Round(time.Millisecond), ph.Rate(), s.lags.Load())
	return ph, nil
}

// strippedRun is the stripped pipeline's shared state.
type strippedRun struct {
	cfg     Config
	k       kafkaio.Config
	st      *store.Store
	topic   string
	targets chan []int64 // the repartition topic's end offsets, once every source message is on it

	read, lags  atomic.Int64
	mu          sync.Mutex
	first, last time.Time
}

func (s *strippedRun) mark(first bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if first && s.first.IsZero() {
		s.first = now
	}
	if now.After(s.last) {
		s.last = now
	}
}

// repartition reads want messages of a source topic and writes each
// decoded event, re-keyed by trace number, to the stripped topic, a batch at
// a time, committing after each write.
func (s *strippedRun) repartition(ctx context.Context, topic string, want int64) error {
	dialer, err := s.k.Dialer()
	if err != nil {
		return err
	}
	ic := s.cfg.Pipeline.Ingest
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: s.k.Brokers, GroupID: "settlemon-bench-stripped-" + topic, Topic: topic, Dialer: dialer,
		StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: kafkaio.LongPoll,
		QueueCapacity: ic.MaxBatch, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
	})
	defer r.Close()
	w, err := kafkaio.NewWriter(s.k, s.topic, kafkaio.WriterConfig{})
	if err != nil {
		return err
	}
	defer kafkaio.CloseWriter(w)
	src := sourceOf(s.cfg, topic)
	var n int64
	out := make([]kafka.Message, 0, ic.MaxBatch)
	for n < want {
		out = out[:0]
		var lastMsg kafka.Message
		for n < want && len(out) < ic.MaxBatch {
			fctx, cancel := context.WithTimeout(ctx, ic.MaxWait)
			msg, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, context.DeadlineExceeded) {
					break // a partial batch
				}
				return fmt.Errorf("stripped pipeline: reading %s: %w", topic, err)
			}
			if n == 0 {
				s.mark(true)
			}
			n++
			s.read.Add(1)
			lastMsg = msg
			ev, err := event.Decode(src, msg.Value)
			if err != nil || ev.Type == event.Heartbeat {
				continue // the product dead-letters or records these; the reference drops them
			}
			rec := event.Record{Kind: event.RecordEvent, Source: src, Event: ev, Topic: msg.Topic, Partition: int32(msg.Partition), Offset: msg.Offset}
			out = append(out, kafka.Message{Key: []byte(ev.TraceNo), Value: event.AppendRecord(nil, &rec)})
		}
		if len(out) > 0 {
			if err := w.WriteMessages(ctx, out...); err != nil {
				return fmt.Errorf("stripped pipeline: writing %s: %w", s.topic, err)
			}
		}
		if lastMsg.Topic != "" {
			if err := r.CommitMessages(ctx, lastMsg); err != nil {
				return fmt.Errorf("stripped pipeline: committing %s: %w", topic, err)
			}
		}
	}
	return nil
}

// join reads one partition of the stripped topic up to the end offset that
// arrives on end, keeping each trace's authorization time and writing a
// settlement_lag row per paid payout of a known trace.
func (s *strippedRun) join(ctx context.Context, partition int, end <-chan int64) error {
	dialer, err := s.k.Dialer()
	if err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.k.Brokers, Topic: s.topic, Partition: partition, Dialer: dialer,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: kafkaio.LongPoll, QueueCapacity: s.cfg.Pipeline.Joiner.FetchBatch})
	defer r.Close()
	authorized := map[string]int64{}
	rows := make([]fact.Lag, 0, strippedInsertRows)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if err := s.st.InsertLags(ctx, rows); err != nil {
			return fmt.Errorf("stripped pipeline: inserting lag facts: %w", err)
		}
		s.lags.Add(int64(len(rows)))
		rows = rows[:0]
		return nil
	}
	target, next := int64(-1), int64(0)
	var rec event.Record
	for target < 0 || next < target {
		if target < 0 {
			select {
			case target = <-end:
				continue
			default:
			}
		}
		fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		msg, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return fmt.Errorf("stripped pipeline: reading %s partition %d: %w", s.topic, partition, err)
		}
		next = msg.Offset + 1
		if err := event.DecodeRecord(msg.Value, &rec); err != nil {
			return fmt.Errorf("stripped pipeline: %s partition %d offset %d: %w", s.topic, partition, msg.Offset, err)
		}
		ev := &rec.Event
		switch ev.Type {
		case event.Authorization:
			if ev.ResponseCode == "00" {
				authorized[ev.TraceNo] = ev.OccurredAt
			}
		case event.PayoutPaid:
			at, ok := authorized[ev.TraceNo]
			if !ok {
				continue
			}
			delete(authorized, ev.TraceNo)
			rows = append(rows, fact.Lag{TraceNo: ev.TraceNo, MerchantID: ev.MerchantID, NetPaid: ev.Amount,
				AuthorizedAt: at, PaidAt: ev.OccurredAt, AuthToPayS: (ev.OccurredAt - at) / 1000, Status: fact.StatusPaid, Version: 1})
			if len(rows) == strippedInsertRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	s.mark(false)
	return nil
}

// sourceOf is the source whose topic is topic.
func sourceOf(cfg Config, topic string) event.Source {
	for src, t := range cfg.Pipeline.Topics.Sources {
		if t == topic {
			return event.Source(src)
		}
	}
	return event.Auth
}
