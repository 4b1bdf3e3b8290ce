// Package allinone runs the whole pipeline in one process on the embedded
// default: an in-process Kafka-protocol broker on loopback, the simulator
// producing a deterministic run onto the source topics, one ingest consumer
// per source topic, the joiner, and ClickHouse (started beforehand by
// deploy/clickhouse/local.sh). It waits until every consumer group has caught
// up, drains the components, and returns the report.
//
// Each stage is the same component the standalone services run, wired by
// pkg/pipeline; this package adds the broker, the simulator and the progress
// watch.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/calendar"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/report"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

// Config is an all-in-one run.
type Config struct {
	BrokerPort    int    // loopback port of the embedded broker; -1: use Kafka as configured
	BrokerDataDir string // empty: in memory
	TruthFile     string // ground truth of the simulation, JSON lines; empty: not written
	FreshDatabase bool   // drop the database before the run
	Progress      time.Duration

	// Simulator is the input; its partitions and topics are the pipeline's.
	Simulator simulator.Config
	Pipeline  pipeline.Config
	Store     store.Config
}

// DefaultConfig returns the embedded default: the broker on port 19092,
// progress every 2s, the full simulation, the default topology on 6
// partitions with the joiner on the replay clock, the default ClickHouse.
func DefaultConfig() Config {
	pc := pipeline.DefaultConfig()
	pc.Joiner.Clock = joiner.ClockReplay
	return Config{BrokerPort: 19092, Progress: 2 * time.Second, Simulator: simulator.FullConfig(), Pipeline: pc, Store: store.DefaultConfig()}
}

// simulator is the simulation onto the pipeline's source topics.
func (c Config) simulator() simulator.Config {
	sc := c.Simulator
	sc.Partitions, sc.Topics = c.Pipeline.Partitions, simulator.SourceTopics(c.Pipeline.Topics.Sources)
	return sc
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Progress <= 0 {
		return errors.New("allinone: progress interval must be positive")
	}
	if err := c.Pipeline.Validate(); err != nil {
		return fmt.Errorf("allinone: %w", err)
	}
	if err := c.simulator().Validate(); err != nil {
		return fmt.Errorf("allinone: %w", err)
	}
	return c.Store.Validate()
}

// Deps are the run's collaborators.
type Deps struct {
	Kafka    kafkaio.Config // brokers are replaced by the embedded broker's address unless BrokerPort is -1
	Schedule *calendar.Schedule
	Logger   *slog.Logger
	Out      io.Writer // progress lines; default stderr
}

// SourceTopics are the four source topics in source order.
func (c Config) SourceTopics() []string {
	t := c.Pipeline.Topics.Sources
	return t[:]
}

// Result is what a run leaves.
type Result struct {
	Report    report.Report
	Simulated simulator.Stats
	Elapsed   time.Duration
}

// Run executes the pipeline end to end and returns its report.
func Run(ctx context.Context, cfg Config, deps Deps) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if deps.Out == nil {
		deps.Out = os.Stderr
	}
	log := deps.Logger
	started := time.Now()

	k, closeBroker, err := startBroker(cfg, deps.Kafka, log)
	if err != nil {
		return Result{}, err
	}
	defer closeBroker()
	if err := cfg.Pipeline.EnsureTopics(ctx, k); err != nil {
		return Result{}, err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	truth, closeTruth, err := openTruth(cfg.TruthFile)
	if err != nil {
		return Result{}, err
	}
	defer closeTruth()

	// The simulator publishes merchant profiles first; the joiner loads the
	// profile table before it joins, so it starts once they are published.
	sim := &publication{merchants: cfg.Pipeline.Topics.Sources[event.Merchants], merchantsOut: make(chan struct{}), done: make(chan error, 1)}
	p, err := pipeline.New(cfg.Pipeline, pipeline.Deps{Kafka: k, Store: st, Schedule: deps.Schedule, Logger: log, JoinerStart: sim.merchantsOut})
	if err != nil {
		return Result{}, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(runCtx) }()
	defer p.Close()
	if err := sim.start(runCtx, cfg.simulator(), deps.Schedule.Calendar(), k, truth); err != nil {
		return Result{}, err
	}

	w := watch{p: p, out: deps.Out, log: log, started: started, days: cfg.Simulator.Days}
	if err := w.untilConsumed(ctx, cfg.Progress, sim, stopped); err != nil {
		return Result{}, err
	}
	p.Close()
	if err := <-stopped; err != nil {
		return Result{}, err
	}
	rep, err := report.Build(ctx, k, st, cfg.SourceTopics())
	if err != nil {
		return Result{}, err
	}
	rep.Location = deps.Schedule.Calendar().Location()
	rep.ClickHouse = cfg.Store.Addr
	elapsed := time.Since(started)
	stats := sim.stats
	rep.Simulation = &report.Simulation{Days: cfg.Simulator.Days, Start: cfg.Simulator.Start.String(), Traces: stats.Traces,
		Approved: stats.Approved, Declined: stats.Declined, Messages: total(stats.Messages), Elapsed: elapsed.Round(time.Millisecond)}
	return Result{Report: rep, Simulated: stats, Elapsed: elapsed}, nil
}

// startBroker starts the embedded broker unless BrokerPort is -1, and
// returns the Kafka configuration that reaches it.
func startBroker(cfg Config, k kafkaio.Config, log *slog.Logger) (kafkaio.Config, func(), error) {
	if cfg.BrokerPort < 0 {
		return k, func() {}, nil
	}
	b, err := devbroker.New(devbroker.Config{Port: cfg.BrokerPort, DataDir: cfg.BrokerDataDir, Partitions: cfg.Pipeline.Partitions}, log)
	if err != nil {
		return k, nil, err
	}
	k.Brokers = []string{b.Addr()}
	return k, func() { b.Close() }, nil
}

// openStore opens the run's database, dropped first for a fresh run, and
// migrates it.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*store.Store, error) {
	if cfg.FreshDatabase {
		if err := dropDatabase(ctx, cfg.Store, log); err != nil {
			return nil, err
		}
	}
	st, err := store.New(ctx, cfg.Store, log)
	if err != nil {
		return nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	log.Info("ClickHouse migrated", "applied", len(applied), "database", st.Database())
	return st, nil
}

// openTruth creates the truth file; with no path it writes nowhere.
func openTruth(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("creating truth file: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// publication is the simulator publishing onto the source topics.
type publication struct {
	merchants    string        // the merchants topic, published first
	merchantsOut chan struct{} // closed once the merchant profiles are published
	done         chan error    // the simulator's result
	stats        simulator.Stats
}

// start runs the simulator on a goroutine of its own and returns once the
// merchant profiles are published.
func (s *publication) start(ctx context.Context, sc simulator.Config, cal *calendar.Calendar, k kafkaio.Config, truth io.Writer) error {
	sim, err := simulator.New(sc, cal)
	if err != nil {
		return err
	}
	go func() {
		pub := kafkaio.NewPublisher(k)
		defer pub.Close()
		var once bool
		stats, err := sim.Run(ctx, func(msgs []simulator.Message) error {
			if err := pub.Publish(ctx, toKafka(msgs)); err != nil {
				return err
			}
			if !once && msgs[len(msgs)-1].Topic != s.merchants {
				once = true
				close(s.merchantsOut)
			}
			return nil
		}, truth)
		s.stats = stats
		if !once {
			close(s.merchantsOut)
		}
		s.done <- err
	}()
	select {
	case <-s.merchantsOut:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func toKafka(msgs []simulator.Message) []kafka.Message {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafkaio.NewMessage(m.Topic, m.Key, m.Value, m.Partition)
	}
	return out
}

// watch prints the pipeline's progress.
type watch struct {
	p       *pipeline.Pipeline
	out     io.Writer
	log     *slog.Logger
	started time.Time
	days    int
}

// untilConsumed watches until the simulation is published and every group
// has consumed everything, on two ticks in a row.
func (w watch) untilConsumed(ctx context.Context, every time.Duration, sim *publication, stopped <-chan error) error {
	simFinished := false
	quiet := 0
	tick := time.NewTicker(every)
	defer tick.Stop()
	for quiet < 2 {
		select {
		case err := <-sim.done:
			if err != nil {
				return fmt.Errorf("simulator: %w", err)
			}
			simFinished = true
			fmt.Fprintf(w.out, "simulator: published %d messages (%d traces over %d days)\n", total(sim.stats.Messages), sim.stats.Traces, w.days)
			continue
		case err := <-stopped:
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("pipeline stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("pipeline stopped: %w", ctx.Err())
		case <-tick.C:
		}
		s := w.p.Stats()
		behind, err := w.p.Behind(ctx)
		if err != nil {
			w.log.Warn("reading consumer lag", "err", err)
			continue
		}
		fmt.Fprintf(w.out, "progress: ingest consumed %d (dead letters %d) · joiner read %d, wrote %d lag facts and %d anomalies, %d open traces · messages behind %d · %s\n",
			s.Ingest.Consumed, s.Ingest.DeadLettered, s.Joiner.Records, s.Joiner.LagFacts, s.Joiner.Anomalies, s.Joiner.OpenTraces, behind, time.Since(w.started).Round(time.Second))
		if simFinished && behind == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func dropDatabase(ctx context.Context, cfg store.Config, log *slog.Logger) error {
	st, err := store.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DropDatabase(ctx); err != nil {
		return fmt.Errorf("a fresh run: %w", err)
	}
	log.Info("dropped the database for a fresh run", "database", cfg.Database)
	return nil
}
