package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"settlemon/deploy/clickhouse/clustertest"
	"settlemon/pkg/store"
)

// ClusterFigures are what the cluster scenario measured.
type ClusterFigures struct {
	Nodes []string // the ClickHouse nodes, in the order the children try them
	// KillRecovery: from the joiner's SIGKILL until every group had
	// committed what Kafka held then; ReplicaCatchUp: from the restart of
	// the first replica of each shard until the same; ZooKeeperPause: from
	// ZooKeeper's stop until the joiner group committed again after its
	// restart (inserts into replicated tables fail with 242 meanwhile);
	// ZooKeeperRecovery: from its restart until every group had caught up.
	KillRecovery, ReplicaCatchUp, ZooKeeperPause, ZooKeeperRecovery time.Duration
	// ReadOnlyRetries counts the children's "clickhouse write failed,
	// retrying" lines that name code 242 (TABLE_IS_READ_ONLY).
	ReadOnlyRetries int
	// ReplicaSync: from the restart of the first replicas until their
	// replication queues were empty (they had fetched what the second
	// replicas took meanwhile). Settled: how long the replicas took to agree
	// once the pipeline had stopped.
	ReplicaSync, Settled time.Duration
}

// chCluster is the cluster scenario's ClickHouse: deploy/clickhouse/cluster.sh
// (ZooKeeper and 2 shards × 2 replicas on free loopback ports) in a run
// folder of its own under the harness's work folder.
type chCluster struct {
	script  string
	runDir  string
	logPath string
	name    string
	nodes   []string // s1r1 s1r2 s2r1 s2r2
	addrs   []string // native, in node order
}

func (c *chCluster) do(ctx context.Context, action string, components ...string) error {
	if err := runScript(ctx, c.script, c.logPath, childEnv("RUN_DIR="+c.runDir), append([]string{action}, components...)...); err != nil {
		return fmt.Errorf("clickhouse cluster %s %v (cluster.sh): %w", action, components, err)
	}
	return nil
}

// start starts components (none: all) and, the first time, reads the
// addresses the script chose.
func (c *chCluster) start(ctx context.Context, components ...string) error {
	if err := c.do(ctx, "start", components...); err != nil {
		return err
	}
	if c.addrs != nil {
		return nil
	}
	return c.readEnv()
}

func (c *chCluster) stop(ctx context.Context, components ...string) error {
	return c.do(ctx, "stop", components...)
}

func (c *chCluster) readEnv() error {
	env, path, err := clustertest.ReadEnv(c.runDir)
	if err != nil {
		return err
	}
	c.name = env["SETTLEMON_CLUSTER_NAME"]
	c.nodes = strings.Split(env["SETTLEMON_CLUSTER_NODES"], ",")
	c.addrs = strings.Split(env["SETTLEMON_CLUSTER_ADDRS"], ",")
	if c.name == "" || len(c.nodes) != 4 || len(c.addrs) != 4 {
		return fmt.Errorf("%s: want a cluster name and 4 nodes with addresses, got %q, %q, %q", path, c.name, c.nodes, c.addrs)
	}
	return nil
}

// startCluster starts the scenario's ClickHouse cluster.
func (r *run) startCluster(ctx context.Context) error {
	r.chc = &chCluster{
		script:  filepath.Join(r.cfg.RepoRoot, "deploy", "clickhouse", "cluster.sh"),
		runDir:  filepath.Join(r.dir, "clickhouse-cluster"),
		logPath: filepath.Join(r.dir, "clickhouse-cluster.log"),
	}
	if err := os.MkdirAll(r.chc.runDir, 0o755); err != nil {
		return err
	}
	r.progress("starting the ClickHouse cluster (ZooKeeper, 2 shards × 2 replicas; run folder %s)", r.chc.runDir)
	started := time.Now()
	if err := r.chc.start(ctx); err != nil {
		return err
	}
	r.progress("ClickHouse cluster %s up after %s: %s", r.chc.name, time.Since(started).Round(time.Second), strings.Join(r.chc.addrs, ","))
	return nil
}

func (r *run) stopCluster(ctx context.Context) {
	if r.chc == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	if err := r.chc.stop(sctx); err != nil {
		r.log.Warn("stopping the ClickHouse cluster", "err", err)
	}
}

// storeConfig is the run's database: on the harness's ClickHouse, or on
// the cluster (every node, tried in order).
func (r *run) storeConfig() store.Config {
	sc := store.DefaultConfig()
	sc.Addr = r.h.ch.addr()
	if r.chc != nil {
		sc.Addr, sc.Cluster = strings.Join(r.chc.addrs, ","), r.chc.name
	}
	sc.Database = r.db
	sc.MaxRetryElapsed = 2 * time.Minute
	return sc
}

// settle waits until none of the nodes (all: none named) has a read-only
// replicated table or a replication queue entry of the run's database,
// twice in a row, and returns how long that took. After the run, it makes
// the image read through the Distributed tables see every acknowledged
// insert.
func (r *run) settle(ctx context.Context, limit time.Duration, names ...string) (time.Duration, error) {
	started := time.Now()
	if len(names) == 0 {
		names = r.chc.nodes
	}
	quiet := slog.New(minLevel{r.log.Handler(), slog.LevelWarn})
	nodes := make([]*store.Store, 0, len(names))
	defer func() {
		for _, s := range nodes {
			_ = s.Close()
		}
	}()
	for _, name := range names {
		i := slices.Index(r.chc.nodes, name)
		if i < 0 {
			return 0, fmt.Errorf("no ClickHouse node %s", name)
		}
		sc := r.storeConfig()
		sc.Addr = r.chc.addrs[i]
		s, err := store.New(ctx, sc, quiet)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		nodes = append(nodes, s)
	}
	calm := 0
	var last error
	for calm < 2 {
		if time.Since(started) > limit {
			return 0, fmt.Errorf("the replicas did not settle within %s: %w", limit, last)
		}
		if !sleepUntil(ctx, time.Now().Add(500*time.Millisecond)) {
			return 0, ctx.Err()
		}
		last = nil
		for i, s := range nodes {
			n, err := s.ReplicationBacklog(ctx)
			if err == nil && n > 0 {
				err = fmt.Errorf("%d tables read-only or replicating", n)
			}
			if err != nil {
				last = fmt.Errorf("%s: %w", names[i], err)
				break
			}
		}
		if last != nil {
			calm = 0
			continue
		}
		calm++
	}
	return time.Since(started), nil
}

// clusterRecoveryLimit bounds the wait for each recovery of the cluster
// scenario before the next disturbance.
const clusterRecoveryLimit = 3 * time.Minute

// clusterScenario is the multi-instance shape on the ClickHouse cluster,
// disturbed one thing after another while the input flows: the second
// joiner is SIGKILLed once it has checkpointed and a third joins in its
// place (restoring from the checkpoints), the broker's leaders move, the
// first replica of each shard stops for ReplicaOutage and starts again
// (inserts go on through the second), and ZooKeeper stops for
// ZooKeeperOutage and starts again (inserts fail with 242 and are retried
// until it is back).
func (r *run) clusterScenario(ctx, wctx context.Context, t0 time.Time) error {
	own := &r.multi.owned
	fig := &ClusterFigures{Nodes: r.chc.nodes}
	r.mu.Lock()
	r.cluster = fig
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.ownership = own; r.mu.Unlock() }()
	a, b := r.joiners[0], r.joiners[1]
	_, c, killedAt, after, err := r.replaceJoiner(ctx, 3*time.Minute, own, false, func(time.Time) {})
	if err != nil {
		return err
	}
	own.Takeover = time.Since(killedAt)
	own.After = partitionsOf(after)
	own.Restores = after[c.name].restores
	r.progress("%s took over after %s (%v partitions restored from checkpoints): %s", c.name,
		own.Takeover.Round(100*time.Millisecond), own.Restores, ownedLine(after))
	// Each recovery is measured before the next disturbance, so that none
	// includes another's.
	if d, ok := r.measure(wctx, "kill of "+b.name, killedAt, clusterRecoveryLimit); ok {
		r.progress("recovered %s after the SIGKILL", d.Round(100*time.Millisecond))
	}

	if err := r.shuffleLeaders(ctx, own); err != nil {
		return err
	}
	r.measure(wctx, "leader shuffle", time.Now(), clusterRecoveryLimit)

	first := []string{r.chc.nodes[0], r.chc.nodes[2]} // s1r1, s2r1
	r.progress("stopping ClickHouse %v for %s", first, r.cfg.ReplicaOutage)
	if err := r.chc.stop(ctx, first...); err != nil {
		return err
	}
	down := time.Now()
	if !sleepUntil(ctx, down.Add(r.cfg.ReplicaOutage)) {
		return ctx.Err()
	}
	if err := r.chc.start(ctx, first...); err != nil {
		return err
	}
	replicasBack := time.Since(down)
	r.progress("ClickHouse %v back after %s", first, replicasBack.Round(time.Second))
	restarted := time.Now()
	if d, ok := r.measure(wctx, "replica restart", restarted, clusterRecoveryLimit); ok {
		r.progress("the consumer groups caught up %s after the replicas' restart", d.Round(100*time.Millisecond))
	}
	if _, err := r.settle(ctx, clusterRecoveryLimit, first...); err != nil {
		r.problem("%v after their restart", err)
	} else {
		fig.ReplicaSync = time.Since(restarted)
		r.progress("%v replicated what they missed %s after their restart", first, fig.ReplicaSync.Round(100*time.Millisecond))
	}

	r.progress("stopping ZooKeeper for %s", r.cfg.ZooKeeperOutage)
	before, _, _ := r.groupProgress(ctx, a)
	if err := r.chc.stop(ctx, "zookeeper"); err != nil {
		return err
	}
	zkDown := time.Now()
	r.releaseInput()
	r.progress("ZooKeeper stopped; the last fifth of the input, held back until now, flows")
	if !sleepUntil(ctx, zkDown.Add(r.cfg.ZooKeeperOutage)) {
		return ctx.Err()
	}
	atRestart, _, _ := r.groupProgress(ctx, a)
	if err := r.chc.start(ctx, "zookeeper"); err != nil {
		return err
	}
	zkBack := time.Since(zkDown)
	r.progress("ZooKeeper back after %s (joiner group committed %d messages while it was down)", zkBack.Round(time.Second), atRestart-before)
	r.watch(wctx, "ZooKeeper restart", time.Now())
	if r.waitWorking(ctx, a, atRestart, 3*time.Minute) {
		fig.ZooKeeperPause = time.Since(zkDown)
		r.progress("the joiner group committed again %s after ZooKeeper stopped", fig.ZooKeeperPause.Round(100*time.Millisecond))
	} else {
		r.problem("the joiner group committed nothing within 3m of ZooKeeper's restart")
	}
	r.note("%d broker nodes, %d ingest instances per source; SIGKILL %s, %s took over after %s; %d leader shuffle; %v down %s; ZooKeeper down %s",
		multiBrokers, multiIngests, b.name, c.name, own.Takeover.Round(100*time.Millisecond), own.Shuffles, first,
		replicasBack.Round(time.Second), zkBack.Round(time.Second))
	return nil
}

// readOnlyRetries counts the retried writes that failed with code 242 in
// the children's logs.
func readOnlyRetries(logs string) int {
	paths, _ := filepath.Glob(filepath.Join(logs, "*.log"))
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "clickhouse write failed, retrying") && (strings.Contains(line, "242") || strings.Contains(line, "TABLE_IS_READ_ONLY")) {
				n++
			}
		}
	}
	return n
}
