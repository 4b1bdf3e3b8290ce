//go:build integration

package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"settlemon/pkg/calendar"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/logtest"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// The graceful-shutdown test runs the real services/ingest and
// services/joiner binaries as child processes, so that SIGTERM, the exit
// status and the logs are the ones an operator sees.

const (
	joinerGroup  = "settlemon-joiner"
	eventsTopic  = "settle.events"
	deadTopic    = "settle.dlq"
	srcParts     = 2
	eventParts   = 3
	exitDeadline = 30 * time.Second
)

// buildServices compiles services/ingest and services/joiner into a
// temporary directory and returns the two executables.
func buildServices(tb testing.TB, ctx context.Context) (ingestBin, joinerBin string) {
	tb.Helper()
	dir := tb.TempDir()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir, "settlemon/services/ingest", "settlemon/services/joiner")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "ingest"), filepath.Join(dir, "joiner")
}

// shutdownSim is a small simulated day: about 1500 traces with every
// original fault at 2%, two partitions per source topic.
func shutdownSim(tb testing.TB) ([]kafka.Message, *calendar.Schedule) {
	tb.Helper()
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	c := simulator.DefaultConfig()
	c.Seed = 5
	c.Days = 1
	c.TracesPerDay = 1500
	c.Merchants = 40
	c.Partitions = srcParts
	c.HeartbeatInterval = 15 * time.Minute
	c.PayoutFailedRate, c.PayoutMissingRate, c.AmountMismatchRate = 0.02, 0.02, 0.02
	c.ChunkSize = 100
	sim, err := simulator.New(c, sched.Calendar())
	if err != nil {
		tb.Fatal(err)
	}
	var out []kafka.Message
	if _, err := sim.Run(context.Background(), func(msgs []simulator.Message) error {
		for _, m := range msgs {
			km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
			if m.Partition >= 0 {
				km.Headers = []kafka.Header{kafkaio.ToPartition(m.Partition)}
			}
			out = append(out, km)
		}
		return nil
	}, nil); err != nil {
		tb.Fatal(err)
	}
	return out, sched
}

// proc is one running child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *logtest.Buffer
	done chan struct{}
	err  error
}

// pipeline is a broker, a database and the processes run against them.
type pipeline struct {
	tb          testing.TB
	ctx         context.Context
	k           kafkaio.Config
	st          *store.Store
	db          driver.Conn // the test's own connection, for its assertions
	ingestBin   string
	joinerBin   string
	procs       []*proc // every process started, for the logs of both lives
	current     []*proc // the processes of the last start
	generations int
}

func newPipeline(tb testing.TB, ctx context.Context, ingestBin, joinerBin string) *pipeline {
	tb.Helper()
	st := storetest.New(tb)
	b, err := devbroker.New(devbroker.Config{Port: loopbackPort(tb), Partitions: srcParts}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	specs := []kafkaio.TopicSpec{{Name: eventsTopic, Partitions: eventParts}, {Name: deadTopic, Partitions: 1}, {Name: event.ProfilesTopic, Partitions: srcParts, Compacted: true}}
	for s := event.Auth; s < event.NumSources; s++ {
		specs = append(specs, kafkaio.TopicSpec{Name: s.DefaultTopic(), Partitions: srcParts, Compacted: s == event.Merchants})
	}
	if err := kafkaio.EnsureTopics(ctx, k, specs); err != nil {
		tb.Fatal(err)
	}
	return &pipeline{tb: tb, ctx: ctx, k: k, st: st, db: storetest.Conn(tb, st), ingestBin: ingestBin, joinerBin: joinerBin}
}

// start runs the four ingest consumers and the joiner.
func (p *pipeline) start() {
	p.tb.Helper()
	p.generations++
	p.current = nil
	common := []string{"--kafka-brokers", p.k.Brokers[0], "--clickhouse-addr", os.Getenv(storetest.AddrEnv),
		"--clickhouse-database", p.st.Database(), "--log-format", "text"}
	for s := event.Auth; s < event.NumSources; s++ {
		p.spawn(fmt.Sprintf("ingest-%s#%d", s, p.generations), p.ingestBin, append([]string{"--source", s.String(), "--batch", "50",
			"--ops-listen", fmt.Sprintf("127.0.0.1:%d", loopbackPort(p.tb))}, common...)...)
	}
	p.spawn(fmt.Sprintf("joiner#%d", p.generations), p.joinerBin, append([]string{"--clock", joiner.ClockReplay, "--flush-interval", "300ms",
		"--ops-listen", fmt.Sprintf("127.0.0.1:%d", loopbackPort(p.tb))}, common...)...)
}

func (p *pipeline) spawn(name, bin string, args ...string) {
	p.tb.Helper()
	pr := &proc{name: name, cmd: exec.Command(bin, args...), log: &logtest.Buffer{}, done: make(chan struct{})}
	pr.cmd.Stdout, pr.cmd.Stderr = pr.log, pr.log
	if err := pr.cmd.Start(); err != nil {
		p.tb.Fatalf("starting %s: %v", name, err)
	}
	go func() { pr.err = pr.cmd.Wait(); close(pr.done) }()
	p.tb.Cleanup(func() {
		select {
		case <-pr.done:
		default:
			_ = pr.cmd.Process.Kill() // only a process this test started, by its pid
			<-pr.done
		}
		if p.tb.Failed() {
			p.tb.Logf("--- log of %s:\n%s", name, pr.log.String())
		}
	})
	p.procs = append(p.procs, pr)
	p.current = append(p.current, pr)
}

// running returns the processes of the last start that have not exited.
func (p *pipeline) running() []*proc {
	var out []*proc
	for _, pr := range p.current {
		select {
		case <-pr.done:
		default:
			out = append(out, pr)
		}
	}
	return out
}

// terminate sends SIGTERM to every running process and requires each to exit
// with status 0 within exitDeadline, saying that it drained.
func (p *pipeline) terminate() {
	p.tb.Helper()
	procs := p.running()
	sent := time.Now()
	for _, pr := range procs {
		if err := pr.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			p.tb.Fatalf("SIGTERM to %s: %v", pr.name, err)
		}
	}
	for _, pr := range procs {
		select {
		case <-pr.done:
		case <-time.After(exitDeadline - time.Since(sent)):
			p.tb.Fatalf("%s did not exit within %s of SIGTERM", pr.name, exitDeadline)
		}
		if pr.err != nil || pr.cmd.ProcessState.ExitCode() != 0 {
			p.tb.Errorf("%s exited with %v (status %d), want 0", pr.name, pr.err, pr.cmd.ProcessState.ExitCode())
		}
		logs := pr.log.String()
		want := []string{"received terminated: draining and committing"}
		if strings.HasPrefix(pr.name, "ingest") {
			want = append(want, "ingest stopped: drained the batches in hand and committed their offsets")
		} else {
			want = append(want, "joiner stopped")
		}
		for _, w := range want {
			if !strings.Contains(logs, w) {
				p.tb.Errorf("%s: no %q in its log", pr.name, w)
			}
		}
		if strings.Contains(logs, "level=ERROR") {
			p.tb.Errorf("%s logged an error", pr.name)
		}
	}
	p.tb.Logf("%d processes drained and exited in %s", len(procs), time.Since(sent).Round(time.Millisecond))
}

// publish writes msgs; with a pause between chunks when slow.
func (p *pipeline) publish(msgs []kafka.Message, chunk int, pause time.Duration) error {
	pub := kafkaio.NewPublisher(p.k)
	defer pub.Close()
	for i := 0; i < len(msgs); i += chunk {
		if err := pub.Publish(p.ctx, msgs[i:min(i+chunk, len(msgs))]); err != nil {
			return err
		}
		if pause > 0 {
			select {
			case <-time.After(pause):
			case <-p.ctx.Done():
				return p.ctx.Err()
			}
		}
	}
	return nil
}

// committed returns group's committed offset per partition of topic.
func (p *pipeline) committed(group, topic string) map[int]int64 {
	p.tb.Helper()
	cl, release, err := p.k.Client()
	if err != nil {
		p.tb.Fatal(err)
	}
	defer release()
	offs, err := cl.ConsumerOffsets(p.ctx, kafka.TopicAndGroup{Topic: topic, GroupId: group})
	if err != nil {
		p.tb.Fatalf("offsets of %s on %s: %v", group, topic, err)
	}
	for part, o := range offs {
		if o < 0 {
			offs[part] = 0
		}
	}
	return offs
}

// groups maps each consumer group to its topic.
func groups() map[string]string {
	g := map[string]string{joinerGroup: eventsTopic}
	for s := event.Auth; s < event.NumSources; s++ {
		g[s.IngestGroup()] = s.DefaultTopic()
	}
	return g
}

// waitCaughtUp waits until every group has committed every message, twice in
// a row a second apart (ingest writes watermarks after its events).
func (p *pipeline) waitCaughtUp() {
	p.tb.Helper()
	quiet := 0
	for quiet < 2 {
		var behind int64
		for g, topic := range groups() {
			lag, err := kafkaio.GroupLag(p.ctx, p.k, g, topic)
			if err != nil {
				behind = -1
				break
			}
			for _, l := range lag {
				behind += l
			}
		}
		if behind == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if len(p.running()) != len(p.current) {
			p.tb.Fatal("a process exited while the pipeline was catching up")
		}
		select {
		case <-p.ctx.Done():
			p.tb.Fatalf("waiting for the pipeline to catch up: %v", p.ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// checkIngestDurable requires, per source partition, the ingest group's
// committed offset to equal the messages whose results are in ClickHouse:
// every offset below it archived, recorded or dead-lettered, none at or
// above it.
func (p *pipeline) checkIngestDurable() {
	p.tb.Helper()
	for s := event.Auth; s < event.NumSources; s++ {
		topic := s.DefaultTopic()
		committed := p.committed(s.IngestGroup(), topic)
		count, next := map[int]int64{}, map[int]int64{}
		for _, table := range []string{rawTables[s], "control_events", "dead_letters"} {
			rows, err := p.db.Query(p.ctx, `SELECT toUInt32(`+"`partition`"+`), count(), max(`+"`offset`"+`) FROM `+table+` FINAL WHERE topic = ? GROUP BY `+"`partition`", topic)
			if err != nil {
				p.tb.Fatal(err)
			}
			for rows.Next() {
				var part uint32
				var n, hi uint64
				if err := rows.Scan(&part, &n, &hi); err != nil {
					p.tb.Fatal(err)
				}
				count[int(part)] += int64(n)
				next[int(part)] = max(next[int(part)], int64(hi)+1)
			}
			rows.Close()
		}
		for part := range srcParts {
			c := committed[part]
			if count[part] != c || next[part] != c {
				p.tb.Errorf("%s/%d: committed offset %d, but ClickHouse holds %d messages up to offset %d", topic, part, c, count[part], next[part])
			}
		}
		p.tb.Logf("%s: committed %v = durable", topic, committed)
	}
}

// replayJoin runs the join over settle.events below upTo (per partition), as
// the joiner does, and returns the latest version of every fact and how many
// lag and anomaly facts were emitted on the way.
func (p *pipeline) replayJoin(sched *calendar.Schedule, upTo map[int]int64) (latest map[string]uint64, lags, anomalies int) {
	p.tb.Helper()
	mctx, stop := context.WithCancel(p.ctx)
	defer stop()
	merchants := joiner.NewMerchants(slog.New(slog.DiscardHandler))
	if err := merchants.Follow(mctx, p.k, event.ProfilesTopic); err != nil {
		p.tb.Fatal(err)
	}
	latest = map[string]uint64{}
	keep := func(key string, v uint64) { latest[key] = max(latest[key], v) }
	for part := range eventParts {
		state, err := join.New(join.DefaultConfig(), sched, merchants)
		if err != nil {
			p.tb.Fatal(err)
		}
		if upTo[part] == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: p.k.Brokers, Topic: eventsTopic, Partition: part, MaxWait: 100 * time.Millisecond})
		var rec event.Record
		for off := int64(0); off < upTo[part]; off++ {
			m, err := r.ReadMessage(p.ctx)
			if err != nil {
				p.tb.Fatalf("reading %s/%d at %d: %v", eventsTopic, part, off, err)
			}
			if err := event.DecodeRecord(m.Value, &rec); err != nil {
				p.tb.Fatalf("%s/%d at %d: %v", eventsTopic, part, off, err)
			}
			state.Apply(&rec)
			f := state.Take()
			lags += len(f.Lags)
			anomalies += len(f.Anomalies)
			for _, l := range f.Lags {
				keep("lag/"+l.TraceNo, l.Version)
			}
			for _, a := range f.Anomalies {
				keep("anomaly/"+a.ID, a.Version)
			}
			for _, b := range f.Batches {
				keep("batch/"+b.Source+"/"+b.BatchID, b.Version)
			}
		}
		r.Close()
	}
	return latest, lags, anomalies
}

// storedLatest returns the latest version of every fact in ClickHouse.
func (p *pipeline) storedLatest() map[string]uint64 {
	p.tb.Helper()
	out := map[string]uint64{}
	for _, q := range []string{
		`SELECT concat('lag/', trace_no), max(version) FROM settlement_lag GROUP BY trace_no`,
		`SELECT concat('anomaly/', id), max(version) FROM anomalies GROUP BY id`,
		`SELECT concat('batch/', source, '/', batch_id), max(version) FROM batches GROUP BY source, batch_id`,
	} {
		rows, err := p.db.Query(p.ctx, q)
		if err != nil {
			p.tb.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var k string
			var v uint64
			if err := rows.Scan(&k, &v); err != nil {
				p.tb.Fatal(err)
			}
			out[k] = v
		}
		rows.Close()
	}
	return out
}

// checkJoinerDurable requires the facts in ClickHouse to be exactly those the
// join produces from the records below the joiner group's committed offsets:
// everything committed is durable, nothing beyond it was written.
func (p *pipeline) checkJoinerDurable(sched *calendar.Schedule) {
	p.tb.Helper()
	committed := p.committed(joinerGroup, eventsTopic)
	want, _, _ := p.replayJoin(sched, committed)
	got := p.storedLatest()
	diff := 0
	for k, v := range want {
		if got[k] != v {
			diff++
			if diff <= 10 {
				p.tb.Errorf("fact %s: version %d in ClickHouse, %d from the records below the committed offsets", k, got[k], v)
			}
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diff++
			if diff <= 10 {
				p.tb.Errorf("fact %s (version %d) is in ClickHouse but comes from no record below the committed offsets", k, v)
			}
		}
	}
	if diff > 0 {
		p.tb.Errorf("%d facts differ between ClickHouse and the committed offsets %v", diff, committed)
	}
	p.tb.Logf("%s: committed %v = %d facts durable", eventsTopic, committed, len(want))
}

// summary is what analysts see: counts and sums of the latest views.
func (p *pipeline) summary() map[string]string {
	p.tb.Helper()
	out := map[string]string{}
	for name, q := range map[string]string{
		"lag":       `SELECT status, toString(count()), toString(sum(authorized_amount)), toString(sum(cleared_amount)), toString(sum(net_paid)), toString(sum(auth_to_pay_s)) FROM settlement_lag_latest GROUP BY status`,
		"anomalies": `SELECT concat(kind, '/', status), toString(count()), toString(sum(amount)), toString(sum(expected_amount)), '', '' FROM anomalies_latest GROUP BY kind, status`,
	} {
		rows, err := p.db.Query(p.ctx, q)
		if err != nil {
			p.tb.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var k, a, b, c, d, e string
			if err := rows.Scan(&k, &a, &b, &c, &d, &e); err != nil {
				p.tb.Fatal(err)
			}
			out[name+" "+k] = strings.Join([]string{a, b, c, d, e}, " ")
		}
		rows.Close()
	}
	return out
}

var (
	consumedRE = regexp.MustCompile(`ingest stopped: drained[^\n]* consumed=(\d+)`)
	factsRE    = regexp.MustCompile(`joiner stopped[^\n]* lag_facts=(\d+) anomalies=(\d+)`)
)

// logged sums a number the processes logged at exit, over both runs.
func (p *pipeline) logged(prefix string, re *regexp.Regexp, group int) int64 {
	p.tb.Helper()
	var n int64
	for _, pr := range p.procs {
		if !strings.HasPrefix(pr.name, prefix) {
			continue
		}
		m := re.FindStringSubmatch(pr.log.String())
		if m == nil {
			p.tb.Fatalf("%s: no %q in its log", pr.name, re)
		}
		v, _ := strconv.ParseInt(m[group], 10, 64)
		n += v
	}
	return n
}

// TestGracefulShutdown: SIGTERM in the middle of a stream makes ingest and
// the joiner drain the batch in hand, commit and exit 0; what they committed
// is exactly what is durable in ClickHouse; a restart re-processes nothing
// and loses nothing; and the facts at the end equal those of a run that was
// never interrupted.
func TestGracefulShutdown(t *testing.T) {
	if os.Getenv(storetest.AddrEnv) == "" {
		storetest.Config(t, "unused") // skips, or fails in CI
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ingestBin, joinerBin := buildServices(t, ctx)
	for _, bin := range []string{ingestBin, joinerBin} {
		out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--kafka-brokers") || !strings.Contains(string(out), "SIGTERM") {
			t.Errorf("%s --help: %v\n%s", filepath.Base(bin), err, out)
		}
	}
	msgs, sched := shutdownSim(t)
	bySource := map[string]int64{}
	for _, m := range msgs {
		bySource[m.Topic]++
	}
	t.Logf("simulated %d source messages: %v", len(msgs), bySource)
	// Merchant profiles come first; the joiner loads them before joining.
	firstEvent := 0
	for firstEvent < len(msgs) && msgs[firstEvent].Topic == event.Merchants.DefaultTopic() {
		firstEvent++
	}

	// The reference: published whole, consumed without interruption.
	ref := newPipeline(t, ctx, ingestBin, joinerBin)
	if err := ref.publish(msgs, 5000, 0); err != nil {
		t.Fatal(err)
	}
	ref.start()
	ref.waitCaughtUp()
	ref.terminate()
	want := ref.summary()
	if len(want) == 0 {
		t.Fatal("the reference run produced no facts")
	}
	for k, v := range want {
		t.Logf("reference %s: %s", k, v)
	}

	// The interrupted run: traffic trickles in; SIGTERM once ingest and the
	// joiner have both committed a good part, while traffic is still coming.
	run := newPipeline(t, ctx, ingestBin, joinerBin)
	if err := run.publish(msgs[:firstEvent], 5000, 0); err != nil {
		t.Fatal(err)
	}
	sigterm := make(chan struct{})
	var pubErr error
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		rest := msgs[firstEvent:]
		half := len(rest) * 6 / 10
		if pubErr = run.publish(rest[:half], 100, 50*time.Millisecond); pubErr != nil {
			return
		}
		select { // still mid-stream when the signal is sent
		case <-sigterm:
		case <-ctx.Done():
			pubErr = ctx.Err()
			return
		}
		pubErr = run.publish(rest[half:], 100, 20*time.Millisecond)
	}()
	run.start()
	for {
		var ingested, joined int64
		for _, o := range run.committed(event.Auth.IngestGroup(), event.Auth.DefaultTopic()) {
			ingested += o
		}
		for _, o := range run.committed(joinerGroup, eventsTopic) {
			joined += o
		}
		if ingested >= 400 && joined >= 400 { // well into the stream; the publisher waits at 60% for the signal
			t.Logf("SIGTERM with %d authorizations ingested and %d records joined", ingested, joined)
			break
		}
		if len(run.running()) != len(run.current) {
			t.Fatal("a process exited before the signal")
		}
		select {
		case <-ctx.Done():
			t.Fatal("ingest and the joiner never committed anything")
		case <-time.After(50 * time.Millisecond):
		}
	}
	run.terminate()
	close(sigterm)
	run.checkIngestDurable()
	run.checkJoinerDurable(sched)
	if t.Failed() {
		return
	}

	// Restart and run to completion.
	pubWG.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	run.start()
	run.waitCaughtUp()
	run.terminate()

	// Nothing re-consumed, nothing lost: over both lifetimes each ingest
	// consumed exactly its topic, and the joiner wrote exactly the facts one
	// uninterrupted pass over settle.events produces.
	for s := event.Auth; s < event.NumSources; s++ {
		if got := run.logged("ingest-"+s.String(), consumedRE, 1); got != bySource[s.DefaultTopic()] {
			t.Errorf("ingest %s consumed %d messages over its two lives, the topic holds %d", s, got, bySource[s.DefaultTopic()])
		}
	}
	ends := map[int]int64{}
	offs, err := kafkaio.TopicOffsets(ctx, run.k, eventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offs {
		ends[o.Partition] = o.End
	}
	_, lags, anomalies := run.replayJoin(sched, ends)
	gotLags, gotAnomalies := run.logged("joiner", factsRE, 1), run.logged("joiner", factsRE, 2)
	if gotLags != int64(lags) || gotAnomalies != int64(anomalies) {
		t.Errorf("the joiner wrote %d lag facts and %d anomalies over its two lives; one pass writes %d and %d (re-processed or lost facts)",
			gotLags, gotAnomalies, lags, anomalies)
	}
	run.checkJoinerDurable(sched)

	got := run.summary()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q after the interruption, %q without", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %q after the interruption, absent without", k, g)
		}
	}
	t.Logf("final facts equal the uninterrupted run's: %d groups of lag and anomaly facts", len(want))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
