// Package chaos proves the delivery guarantees (DESIGN §8) on real
// processes: for a seed it runs the broker, the ingest consumers and the
// joiner as supervised child processes against a ClickHouse of its own behind
// a loopback proxy, disturbs the run (SIGKILLs, a ClickHouse outage, a broker
// restart, ambiguous Kafka acks, dropped insert replies) and compares the
// analyst views with an undisturbed reference run of the same seed, row by
// row. It also measures catch-up time and the children's peak memory. It does
// not judge detection quality (pkg/score does).
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/calendar"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/simulator"
)

// Scenario names one kind of disturbance.
type Scenario string

// The scenarios; Reference is the undisturbed run the others are compared
// with.
const (
	Reference        Scenario = "reference"
	Kill             Scenario = "kill"
	ClickHouseOutage Scenario = "clickhouse-outage"
	BrokerRestart    Scenario = "broker-restart"
	KafkaFaults      Scenario = "kafka-faults"
	InsertReplyDrop  Scenario = "insert-reply-drop"
	// MultiInstance runs a three-node broker, two ingest instances per
	// source and two joiner instances, shuffles partition leaders and
	// coordinators while the input is published, SIGKILLs one joiner and
	// starts a third in its place (multi.go). It is not among Scenarios():
	// name it to run it.
	MultiInstance Scenario = "multi-instance"
	// Cluster is the multi-instance shape writing into a ClickHouse
	// cluster (deploy/clickhouse/cluster.sh: ZooKeeper, 2 shards × 2
	// replicas) that the run starts itself: a joiner SIGKILLed and
	// replaced, the leaders shuffled, the first replica of each shard
	// stopped for ReplicaOutage, ZooKeeper for ZooKeeperOutage
	// (chcluster.go). Not among Scenarios(): name it to run it.
	Cluster Scenario = "cluster"
)

// knownScenarios are those Scenarios() runs and those run only on request.
func knownScenarios() []Scenario { return append(Scenarios(), MultiInstance, Cluster) }

// Scenarios returns every disturbing scenario, in the order they run.
func Scenarios() []Scenario {
	return []Scenario{Kill, ClickHouseOutage, BrokerRestart, KafkaFaults, InsertReplyDrop}
}

// ParseScenarios reads a comma-separated list of scenario names; "all" (or
// nothing) is every scenario of Scenarios(); MultiInstance and Cluster run
// only when named.
func ParseScenarios(s string) ([]Scenario, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return Scenarios(), nil
	}
	var out []Scenario
	for _, name := range strings.Split(s, ",") {
		sc := Scenario(strings.TrimSpace(name))
		if !slices.Contains(knownScenarios(), sc) {
			return nil, fmt.Errorf("unknown scenario %q (want all or some of %v)", name, knownScenarios())
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Config is a chaos run.
type Config struct {
	// RepoRoot is the settlemon source tree: the binaries are built from it
	// and deploy/clickhouse/local.sh runs from it. Required.
	RepoRoot string
	// WorkDir holds the binaries, every run's broker data and child logs,
	// and ClickHouse's run folder. Required.
	WorkDir string
	// BinDir holds prebuilt settlemon-dev, ingest and joiner binaries; empty:
	// they are built into WorkDir/bin.
	BinDir string

	Seeds     []int64    // default 1, 2, 3
	Scenarios []Scenario // default Scenarios()

	// Simulator is the simulated input; its seed is set per run. Default
	// SimulatorConfig(3, 3000).
	Simulator  simulator.Config
	Partitions int // of every topic, default 3
	// PublishOver spreads the input over this long, so that disturbances
	// land mid-stream. Default 20s.
	PublishOver time.Duration

	Kills int // SIGKILLs per kill run, default 10
	// KillAnyTime kills a child again even while its restarted process is
	// still joining its group. By default a child is killed again only once
	// its new process has committed progress: against kfake, a member killed
	// while joining can keep partitions assigned to a dead member for
	// minutes (see the chaos report), which stalls the run rather than
	// testing recovery.
	KillAnyTime      bool
	ClickHouseOutage time.Duration // default 60s
	BrokerRestarts   int           // default 2
	BrokerDown       time.Duration // how long the broker stays dead, default 2s
	// ReplicaOutage is how long the cluster scenario keeps the first
	// replica of each shard down, default 60s; ZooKeeperOutage how long
	// ZooKeeper, default 30s.
	ReplicaOutage   time.Duration
	ZooKeeperOutage time.Duration
	// ProduceAmbiguousRate and FetchErrorRate are the kafka-faults rates,
	// default 0.1 and 0.05; ReplyDropRate the insert-reply-drop rate,
	// default 0.3.
	ProduceAmbiguousRate float64
	FetchErrorRate       float64
	ReplyDropRate        float64

	// ClickHousePort and ClickHouseHTTPPort are the harness's own server's
	// loopback ports; 0 (the default) takes a free one each. Never point them
	// at a server that others use: the outage scenario stops it.
	ClickHousePort     int
	ClickHouseHTTPPort int

	// MemoryLimit is GOMEMLIMIT of the ingest and joiner children, default
	// 512MiB; MaxRSS fails a run whose child's peak resident memory exceeds
	// it, default 768 MiB.
	MemoryLimit string
	MaxRSS      int64

	// CatchUpTimeout bounds the wait for the consumer groups once the input
	// is published and the disturbances are over. Default 3m.
	CatchUpTimeout time.Duration
}

// SimulatorConfig is the chaos input: FullConfig's shape (every cause of the
// anomaly taxonomy, a payout-feed outage on day 2, a stalled and an
// incomplete batch) over days days of tracesPerDay authorizations, with each
// fault at 1% so that each occurs dozens of times.
func SimulatorConfig(days, tracesPerDay int) simulator.Config {
	c := simulator.FullConfig()
	c.Days = days
	c.TracesPerDay = tracesPerDay
	c.Merchants = 60
	c.HeartbeatInterval = 15 * time.Minute
	for _, r := range []*float64{&c.PayoutFailedRate, &c.PayoutMissingRate, &c.AmountMismatchRate, &c.ClearingMissingRate,
		&c.PayoutHeldRate, &c.FeeDeviationRate, &c.MCCMismatchRate, &c.DuplicateAuthRate, &c.ReversedSettledRate,
		&c.LateEventRate, &c.OrphanClearingRate, &c.OrphanPayoutRate} {
		*r = 0.01
	}
	c.PayoutOutage.Day = min(2, days)
	return c
}

// DefaultConfig is the full chaos run (RepoRoot and WorkDir still
// to set).
func DefaultConfig() Config {
	return Config{
		Seeds:                []int64{1, 2, 3},
		Scenarios:            Scenarios(),
		Simulator:            SimulatorConfig(3, 3000),
		Partitions:           3,
		PublishOver:          20 * time.Second,
		Kills:                10,
		ClickHouseOutage:     60 * time.Second,
		BrokerRestarts:       2,
		BrokerDown:           2 * time.Second,
		ReplicaOutage:        60 * time.Second,
		ZooKeeperOutage:      30 * time.Second,
		ProduceAmbiguousRate: 0.1,
		FetchErrorRate:       0.05,
		ReplyDropRate:        0.3,
		MemoryLimit:          "512MiB",
		MaxRSS:               768 << 20,
		CatchUpTimeout:       3 * time.Minute,
	}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("chaos: "+format, a...)) }
	if c.RepoRoot == "" {
		add("no source tree (RepoRoot)")
	}
	if c.WorkDir == "" {
		add("no work folder (WorkDir)")
	}
	if len(c.Seeds) == 0 {
		add("no seeds")
	}
	for _, sc := range c.Scenarios {
		if !slices.Contains(knownScenarios(), sc) {
			add("unknown scenario %q", sc)
		}
	}
	if c.Partitions <= 0 {
		add("partitions must be positive")
	}
	if c.PublishOver <= 0 || c.CatchUpTimeout <= 0 || c.BrokerDown < 0 || c.ClickHouseOutage < 0 ||
		c.ReplicaOutage < 0 || c.ZooKeeperOutage < 0 {
		add("publish-over and catch-up timeout must be positive, outage and broker down time not negative")
	}
	if c.Kills < 0 || c.BrokerRestarts < 0 {
		add("kills and broker restarts must not be negative")
	}
	for name, r := range map[string]float64{"produce ambiguous rate": c.ProduceAmbiguousRate, "fetch error rate": c.FetchErrorRate, "reply drop rate": c.ReplyDropRate} {
		if err := validRate(r); err != nil {
			add("%s: %v", name, err)
		}
	}
	if c.ClickHousePort < 0 || c.ClickHousePort > 65535 || c.ClickHouseHTTPPort < 0 || c.ClickHouseHTTPPort > 65535 ||
		c.ClickHousePort != 0 && c.ClickHousePort == c.ClickHouseHTTPPort {
		add("ClickHouse ports %d and %d: want two different ports in 1..65535, or 0 for a free one", c.ClickHousePort, c.ClickHouseHTTPPort)
	}
	if c.MaxRSS <= 0 {
		add("max RSS must be positive")
	}
	sim := c.Simulator
	sim.Partitions = c.Partitions
	if err := sim.Validate(); err != nil {
		add("simulator: %v", err)
	}
	return errors.Join(errs...)
}

// Deps are the harness's collaborators.
type Deps struct {
	Calendar *calendar.Calendar // for the simulator
	Logger   *slog.Logger       // the harness's own warnings
	Out      io.Writer          // progress lines; default stderr
}

// Harness runs the scenarios.
type Harness struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	bin  string
	ch   *clickhouse
}

// New checks the configuration; Run does the work.
func New(cfg Config, deps Deps) (*Harness, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Calendar == nil {
		return nil, errors.New("chaos: a calendar is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Out == nil {
		deps.Out = os.Stderr
	}
	root, err := filepath.Abs(cfg.RepoRoot)
	if err != nil {
		return nil, err
	}
	cfg.RepoRoot = root
	if cfg.WorkDir, err = filepath.Abs(cfg.WorkDir); err != nil {
		return nil, err
	}
	cfg.Simulator.Partitions = cfg.Partitions
	for _, p := range []*int{&cfg.ClickHousePort, &cfg.ClickHouseHTTPPort} {
		for *p == 0 || cfg.ClickHousePort == cfg.ClickHouseHTTPPort {
			if *p, err = freePort(); err != nil {
				return nil, fmt.Errorf("chaos: choosing a ClickHouse port: %w", err)
			}
		}
	}
	h := &Harness{cfg: cfg, deps: deps, log: deps.Logger.With("component", "chaos")}
	h.ch = &clickhouse{
		script:   filepath.Join(root, "deploy", "clickhouse", "local.sh"),
		runDir:   filepath.Join(cfg.WorkDir, "clickhouse"),
		port:     cfg.ClickHousePort,
		httpPort: cfg.ClickHouseHTTPPort,
		logPath:  filepath.Join(cfg.WorkDir, "clickhouse.log"),
	}
	return h, nil
}

func (h *Harness) progress(format string, a ...any) {
	fmt.Fprintf(h.deps.Out, "chaos %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// Run builds the binaries, starts ClickHouse, and for every seed runs the
// reference and then each scenario. The error is for the harness failing to
// run at all; a scenario that ran and failed is a Result with Problems.
func (h *Harness) Run(ctx context.Context) (Results, error) {
	if err := os.MkdirAll(h.cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	if err := h.build(ctx); err != nil {
		return nil, err
	}
	h.progress("starting ClickHouse on 127.0.0.1:%d (run folder %s)", h.ch.port, h.ch.runDir)
	if err := h.ch.start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := h.ch.stop(sctx); err != nil {
			h.log.Warn("stopping ClickHouse", "err", err)
		}
	}()

	var results Results
	for _, seed := range h.cfg.Seeds {
		in, err := h.simulate(ctx, seed)
		if err != nil {
			return results, err
		}
		h.progress("seed %d: %d source messages (%d traces over %d days), published over %s", seed, in.total, in.stats.Traces, h.cfg.Simulator.Days, h.cfg.PublishOver)
		ref, refImage := h.runOne(ctx, seed, Reference, in, nil)
		results = append(results, ref)
		h.progress("seed %d: %s", seed, ref.line())
		for _, sc := range h.cfg.Scenarios {
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
			if refImage == nil {
				results = append(results, Result{Seed: seed, Scenario: sc, Problems: []string{"skipped: the reference run failed"}})
				continue
			}
			res, _ := h.runOne(ctx, seed, sc, in, refImage)
			results = append(results, res)
			h.progress("seed %d: %s", seed, res.line())
		}
	}
	return results, ctx.Err()
}

// build compiles the services once.
func (h *Harness) build(ctx context.Context) error {
	if h.cfg.BinDir != "" {
		h.bin = h.cfg.BinDir
	} else {
		h.bin = filepath.Join(h.cfg.WorkDir, "bin")
		if err := os.MkdirAll(h.bin, 0o755); err != nil {
			return err
		}
		h.progress("building the services into %s", h.bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", h.bin+string(filepath.Separator), "./services/...")
		cmd.Dir = h.cfg.RepoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chaos: building the services: %w\n%s", err, out)
		}
	}
	for _, name := range []string{"settlemon-dev", "ingest", "joiner"} {
		if _, err := os.Stat(filepath.Join(h.bin, name)); err != nil {
			return fmt.Errorf("chaos: binary %s missing in %s: %w", name, h.bin, err)
		}
	}
	return nil
}

// input is one seed's simulated run, ready to publish.
type input struct {
	merchants []kafka.Message   // published before the pipeline starts
	slices    [][]kafka.Message // published one every PublishOver/len
	total     int
	stats     simulator.Stats
}

const publishTick = 250 * time.Millisecond

func (h *Harness) simulate(ctx context.Context, seed int64) (*input, error) {
	cfg := h.cfg.Simulator
	cfg.Seed = seed
	sim, err := simulator.New(cfg, h.deps.Calendar)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	var all []kafka.Message
	stats, err := sim.Run(ctx, func(msgs []simulator.Message) error {
		for _, m := range msgs {
			all = append(all, kafkaio.NewMessage(m.Topic, m.Key, m.Value, m.Partition))
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("chaos: simulating seed %d: %w", seed, err)
	}
	in := &input{total: len(all), stats: stats}
	i := 0
	for i < len(all) && all[i].Topic == cfg.Topics.Merchants {
		i++
	}
	in.merchants, all = all[:i], all[i:]
	n := max(1, int(h.cfg.PublishOver/publishTick))
	size := max(1, (len(all)+n-1)/n)
	for len(all) > 0 {
		k := min(size, len(all))
		in.slices = append(in.slices, all[:k])
		all = all[k:]
	}
	return in, nil
}

func (h *Harness) sourceTopics() []string {
	t := h.topology().Topics.Sources
	return t[:]
}

// topology is the pipeline the children form: the default one on the run's
// partitions and the simulator's source topics, on the replay clock.
func (h *Harness) topology() pipeline.Config {
	pc := pipeline.DefaultConfig()
	pc.Partitions, pc.Topics.Sources = h.cfg.Partitions, h.cfg.Simulator.Topics.Sources()
	pc.Joiner.Clock = joiner.ClockReplay
	return pc
}
