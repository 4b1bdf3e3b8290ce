// Package allinone runs the whole pipeline in one process on the embedded
// default: an in-process Kafka-protocol broker on loopback, the simulator
// producing a deterministic run onto the source topics, one ingest consumer
// per source topic, the joiner, and ClickHouse (started beforehand by
// deploy/clickhouse/local.sh). It waits until every consumer group has caught
// up, drains the components, and returns the report.
//
// Each stage is the same component the standalone services run; this package
// only wires them together and watches progress.
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
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/calendar"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/report"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

// Topics of the pipeline.
const (
	EventsTopic = "settle.events"
	DLQTopic    = "settle.dlq"
)

// Config is an all-in-one run.
type Config struct {
	BrokerPort    int    // loopback port of the embedded broker, default 19092; -1: use Kafka as configured
	BrokerDataDir string // empty: in memory
	Partitions    int    // partitions of every topic, default 6
	TruthFile     string // ground truth of the simulation, JSON lines; empty: not written
	FreshDatabase bool   // drop the database before the run
	Progress      time.Duration

	Simulator simulator.Config
	Ingest    ingest.Config // Source and topics are set per consumer
	Joiner    joiner.Config
	Store     store.Config
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.BrokerPort == 0 {
		c.BrokerPort = 19092
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Progress == 0 {
		c.Progress = 2 * time.Second
	}
	c.Simulator.Partitions = c.Partitions
	return c
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Partitions <= 0 {
		return errors.New("allinone: partitions must be positive")
	}
	if err := c.Simulator.Validate(); err != nil {
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
	t := c.Simulator.Topics
	return []string{t.Authorizations, t.Clearing, t.Payouts, t.Merchants}
}

// Result is what a run leaves.
type Result struct {
	Report    report.Report
	Simulated simulator.Stats
	Elapsed   time.Duration
}

// Run executes the pipeline end to end and returns its report.
func Run(ctx context.Context, cfg Config, deps Deps) (Result, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if deps.Out == nil {
		deps.Out = os.Stderr
	}
	log := deps.Logger
	started := time.Now()

	k := deps.Kafka
	if cfg.BrokerPort >= 0 {
		b, err := devbroker.New(devbroker.Config{Port: cfg.BrokerPort, DataDir: cfg.BrokerDataDir, Partitions: cfg.Partitions}, log)
		if err != nil {
			return Result{}, err
		}
		defer b.Close()
		k.Brokers = []string{b.Addr()}
	}
	topics := []kafkaio.TopicSpec{{Name: EventsTopic, Partitions: cfg.Partitions}, {Name: DLQTopic, Partitions: cfg.Partitions},
		{Name: event.ProfilesTopic, Partitions: cfg.Partitions, Compacted: true}}
	for i, t := range cfg.SourceTopics() {
		topics = append(topics, kafkaio.TopicSpec{Name: t, Partitions: cfg.Partitions, Compacted: event.Source(i) == event.Merchants})
	}
	if err := kafkaio.EnsureTopics(ctx, k, topics); err != nil {
		return Result{}, err
	}

	if cfg.FreshDatabase {
		if err := dropDatabase(ctx, cfg.Store, log); err != nil {
			return Result{}, err
		}
	}
	st, err := store.New(ctx, cfg.Store, log)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return Result{}, err
	}
	log.Info("ClickHouse migrated", "applied", len(applied), "database", st.Database())

	sim, err := simulator.New(cfg.Simulator, deps.Schedule.Calendar())
	if err != nil {
		return Result{}, err
	}
	var truth io.Writer
	if cfg.TruthFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.TruthFile), 0o755); err != nil {
			return Result{}, err
		}
		f, err := os.Create(cfg.TruthFile)
		if err != nil {
			return Result{}, fmt.Errorf("creating truth file: %w", err)
		}
		defer f.Close()
		truth = f
	}

	// The pipeline's components run until the simulation is fully consumed.
	compCtx, stopComponents := context.WithCancel(ctx)
	defer stopComponents()
	comps, compCtx := errgroup.WithContext(compCtx)

	var ingests []*ingest.Ingest
	for s := event.Auth; s < event.NumSources; s++ {
		ic := cfg.Ingest
		ic.Source, ic.Topic, ic.OutTopic, ic.DLQTopic, ic.Group = s, cfg.SourceTopics()[s], EventsTopic, DLQTopic, ""
		in, err := ingest.New(ic, ingest.Deps{Kafka: k, Store: st, Logger: log})
		if err != nil {
			return Result{}, err
		}
		ingests = append(ingests, in)
		comps.Go(func() error { return in.Run(compCtx) })
	}
	jc := cfg.Joiner
	jc.Topic, jc.MerchantsSource = EventsTopic, cfg.Simulator.Topics.Merchants
	jn, err := joiner.New(jc, joiner.Deps{Kafka: k, Store: st, Schedule: deps.Schedule, Logger: log})
	if err != nil {
		return Result{}, err
	}

	// The simulator publishes merchant profiles first; the joiner loads the
	// profile table before it joins, so it starts once they are published.
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	merchantsOut := make(chan struct{})
	var simStats simulator.Stats
	simDone := make(chan error, 1)
	go func() {
		var once bool
		stats, err := sim.Run(compCtx, func(msgs []simulator.Message) error {
			out := make([]kafka.Message, len(msgs))
			for i, m := range msgs {
				out[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
				if m.Partition >= 0 {
					out[i].Headers = []kafka.Header{kafkaio.ToPartition(m.Partition)}
				}
			}
			if err := pub.Publish(compCtx, out); err != nil {
				return err
			}
			if !once && msgs[len(msgs)-1].Topic != cfg.Simulator.Topics.Merchants {
				once = true
				close(merchantsOut)
			}
			return nil
		}, truth)
		simStats = stats
		if !once {
			close(merchantsOut)
		}
		simDone <- err
	}()
	select {
	case <-merchantsOut:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	comps.Go(func() error { return jn.Run(compCtx) })

	// Watch progress until the simulation is published and every group has
	// consumed everything.
	groups := map[string]string{EventsTopic: jc.Defaults().Group}
	for s, t := range cfg.SourceTopics() {
		groups[t] = "settlemon-ingest-" + event.Source(s).String()
	}
	simFinished := false
	quiet := 0
	tick := time.NewTicker(cfg.Progress)
	defer tick.Stop()
	for quiet < 2 {
		select {
		case err := <-simDone:
			if err != nil {
				stopComponents()
				_ = comps.Wait()
				return Result{}, fmt.Errorf("simulator: %w", err)
			}
			simFinished = true
			fmt.Fprintf(deps.Out, "simulator: published %d messages (%d traces over %d days)\n", total(simStats.Messages), simStats.Traces, cfg.Simulator.Days)
			continue
		case <-compCtx.Done():
			err := comps.Wait()
			if err == nil {
				err = ctx.Err()
			}
			return Result{}, fmt.Errorf("pipeline stopped: %w", err)
		case <-tick.C:
		}
		var ing ingest.Stats
		for _, in := range ingests {
			s := in.Stats()
			ing.Consumed += s.Consumed
			ing.DeadLettered += s.DeadLettered
		}
		js := jn.Stats()
		behind, err := totalLag(ctx, k, groups)
		if err != nil {
			log.Warn("reading consumer lag", "err", err)
			continue
		}
		fmt.Fprintf(deps.Out, "progress: ingest consumed %d (dead letters %d) · joiner read %d, wrote %d lag facts and %d anomalies, %d open traces · messages behind %d · %s\n",
			ing.Consumed, ing.DeadLettered, js.Records, js.LagFacts, js.Anomalies, js.OpenTraces, behind, time.Since(started).Round(time.Second))
		if simFinished && behind == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	stopComponents()
	if err := comps.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return Result{}, err
	}
	rep, err := report.Build(ctx, k, st, cfg.SourceTopics())
	if err != nil {
		return Result{}, err
	}
	rep.ClickHouse = cfg.Store.Addr
	elapsed := time.Since(started)
	rep.ExtraSummary = append(rep.ExtraSummary,
		fmt.Sprintf("Simulated %d days from %s: %d traces (%d approved, %d declined), %d source messages; run took %s",
			cfg.Simulator.Days, cfg.Simulator.Start, simStats.Traces, simStats.Approved, simStats.Declined, total(simStats.Messages), elapsed.Round(time.Millisecond)),
	)
	return Result{Report: rep, Simulated: simStats, Elapsed: elapsed}, nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func totalLag(ctx context.Context, k kafkaio.Config, groups map[string]string) (int64, error) {
	var sum int64
	for topic, group := range groups {
		lag, err := kafkaio.GroupLag(ctx, k, group, topic)
		if err != nil {
			return 0, err
		}
		for _, v := range lag {
			sum += v
		}
	}
	return sum, nil
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
