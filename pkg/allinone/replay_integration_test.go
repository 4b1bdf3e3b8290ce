//go:build integration

package allinone_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"settlemon/pkg/allinone"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/join"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/report"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// analystViews are the documented views, each in a total order.
var analystViews = []struct{ name, query string }{
	{"settlement_lag_latest", "SELECT * FROM settlement_lag_latest ORDER BY trace_no, authorized_at"},
	{"anomalies_latest", "SELECT * FROM anomalies_latest ORDER BY id"},
	{"lag_stats_by_mode", "SELECT * FROM lag_stats_by_mode ORDER BY mode"},
	{"lag_stats_by_merchant", "SELECT * FROM lag_stats_by_merchant ORDER BY merchant_id, mode"},
	{"lag_stats_by_hour", "SELECT * FROM lag_stats_by_hour ORDER BY hour, mode"},
}

// tableKeys are the identities the ReplacingMergeTree tables collapse on.
var tableKeys = []struct{ table, key string }{
	{"settlement_lag", "trace_no, authorized_at"},
	{"anomalies", "id"},
	{"auth_events", `topic, "partition", "offset"`},
	{"clearing_events", `topic, "partition", "offset"`},
	{"payout_events", `topic, "partition", "offset"`},
	{"merchant_events", `topic, "partition", "offset"`},
	{"control_events", `topic, "partition", "offset"`},
	{"dead_letters", `topic, "partition", "offset"`},
}

// totals are sums that double when anything is counted twice.
var totals = []struct{ name, query string }{
	{"lag amounts", "SELECT count(), sum(authorized_amount), sum(cleared_amount), sum(fee), sum(net_paid), sum(auth_to_pay_s) FROM settlement_lag_latest"},
	{"anomaly amounts", "SELECT kind, status, count(), sum(amount), sum(expected_amount) FROM anomalies_latest GROUP BY kind, status ORDER BY kind, status"},
	{"archived authorizations", "SELECT count(), sum(amount) FROM auth_events FINAL"},
	{"archived clearing", "SELECT count(), sum(amount), sum(fee) FROM clearing_events FINAL"},
	{"archived payouts", "SELECT count(), sum(amount) FROM payout_events FINAL"},
}

type dbImage map[string][]string

// image snapshots the analyst views and the totals, and checks that every
// table read with FINAL holds exactly one row per identity.
func image(tb testing.TB, ctx context.Context, conn driver.Conn) dbImage {
	tb.Helper()
	img := dbImage{}
	for _, v := range analystViews {
		img[v.name] = snapshot(tb, ctx, conn, v.query)
	}
	for _, s := range totals {
		img[s.name] = snapshot(tb, ctx, conn, s.query)
	}
	for _, k := range tableKeys {
		var rows, keys uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s FINAL", k.key, k.table)
		if err := conn.QueryRow(ctx, q).Scan(&rows, &keys); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		if rows != keys {
			tb.Errorf("%s FINAL has %d rows for %d distinct (%s): a replay is double-counted", k.table, rows, keys, k.key)
		}
		img["rows of "+k.table] = []string{fmt.Sprint(rows)}
	}
	return img
}

func compareImages(tb testing.TB, before, after dbImage) {
	tb.Helper()
	for name, b := range before {
		diffRows(tb, name, b, after[name])
	}
}

// TestReplayIsIdempotent feeds the same input twice and requires the analyst
// views to stay exactly as they were (no double counting).
func TestReplayIsIdempotent(t *testing.T) {
	// A full replay: the same seed run again into the same database on a new
	// broker, so every consumer group starts from scratch and every fact and
	// archive row is written a second time.
	t.Run("second run into the same database", func(t *testing.T) {
		ctx := testCtx(t, 10*time.Minute)
		st := storetest.New(t)
		conn := storetest.Conn(t, st)

		first := runConfig(t, st.Database(), filepath.Join(t.TempDir(), "truth.jsonl"), 11)
		res1, err := allinone.Run(ctx, first, runDeps(t))
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
		checkReport(t, res1.Report, res1.Simulated)
		before := image(t, ctx, conn)
		if len(before["settlement_lag_latest"]) == 0 || len(before["anomalies_latest"]) == 0 {
			t.Fatalf("the first run left %d lag rows and %d anomalies: nothing to replay", len(before["settlement_lag_latest"]), len(before["anomalies_latest"]))
		}

		second := runConfig(t, st.Database(), "", 11)
		second.FreshDatabase = false
		res2, err := allinone.Run(ctx, second, runDeps(t))
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		// The new broker holds one copy and the archive is keyed by Kafka
		// coordinates, which a deterministic producer reproduces.
		checkReport(t, res2.Report, res2.Simulated)
		after := image(t, ctx, conn)
		compareImages(t, before, after)

		// The replay really wrote everything again: without FINAL the fact
		// tables hold more rows than identities until ClickHouse merges.
		var raw, final uint64
		if err := conn.QueryRow(ctx, "SELECT (SELECT count() FROM anomalies), (SELECT count() FROM anomalies FINAL)").Scan(&raw, &final); err != nil {
			t.Fatal(err)
		}
		t.Logf("anomalies: %d rows stored, %d after FINAL", raw, final)
	})

	// Duplicates inside one run, as a producer retry or a re-sent file makes
	// them: every message arrives twice with its event id. Only the joiner's
	// event-id de-duplication stands between them and double facts; the facts
	// must still equal the truth.
	t.Run("every chunk produced twice", func(t *testing.T) {
		ctx := testCtx(t, 10*time.Minute)
		st := storetest.New(t)
		truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
		h := newHarness(t, ctx, st)
		sim := smallSim(13)
		sim.Partitions = h.partitions
		stats := h.publish(t, ctx, sim, truthFile, 2)
		rep := h.consume(t, ctx)

		checkFedTwice(t, rep, stats)
		conn := storetest.Conn(t, st)
		checkAgainstTruth(t, readTruth(t, truthFile), readLags(t, ctx, conn), readAnomalies(t, ctx, conn))
	})

	// The whole input published again after the first copy, while the
	// pipeline runs: the first copy's heartbeats may already have moved
	// every watermark to the end of the simulation when the second copy's
	// events arrive. The joiner recognises them by event id while it holds
	// the trace, and after it closed the trace by the tombstone's event-id
	// fingerprints — for TombstoneTTL after the close, in event time. The
	// simulation spans ten days of event time, longer than the default
	// week, so the TTL is set to cover it: the window is what is tested.
	t.Run("whole input published again", func(t *testing.T) {
		ctx := testCtx(t, 10*time.Minute)
		st := storetest.New(t)
		truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
		h := newHarness(t, ctx, st)
		sim := smallSim(17)
		sim.Partitions = h.partitions
		first := h.publish(t, ctx, sim, "", 1)

		cfg := runConfig(t, st.Database(), truthFile, 17)
		cfg.BrokerPort = -1 // the harness's broker, which holds the first copy
		cfg.Pipeline.Partitions = h.partitions
		cfg.Pipeline.Joiner.Join = join.DefaultConfig()
		cfg.Pipeline.Joiner.Join.TombstoneTTL = 30 * 24 * time.Hour
		deps := runDeps(t)
		deps.Kafka = h.kafka
		res, err := allinone.Run(ctx, cfg, deps)
		if err != nil {
			t.Fatalf("allinone.Run: %v", err)
		}
		if fmt.Sprint(first.Messages) != fmt.Sprint(res.Simulated.Messages) {
			t.Fatalf("the two copies differ: %v then %v", first.Messages, res.Simulated.Messages)
		}
		checkFedTwice(t, res.Report, first)
		conn := storetest.Conn(t, st)
		checkAgainstTruth(t, readTruth(t, truthFile), readLags(t, ctx, conn), readAnomalies(t, ctx, conn))
	})
}

// checkFedTwice requires the reconciliation to balance over two copies of
// every message: each copy is its own Kafka offset and archived as such.
func checkFedTwice(tb testing.TB, rep report.Report, once simulator.Stats) {
	tb.Helper()
	if !rep.Balanced() {
		tb.Errorf("the report does not balance: %+v", rep.Topics)
	}
	for _, l := range rep.Topics {
		if want := 2 * int64(once.Messages[l.Topic]); l.Messages < want || want == 0 {
			tb.Errorf("topic %s holds %d messages, want at least %d (two copies)", l.Topic, l.Messages, want)
		}
		if l.DeadLetters != 0 {
			tb.Errorf("topic %s: %d dead letters, want 0", l.Topic, l.DeadLetters)
		}
	}
	if rep.Declined != uint64(once.Declined) {
		tb.Errorf("report counts %d distinct declined authorizations, the simulator declined %d", rep.Declined, once.Declined)
	}
}

// harness wires the pipeline's components by hand on a broker of its own,
// for runs that allinone.Run cannot shape (input published before the
// components start, or published twice).
type harness struct {
	kafka      kafkaio.Config
	store      *store.Store
	partitions int
	topics     simulator.Topics
	pipeline   pipeline.Config // the embedded run's, on partitions
	log        *slog.Logger    // the pipeline's; nil: warnings to the test log
}

func newHarness(tb testing.TB, ctx context.Context, st *store.Store) *harness {
	tb.Helper()
	const partitions = 3
	b, err := devbroker.New(devbroker.Config{Port: freePort(tb), Partitions: partitions}, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	pc := allinone.DefaultConfig().Pipeline
	pc.Partitions = partitions
	if err := pc.EnsureTopics(ctx, k); err != nil {
		tb.Fatal(err)
	}
	return &harness{kafka: k, store: st, partitions: partitions, topics: simulator.SourceTopics(pc.Topics.Sources), pipeline: pc}
}

// publish runs the simulator and writes every chunk copies times in a row
// (each copy complete before the next), as a producer that retried a
// written batch does.
func (h *harness) publish(tb testing.TB, ctx context.Context, cfg simulator.Config, truthFile string, copies int) simulator.Stats {
	tb.Helper()
	sim, err := simulator.New(cfg, testSchedule(tb).Calendar())
	if err != nil {
		tb.Fatal(err)
	}
	var truth *os.File
	if truthFile != "" {
		if truth, err = os.Create(truthFile); err != nil {
			tb.Fatal(err)
		}
		defer truth.Close()
	}
	pub := kafkaio.NewPublisher(h.kafka)
	defer pub.Close()
	emit := func(msgs []simulator.Message) error {
		out := make([]kafka.Message, len(msgs))
		for i, m := range msgs {
			out[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
			if m.Partition >= 0 {
				out[i].Headers = []kafka.Header{kafkaio.ToPartition(m.Partition)}
			}
		}
		for range copies {
			if err := pub.Publish(ctx, out); err != nil {
				return err
			}
		}
		return nil
	}
	var stats simulator.Stats
	if truth != nil {
		stats, err = sim.Run(ctx, emit, truth)
	} else {
		stats, err = sim.Run(ctx, emit, nil)
	}
	if err != nil {
		tb.Fatalf("simulating: %v", err)
	}
	return stats
}

// consume runs the four ingest consumers and the joiner until every consumer
// group has committed everything, stops them, and returns the report.
func (h *harness) consume(tb testing.TB, ctx context.Context) report.Report {
	tb.Helper()
	log := h.log
	if log == nil {
		log = testLogger(tb)
	}
	p, err := pipeline.New(h.pipeline, pipeline.Deps{Kafka: h.kafka, Store: h.store, Schedule: testSchedule(tb), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(runCtx) }()

	waitCaughtUp(tb, runCtx, h.kafka, groupsOf(h.pipeline))
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := <-stopped; err != nil {
		tb.Fatalf("pipeline: %v", err)
	}
	sources := h.pipeline.Topics.Sources
	rep, err := report.Build(ctx, h.kafka, h.store, sources[:])
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// groupsOf maps each topic of the pipeline to the group that reads it.
func groupsOf(pc pipeline.Config) map[string]string {
	groups := map[string]string{}
	for _, c := range pc.Consumers() {
		groups[c.Topic] = c.Group
	}
	return groups
}

// waitCaughtUp polls the groups' lag until all of them have committed
// everything on two polls in a row.
func waitCaughtUp(tb testing.TB, ctx context.Context, k kafkaio.Config, groups map[string]string) {
	tb.Helper()
	quiet := 0
	for quiet < 2 {
		select {
		case <-ctx.Done():
			tb.Fatalf("waiting for the consumer groups to catch up: %v", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
		var behind int64
		for topic, group := range groups {
			lag, err := kafkaio.GroupLag(ctx, k, group, topic)
			if err != nil {
				tb.Logf("reading the lag of %s: %v", group, err)
				behind = -1
				break
			}
			for _, v := range lag {
				behind += v
			}
		}
		if behind == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}
