// Package ingest is the first stage of the pipeline: one consumer per source
// topic, each in its own consumer group, so a broken or slow feed never stalls
// the others. It decodes and validates every message, archives valid events
// with their topic/partition/offset lineage, sends invalid ones to the
// dead-letter topic and table with the reason, re-keys payment events by trace
// number onto settle.events, and broadcasts each source partition's watermark
// to every partition of settle.events (DESIGN §5). Accepted merchant profiles
// go on to the compacted settle.merchants, the joiner's only source of them.
//
// Offsets are committed only after everything a batch produced is durable.
// Kafka writes go out batch by batch; what a batch owes ClickHouse (archive,
// control and dead-letter rows) is gathered over several batches and written
// in one insert per table (Config.ArchiveRows, Config.ArchiveWait), so the
// archive grows by few, large parts, and the offsets of those batches are
// committed after that insert.
// Ingest holds no join state and does not interpret events beyond validation.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/event"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pan"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Config is one ingest consumer. Start from DefaultConfig().ForSource(s):
// no field's zero value stands for its default.
type Config struct {
	Source   event.Source
	Topic    string // the source topic
	Group    string // the consumer group
	OutTopic string // where events are re-keyed by trace number
	DLQTopic string // where dead letters go
	// ProfilesTopic receives the merchant profiles that passed every check,
	// keyed by merchant_id (compacted): the joiner reads profiles only from
	// there, so a profile ingest dead-letters never takes effect. Used by
	// the merchants source only.
	ProfilesTopic string

	MaxBatch int           // messages per batch: one Kafka write
	MaxWait  time.Duration // how long a partial batch waits for more

	// ArchiveRows and ArchiveWait bound what batches gather for ClickHouse
	// before it is written, one insert per table, and their offsets
	// committed: at most ArchiveRows rows (a batch that reaches it is
	// written with it), for at most ArchiveWait after the first batch among
	// them went to Kafka. A revocation of partitions, or the end of Run,
	// writes them at once.
	ArchiveRows int
	ArchiveWait time.Duration

	// HealthInterval is how often the consumer's lag and idle time are
	// written to source_health.
	HealthInterval time.Duration

	// StuckAfter: when the group has unconsumed messages but commits
	// nothing for this long while this consumer is idle, Run returns
	// kafkaio.ErrStuck (the process exits and its supervisor restarts it).
	// Zero or negative disables.
	StuckAfter time.Duration

	// RetryMaxElapsed bounds the retries of one Kafka write; past it Run
	// returns the error and the process exits for its supervisor to restart.
	RetryMaxElapsed time.Duration

	// MaxFutureSkew: an event dated further ahead of the wall clock is
	// dead-lettered (future_timestamp). Zero or negative disables. Past
	// dates are never rejected.
	MaxFutureSkew time.Duration
	// EventIDMemory is how many distinct event ids this instance remembers
	// to dead-letter an id reused for different content (event_id_reused;
	// see idMemory for the limits). Zero or negative disables.
	EventIDMemory int
}

// DefaultConfig returns the defaults of every setting but the source's:
// the pipeline's events, dead-letter and profiles topics, DefaultMaxBatch
// messages per batch waiting at most 200ms, DefaultArchiveRows rows per
// archive insert gathered for at most DefaultArchiveWait, health every 5s, stuck after
// 2m, Kafka writes retried for 10m, DefaultMaxFutureSkew and
// DefaultEventIDMemory (about 40 MiB).
func DefaultConfig() Config {
	return Config{
		OutTopic:        event.EventsTopic,
		DLQTopic:        event.DLQTopic,
		ProfilesTopic:   event.ProfilesTopic,
		MaxBatch:        DefaultMaxBatch,
		MaxWait:         200 * time.Millisecond,
		ArchiveRows:     DefaultArchiveRows,
		ArchiveWait:     DefaultArchiveWait,
		HealthInterval:  5 * time.Second,
		StuckAfter:      2 * time.Minute,
		RetryMaxElapsed: 10 * time.Minute,
		MaxFutureSkew:   DefaultMaxFutureSkew,
		EventIDMemory:   DefaultEventIDMemory,
	}
}

// ForSource sets the source with its default topic and consumer group.
func (c Config) ForSource(s event.Source) Config {
	c.Source, c.Topic, c.Group = s, s.DefaultTopic(), s.IngestGroup()
	return c
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Source >= event.NumSources {
		return text.Errorf("error.ingest.source", strconv.Itoa(int(c.Source)))
	}
	if c.Topic == "" || c.Group == "" || c.OutTopic == "" || c.DLQTopic == "" || c.ProfilesTopic == "" {
		return text.Errorf("error.ingest.topics")
	}
	if c.MaxBatch <= 0 || c.MaxWait <= 0 || c.HealthInterval <= 0 || c.RetryMaxElapsed <= 0 {
		return text.Errorf("error.ingest.positive")
	}
	if c.ArchiveRows <= 0 || c.ArchiveWait <= 0 {
		return errors.New("ingest: archive rows and archive wait must be positive")
	}
	return nil
}

// Deps are what an ingest consumer talks to.
type Deps struct {
	Kafka  kafkaio.Config
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time // wall clock for the future-timestamp check; default time.Now
}

// Stats counts what happened to consumed messages. Every consumed message is
// counted in exactly one of Archived, Control and DeadLettered; Forwarded and
// Declined are subsets of Archived.
type Stats struct {
	Consumed     uint64
	Archived     uint64
	Forwarded    uint64 // re-keyed onto settle.events (accepted profiles: onto settle.merchants)
	Declined     uint64 // declined authorizations: archived, deliberately not joined
	Control      uint64 // heartbeats: recorded, advance the watermark
	DeadLettered uint64
	Batches      uint64 // batches written to Kafka
	// ArchiveInserts counts the writes of what batches gathered for
	// ClickHouse (one insert per table), each followed by a commit.
	ArchiveInserts uint64

	// Filled from progress (metrics.go).
	ConsumedBytes     uint64            // key and value bytes consumed
	DeadLetterReasons map[string]uint64 // DeadLettered by reason
	PartitionLag      map[int]int64     // per source partition: messages behind its end at the last read

	// Owned is the consumer-group assignment held now: generation, member
	// id and partitions of the source topic.
	Owned kafkaio.Owned
}

// Ingest is one running consumer.
type Ingest struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	reader *groupReader      // the source topic, as a member of the group (group.go)
	owned  kafkaio.Ownership // what reader owns now
	out    *kafka.Writer
	dlq    *kafka.Writer

	srcParts int // partitions of the source topic
	outParts []int

	wm     map[int]int64 // per source partition: highest occurred_at read
	sentWM map[int]int64 // last broadcast
	pos    positions     // per source partition: where reading stands (position.go)

	consumed, archived, forwarded, declined, control, dead, batches, flushes atomic.Uint64
	lastRead                                                                 atomic.Int64 // Unix ms of the last message read
	idleSince                                                                atomic.Int64 // Unix ms since when the consumer has had nothing to do
	pending                                                                  atomic.Int32 // batches read and not yet committed
	minWM                                                                    atomic.Int64 // lowest partition watermark after the last batch

	fetched []kafka.Message     // the array each fetch fills again (Run's goroutine only)
	rawFree chan []store.RawRow // emptied raw arrays, from the writer back to classifyAll

	progress progress       // bytes, dead-letter reasons and partition lag, for Stats (metrics.go)
	deadLog  *deadLetterLog // dead letters in the log, rate-limited (deadlog.go)
	ids      *idMemory      // recent event ids, for event_id_reused (checks.go)
}

// New builds an ingest consumer; it connects on Run.
func New(cfg Config, deps Deps) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.Kafka.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, errors.New("ingest: a store is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	in := &Ingest{cfg: cfg, deps: deps, log: deps.Logger.With("component", "ingest", "source", cfg.Source.String(), "topic", cfg.Topic),
		wm: map[int]int64{}, sentWM: map[int]int64{}, pos: newPositions(), ids: newIDMemory(cfg.EventIDMemory),
		rawFree: make(chan []store.RawRow, 2)}
	in.deadLog = newDeadLetterLog(in.log, deadLetterLogEvery)
	return in, nil
}

// Stats returns the counters so far.
func (in *Ingest) Stats() Stats {
	s := Stats{Consumed: in.consumed.Load(), Archived: in.archived.Load(), Forwarded: in.forwarded.Load(),
		Declined: in.declined.Load(), Control: in.control.Load(), DeadLettered: in.dead.Load(), Batches: in.batches.Load(),
		ArchiveInserts: in.flushes.Load()}
	in.progress.fill(&s)
	s.Owned = in.owned.Get()
	return s
}

// Run consumes until ctx is cancelled or an error that retries cannot fix.
// A cancelled ctx finishes the batches in hand (writes and commit) first.
//
// Two stages overlap: this goroutine fetches and classifies a batch while a
// writer goroutine writes the previous one to Kafka and gathers its rows for
// ClickHouse; when they are due (Config.ArchiveRows, Config.ArchiveWait) it
// inserts them, concurrently with the Kafka writes of the batch at hand, and
// commits the offsets of every batch they came from. Batches are committed
// in the order they were read, so a crash re-reads at most what was read
// after the last such insert: ArchiveRows rows or ArchiveWait of input, and
// the batch in hand.
func (in *Ingest) Run(ctx context.Context) error {
	if err := in.open(ctx); err != nil {
		return err
	}
	defer in.Close()
	dctx, stopDeadLog := context.WithCancel(ctx)
	deadLogDone := make(chan struct{})
	go func() { defer close(deadLogDone); in.deadLog.run(dctx, in.now) }()
	defer func() { stopDeadLog(); <-deadLogDone }()
	if in.cfg.Source != event.Merchants {
		hctx, stop := context.WithCancel(ctx)
		defer stop()
		go in.reportHealth(hctx)
	}
	in.log.Info("ingest started", "group", in.cfg.Group, "partitions", in.srcParts, "out", in.outTopic(), "max_batch", in.cfg.MaxBatch)
	// The watchdog ends the loop with ErrStuck when the group has work but
	// makes no progress while this process is idle; a failed writer ends it
	// with its error.
	loopCtx, stopLoop := context.WithCancelCause(ctx)
	defer stopLoop(nil)
	in.idleSince.Store(time.Now().UnixMilli())
	if in.cfg.StuckAfter > 0 {
		wd := &kafkaio.Watchdog{Kafka: in.deps.Kafka, Group: in.cfg.Group, Topic: in.cfg.Topic, Patience: in.cfg.StuckAfter,
			Interval: min(15*time.Second, in.cfg.StuckAfter/4), Idle: in.idleFor, Logger: in.log}
		go func() {
			if err := wd.Run(loopCtx); err != nil {
				stopLoop(err)
			}
		}()
	}
	// Unbuffered: a classified batch waits here until the writer has
	// written the one before.
	batches := make(chan *batch)
	failed := make(chan struct{})
	written := make(chan error, 1)
	go func() {
		// Finish what was read even if ctx is done: drain, then stop.
		err := in.writeAll(context.WithoutCancel(ctx), batches)
		if err != nil {
			close(failed)
			stopLoop(err)
		}
		written <- err
	}()
	var fetchErr error
	for fetchErr == nil {
		var msgs []kafka.Message
		msgs, fetchErr = in.fetch(loopCtx)
		if len(msgs) == 0 {
			continue
		}
		in.pending.Add(1)
		b := in.classifyAll(msgs)
		clear(msgs) // the batch holds what it needs of them; the array is fetch's again
		select {
		case batches <- b:
		case <-failed:
			// Not written, not committed: read again after the restart.
			fetchErr = errWriterFailed
		}
	}
	close(batches)
	if err := <-written; err != nil {
		return err
	}
	if ctx.Err() != nil {
		in.log.Info("ingest stopped: drained the batches in hand and committed their offsets", "consumed", in.consumed.Load(), "batches", in.batches.Load())
		return nil
	}
	if cause := context.Cause(loopCtx); errors.Is(cause, kafkaio.ErrStuck) {
		return fmt.Errorf("ingest %s: %w", in.cfg.Source, cause)
	}
	return fmt.Errorf("ingest %s: fetching: %w", in.cfg.Source, fetchErr)
}

var errWriterFailed = errors.New("the batch writer failed")

// writeAll writes each batch to Kafka and, when they are due, the rows the
// batches gathered to ClickHouse, then commits them, in order, until batches
// is closed (what is gathered then is written and committed) or a write
// fails for good.
func (in *Ingest) writeAll(ctx context.Context, batches <-chan *batch) error {
	g := newGathered(in.cfg.ArchiveRows + in.cfg.MaxBatch)
	due := time.NewTimer(in.cfg.ArchiveWait)
	due.Stop()
	defer due.Stop()
	var draining <-chan struct{}
	if in.reader != nil {
		draining = in.reader.drainRequests()
	}
	for {
		select {
		case b, ok := <-batches:
			if !ok {
				return in.persist(ctx, nil, g, true)
			}
			in.recycleRaw(g.add(b, time.Now()))
			flush := g.rows() >= in.cfg.ArchiveRows || time.Since(g.since) >= in.cfg.ArchiveWait
			if err := in.persist(ctx, b, g, flush); err != nil {
				return err
			}
			if !flush && g.batches == 1 {
				due.Reset(in.cfg.ArchiveWait)
			}
		case <-due.C:
			if err := in.persist(ctx, nil, g, true); err != nil {
				return err
			}
		case <-draining:
			// Partitions are being revoked: commit what they handed out
			// while this generation can.
			if err := in.persist(ctx, nil, g, true); err != nil {
				return err
			}
		}
		if g.batches == 0 {
			due.Stop()
		}
	}
}

// gathered is what the batches written to Kafka since the last archive
// insert owe ClickHouse, and the offsets they commit once it is durable.
// Its slices keep their arrays from one insert to the next. Raw, the large
// one, grows by doubling while its rows are few, and straight to the most it
// can hold (maxRaw) once they reach a quarter of that: a busy source
// allocates it once instead of step by step, each step a copy of every row
// so far, and a quiet one only what it uses.
type gathered struct {
	maxRaw   int // the most raw rows it holds: below ArchiveRows, and a batch
	raw      []store.RawRow
	controls []store.ControlRow
	dead     []store.DeadLetter
	last     map[int]kafka.Message
	batches  int32
	since    time.Time // when the first batch was added
}

// newGathered returns an empty gathered whose raw rows stay within maxRaw
// (zero: no bound known).
func newGathered(maxRaw int) *gathered {
	return &gathered{maxRaw: maxRaw, last: map[int]kafka.Message{}}
}

func (g *gathered) rows() int { return len(g.raw) + len(g.controls) + len(g.dead) }

// add takes b's rows and offsets; b keeps its Kafka messages. It returns
// b's raw array, emptied and cleared, for classifyAll to fill again.
func (g *gathered) add(b *batch, now time.Time) (spare []store.RawRow) {
	if g.batches == 0 {
		g.since = now
	}
	g.batches++
	if need := len(g.raw) + len(b.raw); need > cap(g.raw) {
		want := max(need, 2*cap(g.raw))
		if g.maxRaw > 0 && (need >= g.maxRaw/4 || want > g.maxRaw) {
			want = max(need, g.maxRaw)
		}
		g.raw = slices.Grow(g.raw, want-len(g.raw))
	}
	g.raw = append(g.raw, b.raw...)
	g.controls = append(g.controls, b.controls...)
	g.dead = append(g.dead, b.dead...)
	for p, m := range b.last {
		g.last[p] = m
	}
	spare = b.raw[:0]
	clear(b.raw)
	b.raw, b.controls, b.dead = nil, nil, nil
	return spare
}

// recycleRaw hands an emptied raw array to the next classifyAll, or drops
// it when enough wait.
func (in *Ingest) recycleRaw(raw []store.RawRow) {
	if cap(raw) == 0 {
		return
	}
	select {
	case in.rawFree <- raw:
	default:
	}
}

// spareRaw returns an empty raw array for n rows: a recycled one when one
// is large enough.
func (in *Ingest) spareRaw(n int) []store.RawRow {
	select {
	case raw := <-in.rawFree:
		if cap(raw) >= n {
			return raw
		}
	default:
	}
	return make([]store.RawRow, 0, n)
}

// reset drops what was written, keeping the arrays for the next batches
// (cleared, so that they hold no message).
func (g *gathered) reset() {
	clear(g.raw)
	clear(g.controls)
	clear(g.dead)
	g.raw, g.controls, g.dead = g.raw[:0], g.controls[:0], g.dead[:0]
	clear(g.last)
	g.batches = 0
}

// idleFor is how long the consumer has had nothing to do (0 while a batch
// is being written, however long its retries take).
func (in *Ingest) idleFor() time.Duration {
	if in.pending.Load() > 0 {
		return 0
	}
	return time.Since(time.UnixMilli(in.idleSince.Load()))
}

func (in *Ingest) open(ctx context.Context) error {
	k := in.deps.Kafka
	dialer, err := k.Dialer()
	if err != nil {
		return err
	}
	parts, err := kafkaio.Partitions(ctx, k, in.cfg.Topic)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", in.cfg.Source, err)
	}
	in.srcParts = len(parts)
	if in.cfg.Source == event.Merchants {
		if in.out, err = kafkaio.NewWriter(k, in.cfg.ProfilesTopic, kafkaio.WriterConfig{}); err != nil {
			return err
		}
	} else {
		if in.outParts, err = kafkaio.Partitions(ctx, k, in.cfg.OutTopic); err != nil {
			return fmt.Errorf("ingest %s: %w", in.cfg.Source, err)
		}
		if in.out, err = kafkaio.NewWriter(k, in.cfg.OutTopic, kafkaio.WriterConfig{}); err != nil {
			return err
		}
	}
	if in.dlq, err = kafkaio.NewWriter(k, in.cfg.DLQTopic, kafkaio.WriterConfig{}); err != nil {
		return err
	}
	in.reader, err = newGroupReader(kafka.ConsumerGroupConfig{
		ID: in.cfg.Group, Brokers: k.Brokers, Dialer: dialer, Topics: []string{in.cfg.Topic},
		StartOffset: kafka.FirstOffset, HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: time.Second,
		GroupBalancers: []kafka.GroupBalancer{kafkaio.SortedRange{}}, // the same split for the same members
		ErrorLogger:    kafkaio.ErrorLogger(in.log, "kafka group"),
	}, kafka.ReaderConfig{
		Brokers:       k.Brokers,
		Topic:         in.cfg.Topic,
		Dialer:        dialer,
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       kafkaio.LongPoll,             // the batch window is in.cfg.MaxWait (fetch)
		QueueCapacity: min(in.cfg.MaxBatch, 20_000), // read-ahead, from which batches are gathered
		ErrorLogger:   kafkaio.ErrorLogger(in.log, "kafka reader"),
	}, &in.owned, in.log, in.progress.forget)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", in.cfg.Source, err)
	}
	return nil
}

// fetch blocks for the first message, then collects more for up to MaxWait.
// The messages are in an array that every fetch fills again (in.fetched,
// as large as the largest fetch so far): they are valid until the next one.
func (in *Ingest) fetch(ctx context.Context) ([]kafka.Message, error) {
	m, err := in.reader.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := in.collect(ctx, append(in.fetched[:0], m))
	in.fetched = msgs[:0]
	return msgs, err
}

// collect appends to msgs what comes within MaxWait, up to MaxBatch in all.
func (in *Ingest) collect(ctx context.Context, msgs []kafka.Message) ([]kafka.Message, error) {
	wctx, cancel := context.WithTimeout(ctx, in.cfg.MaxWait)
	defer cancel()
	for len(msgs) < in.cfg.MaxBatch {
		m, err := in.reader.FetchMessage(wctx)
		if err != nil {
			if ctx.Err() != nil {
				return msgs, ctx.Err()
			}
			return msgs, nil // the batch window closed
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// batch is what one fetch produced, written out before the commit.
type batch struct {
	out      []kafka.Message
	dlq      []kafka.Message
	raw      []store.RawRow
	controls []store.ControlRow
	dead     []store.DeadLetter
	last     map[int]kafka.Message
	wm       map[int]int64 // per source partition: the watermark after this batch
	buf      []byte
	digests  []digest       // per batch id, in the order first seen (appendDigests)
	digestOf map[string]int // batch id → index in digests
}

// classifyAll decides the fate of every message of one fetch.
func (in *Ingest) classifyAll(msgs []kafka.Message) *batch {
	b := &batch{last: make(map[int]kafka.Message, in.srcParts), raw: in.spareRaw(len(msgs))}
	if in.cfg.Source != event.Merchants {
		// One record per event, and a few digests; about 100 bytes of
		// envelope each.
		b.out = make([]kafka.Message, 0, len(msgs)+16)
		b.buf = make([]byte, 0, 128*cap(b.out))
	}
	for i := range msgs {
		in.classify(b, &msgs[i])
	}
	b.appendDigests(in.cfg.Source)
	for p := range b.last {
		in.pos.batchEnd(p, in.wm[p])
	}
	b.wm = make(map[int]int64, len(in.wm))
	for p, at := range in.wm {
		b.wm[p] = at
	}
	return b
}

// persist writes b (nil: none) to Kafka — its events and watermarks to
// settle.events, dead letters to the DLQ — and, when flush is set, what g
// gathered (b's rows included) to ClickHouse, one insert per table, all at
// once; then it commits g's offsets. The first write that fails for good
// cancels the others.
func (in *Ingest) persist(ctx context.Context, b *batch, g *gathered, flush bool) error {
	eg, gctx := errgroup.WithContext(ctx)
	if b != nil {
		eg.Go(func() error {
			if err := in.write(gctx, in.out, b.out, "forwarding to "+in.outTopic()); err != nil {
				return err
			}
			// After the events: on every output partition a watermark
			// follows the events it covers.
			return in.broadcastWatermarks(gctx, b.wm)
		})
		eg.Go(func() error { return in.write(gctx, in.dlq, b.dlq, "writing dead letters to "+in.cfg.DLQTopic) })
	}
	flush = flush && g.batches > 0
	if flush {
		eg.Go(func() error {
			if err := in.deps.Store.InsertRaw(gctx, in.cfg.Source, g.raw); err != nil {
				return fmt.Errorf("ingest %s: archiving raw events: %w", in.cfg.Source, err)
			}
			return nil
		})
		eg.Go(func() error {
			if err := in.deps.Store.InsertControl(gctx, g.controls); err != nil {
				return fmt.Errorf("ingest %s: recording control events: %w", in.cfg.Source, err)
			}
			if err := in.deps.Store.InsertDeadLetters(gctx, g.dead); err != nil {
				return fmt.Errorf("ingest %s: recording dead letters: %w", in.cfg.Source, err)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if b != nil {
		in.batches.Add(1)
		in.lastRead.Store(time.Now().UnixMilli())
		lo := int64(-1)
		for _, at := range b.wm {
			if lo < 0 || at < lo {
				lo = at
			}
		}
		in.minWM.Store(lo)
	}
	if !flush {
		return nil
	}
	commits := make([]kafka.Message, 0, len(g.last))
	for _, m := range g.last {
		commits = append(commits, m)
	}
	if err := in.retry(ctx, "committing offsets", func() error { return in.reader.CommitMessages(ctx, commits...) }); err != nil {
		return err
	}
	in.flushes.Add(1)
	in.pending.Add(-g.batches)
	in.idleSince.Store(time.Now().UnixMilli())
	g.reset()
	return nil
}

// reportHealth writes the consumer's lag (messages behind) and idle time,
// including while the feed is silent.
func (in *Ingest) reportHealth(ctx context.Context) {
	host, _ := os.Hostname()
	instance := fmt.Sprintf("%s/%d", host, os.Getpid())
	t := time.NewTicker(in.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		row := store.SourceHealth{Source: in.cfg.Source.String(), Reporter: "ingest", Instance: instance, ObservedAt: now.UnixMilli(),
			ConsumerLag: in.progress.totalLag(), IdleS: -1, WatermarkLagS: -1, Status: "ok", ThresholdS: -1}
		if last := in.lastRead.Load(); last > 0 {
			row.IdleS = (now.UnixMilli() - last) / 1000
		}
		if wm := in.minWM.Load(); wm > 0 {
			row.Watermark = wm
		}
		if err := in.deps.Store.InsertSourceHealth(ctx, []store.SourceHealth{row}); err != nil && ctx.Err() == nil {
			in.log.Warn("writing source health", "err", err)
		}
	}
}

// classify decides the fate of one message: dead letter, control, or archive
// (and forward when it is a payment event the join needs).
func (in *Ingest) classify(b *batch, m *kafka.Message) {
	in.consumed.Add(1)
	in.progress.read(m)
	b.last[m.Partition] = *m
	if wm, rewound := in.pos.read(m.Partition, m.Offset, in.wm[m.Partition]); rewound {
		// The group went back to its committed offset (a rebalance, a
		// broker restart): what was read past it before is read again,
		// and must not count as already delivered.
		in.wm[m.Partition] = wm
		in.log.Info("re-reading a partition from an earlier offset; its watermark restarts from what precedes it",
			"partition", m.Partition, "offset", m.Offset, "watermark", wm)
	}
	kt := m.Time.UnixMilli()
	var ev event.Event
	err := checkEnvelope(m)
	if err == nil {
		ev, err = event.Decode(in.cfg.Source, m.Value)
	}
	if err == nil {
		err = in.check(m, &ev)
	}
	if err != nil {
		in.deadLetter(b, m, err)
		return
	}
	readUpTo := in.wm[m.Partition] // the partition's watermark before this event
	if ev.OccurredAt > readUpTo {
		in.wm[m.Partition] = ev.OccurredAt
	}
	if ev.Type == event.Heartbeat {
		in.control.Add(1)
		b.controls = append(b.controls, store.ControlRow{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, KafkaTime: kt,
			Type: ev.Type.String(), OccurredAt: ev.OccurredAt, Producer: ev.Producer, Note: "heartbeat: advances the watermark, not archived as a payment event"})
		return
	}
	in.archived.Add(1)
	b.raw = append(b.raw, store.RawRow{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, KafkaTime: kt, Event: ev, Payload: m.Value})
	switch {
	case in.cfg.Source == event.Merchants:
		// Accepted as sent, keyed for compaction; the joiner's profile
		// table reads only these.
		b.out = append(b.out, kafka.Message{Key: []byte(ev.MerchantID), Value: m.Value})
		in.forwarded.Add(1)
		return
	case ev.Type == event.Authorization && !ev.Approved():
		in.declined.Add(1)
		return
	}
	in.forwarded.Add(1)
	if ev.BatchID != "" && (ev.Type == event.BatchOpened || ev.Type == event.BatchClosed) {
		// A batch's opening and close travel in its digest, in order
		// with its items: batch tracking is all they are for.
		b.step(m, &ev)
		return
	}
	rec := event.Record{Kind: event.RecordEvent, Source: in.cfg.Source, Event: ev, Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset,
		SourceWatermark: readUpTo}
	start := len(b.buf)
	b.buf = event.AppendRecord(b.buf, &rec)
	b.out = append(b.out, kafka.Message{Key: []byte(ev.Key()), Value: b.buf[start:len(b.buf):len(b.buf)]})
	if ev.BatchID != "" && batchProgress(ev.Type) {
		// What batch tracking needs of the record goes again in the
		// batch's digest, keyed by batch id, so that one joiner partition
		// sees the whole batch: its items (cleared, payout_initiated) and
		// the bank's confirmations that show it progressing (payout_paid,
		// payout_failed). Risk holds and releases name the batch but are
		// not its progress.
		b.step(m, &ev)
	}
}

// maxDigestSteps bounds a batch digest record (about 30 bytes a step).
const maxDigestSteps = 2000

// digest is what one batch's records in one ingest batch show batch
// tracking, with the coordinates of its first.
type digest struct {
	id        string
	topic     string
	partition int32
	offset    int64
	steps     []event.BatchStep
}

// step adds the record ev, read from m, to its batch's digest.
func (b *batch) step(m *kafka.Message, ev *event.Event) {
	i, ok := b.digestOf[ev.BatchID]
	if !ok {
		if b.digestOf == nil {
			b.digestOf = map[string]int{}
		}
		i = len(b.digests)
		b.digestOf[ev.BatchID] = i
		b.digests = append(b.digests, digest{id: ev.BatchID, topic: m.Topic, partition: int32(m.Partition), offset: m.Offset})
	}
	d := &b.digests[i]
	d.steps = append(d.steps, event.BatchStep{ID: event.IDHash(ev.ID), Type: ev.Type, At: ev.OccurredAt, Amount: ev.Amount,
		DeclaredCount: ev.DeclaredCount, DeclaredTotal: ev.DeclaredTotal})
}

// appendDigests appends the batch's digests to its output, after its
// events (and so before the watermarks that follow them), in the order
// their batches were first seen, each in records of at most maxDigestSteps.
func (b *batch) appendDigests(src event.Source) {
	for _, d := range b.digests {
		for lo := 0; lo < len(d.steps); lo += maxDigestSteps {
			rec := event.Record{Kind: event.RecordBatchDigest, Source: src, BatchID: d.id,
				BatchSteps: d.steps[lo:min(lo+maxDigestSteps, len(d.steps))], Topic: d.topic, Partition: d.partition, Offset: d.offset}
			start := len(b.buf)
			b.buf = event.AppendRecord(b.buf, &rec)
			b.out = append(b.out, kafka.Message{Key: []byte(d.id), Value: b.buf[start:len(b.buf):len(b.buf)]})
		}
	}
}

// batchProgress reports whether a record of type t shows its batch
// progressing.
func batchProgress(t event.Type) bool {
	switch t {
	case event.Cleared, event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed:
		return true
	}
	return false
}

func (in *Ingest) deadLetter(b *batch, m *kafka.Message, err error) {
	in.dead.Add(1)
	reason := string(event.ReasonOf(err))
	if reason == "" {
		reason = reasonInvalid
	}
	in.progress.deadLettered(reason)
	// Neither the key nor the payload reaches a table, a topic or a log
	// with a card number in it.
	payload := pan.Default().Mask(m.Value)
	key := pan.Default().Mask(m.Key)
	detail := err.Error()
	if in.deadLog == nil { // an Ingest not made by New (tests)
		in.deadLog = newDeadLetterLog(in.log, deadLetterLogEvery)
	}
	in.deadLog.note(in.now(), reason, "partition", m.Partition, "offset", m.Offset, "detail", detail,
		"action", "fix the producer; the message is kept in "+in.cfg.DLQTopic+" and the dead_letters table")
	b.dead = append(b.dead, store.DeadLetter{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, KafkaTime: m.Time.UnixMilli(),
		Key: key, Reason: reason, Detail: detail, Payload: payload})
	b.dlq = append(b.dlq, kafka.Message{Key: key, Value: payload, Headers: []kafka.Header{
		{Key: "source-topic", Value: []byte(m.Topic)},
		{Key: "source-partition", Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		{Key: "source-offset", Value: strconv.AppendInt(nil, m.Offset, 10)},
		{Key: "reason", Value: []byte(reason)},
		{Key: "detail", Value: []byte(detail)},
	}})
}

// broadcastWatermarks tells every partition of settle.events how far each
// source partition has been read, as of one batch. It runs after the batch's
// events are written, so on every output partition a watermark follows the
// events it covers. Only the writer goroutine calls it.
func (in *Ingest) broadcastWatermarks(ctx context.Context, wm map[int]int64) error {
	if in.cfg.Source == event.Merchants {
		return nil // profiles carry no event time the join waits for
	}
	var msgs []kafka.Message
	for p, at := range wm {
		if at <= in.sentWM[p] {
			continue
		}
		rec := event.Record{Kind: event.RecordWatermark, Source: in.cfg.Source,
			Watermark: event.Watermark{Source: in.cfg.Source, Partition: int32(p), Partitions: int32(in.srcParts), At: at}}
		val := event.AppendRecord(nil, &rec)
		key := []byte("wm-" + in.cfg.Source.String() + "-" + strconv.Itoa(p))
		for _, q := range in.outParts {
			msgs = append(msgs, kafka.Message{Key: key, Value: val, Headers: []kafka.Header{kafkaio.ToPartition(q)}})
		}
	}
	if err := in.write(ctx, in.out, msgs, "broadcasting watermarks"); err != nil {
		return err
	}
	for p, at := range wm {
		in.sentWM[p] = max(in.sentWM[p], at)
	}
	return nil
}

// outTopic is where accepted messages are forwarded.
func (in *Ingest) outTopic() string {
	if in.cfg.Source == event.Merchants {
		return in.cfg.ProfilesTopic
	}
	return in.cfg.OutTopic
}

func (in *Ingest) write(ctx context.Context, w *kafka.Writer, msgs []kafka.Message, what string) error {
	if len(msgs) == 0 || w == nil {
		return nil
	}
	// A failed or partly failed write is retried whole: kafka-go has no
	// idempotent producer, so a retry may store duplicates, which every
	// reader of our topics removes by event id.
	return in.retry(ctx, what, func() error {
		err := w.WriteMessages(ctx, msgs...)
		if kafkaio.TooLarge(err) {
			return backoff.Permanent(fmt.Errorf("%w (the broker refuses a batch or message above its message.max.bytes: "+
				"raise it, or lower the writer's batch bytes below it)", err))
		}
		return err
	})
}

func (in *Ingest) retry(ctx context.Context, what string, op func() error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 10 * time.Second
	bo.MaxElapsedTime = in.cfg.RetryMaxElapsed
	attempt := 0
	err := backoff.RetryNotify(op, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		attempt++
		in.log.Warn("retrying", "what", what, "attempt", attempt, "wait", wait, "err", err)
	})
	if err != nil {
		return fmt.Errorf("ingest %s: %s: %w", in.cfg.Source, what, err)
	}
	return nil
}

// Close releases the reader and writers.
func (in *Ingest) Close() error {
	var errs []error
	if in.reader != nil {
		errs = append(errs, in.reader.Close())
		in.reader = nil
	}
	for _, w := range []*kafka.Writer{in.out, in.dlq} {
		if w != nil {
			errs = append(errs, kafkaio.CloseWriter(w))
		}
	}
	in.out, in.dlq = nil, nil
	return errors.Join(errs...)
}
