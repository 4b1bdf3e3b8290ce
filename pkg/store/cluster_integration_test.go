//go:build integration

package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"settlemon/deploy/clickhouse/clustertest"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestClusterMatchesSingleNode migrates a database on the project's
// ClickHouse cluster (deploy/clickhouse/cluster.sh, 2 shards × 2 replicas)
// twice, the second time through another node (a no-op), writes the same
// facts, archives, health reports, alerts and checkpoints into it, batch by
// batch through different nodes, with later versions and retried batches
// through other nodes than the first, and into a single-node database; once
// the replicas agree, the image (analyst views, statistics, duplicates) and
// the answers of the console, alerter, report and explain queries read
// through every node equal the single node's.
func TestClusterMatchesSingleNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	single := storetest.New(t) // before the cluster: skips without the shared server
	c := clustertest.Start(t)
	db := storetest.UniqueName(t)

	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nodes := make([]*store.Store, len(c.Nodes))
	for i, n := range c.Nodes {
		cfg := store.DefaultConfig()
		cfg.Addr, cfg.Database, cfg.Cluster = n.Addr, db, c.Name
		cfg.MaxRetryElapsed = 2 * time.Minute
		s, err := store.New(ctx, cfg, logger)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		nodes[i] = s
	}
	conns := map[string]driver.Conn{}
	for _, n := range c.Nodes {
		conns[n.Name] = openNode(t, n.Addr)
	}

	applied, err := nodes[0].Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := single.Migrate(ctx) // applied by storetest.New: nothing left
	if err != nil || len(want) != 0 {
		t.Fatalf("single node: second Migrate applied %v, %v", want, err)
	}
	if len(applied) < 7 {
		t.Fatalf("cluster: Migrate applied %v, want every migration", applied)
	}
	waitReplicated(t, c, conns, db)
	again, err := nodes[3].Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("cluster: Migrate through %s again applied %v, %v; want nothing", c.Nodes[3].Name, again, err)
	}
	checkClusterTables(t, c, conns, db)
	// Every statement again, through a third node, as after an interruption.
	if err := nodes[2].ReapplyMigrations(ctx); err != nil {
		t.Fatalf("cluster: applying the migrations' statements again: %v", err)
	}
	checkClusterTables(t, c, conns, db)

	// The same writes into both, the cluster's through node (i + shift) mod 4.
	write := func(i int, what string, fn func(s *store.Store) error) {
		t.Helper()
		if err := fn(single); err != nil {
			t.Fatalf("single node: %s: %v", what, err)
		}
		if err := fn(nodes[i%len(nodes)]); err != nil {
			t.Fatalf("cluster via %s: %s: %v", c.Nodes[i%len(nodes)].Name, what, err)
		}
	}
	d := clusterData()
	for v, batch := range d.lags {
		for part := 0; part < 2; part++ {
			rows := batch[part*len(batch)/2 : (part+1)*len(batch)/2]
			write(v+part, "lags", func(s *store.Store) error { return s.InsertLags(ctx, rows) })
		}
	}
	for v, batch := range d.anomalies {
		write(v+1, "anomalies", func(s *store.Store) error { return s.InsertAnomalies(ctx, batch) })
	}
	for v, batch := range d.batches {
		write(v+2, "batches", func(s *store.Store) error { return s.InsertBatches(ctx, batch) })
	}
	for retry := 0; retry < 2; retry++ { // a retried batch, through another node
		for src, rows := range d.raw {
			write(src+retry, "raw events", func(s *store.Store) error { return s.InsertRaw(ctx, event.Source(src), rows) })
		}
		write(retry, "control events", func(s *store.Store) error { return s.InsertControl(ctx, d.control) })
		write(retry+3, "dead letters", func(s *store.Store) error { return s.InsertDeadLetters(ctx, d.deadLetters) })
	}
	for i, rows := range d.health {
		write(i, "source health", func(s *store.Store) error { return s.InsertSourceHealth(ctx, rows) })
	}
	for i, rows := range d.alerts {
		write(i+1, "alerts", func(s *store.Store) error { return s.InsertAlerts(ctx, rows) })
	}
	// A partition's checkpoints are saved through one node, as its joiner
	// saves them through its one Store.
	for _, off := range []int64{10, 20, 30} {
		data := []byte(fmt.Sprintf("state as of %d", off))
		write(1, "checkpoint", func(s *store.Store) error { return s.SaveCheckpoint(ctx, "g", "settle.events", 3, off, data) })
	}
	waitReplicated(t, c, conns, db)

	ref, err := single.Image(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ref.FactCount() == 0 || ref.DuplicateCount() != 0 {
		t.Fatalf("single node: %d facts, %d duplicates", ref.FactCount(), ref.DuplicateCount())
	}
	refAnswers := answers(t, ctx, single)
	for i, s := range nodes {
		name := c.Nodes[i].Name
		im, err := s.Image(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := store.Compare(ref, im); diff.Lost+diff.Extra+diff.Changed > 0 {
			t.Errorf("%s: the cluster's image differs from the single node's: %d lost, %d extra, %d changed:\n%s",
				name, diff.Lost, diff.Extra, diff.Changed, strings.Join(diff.Details, "\n"))
		}
		if !reflect.DeepEqual(im.Duplicates, ref.Duplicates) {
			t.Errorf("%s: duplicates %v, single node %v", name, im.Duplicates, ref.Duplicates)
		}
		got := answers(t, ctx, s)
		for _, q := range slices.Sorted(maps.Keys(refAnswers)) {
			if got[q] != refAnswers[q] {
				t.Errorf("%s: %s:\n  cluster:     %s\n  single node: %s", name, q, got[q], refAnswers[q])
			}
		}
	}

	// ZooKeeper down: the replicated tables are read-only and ON CLUSTER DDL
	// fails; the store classifies both as retryable, and an insert retried
	// across ZooKeeper's restart succeeds.
	c.Stop(t, clustertest.ZooKeeper)
	shortCfg := store.DefaultConfig()
	shortCfg.Addr, shortCfg.Database, shortCfg.Cluster = c.Nodes[1].Addr, db, c.Name
	shortCfg.MaxRetryElapsed = 3 * time.Second
	short, err := store.New(ctx, shortCfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	late := []fact.Lag{{TraceNo: "Z0001", MerchantID: "M1", Mode: event.T1, AuthorizedAmount: 5, AuthorizedAt: clusterT0,
		Status: fact.StatusPending, Version: fact.Version(clusterT0, 0)}}
	waitFor(t, time.Minute, "inserts to fail without ZooKeeper", func() error {
		err := short.InsertLags(ctx, late)
		switch {
		case err == nil:
			return errors.New("an insert succeeded without ZooKeeper")
		case !store.Retryable(err):
			t.Fatalf("insert without ZooKeeper: %v, not retryable", err)
		}
		var exc *clickhouse.Exception
		if errors.As(err, &exc) {
			t.Logf("insert without ZooKeeper: code %d: %v", exc.Code, err)
		} else {
			t.Logf("insert without ZooKeeper: %v", err)
		}
		return nil
	})
	if _, err := short.Migrate(ctx); err == nil || !store.Retryable(err) {
		t.Errorf("migrate without ZooKeeper: %v; want a retryable error", err)
	} else {
		t.Logf("migrate without ZooKeeper: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- nodes[1].InsertLags(ctx, late) }() // retried until ZooKeeper is back
	c.Start(t, clustertest.ZooKeeper)
	if err := <-done; err != nil {
		t.Fatalf("insert retried across ZooKeeper's restart: %v", err)
	}
	waitReplicated(t, c, conns, db)
	for i, s := range nodes {
		lag, err := s.TraceLag(ctx, "Z0001")
		if err != nil || lag == nil || lag.AuthorizedAmount != 5 {
			t.Errorf("%s: the insert retried across ZooKeeper's restart reads %+v, %v", c.Nodes[i].Name, lag, err)
		}
	}

	// The checkpoints took two slots: the oldest (offset 10) was replaced
	// by the newest (30), without a mutation, on every replica of its shard.
	waitFor(t, 2*time.Minute, "the checkpoint slots to reach every replica", func() error {
		var kept []int64
		q := "SELECT offset FROM " + db + ".join_checkpoint_slots FINAL WHERE consumer_group = 'g' ORDER BY offset"
		rows, err := conns[c.Nodes[0].Name].Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var off int64
			if err := rows.Scan(&off); err != nil {
				return err
			}
			kept = append(kept, off)
		}
		if !slices.Equal(kept, []int64{20, 30}) {
			return fmt.Errorf("checkpoint offsets kept %v, want [20 30]", kept)
		}
		var total uint64
		for _, n := range c.Nodes {
			var local uint64
			if err := conns[n.Name].QueryRow(ctx, "SELECT count() FROM "+db+".join_checkpoint_slots_local FINAL").Scan(&local); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			total += local
		}
		if total != 4 { // two slots, each on both replicas of its shard
			return fmt.Errorf("%d checkpoint rows over the replicas, want 4", total)
		}
		return nil
	})

	// The database goes from every node.
	if err := nodes[3].DropDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		var left uint64
		if err := conns[n.Name].QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&left); err != nil || left != 0 {
			t.Errorf("%s: database %s still there after DropDatabase (%d, %v)", n.Name, db, left, err)
		}
	}
}

// testLogWriter sends the stores' warnings to the test log.
type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func openNode(tb testing.TB, addr string) driver.Conn {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr},
		DialTimeout: 5 * time.Second, ReadTimeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// checkClusterTables: every node has the Distributed tables and their
// replicated local tables, and reads the applied migrations.
func checkClusterTables(tb testing.TB, c *clustertest.Cluster, conns map[string]driver.Conn, db string) {
	tb.Helper()
	ctx := testCtx(tb)
	for _, n := range c.Nodes {
		var distributed, replicated, migrations uint64
		if err := conns[n.Name].QueryRow(ctx, `SELECT countIf(engine = 'Distributed'), countIf(engine LIKE 'Replicated%')
FROM system.tables WHERE database = ?`, db).Scan(&distributed, &replicated); err != nil {
			tb.Fatalf("%s: %v", n.Name, err)
		}
		if err := conns[n.Name].QueryRow(ctx, "SELECT uniqExact(version) FROM "+db+".schema_migrations").Scan(&migrations); err != nil {
			tb.Fatalf("%s: %v", n.Name, err)
		}
		// 12 tables of the migrations and schema_migrations.
		if distributed != 13 || replicated != 13 || migrations < 7 {
			tb.Errorf("%s: %d Distributed tables, %d replicated ones, %d migrations read; want 13, 13, every one",
				n.Name, distributed, replicated, migrations)
		}
	}
}

// waitReplicated polls until, on every node, the database's replicated
// tables are writable with empty replication queues and both replicas of
// each shard hold the same rows of every table.
func waitReplicated(tb testing.TB, c *clustertest.Cluster, conns map[string]driver.Conn, db string) {
	tb.Helper()
	waitFor(tb, 2*time.Minute, "the replicas of each shard to agree", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for shard, replicas := range c.Shards() {
			var ref string
			for i, n := range replicas {
				var busy uint64
				if err := conns[n.Name].QueryRow(ctx, `SELECT count() FROM system.replicas
WHERE database = ? AND (is_readonly OR queue_size > 0 OR inserts_in_queue > 0)`, db).Scan(&busy); err != nil {
					return fmt.Errorf("%s: %w", n.Name, err)
				}
				if busy > 0 {
					return fmt.Errorf("%s: %d tables read-only or replicating", n.Name, busy)
				}
				state, err := localCounts(ctx, conns[n.Name], db)
				if err != nil {
					return fmt.Errorf("%s: %w", n.Name, err)
				}
				if i == 0 {
					ref = state
				} else if state != ref {
					return fmt.Errorf("shard %d: %s holds %s, %s holds %s", shard, replicas[0].Name, ref, n.Name, state)
				}
			}
		}
		return nil
	})
}

// localCounts lists the row count of every local table of db on one node.
func localCounts(ctx context.Context, conn driver.Conn, db string) (string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE 'Replicated%' ORDER BY name", db)
	if err != nil {
		return "", err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	var out []string
	for _, table := range tables {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table).Scan(&n); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " "), nil
}

func waitFor(tb testing.TB, timeout time.Duration, what string, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s: %v", timeout, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// answers runs the console, alerter, report and explain queries and renders
// each answer as text (source health rows without the writer sequence, which
// is each store's own).
func answers(tb testing.TB, ctx context.Context, s *store.Store) map[string]string {
	tb.Helper()
	out := map[string]string{}
	put := func(name string, v any, err error) {
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out[name] = fmt.Sprintf("%+v", v)
	}
	t0 := clusterT0
	first, last, err := s.LagSpan(ctx)
	put("LagSpan", [2]int64{first, last}, err)
	v1, err := s.LagByHour(ctx, time.UnixMilli(t0-3600_000), time.UnixMilli(t0+48*3600_000))
	put("LagByHour", v1, err)
	v2, err := s.OpenAnomalyTotals(ctx)
	put("OpenAnomalyTotals", v2, err)
	for _, q := range []store.AnomalyQuery{
		{},
		{Status: fact.Open, Limit: 7, Offset: 3},
		{Kind: fact.PayoutOverdue, MerchantID: "M2"},
		{TraceNo: "C0007"},
		{From: time.UnixMilli(t0), To: time.UnixMilli(t0 + 3600_000), Status: fact.Resolved},
	} {
		page, err := s.QueryAnomalies(ctx, q)
		put(fmt.Sprintf("QueryAnomalies(%+v)", q), page, err)
	}
	for _, q := range []store.BatchQuery{{}, {Source: "clearing"}, {Status: fact.BatchIsStalled}} {
		b, err := s.QueryBatches(ctx, q)
		put(fmt.Sprintf("QueryBatches(%+v)", q), b, err)
	}
	health, err := s.LatestSourceHealth(ctx)
	for i := range health {
		health[i].Seq = 0
	}
	put("LatestSourceHealth", health, err)
	alerts, err := s.LatestAlerts(ctx)
	put("LatestAlerts", alerts, err)
	versions, err := s.AnomalyVersions(ctx, fact.PayoutOverdue, fact.BatchStalled)
	slices.SortFunc(versions, func(a, b fact.Anomaly) int {
		return strings.Compare(fmt.Sprintf("%s/%020d", a.ID, a.Version), fmt.Sprintf("%s/%020d", b.ID, b.Version))
	})
	put("AnomalyVersions", versions, err)
	n, amount, err := s.OpenAnomalyTotal(ctx, fact.PayoutOverdue)
	put("OpenAnomalyTotal", [2]int64{int64(n), amount}, err)
	dl, err := s.DeadLettersSince(ctx, time.UnixMilli(t0))
	put("DeadLettersSince", dl, err)
	st, err := s.JoinerSourceStatus(ctx)
	put("JoinerSourceStatus", st, err)
	sum, err := s.SourceSummaries(ctx)
	put("SourceSummaries", sum, err)
	tc, err := s.TopicCounts(ctx)
	put("TopicCounts", tc, err)
	dr, err := s.DeadLetterReasons(ctx)
	put("DeadLetterReasons", dr, err)
	dc, err := s.DeclinedCount(ctx)
	put("DeclinedCount", dc, err)
	lm, err := s.LagByMode(ctx)
	put("LagByMode", lm, err)
	byKind, all, err := s.AnomalyCounts(ctx)
	put("AnomalyCounts", []any{byKind, all}, err)
	lc, err := s.LagRowCount(ctx)
	put("LagRowCount", lc, err)
	la, err := s.LatestAnomalies(ctx)
	put("LatestAnomalies", la, err)
	ex, err := s.ExampleTraces(ctx)
	put("ExampleTraces", ex, err)
	bs, err := s.BatchSummaries(ctx)
	put("BatchSummaries", bs, err)
	ub, ubn, err := s.UnknownBankCodes(ctx, 5)
	put("UnknownBankCodes", []any{ub, ubn}, err)
	pf, err := s.PayoutFeedProgress(ctx)
	put("PayoutFeedProgress", pf, err)
	for _, trace := range []string{"C0000", "C0007", "C0031", "missing"} {
		lag, err := s.TraceLag(ctx, trace)
		put("TraceLag "+trace, lag, err)
		// TraceEvents reads the archives without FINAL: on one server a
		// retried batch shows twice until a merge collapses it, while a
		// replicated table drops an identical retried block at once (insert
		// deduplication). The events, not their copies, must agree.
		evs, err := s.TraceEvents(ctx, trace)
		put("TraceEvents "+trace, slices.CompactFunc(evs, func(a, b store.ArchivedEvent) bool { return reflect.DeepEqual(a, b) }), err)
		an, err := s.TraceAnomalies(ctx, trace)
		put("TraceAnomalies "+trace, an, err)
	}
	for _, m := range []string{"M1", "M3", "missing"} {
		p, err := s.LatestProfile(ctx, m)
		put("LatestProfile "+m, p, err)
	}
	at, err := s.AnomalyTraces(ctx, fact.PayoutOverdue, "C00")
	slices.Sort(at)
	put("AnomalyTraces", at, err)
	off, data, ok, err := s.LoadCheckpoint(ctx, "g", "settle.events", 3, 1<<40)
	put("LoadCheckpoint", []any{off, string(data), ok}, err)
	off, data, ok, err = s.LoadCheckpoint(ctx, "g", "settle.events", 3, 25)
	put("LoadCheckpoint at or below 25", []any{off, string(data), ok}, err)
	return out
}

var clusterT0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC).UnixMilli()

// clusterTestData is what TestClusterMatchesSingleNode writes: each fact in
// up to three versions, one batch per version.
type clusterTestData struct {
	lags        [][]fact.Lag
	anomalies   [][]fact.Anomaly
	batches     [][]fact.Batch
	raw         [event.NumSources][]store.RawRow
	control     []store.ControlRow
	deadLetters []store.DeadLetter
	health      [][]store.SourceHealth
	alerts      [][]store.AlertRecord
}

func clusterData() clusterTestData {
	t0 := clusterT0
	var d clusterTestData
	modes := []event.Mode{event.T1, event.D1, event.D0, event.T0}
	const traces = 60
	for v := 0; v < 3; v++ {
		var lags []fact.Lag
		var anomalies []fact.Anomaly
		for i := 0; i < traces; i++ {
			if v > 0 && i%(v+1) != 0 { // fewer traces move on to each later version
				continue
			}
			auth := t0 + int64(i)*97_000
			l := fact.Lag{TraceNo: fmt.Sprintf("C%04d", i), MerchantID: fmt.Sprintf("M%d", i%4), TerminalID: "P1",
				MCC: "5812", Mode: modes[i%len(modes)], AuthorizedAmount: int64(1000 + i*37), AuthorizedAt: auth,
				ExpectedPayoutAt: auth + 86_400_000, Status: fact.StatusPending, CalendarVersion: "cn-2026.1",
				Version: fact.Version(auth, 0)}
			if v >= 1 {
				l.ClearedMCC, l.ClearedAmount, l.Fee, l.ClearedAt = "5812", l.AuthorizedAmount, 6, auth+3_600_000
				l.AuthToClearS, l.Version = 3600, fact.Version(l.ClearedAt, 1)
			}
			if v == 2 {
				l.Status, l.PaidAt, l.NetPaid = fact.StatusPaid, auth+int64(80_000+i*500)*1000, l.ClearedAmount-6
				l.ClearToPayS, l.AuthToPayS = (l.PaidAt-l.ClearedAt)/1000, (l.PaidAt-auth)/1000
				l.Version = fact.Version(l.PaidAt, 3)
			}
			lags = append(lags, l)
			if i%3 == 0 {
				kind := []fact.Kind{fact.PayoutOverdue, fact.AmountMismatch, fact.PayoutFailed}[i%9/3]
				tx, _ := fact.Describe(kind)
				a := fact.Anomaly{ID: fmt.Sprintf("%s/C%04d", kind, i), Kind: kind, Severity: tx.Severity, Status: fact.Open,
					TraceNo: l.TraceNo, MerchantID: l.MerchantID, Amount: l.AuthorizedAmount, DetectedAt: auth + 1000,
					Cause: tx.Cause, Action: tx.Action, Details: "details", CalendarVersion: "cn-2026.1",
					Version: fact.Version(auth+1000, uint8(v))}
				if kind == fact.PayoutFailed {
					a.Reason, a.BankCode, a.BankCodesVersion, a.BankCodeUnknown = "other", fmt.Sprintf("X%02d", i), "2026.1", true
				}
				if v == 2 {
					a.Status, a.ResolvedAt = fact.Resolved, l.PaidAt
				}
				anomalies = append(anomalies, a)
			}
		}
		if v == 0 {
			tx, _ := fact.Describe(fact.BatchStalled)
			anomalies = append(anomalies, fact.Anomaly{ID: "batch_stalled/B2", Kind: fact.BatchStalled, Severity: tx.Severity,
				Status: fact.Open, BatchID: "B2", DetectedAt: t0 + 7_200_000, Cause: tx.Cause, Action: tx.Action,
				Version: fact.Version(t0+7_200_000, 0)})
		}
		d.lags = append(d.lags, lags)
		d.anomalies = append(d.anomalies, anomalies)

		var batches []fact.Batch
		for b := 0; b < 6; b++ {
			source := []string{"clearing", "payouts"}[b%2]
			status := []fact.BatchStatus{fact.BatchIsOpen, fact.BatchIsStalled, fact.BatchIsClosed}[(b+v)%3]
			asOf := t0 + int64(v)*3_600_000
			batches = append(batches, fact.Batch{BatchID: fmt.Sprintf("B%d", b), Source: source, Status: status,
				OpenedAt: t0, FirstProgress: t0 + 1000, LastProgress: asOf, DeclaredCount: 100, DeclaredTotal: 1_000_000,
				SeenCount: int64(30 * (v + 1)), SeenTotal: int64(300_000 * (v + 1)), Stalls: int64(v), AsOf: asOf,
				Version: fact.Version(asOf, uint8(b))})
		}
		d.batches = append(d.batches, batches)
	}

	topics := [event.NumSources]string{event.Auth: "pos.authorizations", event.Clearing: "acq.clearing",
		event.Payouts: "acq.payouts", event.Merchants: "acq.merchants"}
	for i := 0; i < traces; i++ {
		trace := fmt.Sprintf("C%04d", i)
		at := t0 + int64(i)*97_000
		code := "00"
		if i%11 == 0 {
			code = "51"
		}
		d.raw[event.Auth] = append(d.raw[event.Auth], store.RawRow{Topic: topics[event.Auth], Partition: int32(i % 3), Offset: int64(i),
			KafkaTime: at, Event: event.Event{ID: "a-" + trace, Type: event.Authorization, OccurredAt: at, TraceNo: trace,
				MerchantID: fmt.Sprintf("M%d", i%4), ResponseCode: code, Currency: "CNY", Amount: int64(1000 + i*37), MCC: "5812"},
			Payload: []byte(`{}`)})
		d.raw[event.Clearing] = append(d.raw[event.Clearing], store.RawRow{Topic: topics[event.Clearing], Partition: int32(i % 2), Offset: int64(i),
			KafkaTime: at + 3_600_000, Event: event.Event{ID: "c-" + trace, Type: event.Cleared, OccurredAt: at + 3_600_000, TraceNo: trace,
				BatchID: "B0", Amount: int64(1000 + i*37), Fee: 6, MCC: "5812"}, Payload: []byte(`{}`)})
		d.raw[event.Payouts] = append(d.raw[event.Payouts], store.RawRow{Topic: topics[event.Payouts], Partition: 0, Offset: int64(i),
			KafkaTime: at + 80_000_000, Event: event.Event{ID: "p-" + trace, Type: event.PayoutPaid, OccurredAt: at + 80_000_000,
				TraceNo: trace, BatchID: "B1", Amount: int64(994 + i*37)}, Payload: []byte(`{}`)})
	}
	for m := 0; m < 4; m++ {
		for v := 0; v < 2; v++ {
			at := t0 + int64(v)*60_000
			d.raw[event.Merchants] = append(d.raw[event.Merchants], store.RawRow{Topic: topics[event.Merchants], Partition: 0,
				Offset: int64(m*2 + v), KafkaTime: at, Event: event.Event{ID: fmt.Sprintf("m-%d-%d", m, v), Type: event.Merchant,
					OccurredAt: at, MerchantID: fmt.Sprintf("M%d", m), MerchantName: fmt.Sprintf("shop %d v%d", m, v),
					RegisteredMCC: "5812", Mode: modes[(m+v)%len(modes)], FeeRatePPM: 6000, AccountRef: "acct"},
				Payload: []byte(`{}`)})
		}
	}
	for i := 0; i < 10; i++ {
		d.control = append(d.control, store.ControlRow{Topic: topics[event.Payouts], Partition: 1, Offset: int64(i),
			KafkaTime: t0 + int64(i)*90_000_000, Type: "heartbeat", OccurredAt: t0 + int64(i)*90_000_000, Producer: "bank"})
	}
	for i := 0; i < 7; i++ {
		d.deadLetters = append(d.deadLetters, store.DeadLetter{Topic: topics[event.Auth], Partition: 2, Offset: int64(1000 + i),
			KafkaTime: t0 + int64(i)*1000, Key: []byte("k"), Reason: []string{"bad_amount", "bad_json"}[i%2], Detail: "d",
			Payload: []byte(`{}`)})
	}
	for r := 0; r < 3; r++ {
		var rows []store.SourceHealth
		for _, src := range []string{"auth", "clearing", "payouts", "merchants"} {
			at := t0 + int64(r)*60_000
			status := "ok"
			if src == "payouts" && r == 2 {
				status = "lagging"
			}
			rows = append(rows,
				store.SourceHealth{Source: src, Reporter: "joiner", Instance: "j1", ObservedAt: at, Watermark: at - 5000,
					WatermarkLagS: 5 + int64(r), Withheld: uint64(r), Status: status, ThresholdS: 900},
				store.SourceHealth{Source: src, Reporter: "ingest", Instance: "i-" + src, ObservedAt: at, ConsumerLag: int64(10 * r),
					IdleS: int64(r), Status: "ok", ThresholdS: 900})
		}
		d.health = append(d.health, rows)
	}
	for v := 0; v < 2; v++ {
		var rows []store.AlertRecord
		for a := 0; a < 3; a++ {
			rec := store.AlertRecord{Fingerprint: fmt.Sprintf("fp%d", a), AlertName: "PayoutOverdue",
				Labels: map[string]string{"kind": "payout_overdue", "n": fmt.Sprint(a)}, Annotations: map[string]string{"summary": "s"},
				State: "firing", StartedAt: t0 + int64(a)*1000, LastSentAt: t0 + int64(v)*60_000, Notifications: uint64(v + 1),
				Version: uint64(v + 1)}
			if v == 1 && a == 0 {
				rec.State, rec.EndedAt = "resolved", t0+120_000
			}
			rows = append(rows, rec)
		}
		d.alerts = append(d.alerts, rows)
	}
	return d
}
