// Package joiner runs the join on Kafka: it is a member of the joiner consumer
// group on settle.events, and for each partition it owns it keeps one
// join.Partition, sinks the facts it emits to ClickHouse in batches, and
// commits the partition's offset only after those facts are durable.
//
// Recovery: on assignment a partition restores its newest intact checkpoint
// at or below the committed offset and replays the rest (from the first
// offset when there is none); facts produced by records below the committed
// offset are not written again (they were durable before the commit).
// Because the join's facts depend only on the input, the rebuilt state is the
// state that was lost.
package joiner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/join"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/lifecycle"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Clock modes.
const (
	ClockLive   = "live"   // "now" is the wall clock
	ClockReplay = "replay" // "now" is the highest event time seen
)

// Config is one joiner instance. Start from DefaultConfig(): no field's
// zero value stands for its default.
type Config struct {
	Topic string // the events topic ingest re-keys onto
	// MerchantsTopic holds the merchant profiles ingest accepted; the
	// profile table reads only these.
	MerchantsTopic string
	// Before loading profiles, the joiner waits up to MerchantsWait
	// (negative: no wait) until the merchants ingest group
	// (MerchantsGroup) has committed everything that was in
	// MerchantsSource when the joiner started, so that the table holds
	// every profile that preceded it.
	MerchantsSource string
	MerchantsGroup  string
	MerchantsWait   time.Duration
	Group           string // the joiner's consumer group
	Clock           string // live or replay
	// SessionTimeout is how long the group coordinator waits for a silent
	// member (a killed process) before it hands that member's partitions
	// to the others; a clean stop leaves the group at once.
	SessionTimeout time.Duration

	// FlushInterval is the longest a fact waits for its insert: every
	// partition's facts go out together, one insert per table per interval
	// (sooner once FlushRows facts wait). FlushRows also bounds the facts a
	// partition holds while its previous ones are being written.
	FlushRows     int
	FlushInterval time.Duration
	// CatchUpInterval replaces FlushInterval while a partition is more than
	// CatchUpLag records behind the end of the topic: its facts are late by
	// that backlog anyway, and fewer, larger inserts are what ClickHouse
	// absorbs best while a backlog is written. Zero: never stretched.
	CatchUpInterval time.Duration
	CatchUpLag      int64
	FetchBatch      int // records per fetch round

	// CheckpointInterval and CheckpointRecords: a partition's state is
	// checkpointed to ClickHouse, after a flush, once this much time has
	// passed or this many records were applied since its last checkpoint,
	// and when the partition is released; a restart then replays only what
	// came after the newest checkpoint. CheckpointRecords zero or negative
	// disables checkpoints (recovery replays the partition from its first
	// offset).
	CheckpointInterval time.Duration
	CheckpointRecords  int64

	// StuckAfter: when the group has unconsumed records but commits
	// nothing for this long while this instance is idle, Run returns
	// kafkaio.ErrStuck (the process exits and its supervisor restarts it).
	// Zero or negative disables.
	StuckAfter time.Duration

	// HealthInterval is how often source health is written (wall clock).
	HealthInterval time.Duration
	// StallThreshold: a source whose watermark is further behind "now" than
	// this is reported lagging; its absence checks wait for it meanwhile.
	StallThreshold time.Duration

	// BankCodesFile is a bank return-code catalogue to map payout failures
	// with instead of the bundled one (schemas/bank/return-codes.json);
	// New loads it into Join.BankCodes. With neither set, New sets the
	// bundled catalogue.
	BankCodesFile string

	Join join.Config
}

// DefaultConfig returns a production joiner: the pipeline's topics and
// groups, waiting up to 2m for the merchants ingest, the live clock, one
// insert per table every second (sooner at 100,000 facts; every 5s while a
// partition is 50,000 records behind), a 10s group session, 5,000 records per fetch,
// a checkpoint every minute or 2,000,000 records, stuck after 2m, health
// every 5s, a source lagging past 30m, and join.DefaultConfig. An embedded
// or replayed run sets ClockReplay.
func DefaultConfig() Config {
	return Config{
		Topic:              event.EventsTopic,
		MerchantsTopic:     event.ProfilesTopic,
		MerchantsSource:    event.Merchants.DefaultTopic(),
		MerchantsGroup:     event.Merchants.IngestGroup(),
		MerchantsWait:      2 * time.Minute,
		Group:              event.JoinerGroup,
		Clock:              ClockLive,
		SessionTimeout:     10 * time.Second,
		FlushRows:          100000,
		FlushInterval:      time.Second,
		CatchUpInterval:    5 * time.Second,
		CatchUpLag:         50_000,
		FetchBatch:         5000,
		CheckpointInterval: time.Minute,
		CheckpointRecords:  2_000_000,
		StuckAfter:         2 * time.Minute,
		HealthInterval:     5 * time.Second,
		StallThreshold:     30 * time.Minute,
		Join:               join.DefaultConfig(),
	}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Clock != ClockLive && c.Clock != ClockReplay {
		return text.Errorf("error.joiner.clock", strconv.Quote(string(c.Clock)), "live", "replay")
	}
	if c.Topic == "" || c.Group == "" || c.MerchantsTopic == "" || c.MerchantsSource == "" || c.MerchantsGroup == "" {
		return text.Errorf("error.joiner.topics")
	}
	if c.FlushRows <= 0 || c.FlushInterval <= 0 || c.FetchBatch <= 0 || c.HealthInterval <= 0 || c.StallThreshold <= 0 {
		return text.Errorf("error.joiner.positive")
	}
	if c.CatchUpInterval != 0 && (c.CatchUpInterval < c.FlushInterval || c.CatchUpLag <= 0) {
		return text.Errorf("error.joiner.catch_up", c.CatchUpInterval.String(), c.FlushInterval.String())
	}
	if c.SessionTimeout < time.Second {
		return text.Errorf("error.joiner.session_timeout", c.SessionTimeout.String())
	}
	if c.CheckpointRecords > 0 && c.CheckpointInterval <= 0 {
		return text.Errorf("error.joiner.checkpoint_interval")
	}
	if c.BankCodesFile != "" && c.Join.BankCodes != nil {
		return text.Errorf("error.joiner.bank_codes")
	}
	return c.Join.Validate()
}

// loadBankCodes loads BankCodesFile, if set, into Join.BankCodes; with
// neither set, Join.BankCodes is the bundled catalogue.
func (c Config) loadBankCodes() (Config, error) {
	if c.BankCodesFile == "" {
		if c.Join.BankCodes == nil {
			c.Join.BankCodes = fact.DefaultBankCodes()
		}
		return c, nil
	}
	codes, err := fact.LoadBankCodes(c.BankCodesFile)
	if err != nil {
		return c, fmt.Errorf("joiner: %w", err)
	}
	c.Join.BankCodes, c.BankCodesFile = codes, ""
	return c, nil
}

// Deps are what a joiner talks to.
type Deps struct {
	Kafka    kafkaio.Config
	Store    *store.Store
	Schedule *calendar.Schedule
	Logger   *slog.Logger
	Now      func() time.Time // wall clock for ClockLive; default time.Now
}

// Stats are the joiner's counters.
type Stats struct {
	Records     uint64 // records read, restores included
	Restored    uint64 // records re-read below the committed offset
	LagFacts    uint64 // written
	Anomalies   uint64 // written
	BatchRows   uint64 // written
	Checkpoints uint64 // partition checkpoints written
	Restores    uint64 // partitions restored from a checkpoint
	// Refused counts the checkpoints refused on restore (the partition was
	// replayed instead), by reason: corrupt, truncated, layout, unreadable.
	// Every reason is present.
	Refused     map[string]uint64
	Corrupt     uint64 // records that did not decode
	OpenTraces  int64
	StateBytes  int64
	Commits     uint64
	Generations uint64

	// Owned is the consumer-group assignment held now: generation, member
	// id and partitions of the topic.
	Owned kafkaio.Owned

	// UnknownCodes counts the payout failures written whose bank return
	// code the catalogue lacks (mapped to other).
	UnknownCodes uint64

	// PartitionLag is, per owned partition of the topic, how many records
	// were behind its end at the last fetch (metrics.go).
	PartitionLag map[int]int64
}

// Joiner is one running instance.
type Joiner struct {
	cfg       Config
	deps      Deps
	log       *slog.Logger
	merchants *Merchants
	health    *health
	runs      lifecycle.Runs

	records, restored, lagFacts, anomalies, batchRows, corrupt, commits, generations atomic.Uint64
	checkpoints, checkpointsRestored                                                 atomic.Uint64
	lastWork                                                                         atomic.Int64 // Unix ms of the last record read or flush done
	flushing                                                                         atomic.Int32 // inserts of facts running, and partitions waiting for theirs
	open, stateBytes                                                                 sync.Map     // partition → int64
	commitMu                                                                         sync.Mutex

	unknownCodes atomic.Uint64 // payout failures with a code the catalogue lacks
	codesLogged  sync.Map      // code → struct{}: the unknown codes logged, at most maxLoggedCodes
	codesNLogged atomic.Int32

	partLag sync.Map                   // partition → records behind its end (metrics.go)
	refused [numRefusals]atomic.Uint64 // checkpoints refused on restore, by reason (checkpoint.go)
	sink    *sink                      // every partition's facts, one insert per table per interval
	owned   kafkaio.Ownership          // the partitions of the current generation
}

// New builds a joiner; it connects on Run.
func New(cfg Config, deps Deps) (*Joiner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.Kafka.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Schedule == nil {
		return nil, errors.New("joiner: store and schedule are required")
	}
	cfg, err := cfg.loadBankCodes()
	if err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Logger.With("component", "joiner")
	j := &Joiner{cfg: cfg, deps: deps, log: log, merchants: NewMerchants(log), health: newHealth()}
	j.sink = newSink(storeFacts(deps.Store), cfg.FlushInterval, cfg.FlushRows, &j.flushing)
	if cfg.CatchUpInterval > 0 {
		j.sink.catchUp, j.sink.behind = cfg.CatchUpInterval, j.behind
	}
	return j, nil
}

// Stats returns the counters so far.
func (j *Joiner) Stats() Stats {
	s := Stats{Records: j.records.Load(), Restored: j.restored.Load(), LagFacts: j.lagFacts.Load(), Anomalies: j.anomalies.Load(), BatchRows: j.batchRows.Load(),
		Checkpoints: j.checkpoints.Load(), Restores: j.checkpointsRestored.Load(),
		Corrupt: j.corrupt.Load(), Commits: j.commits.Load(), Generations: j.generations.Load(), UnknownCodes: j.unknownCodes.Load(),
		Owned: j.owned.Get()}
	j.open.Range(func(_, v any) bool { s.OpenTraces += v.(int64); return true })
	j.stateBytes.Range(func(_, v any) bool { s.StateBytes += v.(int64); return true })
	s.PartitionLag = j.partitionLag()
	s.Refused = make(map[string]uint64, numRefusals)
	for r := range numRefusals {
		s.Refused[r.String()] = j.refused[r].Load()
	}
	return s
}

// Close stops a running Run as cancelling its context does, and returns once
// every partition has flushed its facts and committed. It is safe to call
// more than once.
func (j *Joiner) Close() error {
	j.runs.Close()
	return nil
}

// Run joins until ctx is cancelled; on cancellation every partition flushes
// its facts and commits before Run returns.
func (j *Joiner) Run(ctx context.Context) error {
	ctx, done := j.runs.Start(ctx)
	defer done()
	k := j.deps.Kafka
	if err := j.merchants.awaitIngest(ctx, k, j.cfg.MerchantsSource, j.cfg.MerchantsGroup, j.cfg.MerchantsWait); err != nil {
		return err
	}
	if err := j.merchants.Follow(ctx, k, j.cfg.MerchantsTopic); err != nil {
		return err
	}
	dialer, err := k.Dialer()
	if err != nil {
		return err
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: j.cfg.Group, Brokers: k.Brokers, Dialer: dialer, Topics: []string{j.cfg.Topic},
		StartOffset: kafka.FirstOffset, HeartbeatInterval: time.Second, SessionTimeout: j.cfg.SessionTimeout,
		RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: time.Second,
		GroupBalancers: []kafka.GroupBalancer{kafkaio.SortedRange{}}, // the same split for the same members
		ErrorLogger:    kafkaio.ErrorLogger(j.log, "kafka group"),
	})
	if err != nil {
		return fmt.Errorf("joiner: joining group %s: %w", j.cfg.Group, err)
	}
	defer group.Close()
	// The sink outlives the partitions: those draining on the way out hand
	// over to it (or, once it stopped, insert on their own).
	sctx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	sinkDone := make(chan struct{})
	go func() { j.sink.Run(sctx); close(sinkDone) }()
	defer func() { stopSink(); <-sinkDone }()
	hctx, stopHealth := context.WithCancel(ctx)
	healthDone := make(chan struct{})
	go func() { j.reportHealth(hctx); close(healthDone) }()
	defer func() { stopHealth(); <-healthDone }()
	j.log.Info("joiner started", "group", j.cfg.Group, "topic", j.cfg.Topic, "clock", j.cfg.Clock, "merchants", j.merchants.Len(),
		"bank_codes", j.cfg.Join.BankCodes.Version(), "bank_codes_listed", j.cfg.Join.BankCodes.Len())
	// The watchdog ends the loop with ErrStuck when the group has work but
	// makes no progress while this instance is idle.
	outer := ctx
	ctx, stopRun := context.WithCancelCause(outer)
	defer stopRun(nil)
	j.lastWork.Store(time.Now().UnixMilli())
	if j.cfg.StuckAfter > 0 {
		wd := &kafkaio.Watchdog{Kafka: k, Group: j.cfg.Group, Topic: j.cfg.Topic, Patience: j.cfg.StuckAfter,
			Interval: min(15*time.Second, j.cfg.StuckAfter/4), Idle: j.idleFor, Logger: j.log}
		go func() {
			if err := wd.Run(ctx); err != nil {
				stopRun(err)
			}
		}()
	}
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if cause := context.Cause(ctx); outer.Err() == nil && errors.Is(cause, kafkaio.ErrStuck) {
				_ = group.Close() // the partitions flush and commit first
				return fmt.Errorf("joiner: %w", cause)
			}
			if ctx.Err() != nil {
				// Closing the group waits for the partitions to flush and
				// commit; then the feeds' last state is written.
				_ = group.Close()
				stopHealth()
				<-healthDone
				j.writeHealth(context.WithoutCancel(ctx))
				j.log.Info("joiner stopped", "records", j.records.Load(), "lag_facts", j.lagFacts.Load(), "anomalies", j.anomalies.Load())
				return nil
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			j.log.Warn("joiner: waiting for the next group generation", "err", err)
			continue
		}
		j.generations.Add(1)
		assigned := gen.Assignments[j.cfg.Topic]
		ids := make([]int, len(assigned))
		for i, pa := range assigned {
			ids[i] = pa.ID
		}
		gained, lost := j.owned.Set(gen.ID, gen.MemberID, ids)
		j.log.Info("partitions assigned", "generation", gen.ID, "member_id", gen.MemberID, "topic", j.cfg.Topic,
			"partitions", j.owned.Get().Partitions, "gained", gained, "lost", lost)
		gen.Start(func(gctx context.Context) {
			// The generation ends on a rebalance or on shutdown.
			<-gctx.Done()
			if released := j.owned.Revoke(gen.ID); len(released) > 0 {
				j.log.Info("partitions revoked", "generation", gen.ID, "member_id", gen.MemberID, "topic", j.cfg.Topic, "partitions", released)
			}
		})
		for _, pa := range assigned {
			pa := pa
			gen.Start(func(gctx context.Context) {
				// Stop on shutdown as well as on the end of the generation.
				pctx, cancel := context.WithCancel(gctx)
				stop := context.AfterFunc(ctx, cancel)
				defer stop()
				defer cancel()
				if err := j.runPartition(pctx, gen, pa.ID, pa.Offset); err != nil {
					j.log.Error("partition stopped with an error; it will be re-assigned", "partition", pa.ID, "err", err)
				}
				if outer.Err() == nil {
					j.health.forget(pa.ID) // re-assigned: its new owner reports it
				}
			})
		}
	}
}

// behind reports whether a partition this joiner owns was more than
// CatchUpLag records behind the end of the topic at its last fetch.
func (j *Joiner) behind() bool {
	far := false
	j.partLag.Range(func(_, v any) bool {
		far = v.(int64) > j.cfg.CatchUpLag
		return !far
	})
	return far
}

// idleFor is how long the joiner has had nothing to read (0 while a
// partition is writing facts, however long its retries take).
func (j *Joiner) idleFor() time.Duration {
	if j.flushing.Load() > 0 {
		return 0
	}
	return time.Since(time.UnixMilli(j.lastWork.Load()))
}

// partition is the runtime of one owned partition.
type partition struct {
	id        int
	committed int64 // facts from records below this offset are durable already
	next      int64 // offset after the last record applied
	state     *join.Partition
	facts     join.Facts // produced since the last hand-over; reused
	lastFlush time.Time  // of the last hand-over

	// The facts handed over to the sink and not yet known durable: the
	// outcome arrives on inflight (nil when none), and then the offset
	// handed is committed.
	inflight <-chan error
	handed   int64 // offset after the last record whose facts were handed over
	counts   [3]int

	checkpointed   int64 // offset of the last checkpoint written or restored
	lastCheckpoint time.Time
}

func (j *Joiner) runPartition(ctx context.Context, gen *kafka.Generation, id int, committed int64) error {
	if committed < 0 {
		committed = 0
	}
	log := j.log.With("partition", id)
	state, start, err := j.restore(ctx, log, id, committed)
	if err != nil {
		return err
	}
	dialer, err := j.deps.Kafka.Dialer()
	if err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: j.deps.Kafka.Brokers, Topic: j.cfg.Topic, Partition: id, Dialer: dialer,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: kafkaio.LongPoll, QueueCapacity: j.cfg.FetchBatch})
	defer r.Close()
	defer j.partLag.Delete(id)
	if err := r.SetOffset(start); err != nil {
		return err
	}
	p := &partition{id: id, committed: committed, handed: committed, state: state, lastFlush: time.Now(), checkpointed: start, lastCheckpoint: time.Now()}
	defer func() { j.health.observe(id, p.state) }() // the last word, for the final report
	var lastHealth time.Time
	restoredLogged := start >= committed
	var rec event.Record
	var discard join.Facts
	var buf []kafka.Message // one fetch round's messages, reused
	for {
		clear(buf) // the last round's messages: let their bytes go
		msgs, ferr := j.fetch(ctx, r, buf[:0])
		buf = msgs
		if len(msgs) > 0 {
			j.lastWork.Store(time.Now().UnixMilli())
		}
		for i := range msgs {
			m := &msgs[i]
			j.records.Add(1)
			if err := event.DecodeRecord(m.Value, &rec); err != nil {
				j.corrupt.Add(1)
				log.Error("undecodable record on the repartition topic; skipped", "offset", m.Offset, "err", err,
					"action", "check the ingest version writing to "+j.cfg.Topic)
			} else {
				state.Apply(&rec)
			}
			p.next = m.Offset + 1
			if m.Offset < p.committed {
				j.restored.Add(1)
				state.TakeInto(&discard) // durable before the commit: not written again
				discard.Reset()
				continue
			}
			if !restoredLogged {
				restoredLogged = true
				log.Info("partition restored", "offset", m.Offset, "open_traces", state.Open())
			}
			n := len(p.facts.Anomalies)
			state.TakeInto(&p.facts)
			j.countUnknownCodes(log, p.facts.Anomalies[n:])
		}
		if j.cfg.Clock == ClockLive {
			state.Advance(j.deps.Now().UnixMilli())
		}
		if time.Since(lastHealth) >= j.cfg.HealthInterval/2 {
			lastHealth = time.Now()
			j.health.observe(id, state)
		}
		j.open.Store(id, int64(state.Open()))
		j.stateBytes.Store(id, state.StateBytes())
		j.partLag.Store(id, r.Lag())
		if err := j.write(ctx, gen, log, p, ferr != nil); err != nil {
			return err
		}
		if ferr != nil {
			if ctx.Err() != nil {
				log.Info("partition released", "next_offset", p.next)
				return nil
			}
			return fmt.Errorf("reading partition %d: %w", id, ferr)
		}
	}
}

// fetch appends to msgs the messages of one fetch round: up to FetchBatch,
// or what came within half a flush interval.
func (j *Joiner) fetch(ctx context.Context, r *kafka.Reader, msgs []kafka.Message) ([]kafka.Message, error) {
	wctx, cancel := context.WithTimeout(ctx, j.cfg.FlushInterval/2)
	defer cancel()
	for len(msgs) < j.cfg.FetchBatch {
		m, err := r.FetchMessage(wctx)
		if err != nil {
			if ctx.Err() != nil {
				return msgs, ctx.Err()
			}
			return msgs, nil
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// write moves the partition's facts on after a fetch round: it collects the
// outcome of those in flight, hands over the new ones, and, when releasing
// or due for a checkpoint, makes everything applied durable, commits it and
// checkpoints.
func (j *Joiner) write(ctx context.Context, gen *kafka.Generation, log *slog.Logger, p *partition, releasing bool) error {
	if err := j.settle(gen, p, false); err != nil {
		return err
	}
	switch {
	case releasing || j.checkpointDue(p):
		if err := j.drain(ctx, gen, p); err != nil {
			return err
		}
		j.maybeCheckpoint(context.WithoutCancel(ctx), log, p, releasing)
	case p.inflight == nil && (p.facts.Len() > 0 || p.next > p.handed && time.Since(p.lastFlush) >= j.cfg.FlushInterval):
		j.handOver(ctx, p, false)
	case p.facts.Len() >= j.cfg.FlushRows:
		// Enough waits here: read on once the facts in flight are durable.
		return j.settle(gen, p, true)
	}
	return nil
}

// handOver passes the partition's facts to the sink (settle collects the
// outcome) and resets them for the records to come.
func (j *Joiner) handOver(ctx context.Context, p *partition, hurry bool) {
	p.lastFlush = time.Now()
	p.handed = p.next
	p.counts = [3]int{len(p.facts.Lags), len(p.facts.Anomalies), len(p.facts.Batches)}
	p.inflight = j.sink.handOver(context.WithoutCancel(ctx), &p.facts, hurry)
	p.facts.Reset()
}

// settle collects the outcome of the facts in flight, waiting for it when
// wait is set, and once they are durable commits the offset they came from.
func (j *Joiner) settle(gen *kafka.Generation, p *partition, wait bool) error {
	if p.inflight == nil {
		return nil
	}
	var err error
	if wait {
		// Waiting for a write is work, however long its retries take.
		j.flushing.Add(1)
		err = <-p.inflight
		j.flushing.Add(-1)
	} else {
		select {
		case err = <-p.inflight:
		default:
			return nil
		}
	}
	p.inflight = nil
	j.lastWork.Store(time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("partition %d: %w", p.id, err)
	}
	j.lagFacts.Add(uint64(p.counts[0]))
	j.anomalies.Add(uint64(p.counts[1]))
	j.batchRows.Add(uint64(p.counts[2]))
	j.commit(gen, p, p.handed)
	return nil
}

// drain makes everything applied durable and commits it.
func (j *Joiner) drain(ctx context.Context, gen *kafka.Generation, p *partition) error {
	if err := j.settle(gen, p, true); err != nil {
		return err
	}
	if p.facts.Len() == 0 && p.next <= p.handed {
		return nil
	}
	j.handOver(ctx, p, true)
	return j.settle(gen, p, true)
}

// commit commits the partition's offset next, whose records' facts are durable.
func (j *Joiner) commit(gen *kafka.Generation, p *partition, next int64) {
	if next <= p.committed {
		return
	}
	j.commitMu.Lock()
	err := gen.CommitOffsets(map[string]map[int]int64{j.cfg.Topic: {p.id: next}})
	j.commitMu.Unlock()
	if err != nil {
		// The facts are durable; a lost commit only means a longer replay.
		j.log.Warn("offset commit failed; the partition will replay further on its next assignment", "partition", p.id, "offset", next, "err", err)
		return
	}
	j.commits.Add(1)
	p.committed = next
}

// maxLoggedCodes bounds the distinct unknown bank codes logged.
const maxLoggedCodes = 1000

// countUnknownCodes counts the payout failures among as whose bank return
// code the catalogue lacks, and logs each such code the first time it is
// seen, so ops can add it to the catalogue.
func (j *Joiner) countUnknownCodes(log *slog.Logger, as []fact.Anomaly) {
	for i := range as {
		a := &as[i]
		if a.Kind != fact.PayoutFailed || !a.BankCodeUnknown || a.Status != fact.Open {
			continue
		}
		j.unknownCodes.Add(1)
		if j.codesNLogged.Load() >= maxLoggedCodes {
			continue
		}
		if _, seen := j.codesLogged.LoadOrStore(a.BankCode, struct{}{}); !seen {
			j.codesNLogged.Add(1)
			log.Warn("bank return code not in the return-code catalogue; mapped to other", "code", a.BankCode,
				"catalogue", a.BankCodesVersion, "trace", a.TraceNo,
				"action", "add the code with its reason to the catalogue file (--bank-codes-file) and raise its version")
		}
	}
}
