// Package bench measures the real pipeline end to end on the embedded
// default: the same ingest consumers and joiner that `settlemon-dev run` wires,
// the in-process Kafka-protocol broker (kfake, here optionally in a child
// process so that its CPU is measured apart), and the local ClickHouse.
//
// A run prefills the source topics with a deterministic simulation, then
// measures, in order: a raw kafka-go consume of the same topics (the
// baseline: no decoding, no writes), the pipeline consuming everything
// (source events/s from the first ingest read to the joiner's last commit,
// facts/s, CPU per event of pipeline, broker and ClickHouse, peak RSS), the
// live-mode latency from a payout deadline passing to the anomaly row being
// queryable, the join alone on one goroutine, and the memory per open trace.
// Each figure is printed next to its target with the margin by
// which it is met or missed.
//
// It measures; it does not tune. Nothing here changes how the components
// run: they get the configuration a caller would give them.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"settlemon/pkg/bench/workload"
	"settlemon/pkg/calendar"
	"settlemon/pkg/join"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

// Config is one bench run.
type Config struct {
	// BrokerPort is the broker's loopback port, default 19192 (not the port
	// of `settlemon-dev run`, so both can run on one machine).
	BrokerPort int
	// BrokerCommand, when set, starts the broker as a child process running
	// ServeBroker (argv; the command must print "ready <addr>" and stop at
	// EOF on stdin), so that its CPU and memory are measured apart from the
	// pipeline's. Empty: the broker runs in this process, as in
	// `settlemon-dev run`, and its CPU counts with the pipeline's.
	BrokerCommand []string

	// Simulator is the prefilled input; its Partitions and Topics are the
	// pipeline's.
	Simulator simulator.Config
	// Pipeline is the measured topology, that of `settlemon-dev run` (the
	// replay clock); the live phase runs the same settings on topics and
	// groups of its own, on the live clock.
	Pipeline pipeline.Config
	// Store is the ClickHouse the pipeline writes to. Its database (default
	// settle_bench) is dropped and migrated at the start.
	Store store.Config
	// ClickHousePIDFile is the pid file of the local ClickHouse server; its
	// CPU and memory are read from /proc. Empty or unreadable: not measured.
	ClickHousePIDFile string

	SkipBaseline bool
	// SkipStripped skips the stripped pipeline (stripped.go), the same-run
	// reference the product's rate is divided by.
	SkipStripped bool
	Live         LiveConfig
	// JoinWorkload is the simulated run the join is measured on alone, on
	// one goroutine; Days 0 skips it.
	JoinWorkload simulator.Config
	// StateTraces are the open-trace counts at which memory per trace is
	// measured; empty skips it.
	StateTraces []int
	// RestoreTraces is the open-trace count at which checkpointed restore
	// is measured (target: under 30 s for 1M); 0 skips it.
	RestoreTraces int

	CPUProfile string        // write the pipeline phase's CPU profile here
	Timeout    time.Duration // longest the pipeline phase may take, default 8m
	Progress   time.Duration // progress line interval, default 5s
}

// DefaultConfig returns the default run: 1M traces (10 days of 100,000)
// with every cause of the taxonomy injected, about 3.9M source messages, on
// 6 partitions; the baseline; a live-latency phase of 200 deadlines; the
// join alone on the 5-day acceptance run; memory per trace at 1M and 10M (the
// target's) open traces.
func DefaultConfig() Config {
	sim := simulator.FullConfig()
	sim.Days, sim.TracesPerDay, sim.ChunkSize = 10, 100_000, 10_000
	st := store.DefaultConfig()
	st.Database = "settle_bench"
	pc := pipeline.DefaultConfig()
	pc.Joiner.Clock = joiner.ClockReplay
	return Config{
		BrokerPort:        19192,
		Pipeline:          pc,
		Simulator:         sim,
		Store:             st,
		ClickHousePIDFile: ".run/clickhouse/clickhouse-server.pid",
		Live:              DefaultLiveConfig(),
		JoinWorkload:      simulator.FullConfig(),
		StateTraces:       []int{1_000_000, 10_000_000},
		RestoreTraces:     1_000_000,
		Timeout:           8 * time.Minute,
		Progress:          5 * time.Second,
	}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if err := c.Pipeline.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.BrokerPort < 0 || c.BrokerPort > 65535 {
		return fmt.Errorf("bench: broker port %d out of range", c.BrokerPort)
	}
	if c.Timeout <= 0 || c.Progress <= 0 {
		return errors.New("bench: timeout and progress interval must be positive")
	}
	for _, n := range c.StateTraces {
		if n <= 0 || n > 100_000_000 {
			return fmt.Errorf("bench: %d open traces: want 1..100,000,000", n)
		}
	}
	if err := c.Simulator.Validate(); err != nil {
		return fmt.Errorf("bench: input: %w", err)
	}
	if c.JoinWorkload.Days > 0 {
		if err := c.JoinWorkload.Validate(); err != nil {
			return fmt.Errorf("bench: join workload: %w", err)
		}
	}
	if err := c.Live.Validate(); err != nil {
		return err
	}
	return c.Store.Validate()
}

// Deps are the run's collaborators.
type Deps struct {
	Kafka    kafkaio.Config // brokers are replaced by the bench's broker
	Schedule *calendar.Schedule
	Logger   *slog.Logger
	Out      io.Writer // progress lines; default stderr
}

// Usage is CPU time spent in a phase by each process.
type Usage struct {
	Pipeline   time.Duration // this process (with the broker when it runs inline)
	Broker     time.Duration // the broker's child process; 0 when inline
	ClickHouse time.Duration // the ClickHouse server; 0 when not measured
}

// Phase is one measured consumption of the input.
type Phase struct {
	Messages int64         // source messages consumed
	Elapsed  time.Duration // first read to last commit (pipeline) or last message (baseline)
	CPU      Usage
}

// Rate is messages per second.
func (p Phase) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Messages) / p.Elapsed.Seconds()
}

// Pipeline is the end-to-end phase.
type Pipeline struct {
	Phase
	Records   uint64 // settle.events records the joiner read (events, batch digests, watermarks)
	Forwarded uint64 // events ingest wrote to settle.events
	Batches   uint64 // ingest batches (each one Kafka write)
	// ArchiveInserts counts ingest's writes of what its batches gathered
	// for ClickHouse (one insert per table, then a commit).
	ArchiveInserts uint64
	Commits        uint64 // joiner commits (each after its facts were inserted)
	LagFacts       uint64
	Anomalies      uint64
	BatchRows      uint64
	Startup        time.Duration // from starting the components to the first read
	PeakRSS        PeakRSS
}

// Facts is the number of fact rows written.
func (p Pipeline) Facts() uint64 { return p.LagFacts + p.Anomalies + p.BatchRows }

// PeakRSS is the peak resident memory of each process, in bytes (0: not
// measured).
type PeakRSS struct {
	Pipeline, Broker, ClickHouse int64
}

// JoinCore is the join measured alone on one goroutine.
type JoinCore struct {
	Records       int
	Elapsed       time.Duration
	CPU           time.Duration // process CPU, the garbage collector's included
	Allocs        uint64        // heap allocations over the whole run
	SteadyRecords int           // the second half of the run: state at its working size
	SteadyElapsed time.Duration
	SteadyAllocs  uint64
}

// StateSize is the memory held per open trace.
type StateSize struct {
	Traces        int
	HeapPerTrace  float64 // live heap growth after a GC, per trace
	EstimPerTrace float64 // the partition's own StateBytes, per trace
	Elapsed       time.Duration
}

// Result is what a run measured.
type Result struct {
	Started      time.Time
	Cores        int
	LoadBefore   string // /proc/loadavg
	LoadAfter    string
	BrokerInline bool
	CHMeasured   bool

	Topics         simulator.Topics
	Input          simulator.Stats
	SourceMessages int64
	Prefill        time.Duration

	// CHBackground is the ClickHouse server's CPU while this bench sent it
	// nothing (sampled for 3 s before the pipeline phase), in cores: other
	// clients or merges still running. It is included in the pipeline
	// phase's ClickHouse figure.
	CHBackground float64
	// CHAfter is the ClickHouse server's CPU after the pipeline phase until
	// it went idle (CHSettle later, at most two minutes): mostly merging the
	// parts the phase inserted. How much of that work falls inside the
	// phase depends on the run's pace, so it is shown next to the phase's
	// figure rather than left out.
	CHAfter, CHSettle time.Duration
	// Parts is, per table, what ClickHouse's part log shows of the
	// pipeline phase and the merges after it (nil: not read).
	Parts    []store.PartActivity
	Baseline *Phase // nil: skipped
	// Stripped is the stripped pipeline on the same input (stripped.go);
	// nil: skipped.
	Stripped *Phase
	Pipeline Pipeline
	Live     *LiveResult
	Join     *JoinCore
	State    []StateSize
	Restore  *joiner.RestoreMeasurement // checkpointed recovery
	Total    time.Duration
}

// Run executes the bench.
func Run(ctx context.Context, cfg Config, deps Deps) (*Result, error) {
	cfg.Simulator.Partitions, cfg.Simulator.Topics = cfg.Pipeline.Partitions, simulator.SourceTopics(cfg.Pipeline.Topics.Sources)
	cfg.JoinWorkload.Partitions = cfg.Pipeline.Partitions
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Schedule == nil {
		return nil, errors.New("bench: a schedule is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Out == nil {
		deps.Out = os.Stderr
	}
	res := &Result{Started: time.Now(), Cores: runtime.NumCPU(), LoadBefore: loadAverage(), Topics: cfg.Simulator.Topics}
	b, err := startBroker(ctx, cfg, deps.Logger)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	res.BrokerInline = !b.child
	k := deps.Kafka
	k.Brokers = []string{b.addr}
	m := newMeter(cfg, b, deps.Logger)
	res.CHMeasured = m.chOK

	if err := cfg.Pipeline.EnsureTopics(ctx, k); err != nil {
		return nil, err
	}
	st, err := freshStore(ctx, cfg.Store, deps.Logger)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	totals, err := prefillSources(ctx, cfg, deps, k, res)
	if err != nil {
		return nil, err
	}
	if err := measureStream(ctx, cfg, deps, k, st, totals, m, res); err != nil {
		return nil, err
	}
	b.Close() // the in-process measurements below need neither broker nor its memory
	if err := measureAlone(ctx, cfg, deps, st, res); err != nil {
		return nil, err
	}
	res.LoadAfter = loadAverage()
	res.Total = time.Since(res.Started)
	return res, nil
}

// newMeter measures this process, the broker's when it is a child, and
// ClickHouse's when its pid file is readable.
func newMeter(cfg Config, b *broker, log *slog.Logger) meter {
	m := meter{self: NewProc(0), broker: b.proc, child: b.child}
	if cfg.ClickHousePIDFile != "" {
		if pid, err := readPIDFile(cfg.ClickHousePIDFile); err == nil {
			m.ch, m.chOK = NewProc(pid), true
		} else {
			log.Warn("ClickHouse CPU is not measured", "err", err)
		}
	}
	return m
}

// prefillSources publishes the input and returns the messages on each
// source topic.
func prefillSources(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, res *Result) (map[string]int64, error) {
	sources := cfg.Pipeline.Topics.Sources
	fmt.Fprintf(deps.Out, "bench: prefilling %d days × %d traces onto %d source topics × %d partitions ...\n",
		cfg.Simulator.Days, cfg.Simulator.TracesPerDay, len(sources), cfg.Pipeline.Partitions)
	var err error
	if res.Input, res.Prefill, err = prefill(ctx, cfg.Simulator, deps.Schedule.Calendar(), k); err != nil {
		return nil, err
	}
	totals := map[string]int64{}
	for _, t := range sources {
		offs, err := kafkaio.TopicOffsets(ctx, k, t)
		if err != nil {
			return nil, err
		}
		for _, o := range offs {
			totals[t] += o.End - o.First
		}
		res.SourceMessages += totals[t]
	}
	fmt.Fprintf(deps.Out, "bench: %d source messages published in %s\n", res.SourceMessages, res.Prefill.Round(time.Millisecond))
	return totals, nil
}

// measureStream runs the phases on the broker: the baseline, the pipeline
// and the live latency.
func measureStream(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, st *store.Store, totals map[string]int64, m meter, res *Result) error {
	if !cfg.SkipBaseline {
		fmt.Fprintln(deps.Out, "bench: baseline — raw kafka-go consume of the source topics ...")
		ph, err := baseline(ctx, k, totals, cfg.Pipeline.Ingest, m)
		if err != nil {
			return err
		}
		res.Baseline = &ph
		fmt.Fprintf(deps.Out, "bench: baseline read %d messages in %s (%.0f/s)\n", ph.Messages, ph.Elapsed.Round(time.Millisecond), ph.Rate())
	}
	if m.chOK {
		before, start := m.read().ClickHouse, time.Now()
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		res.CHBackground = (m.read().ClickHouse - before).Seconds() / time.Since(start).Seconds()
	}
	fmt.Fprintln(deps.Out, "bench: pipeline — ingest ×4 → "+cfg.Pipeline.Topics.Events+" → joiner → ClickHouse ...")
	var err error
	started := time.Now()
	if res.Pipeline, err = runPipeline(ctx, cfg, deps, k, st, res.SourceMessages, m); err != nil {
		return err
	}
	if m.chOK {
		fmt.Fprintln(deps.Out, "bench: waiting for ClickHouse to finish merging what the phase wrote ...")
		res.CHAfter, res.CHSettle = settleClickHouse(ctx, m)
		if res.Parts, err = st.PartActivity(ctx, started, time.Now()); err != nil {
			fmt.Fprintf(deps.Out, "bench: no parts per table in the report: %v\n", err)
		}
	}
	if !cfg.SkipStripped {
		fmt.Fprintln(deps.Out, "bench: stripped pipeline — decode → re-key by trace → minimal join → settlement_lag, no archive, no rules ...")
		ph, err := stripped(ctx, cfg, deps, k, totals, m)
		if err != nil {
			return err
		}
		res.Stripped = &ph
		if m.chOK {
			settleClickHouse(ctx, m)
		}
	}
	if cfg.Live.Traces > 0 {
		fmt.Fprintf(deps.Out, "bench: live latency — %d payout deadlines over %s ...\n", cfg.Live.Traces, cfg.Live.Spread)
		lr, err := live(ctx, cfg, deps, k, st)
		if err != nil {
			return err
		}
		res.Live = lr
	}
	return nil
}

// measureAlone runs the in-process phases: the join alone, the
// checkpointed restore and the memory per open trace.
func measureAlone(ctx context.Context, cfg Config, deps Deps, st *store.Store, res *Result) error {
	if cfg.JoinWorkload.Days > 0 {
		fmt.Fprintln(deps.Out, "bench: the join alone on one goroutine ...")
		jc, err := joinCore(ctx, cfg, deps.Schedule)
		if err != nil {
			return err
		}
		res.Join = jc
	}
	if cfg.RestoreTraces > 0 {
		fmt.Fprintf(deps.Out, "bench: checkpointed restore of %d open traces through ClickHouse ...\n", cfg.RestoreTraces)
		rm, err := joiner.MeasureRestore(ctx, st, deps.Schedule, cfg.RestoreTraces)
		if err != nil {
			return fmt.Errorf("measuring restore: %w", err)
		}
		res.Restore = &rm
	}
	for _, n := range cfg.StateTraces {
		fmt.Fprintf(deps.Out, "bench: memory per open trace at %d traces ...\n", n)
		s, err := stateSize(cfg, deps.Schedule, n)
		if err != nil {
			return err
		}
		res.State = append(res.State, s)
	}
	return nil
}

// meter reads the CPU of the three processes.
type meter struct {
	self, broker, ch Proc
	child, chOK      bool
}

func (m meter) read() Usage {
	var u Usage
	u.Pipeline, _ = m.self.CPU()
	if m.child {
		u.Broker, _ = m.broker.CPU()
	}
	if m.chOK {
		u.ClickHouse, _ = m.ch.CPU()
	}
	return u
}

func (u Usage) since(before Usage) Usage {
	return Usage{Pipeline: u.Pipeline - before.Pipeline, Broker: u.Broker - before.Broker, ClickHouse: u.ClickHouse - before.ClickHouse}
}

func freshStore(ctx context.Context, cfg store.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := st.DropDatabase(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("a fresh bench: %w", err)
	}
	st.Close()
	if st, err = store.New(ctx, cfg, log); err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// prefill publishes the whole simulation before anything consumes it.
func prefill(ctx context.Context, sc simulator.Config, cal *calendar.Calendar, k kafkaio.Config) (simulator.Stats, time.Duration, error) {
	sim, err := simulator.New(sc, cal)
	if err != nil {
		return simulator.Stats{}, 0, err
	}
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	start := time.Now()
	stats, err := sim.Run(ctx, func(msgs []simulator.Message) error {
		return pub.Publish(ctx, toKafka(msgs))
	}, nil)
	if err != nil {
		return stats, 0, fmt.Errorf("prefilling the source topics: %w", err)
	}
	return stats, time.Since(start), nil
}

// runPipeline runs the four ingest consumers and the joiner until
// everything prefilled has been consumed, joined and committed.
func runPipeline(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, st *store.Store, total int64, m meter) (Pipeline, error) {
	var res Pipeline
	stopProfile, err := startPhase(cfg, m, deps.Logger)
	if err != nil {
		return res, err
	}
	defer stopProfile()

	started := time.Now()
	before := m.read()
	p, err := pipeline.New(cfg.Pipeline, pipeline.Deps{Kafka: k, Store: st, Schedule: deps.Schedule, Logger: deps.Logger})
	if err != nil {
		return res, err
	}
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(ctx) }()
	defer p.Close()

	w := phaseWatch{p: p, out: deps.Out, log: deps.Logger, started: started, total: uint64(total), progress: cfg.Progress}
	if err := w.untilCaughtUp(ctx, cfg.Timeout, stopped); err != nil {
		return res, err
	}
	s := w.last
	res.CPU = m.read().since(before)
	res.Messages = int64(s.Ingest.Consumed)
	res.Elapsed = w.lastCommit.Sub(w.firstRead)
	res.Startup = w.firstRead.Sub(started)
	res.Records, res.LagFacts, res.Anomalies, res.BatchRows = s.Joiner.Records, s.Joiner.LagFacts, s.Joiner.Anomalies, s.Joiner.BatchRows
	res.Commits = s.Joiner.Commits
	res.Forwarded, res.Batches, res.ArchiveInserts = s.Ingest.Forwarded, s.Ingest.Batches, s.Ingest.ArchiveInserts
	stopProfile()
	res.PeakRSS = m.peakRSS()
	p.Close()
	if err := <-stopped; err != nil {
		return res, err
	}
	fmt.Fprintf(deps.Out, "bench: pipeline consumed %d messages in %s (%.0f/s)\n", res.Messages, res.Elapsed.Round(time.Millisecond), res.Rate())
	return res, nil
}

// startPhase resets the peak RSS figures and starts the CPU profile, if
// asked for; the function returned stops the profile.
func startPhase(cfg Config, m meter, log *slog.Logger) (func(), error) {
	runtime.GC()
	if err := m.self.ResetPeakRSS(); err != nil {
		log.Warn("cannot reset the peak RSS; it includes the prefill", "err", err)
	}
	if m.child {
		_ = m.broker.ResetPeakRSS()
	}
	if m.chOK {
		_ = m.ch.ResetPeakRSS()
	}
	if cfg.CPUProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(cfg.CPUProfile)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }, nil
}

// peakRSS reads the peak resident memory of the measured processes.
func (m meter) peakRSS() PeakRSS {
	var r PeakRSS
	r.Pipeline, _ = m.self.PeakRSS()
	if m.child {
		r.Broker, _ = m.broker.PeakRSS()
	}
	if m.chOK {
		r.ClickHouse, _ = m.ch.PeakRSS()
	}
	return r
}

// phaseWatch polls a running pipeline until it has consumed the input.
type phaseWatch struct {
	p        *pipeline.Pipeline
	out      io.Writer
	log      *slog.Logger
	started  time.Time
	total    uint64
	progress time.Duration

	firstRead, lastCommit time.Time
	commits               uint64
	last                  pipeline.Stats
}

// untilCaughtUp polls every 10ms, prints progress, and returns once ingest
// has consumed the input and every group has committed everything.
func (w *phaseWatch) untilCaughtUp(ctx context.Context, timeout time.Duration, stopped <-chan error) error {
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(timeout)
	nextProgress, nextLagCheck := w.started.Add(w.progress), w.started
	for {
		select {
		case err := <-stopped:
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("pipeline stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("pipeline stopped: %w", ctx.Err())
		case <-deadline:
			return fmt.Errorf("the pipeline did not consume the input within %s", timeout)
		case <-poll.C:
		}
		now := time.Now()
		w.observe(now)
		if now.After(nextProgress) {
			nextProgress = now.Add(w.progress)
			js := w.last.Joiner
			fmt.Fprintf(w.out, "progress: ingest %d/%d · joiner read %d, %d lag facts, %d anomalies, %d open traces · %s\n",
				w.last.Ingest.Consumed, w.total, js.Records, js.LagFacts, js.Anomalies, js.OpenTraces, now.Sub(w.started).Round(time.Second))
		}
		if w.last.Ingest.Consumed < w.total || now.Before(nextLagCheck) {
			continue
		}
		nextLagCheck = now.Add(200 * time.Millisecond)
		done, err := w.p.CaughtUp(ctx)
		if err != nil {
			w.log.Warn("reading consumer lag", "err", err)
			continue
		}
		if done {
			return nil
		}
	}
}

// observe takes the counters at now: the first ingest read and the
// joiner's last commit.
func (w *phaseWatch) observe(now time.Time) {
	w.last = w.p.Stats()
	if w.last.Ingest.Consumed > 0 && w.firstRead.IsZero() {
		w.firstRead = now
	}
	if c := w.last.Joiner.Commits; c != w.commits {
		w.commits, w.lastCommit = c, now
	}
}

// settleClickHouse measures the ClickHouse server's CPU from now until it is
// idle (under 0.05 cores for two consecutive half-second samples), for at
// most two minutes.
func settleClickHouse(ctx context.Context, m meter) (cpu, wall time.Duration) {
	const (
		every   = 500 * time.Millisecond
		idleCPU = every / 20
		longest = 2 * time.Minute
	)
	start := time.Now()
	first := m.read().ClickHouse
	last, idle := first, 0
	t := time.NewTicker(every)
	defer t.Stop()
	for idle < 2 && time.Since(start) < longest {
		select {
		case <-ctx.Done():
			return last - first, time.Since(start)
		case <-t.C:
		}
		now := m.read().ClickHouse
		if now-last < idleCPU {
			idle++
		} else {
			idle = 0
		}
		last = now
	}
	return last - first, time.Since(start)
}

// joinCore applies a simulated run to one partition on this goroutine.
func joinCore(ctx context.Context, cfg Config, sched *calendar.Schedule) (*JoinCore, error) {
	w, err := workload.Build(ctx, workload.Config{Simulator: cfg.JoinWorkload, BatchSize: cfg.Pipeline.Ingest.MaxBatch}, sched.Calendar())
	if err != nil {
		return nil, err
	}
	p, err := join.New(cfg.Pipeline.Joiner.Join, sched, w.Merchants)
	if err != nil {
		return nil, err
	}
	self := NewProc(0)
	half := len(w.Records) / 2
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	cpu0, _ := self.CPU()
	m0, t0 := ms.Mallocs, time.Now()
	// As the joiner does: facts drain into a reused buffer after every
	// record and are handed on (here: dropped) every fetch round.
	var facts join.Facts
	for i := range w.Records[:half] {
		p.Apply(&w.Records[i])
		p.TakeInto(&facts)
		if i%5000 == 0 {
			facts.Reset()
		}
	}
	runtime.ReadMemStats(&ms)
	m1, t1 := ms.Mallocs, time.Now()
	for i := half; i < len(w.Records); i++ {
		p.Apply(&w.Records[i])
		p.TakeInto(&facts)
		if i%5000 == 0 {
			facts.Reset()
		}
	}
	t2 := time.Now()
	cpu1, _ := self.CPU()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(p)
	return &JoinCore{Records: len(w.Records), Elapsed: t2.Sub(t0), CPU: cpu1 - cpu0, Allocs: ms.Mallocs - m0,
		SteadyRecords: len(w.Records) - half, SteadyElapsed: t2.Sub(t1), SteadyAllocs: ms.Mallocs - m1}, nil
}

// stateSize fills a partition with n open traces and measures the live heap
// it holds.
func stateSize(cfg Config, sched *calendar.Schedule, n int) (StateSize, error) {
	const merchants = 5000
	m := workload.FillMerchants(merchants)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	start := time.Now()
	p, err := join.New(cfg.Pipeline.Joiner.Join, sched, m)
	if err != nil {
		return StateSize{}, err
	}
	workload.Fill(p, n, merchants, time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC).UnixMilli())
	elapsed := time.Since(start)
	after := heap()
	if p.Open() != n {
		return StateSize{}, fmt.Errorf("bench: %d open traces after filling %d", p.Open(), n)
	}
	s := StateSize{Traces: n, HeapPerTrace: float64(int64(after)-int64(before)) / float64(n),
		EstimPerTrace: float64(p.StateBytes()) / float64(n), Elapsed: elapsed}
	runtime.KeepAlive(p)
	return s, nil
}
