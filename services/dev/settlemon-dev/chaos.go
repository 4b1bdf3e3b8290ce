package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"settlemon/pkg/calendar"
	"settlemon/pkg/chaos"
	"settlemon/pkg/service"
)

var errChaosFailed = errors.New("chaos: at least one scenario failed")

// chaosCommand is `settlemon-dev chaos`: the delivery guarantees under crashes,
// outages, broker restarts, broker faults and lost insert replies.
func chaosCommand(args []string) error {
	def := chaos.DefaultConfig()
	f := service.NewFlags("settlemon-dev chaos", `settlemon-dev chaos — prove the delivery guarantees on real processes.

Builds the services, starts a ClickHouse of its own (deploy/clickhouse/local.sh
on --clickhouse-port, run folder under --work-dir; never the shared one), and
for each seed publishes a simulated run over --publish-over onto a dev broker
child process (settlemon-dev broker, data dir, synchronous writes) while the four
ingest consumers and the joiner run as child processes it supervises. First an
undisturbed reference run, then each scenario into its own database:

  kill                SIGKILL ingest and joiner processes at random moments (--kills)
  clickhouse-outage   stop ClickHouse for --ch-outage mid-run, then start it again
  broker-restart      SIGKILL the broker and restart it on its data dir (--broker-restarts)
  kafka-faults        ambiguous produce acks on settle.events/settle.dlq and fetch errors
  insert-reply-drop   a loopback proxy lets ClickHouse commit an insert, then drops
                      the reply and closes the connection (the client sees io.EOF)

A scenario passes when its analyst views equal the reference's (the same
settlement_lag_latest and anomalies_latest rows and values, batches, lag
statistics and sums), no table holds a key twice (count() FINAL equals
uniqExact of the key), the source reconciliation balances, and no ingest or
joiner child's peak resident memory exceeded --max-rss (the children run with
GOMEMLIMIT=--memory-limit; while ClickHouse is down they must pause and leave
the backlog in Kafka). It prints a table: scenario, source events, facts
expected / found, duplicates, lost, recovery time (from the end of a
disturbance until every group committed what was there), peak lag and peak
memory. Child logs and a problems.txt per failed run are under --work-dir.
Exit status 0 only if every scenario passed for every seed; 4 if one failed.`)
	lc := service.LogFlags(f)
	cfg := def
	seeds := f.String("seeds", "1,2,3", "comma-separated simulation seeds")
	scenarios := f.String("scenarios", "all", "comma-separated scenarios, or all: kill, clickhouse-outage, broker-restart, kafka-faults, insert-reply-drop; multi-instance (3 broker nodes, 2 ingest per source, 2 joiners, one SIGKILLed and replaced) and cluster (the same writing into a ClickHouse cluster the run starts with deploy/clickhouse/cluster.sh, with replicas and ZooKeeper stopped and restarted) run only when named")
	f.StringVar(&cfg.WorkDir, "work-dir", ".run/chaos", "folder for binaries, broker data, logs and ClickHouse's run folder")
	f.StringVar(&cfg.BinDir, "bin-dir", "", "use prebuilt settlemon-dev, ingest and joiner binaries from this folder (empty: build them)")
	f.IntVar(&cfg.Simulator.Days, "days", cfg.Simulator.Days, "simulated traffic days per seed")
	f.IntVar(&cfg.Simulator.TracesPerDay, "traces-per-day", cfg.Simulator.TracesPerDay, "authorizations per simulated day")
	f.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of every topic")
	f.DurationVar(&cfg.PublishOver, "publish-over", cfg.PublishOver, "publish the input at a steady pace over this long, so that disturbances land mid-stream")
	f.IntVar(&cfg.Kills, "kills", cfg.Kills, "SIGKILLs in the kill scenario (half of them the joiner)")
	f.BoolVar(&cfg.KillAnyTime, "kill-any-time", false, "kill a child again even while its restarted process is still joining its group (reproduces a consumer-group stall with kfake)")
	f.DurationVar(&cfg.ClickHouseOutage, "ch-outage", cfg.ClickHouseOutage, "how long ClickHouse stays down in the clickhouse-outage scenario")
	f.DurationVar(&cfg.ReplicaOutage, "replica-outage", cfg.ReplicaOutage, "how long the first replica of each shard stays down in the cluster scenario")
	f.DurationVar(&cfg.ZooKeeperOutage, "zookeeper-outage", cfg.ZooKeeperOutage, "how long ZooKeeper stays down in the cluster scenario")
	f.IntVar(&cfg.BrokerRestarts, "broker-restarts", cfg.BrokerRestarts, "broker kills and restarts in the broker-restart scenario")
	f.DurationVar(&cfg.BrokerDown, "broker-down", cfg.BrokerDown, "how long the broker stays dead on each restart")
	f.Float64Var(&cfg.ProduceAmbiguousRate, "produce-ambiguous-rate", cfg.ProduceAmbiguousRate, "kafka-faults: share of produced partitions acknowledged with an error after the write")
	f.Float64Var(&cfg.FetchErrorRate, "fetch-error-rate", cfg.FetchErrorRate, "kafka-faults: share of fetched partitions answered with an error")
	f.Float64Var(&cfg.ReplyDropRate, "reply-drop-rate", cfg.ReplyDropRate, "insert-reply-drop: share of committed inserts whose reply is dropped")
	f.IntVar(&cfg.ClickHousePort, "clickhouse-port", cfg.ClickHousePort, "native port of the harness's own ClickHouse (loopback; stopped in the outage scenario); 0: a free port")
	f.IntVar(&cfg.ClickHouseHTTPPort, "clickhouse-http-port", cfg.ClickHouseHTTPPort, "HTTP port of the harness's own ClickHouse; 0: a free port")
	f.StringVar(&cfg.MemoryLimit, "memory-limit", cfg.MemoryLimit, "GOMEMLIMIT of the ingest and joiner children")
	maxRSS := f.Int64("max-rss-mib", cfg.MaxRSS>>20, "fail a run whose ingest or joiner child's peak resident memory exceeds this many MiB")
	f.DurationVar(&cfg.CatchUpTimeout, "catch-up-timeout", cfg.CatchUpTimeout, "how long to wait for the consumer groups once input and disturbances are over")
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := lc.Logger()
	if err != nil {
		return service.Usage(err)
	}
	cfg.MaxRSS = *maxRSS << 20
	if cfg.Seeds, err = parseSeeds(*seeds); err != nil {
		return service.Usage(err)
	}
	if cfg.Scenarios, err = chaos.ParseScenarios(*scenarios); err != nil {
		return service.Usage(err)
	}
	days, traces := cfg.Simulator.Days, cfg.Simulator.TracesPerDay
	cfg.Simulator = chaos.SimulatorConfig(days, traces)
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if cfg.RepoRoot, err = chaos.FindRepoRoot(wd); err != nil {
		return fmt.Errorf("chaos runs from the settlemon source tree: %w", err)
	}
	if !filepath.IsAbs(cfg.WorkDir) {
		cfg.WorkDir = filepath.Join(cfg.RepoRoot, cfg.WorkDir)
	}
	cal, err := calendar.Default()
	if err != nil {
		return err
	}
	h, err := chaos.New(cfg, chaos.Deps{Calendar: cal, Logger: log, Out: os.Stderr})
	if err != nil {
		return err
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	results, err := h.Run(ctx)
	fmt.Println()
	results.WriteTable(os.Stdout)
	if err != nil {
		return err
	}
	if !results.Passed() {
		return errChaosFailed
	}
	fmt.Println("\nevery scenario passed for every seed")
	return nil
}

func parseSeeds(s string) ([]int64, error) {
	var out []int64
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds: %q is not an integer", v)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--seeds: no seed")
	}
	return out, nil
}
