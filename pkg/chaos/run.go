package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/report"
	"settlemon/pkg/store"
)

// run is one run of one seed: a broker, the pipeline's children, a proxy, a
// database, and the scenario's disturbances.
type run struct {
	h    *Harness
	cfg  Config
	topo pipeline.Config // the pipeline the children form
	seed int64
	sc   Scenario
	in   *input
	dir  string
	db   string
	log  *slog.Logger

	k           kafkaio.Config
	controlAddr string
	broker      *child
	ingests     []*child
	ingestSrc   []event.Source // the source of each of ingests
	joiners     []*child       // started ones; multi-instance adds more mid-run
	proxy       *Proxy
	multi       *multiRun  // the multi-instance scenario's state (multi.go)
	chc         *chCluster // the cluster scenario's ClickHouse (chcluster.go)

	pubMu sync.Mutex // held while publishing, and across a broker restart
	pub   *kafkaio.Publisher
	hold  inputHold // the cluster scenario's last part of the input, held back

	clientMu sync.Mutex
	client   *kafka.Client

	mu          sync.Mutex
	recoveries  []time.Duration
	recoveredBy map[string]time.Duration // the recovery after each disturbance, by what it was
	unrecovered int
	peakLag     int64
	disturbance []string
	problems    []string
	ownership   *Ownership // multi-instance only
	cluster     *ClusterFigures
	watchers    sync.WaitGroup
}

func (r *run) pipeline() []*child {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(slices.Clone(r.ingests), r.joiners...)
}

func (r *run) problem(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, a...))
}

func (r *run) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disturbance = append(r.disturbance, fmt.Sprintf(format, a...))
}

func (r *run) progress(format string, a ...any) {
	r.h.progress("seed %d %-17s %s", r.seed, r.sc, fmt.Sprintf(format, a...))
}

// runOne runs scenario sc for seed and compares it with ref (nil for the
// reference run itself). It returns the result and, when the run produced
// one, its database image.
func (h *Harness) runOne(ctx context.Context, seed int64, sc Scenario, in *input, ref *store.Image) (Result, *store.Image) {
	started := time.Now()
	r := &run{h: h, cfg: h.cfg, topo: h.topology(), seed: seed, sc: sc, in: in,
		dir: filepath.Join(h.cfg.WorkDir, "seed-"+strconv.FormatInt(seed, 10), string(sc)),
		db:  "chaos_" + strconv.FormatInt(seed, 10) + "_" + strings.ReplaceAll(string(sc), "-", "_"),
		log: h.log.With("seed", seed, "scenario", sc)}
	res := Result{Seed: seed, Scenario: sc}
	r.progress("starting (database %s, logs in %s)", r.db, filepath.Join(r.dir, "logs"))
	img, rep, err := r.execute(ctx)
	if err != nil {
		r.problem("%v", err)
	}
	res.Elapsed = time.Since(started)
	res.Disturbance = strings.Join(r.disturbance, "; ")
	res.Recoveries = len(r.recoveries)
	for _, d := range r.recoveries {
		res.Recovery = max(res.Recovery, d)
	}
	if r.unrecovered > 0 {
		r.problem("%d disturbances were never recovered from", r.unrecovered)
	}
	res.PeakLag = r.peakLag
	res.Ownership = r.ownership
	if o := res.Ownership; o != nil {
		o.KillRecovery = r.recoveredBy["kill of "+o.Killed]
	}
	if f := r.cluster; f != nil {
		res.Cluster = f
		f.KillRecovery = r.recoveredBy["kill of joiner-b"]
		f.ReplicaCatchUp = r.recoveredBy["replica restart"]
		f.ZooKeeperRecovery = r.recoveredBy["ZooKeeper restart"]
		f.ReadOnlyRetries = readOnlyRetries(filepath.Join(r.dir, "logs"))
	}
	if r.broker != nil {
		res.BrokerRSS = r.broker.stats().PeakRSS
	}
	for _, c := range r.pipeline() {
		if c == nil {
			continue
		}
		st := c.stats()
		res.Kills += st.Kills
		res.Unplanned += len(st.Crashes)
		for _, cr := range st.Crashes {
			res.Details = append(res.Details, "unplanned exit: "+cr)
		}
		if st.PeakRSS > res.PeakRSS {
			res.PeakRSS, res.PeakRSSChild = st.PeakRSS, c.name
		}
	}
	if res.PeakRSS > h.cfg.MaxRSS {
		r.problem("peak RSS of %s was %s, over the limit of %s", res.PeakRSSChild, mib(res.PeakRSS), mib(h.cfg.MaxRSS))
	}
	if rep != nil {
		for _, t := range rep.Topics {
			res.SourceEvents += t.Messages
		}
		if !rep.Balanced() {
			r.problem("the source reconciliation does not balance: %+v", rep.Topics)
		}
	}
	if img != nil {
		res.FactsFound = img.FactCount()
		res.Duplicates = img.DuplicateCount()
		for _, t := range slices.Sorted(maps.Keys(img.Duplicates)) {
			if d := img.Duplicates[t]; d != 0 {
				r.problem("%s read with FINAL holds %d rows more than distinct keys", t, d)
			}
		}
		if res.FactsFound == 0 {
			r.problem("no facts were written: the run proves nothing")
		}
	}
	if ref != nil {
		res.FactsExpected = ref.FactCount()
		if img != nil {
			d := store.Compare(*ref, *img)
			res.Lost, res.Extra, res.Changed = d.Lost, d.Extra, d.Changed
			res.Details = append(res.Details, d.Details...)
			if d.Lost+d.Extra+d.Changed > 0 {
				r.problem("the analyst views differ from the reference: %d rows lost, %d unexpected, %d changed", d.Lost, d.Extra, d.Changed)
			}
			if rs := ref.Figures[store.FigureArchivedAuthorizations]; len(rs) == 0 {
				r.problem("the reference archived nothing")
			}
		}
	} else {
		res.FactsExpected = res.FactsFound
	}
	res.Problems = r.problems
	if len(res.Details) > 0 || len(res.Problems) > 0 {
		r.writeDetails(res)
	}
	if sc == Reference && len(res.Problems) > 0 {
		return res, nil
	}
	return res, img
}

func (r *run) writeDetails(res Result) {
	var b strings.Builder
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	for _, d := range res.Details {
		fmt.Fprintf(&b, "detail: %s\n", d)
	}
	_ = os.WriteFile(filepath.Join(r.dir, "problems.txt"), []byte(b.String()), 0o644)
}

// execute runs the scenario and returns the reconciliation and the database
// image; the error is for what kept the run from completing.
func (r *run) execute(ctx context.Context) (*store.Image, *report.Report, error) {
	cfg := r.cfg
	if err := os.RemoveAll(r.dir); err != nil {
		return nil, nil, err
	}
	logs := filepath.Join(r.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, nil, err
	}
	if r.sc == Cluster {
		defer r.stopCluster(ctx)
		if err := r.startCluster(ctx); err != nil {
			return nil, nil, err
		}
	}
	st, err := r.freshDatabase(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()

	// The broker, on a fixed port for its lifetime so that restarts keep
	// the address the children know.
	brokerPort, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	controlPort, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	r.k = kafkaio.DefaultConfig()
	r.k.Brokers = []string{"127.0.0.1:" + strconv.Itoa(brokerPort)}
	r.k.ClientID = "settlemon-chaos"
	r.controlAddr = "127.0.0.1:" + strconv.Itoa(controlPort)
	r.broker = newChild("broker", filepath.Join(r.h.bin, "settlemon-dev"), []string{"broker",
		"--port", strconv.Itoa(brokerPort), "--data-dir", filepath.Join(r.dir, "broker"), "--sync-writes",
		"--partitions", strconv.Itoa(cfg.Partitions), "--control-listen", r.controlAddr, "--brokers", strconv.Itoa(r.brokers()),
		"--fault-produce-topics", r.topo.Topics.Events + "," + r.topo.Topics.DLQ, "--fault-seed", strconv.FormatInt(r.seed, 10),
	}, childEnv(), filepath.Join(logs, "broker.log"), false, r.log)
	if err := r.broker.start(); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err := r.broker.stop(30 * time.Second); err != nil {
			r.log.Warn("stopping the broker", "err", err)
		}
	}()
	if err := retryFor(ctx, 30*time.Second, func() error { return r.topo.EnsureTopics(ctx, r.k) }); err != nil {
		return nil, nil, fmt.Errorf("the broker did not come up: %w", err)
	}
	r.resetClient()
	defer r.closeClient()

	r.proxy, err = NewProxy(ProxyConfig{Upstream: r.h.ch.addr(), Seed: uint64(r.seed)}, r.log)
	if err != nil {
		return nil, nil, err
	}
	defer r.proxy.Close()

	// Merchant profiles first: the joiner loads them before it joins.
	r.pub = kafkaio.NewPublisher(r.k)
	defer func() { _ = r.pub.Close() }()
	if err := r.pub.Publish(ctx, r.in.merchants); err != nil {
		return nil, nil, fmt.Errorf("publishing merchant profiles: %w", err)
	}

	if err := r.startPipeline(logs); err != nil {
		return nil, nil, err
	}
	stopped := false
	stopPipeline := func() {
		if stopped {
			return
		}
		stopped = true
		// Stage by stage in the pipeline's drain order, the children of a
		// stage together.
		r.mu.Lock()
		stages := pipeline.Stages(r.ingests, r.joiners...)
		r.mu.Unlock()
		for _, stage := range stages {
			var wg sync.WaitGroup
			for _, c := range stage {
				wg.Go(func() {
					if err := c.stop(30 * time.Second); err != nil {
						r.problem("%v", err)
					}
				})
			}
			wg.Wait()
		}
	}
	defer stopPipeline()

	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go r.sample(sctx)

	if r.sc == Cluster {
		// However long the disturbances before it take on a busy machine,
		// input still flows when ZooKeeper stops: its last fifth waits for
		// that (clusterScenario releases it).
		r.hold = inputHold{at: len(r.in.slices) * 4 / 5, ch: make(chan struct{})}
	}
	t0 := time.Now()
	pubDone := make(chan error, 1)
	go func() { pubDone <- r.publish(ctx, t0) }()
	wctx, stopWatchers := context.WithCancel(ctx)
	defer stopWatchers()
	distErr := r.disturb(ctx, wctx, t0)
	r.releaseInput() // a scenario that failed before releasing it
	if err := <-pubDone; err != nil {
		return nil, nil, fmt.Errorf("publishing the input: %w", err)
	}
	if distErr != nil {
		return nil, nil, distErr
	}
	r.progress("input published and disturbances over after %s; waiting for the consumer groups", time.Since(t0).Round(time.Millisecond))
	if err := r.waitCaughtUp(ctx, cfg.CatchUpTimeout); err != nil {
		r.problem("%v; %s", err, r.stuck(ctx))
	} else {
		r.progress("caught up %s after the start", time.Since(t0).Round(time.Millisecond))
	}
	// Recovery watchers end once everything they wait for is committed.
	waitGroup(&r.watchers, 15*time.Second)
	stopWatchers()
	r.watchers.Wait()
	stopSampling()
	stopPipeline()

	if r.chc != nil {
		d, err := r.settle(ctx, 3*time.Minute)
		if err != nil {
			return nil, nil, err
		}
		r.mu.Lock()
		if r.cluster != nil {
			r.cluster.Settled = d
		}
		r.mu.Unlock()
		r.progress("replicas settled after %s", d.Round(100*time.Millisecond))
	}
	rep, err := report.Build(ctx, r.k, st, r.h.sourceTopics())
	if err != nil {
		return nil, nil, fmt.Errorf("building the reconciliation: %w", err)
	}
	img, err := st.Image(ctx)
	if err != nil {
		return nil, &rep, fmt.Errorf("reading the analyst views: %w", err)
	}
	return &img, &rep, nil
}

// freshDatabase drops and recreates the run's database, migrated, on the
// harness's ClickHouse (directly, not through the proxy) or, in the cluster
// scenario, on every node of the cluster.
func (r *run) freshDatabase(ctx context.Context) (*store.Store, error) {
	sc := r.storeConfig()
	quiet := slog.New(minLevel{r.log.Handler(), slog.LevelWarn}) // not every migration applied
	st, err := store.New(ctx, sc, quiet)
	if err != nil {
		return nil, err
	}
	err = st.DropDatabase(ctx)
	st.Close()
	if err != nil {
		return nil, err
	}
	if st, err = store.New(ctx, sc, quiet); err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (r *run) startPipeline(logs string) error {
	cfg := r.cfg
	budget := max(5*time.Minute, 3*cfg.ClickHouseOutage).String()
	chAddr := r.proxy.Addr()
	if r.chc != nil { // every node, directly
		chAddr = strings.Join(r.chc.addrs, ",")
	}
	common := []string{"--kafka-brokers", r.k.Brokers[0], "--clickhouse-addr", chAddr, "--clickhouse-database", r.db,
		"--clickhouse-retry-budget", budget, "--ops-listen", "127.0.0.1:0",
		// The harness is the supervisor: a stuck consumer group (see
		// kafkaio.Watchdog) exits and is restarted well within its wait.
		"--stuck-after", "45s"}
	if r.chc != nil {
		common = append(common, "--clickhouse-cluster", r.chc.name)
	}
	env := childEnv("GOMEMLIMIT=" + cfg.MemoryLimit)
	if r.sc == MultiInstance || r.sc == Cluster {
		return r.startMulti(logs, common, env)
	}
	for s := event.Auth; s < event.NumSources; s++ {
		name := "ingest-" + s.String()
		args := append(r.topo.IngestArgs(s), common...)
		r.ingests = append(r.ingests, newChild(name, filepath.Join(r.h.bin, "ingest"), args, env, filepath.Join(logs, name+".log"), true, r.log))
		r.ingestSrc = append(r.ingestSrc, s)
	}
	args := append(r.topo.JoinerArgs(), common...)
	r.joiners = []*child{newChild("joiner", filepath.Join(r.h.bin, "joiner"), args, env, filepath.Join(logs, "joiner.log"), true, r.log)}
	for _, stage := range pipeline.Stages(r.ingests, r.joiners...) {
		for _, c := range stage {
			if err := c.start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// publish writes the input's slices at a steady pace from t0.
func (r *run) publish(ctx context.Context, t0 time.Time) error {
	n := len(r.in.slices)
	for i, s := range r.in.slices {
		if r.hold.ch != nil && i == r.hold.at {
			select {
			case <-r.hold.ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			// The rest at the same pace, from now.
			t0 = time.Now().Add(-time.Duration(i) * r.cfg.PublishOver / time.Duration(n))
		}
		if !sleepUntil(ctx, t0.Add(time.Duration(i)*r.cfg.PublishOver/time.Duration(n))) {
			return ctx.Err()
		}
		r.pubMu.Lock()
		err := r.pub.Publish(ctx, s)
		r.pubMu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// inputHold holds the input back from slice at until ch is closed.
type inputHold struct {
	at   int
	ch   chan struct{}
	once sync.Once
}

// releaseInput lets the held-back input flow; it may be called more than
// once.
func (r *run) releaseInput() {
	if r.hold.ch != nil {
		r.hold.once.Do(func() { close(r.hold.ch) })
	}
}

// disturb runs the scenario's disturbances, starting recovery watchers on
// wctx; it returns when the last disturbance is over.
func (r *run) disturb(ctx, wctx context.Context, t0 time.Time) error {
	cfg := r.cfg
	po := cfg.PublishOver
	switch r.sc {
	case Reference:
		return nil
	case Kill:
		return r.kills(ctx, wctx, t0)
	case MultiInstance:
		return r.multiInstance(ctx, wctx, t0)
	case Cluster:
		return r.clusterScenario(ctx, wctx, t0)
	case ClickHouseOutage:
		if !sleepUntil(ctx, t0.Add(po/4)) {
			return ctx.Err()
		}
		r.progress("stopping ClickHouse for %s", cfg.ClickHouseOutage)
		if err := r.h.ch.stop(ctx); err != nil {
			return err
		}
		down := time.Now()
		if !sleepUntil(ctx, down.Add(cfg.ClickHouseOutage)) {
			return ctx.Err()
		}
		backlog, _ := r.totalLag(ctx)
		if err := r.h.ch.start(ctx); err != nil {
			return err
		}
		r.note("ClickHouse down %s, backlog %d msgs at restart", time.Since(down).Round(time.Second), backlog)
		r.progress("ClickHouse is back after %s; %d messages waiting in Kafka", time.Since(down).Round(time.Second), backlog)
		r.watch(wctx, "ClickHouse restart", time.Now())
		return nil
	case BrokerRestart:
		n := cfg.BrokerRestarts
		for i := range n {
			if !sleepUntil(ctx, t0.Add(po*time.Duration(i+1)/time.Duration(n+1))) {
				return ctx.Err()
			}
			if err := r.restartBroker(ctx); err != nil {
				return err
			}
			r.watch(wctx, "broker restart", time.Now())
		}
		r.note("%d broker SIGKILL + restarts on the same data dir", n)
		return nil
	case KafkaFaults:
		if !sleepUntil(ctx, t0.Add(po/10)) {
			return ctx.Err()
		}
		if _, err := r.setFaults(ctx, FaultRates{ProduceAmbiguousRate: cfg.ProduceAmbiguousRate, FetchErrorRate: cfg.FetchErrorRate}); err != nil {
			return err
		}
		r.progress("broker faults on: ambiguous produce acks %.0f%% on %s and %s, fetch errors %.0f%%", 100*cfg.ProduceAmbiguousRate, r.topo.Topics.Events, r.topo.Topics.DLQ, 100*cfg.FetchErrorRate)
		if !sleepUntil(ctx, t0.Add(po*9/10)) {
			return ctx.Err()
		}
		st, err := r.setFaults(ctx, FaultRates{})
		if err != nil {
			return err
		}
		r.watch(wctx, "broker faults off", time.Now())
		r.note("%d ambiguous produce acks, %d fetch errors", st.ProduceAmbiguous, st.FetchErrors)
		if cfg.ProduceAmbiguousRate > 0 && st.ProduceAmbiguous == 0 {
			r.problem("no produce request was faulted: the scenario proved nothing")
		}
		if cfg.FetchErrorRate > 0 && st.FetchErrors == 0 {
			r.problem("no fetch request was faulted: the scenario proved nothing")
		}
		return nil
	case InsertReplyDrop:
		if !sleepUntil(ctx, t0.Add(po/10)) {
			return ctx.Err()
		}
		if err := r.proxy.SetDropRate(cfg.ReplyDropRate); err != nil {
			return err
		}
		before := r.proxy.Stats()
		r.progress("dropping %.0f%% of the replies to ClickHouse inserts", 100*cfg.ReplyDropRate)
		if !sleepUntil(ctx, t0.Add(po*9/10)) {
			return ctx.Err()
		}
		_ = r.proxy.SetDropRate(0)
		after := r.proxy.Stats()
		r.watch(wctx, "reply drops off", time.Now())
		r.note("%d of %d insert replies dropped after the commit", after.Dropped-before.Dropped, after.Inserts-before.Inserts)
		if cfg.ReplyDropRate > 0 && after.Dropped == before.Dropped {
			r.problem("no insert reply was dropped: the scenario proved nothing")
		}
		return nil
	}
	return fmt.Errorf("unknown scenario %q", r.sc)
}

// kills SIGKILLs pipeline children at random moments, half of them the
// joiner and the rest a random ingest consumer. A child killed before is
// killed again only once its restarted process has rejoined its group and
// committed progress (or its group has nothing left to read), so that every
// kill interrupts a working process rather than one still waiting to join.
func (r *run) kills(ctx, wctx context.Context, t0 time.Time) error {
	n := r.cfg.Kills
	if n == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(r.seed), 0x6b696c6c))
	targets := make([]*child, n)
	for i := range targets {
		if i < (n+1)/2 {
			targets[i] = r.joiners[0]
		} else {
			targets[i] = r.ingests[rng.IntN(len(r.ingests))]
		}
	}
	rng.Shuffle(n, func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	gap := r.cfg.PublishOver / time.Duration(n)
	atKill := map[*child]int64{} // its group's committed total right after its last kill
	byName := map[string]int{}
	next := t0
	for i, c := range targets {
		next = next.Add(gap/2 + time.Duration(rng.Int64N(int64(gap)+1)))
		if !sleepUntil(ctx, next) {
			return ctx.Err()
		}
		if before, ok := atKill[c]; ok && !r.cfg.KillAnyTime {
			if !r.waitWorking(ctx, c, before, 90*time.Second) {
				r.progress("kill %d/%d: %s made no progress within 90s; killing it anyway", i+1, n, c.name)
			}
			// Somewhere inside its work, not right at its first commit.
			if !sleepUntil(ctx, time.Now().Add(time.Duration(rng.Int64N(int64(gap)+1)))) {
				return ctx.Err()
			}
		}
		// A child between restarts has no process to kill: wait for it.
		killed := false
		for try := 0; try < 100 && !killed; try++ {
			if killed = c.kill(); !killed && !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
				return ctx.Err()
			}
		}
		if !killed {
			r.problem("could not kill %s: it never ran", c.name)
			continue
		}
		killedAt := time.Now()
		byName[c.name]++
		r.progress("kill %d/%d: SIGKILL %s", i+1, n, c.name)
		r.watch(wctx, "kill of "+c.name, killedAt)
		if sum, _, err := r.groupProgress(ctx, c); err == nil {
			atKill[c] = sum
		}
		next = time.Now()
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		parts = append(parts, fmt.Sprintf("%s×%d", name, byName[name]))
	}
	r.note("%d SIGKILLs of working processes (%s)", n, strings.Join(parts, " "))
	return nil
}

// groupOf is the consumer group a pipeline child belongs to.
func (r *run) groupOf(c *child) groupTopic {
	for i, in := range r.ingests {
		if in == c {
			s := r.ingestSrc[i]
			return groupTopic{r.topo.Groups.Ingest[s], r.topo.Topics.Sources[s]}
		}
	}
	if slices.Contains(r.pipeline(), c) {
		return groupTopic{r.topo.Groups.Joiner, r.topo.Topics.Events}
	}
	return groupTopic{}
}

// groupProgress returns the committed total of c's group and how far it is
// behind.
func (r *run) groupProgress(ctx context.Context, c *child) (committed, lag int64, err error) {
	g := r.groupOf(c)
	_, end, offs, err := r.positions(ctx)
	if err != nil {
		return 0, 0, err
	}
	for p, o := range offs[g] {
		committed += o
		lag += max(0, end[g.topic][p]-o)
	}
	return committed, lag, nil
}

// waitWorking waits until c's group committed beyond before (its restarted
// process is working) or has nothing to read.
func (r *run) waitWorking(ctx context.Context, c *child, before int64, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if sum, lag, err := r.groupProgress(ctx, c); err == nil && (sum > before || lag == 0) {
			return true
		}
		if !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			return false
		}
	}
	return false
}

func (r *run) restartBroker(ctx context.Context) error {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	_ = r.pub.Close()
	r.progress("SIGKILL broker")
	if !r.broker.kill() {
		return errors.New("the broker was not running")
	}
	if !r.broker.waitExit(10 * time.Second) {
		return errors.New("the broker did not exit after SIGKILL")
	}
	if !sleepUntil(ctx, time.Now().Add(r.cfg.BrokerDown)) {
		return ctx.Err()
	}
	if err := r.broker.relaunch(); err != nil {
		return err
	}
	err := retryFor(ctx, 60*time.Second, func() error {
		_, err := kafkaio.Partitions(ctx, r.k, r.topo.Topics.Events)
		return err
	})
	if err != nil {
		return fmt.Errorf("the broker did not come back: %w", err)
	}
	r.progress("broker back on its data dir")
	r.pub = kafkaio.NewPublisher(r.k)
	r.resetClient()
	return nil
}

func (r *run) setFaults(ctx context.Context, rates FaultRates) (FaultState, error) {
	var st FaultState
	body, err := json.Marshal(rates)
	if err != nil {
		return st, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+r.controlAddr+"/faults", bytes.NewReader(body))
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("setting broker faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("setting broker faults: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// The consumer groups and what they read.
type groupTopic struct{ group, topic string }

func (r *run) groups() []groupTopic {
	var out []groupTopic
	for _, c := range r.topo.Consumers() {
		out = append(out, groupTopic{c.Group, c.Topic})
	}
	return out
}

// resetClient replaces the Kafka client the harness polls with (a broker
// restart leaves the old one's connections stale).
func (r *run) resetClient() {
	tr, err := r.k.Transport()
	if err != nil {
		r.log.Warn("building a Kafka transport", "err", err)
		return
	}
	r.clientMu.Lock()
	old := r.client
	r.client = &kafka.Client{Addr: kafka.TCP(r.k.Brokers...), Timeout: 5 * time.Second, Transport: tr}
	r.clientMu.Unlock()
	closeIdle(old)
}

func (r *run) closeClient() {
	r.clientMu.Lock()
	old := r.client
	r.client = nil
	r.clientMu.Unlock()
	closeIdle(old)
}

func closeIdle(c *kafka.Client) {
	if c == nil {
		return
	}
	if t, ok := c.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
}

// positions returns per topic the first and end offsets, and per group the
// committed offsets (a partition never committed counts from its first
// offset).
func (r *run) positions(ctx context.Context) (first, end map[string][]int64, committed map[groupTopic][]int64, err error) {
	r.clientMu.Lock()
	cl := r.client
	r.clientMu.Unlock()
	if cl == nil {
		return nil, nil, nil, errors.New("no Kafka client")
	}
	parts := r.cfg.Partitions
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	topics := append(r.h.sourceTopics(), r.topo.Topics.Events)
	for _, t := range topics {
		for p := range parts {
			req.Topics[t] = append(req.Topics[t], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
		}
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	first, end = map[string][]int64{}, map[string][]int64{}
	for _, t := range topics {
		first[t], end[t] = make([]int64, parts), make([]int64, parts)
		got := 0
		for _, po := range res.Topics[t] {
			if po.Error != nil {
				return nil, nil, nil, fmt.Errorf("offsets of %s/%d: %w", t, po.Partition, po.Error)
			}
			if po.Partition >= 0 && po.Partition < parts {
				first[t][po.Partition], end[t][po.Partition] = po.FirstOffset, po.LastOffset
				got++
			}
		}
		if got != parts {
			return nil, nil, nil, fmt.Errorf("offsets of %s: %d of %d partitions", t, got, parts)
		}
	}
	committed = map[groupTopic][]int64{}
	for _, g := range r.groups() {
		offs, err := cl.ConsumerOffsets(ctx, kafka.TopicAndGroup{Topic: g.topic, GroupId: g.group})
		if err != nil {
			return nil, nil, nil, err
		}
		c := make([]int64, parts)
		for p := range parts {
			c[p] = first[g.topic][p]
			if o, ok := offs[p]; ok && o >= 0 {
				c[p] = o
			}
		}
		committed[g] = c
	}
	return first, end, committed, nil
}

func (r *run) totalLag(ctx context.Context) (int64, error) {
	_, end, committed, err := r.positions(ctx)
	if err != nil {
		return 0, err
	}
	var sum int64
	for g, c := range committed {
		for p, o := range c {
			sum += max(0, end[g.topic][p]-o)
		}
	}
	return sum, nil
}

// sample records the children's peak memory and the groups' peak lag.
func (r *run) sample(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range append(r.pipeline(), r.broker) {
			c.sample()
		}
		if i%2 == 0 {
			if lag, err := r.totalLag(ctx); err == nil {
				r.mu.Lock()
				r.peakLag = max(r.peakLag, lag)
				r.mu.Unlock()
			}
		}
	}
}

// watch measures, from since, how long until every source group has
// committed what its topic held at since, and then the joiner what
// settle.events held at that moment: the pipeline has caught up with the
// disturbance.
func (r *run) watch(ctx context.Context, what string, since time.Time) {
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		d, ok := r.recover(ctx, since)
		r.recorded(what, d, ok)
	}()
}

// measure is watch waiting for the recovery, at most limit.
func (r *run) measure(ctx context.Context, what string, since time.Time, limit time.Duration) (time.Duration, bool) {
	mctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	d, ok := r.recover(mctx, since)
	r.recorded(what, d, ok)
	return d, ok
}

func (r *run) recorded(what string, d time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.unrecovered++
		r.log.Warn("no recovery measured", "after", what)
		return
	}
	r.recoveries = append(r.recoveries, d)
	if r.recoveredBy == nil {
		r.recoveredBy = map[string]time.Duration{}
	}
	r.recoveredBy[what] = max(r.recoveredBy[what], d)
}

func (r *run) recover(ctx context.Context, since time.Time) (time.Duration, bool) {
	var target map[string][]int64
	stage := 0
	for {
		first, end, committed, err := r.positions(ctx)
		if err == nil {
			if target == nil {
				target = end
			}
			done := true
			for g, c := range committed {
				if (stage == 0) == (g.group == r.topo.Groups.Joiner) {
					continue
				}
				for p, o := range c {
					if target[g.topic][p] > first[g.topic][p] && o < target[g.topic][p] {
						done = false
					}
				}
			}
			if done {
				if stage == 1 {
					return time.Since(since), true
				}
				stage, target = 1, end // what ingest forwarded by now
				continue
			}
		}
		if !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			return 0, false
		}
	}
}

// waitCaughtUp polls the groups' lag (kafkaio.GroupLag) until all of them
// have committed everything on two polls in a row.
func (r *run) waitCaughtUp(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	var behind int64 = -1
	for quiet < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the consumer groups did not catch up within %s (%d messages behind at the last poll)", timeout, behind)
		}
		if !sleepUntil(ctx, time.Now().Add(500*time.Millisecond)) {
			return ctx.Err()
		}
		var sum int64
		var err error
		for _, g := range r.groups() {
			var lag map[int]int64
			if lag, err = kafkaio.GroupLag(ctx, r.k, g.group, g.topic); err != nil {
				break
			}
			for _, v := range lag {
				sum += v
			}
		}
		if err != nil {
			quiet = 0
			continue
		}
		behind = sum
		if sum == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}

// stuck describes the partitions left behind and their groups' members, for
// the report of a run that did not catch up.
func (r *run) stuck(ctx context.Context) string {
	_, end, committed, err := r.positions(ctx)
	if err != nil {
		return "positions unknown: " + err.Error()
	}
	var parts []string
	var ids []string
	for _, g := range r.groups() {
		behind := false
		for p, o := range committed[g] {
			if lag := end[g.topic][p] - o; lag > 0 {
				parts = append(parts, fmt.Sprintf("%s %s/%d committed %d of %d", g.group, g.topic, p, o, end[g.topic][p]))
				behind = true
			}
		}
		if behind {
			ids = append(ids, g.group)
		}
	}
	r.clientMu.Lock()
	cl := r.client
	r.clientMu.Unlock()
	if cl != nil && len(ids) > 0 {
		res, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: ids})
		if err != nil {
			parts = append(parts, "describing the groups: "+err.Error())
		} else {
			for _, g := range res.Groups {
				var members []string
				for _, m := range g.Members {
					var assigned []string
					for _, t := range m.MemberAssignments.Topics {
						assigned = append(assigned, fmt.Sprintf("%s%v", t.Topic, t.Partitions))
					}
					members = append(members, m.MemberID+" "+strings.Join(assigned, ","))
				}
				parts = append(parts, fmt.Sprintf("group %s state %s, %d members: %s", g.GroupID, g.GroupState, len(g.Members), strings.Join(members, "; ")))
			}
		}
	}
	return "behind: " + strings.Join(parts, "; ")
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func retryFor(ctx context.Context, limit time.Duration, op func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := op()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

func waitGroup(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// minLevel passes on only records at or above lvl.
type minLevel struct {
	slog.Handler
	lvl slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.lvl && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(attrs), m.lvl}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.Handler.WithGroup(name), m.lvl}
}
