//go:build integration

package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"settlemon/deploy/clickhouse/clustertest"
)

const db = "clustertest"

// row is one version of a fact; id is its identity and sharding key.
type row struct {
	id      string
	version uint64
	amount  int64
}

var day = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

// TestCluster drives the script's cluster through clickhouse-go over the
// native protocol: replicated and Distributed tables created ON CLUSTER,
// synchronous distributed inserts sharded by the row's identity, every row
// read back through every node, replicas of a shard equal; one replica of each
// shard stopped (inserts go on, the replicas catch up after a restart);
// ZooKeeper stopped (inserts into replicated tables fail, reads go on) and
// restarted (inserts resume).
func TestCluster(t *testing.T) {
	began := time.Now()
	c := clustertest.Start(t)
	t.Logf("cluster %q up in %s: %v, zookeeper %s", c.Name, time.Since(began).Round(time.Millisecond), c.Nodes, c.ZooKeeperAddr)

	conns := map[string]driver.Conn{}
	for _, n := range c.Nodes {
		conns[n.Name] = open(t, n.Addr)
	}
	if v, err := conns["s1r1"].ServerVersion(); err == nil {
		t.Logf("server %s", v)
	}
	ctx := context.Background()
	ddl := conns["s1r1"]
	for _, q := range []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s", db, c.Name),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.facts_local ON CLUSTER %s (id String, version UInt64, amount Int64, day Date)
			ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%s/facts', '{replica}', version)
			PARTITION BY toYYYYMM(day) ORDER BY id`, db, c.Name, db),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.facts ON CLUSTER %s (id String, version UInt64, amount Int64, day Date)
			ENGINE = Distributed(%s, %s, facts_local, cityHash64(id))`, db, c.Name, c.Name, db),
		fmt.Sprintf(`CREATE VIEW IF NOT EXISTS %s.facts_latest ON CLUSTER %s AS
			SELECT id, argMax(amount, version) AS amount FROM %s.facts WHERE id NOT LIKE 'zk-%%' GROUP BY id`, db, c.Name, db),
		// A migration's ADD COLUMN: ON CLUSTER of the replicated cluster for the
		// replicated table, of the every-node cluster for the Distributed one
		// (the replicated cluster refuses it: code 371).
		fmt.Sprintf("ALTER TABLE %s.facts_local ON CLUSTER %s ADD COLUMN note String DEFAULT ''", db, c.Name),
		fmt.Sprintf("ALTER TABLE %s.facts ON CLUSTER %s_all ADD COLUMN note String DEFAULT ''", db, c.Name),
	} {
		took := time.Now()
		if err := ddl.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		t.Logf("ON CLUSTER DDL in %s", time.Since(took).Round(time.Millisecond))
	}

	want := map[string]row{}
	put := func(rows []row) {
		for _, r := range rows {
			want[r.id] = r
		}
	}

	// 1000 rows through a Distributed table: a synchronous insert returns
	// once every row is on a replica of its shard, so the local tables hold
	// them all at once; every node reads them once the replicas agree.
	first := rowsRange(0, 1000, 1)
	mustInsert(t, conns["s1r1"], db+".facts", first)
	put(first)
	checkAcknowledged(t, c, conns, first)
	waitReplicasEqual(t, c, conns, len(want))
	for _, n := range c.Nodes {
		checkRows(t, conns[n.Name], n.Name, want)
	}
	// A second version of 200 of them through a second replica, which writes
	// its own shard locally: every node reads them once the replicas agree,
	// and every version lands on its row's shard.
	second := rowsRange(0, 200, 2)
	mustInsert(t, conns["s2r2"], db+".facts", second)
	put(second)
	waitReplicasEqual(t, c, conns, len(want))
	for _, n := range c.Nodes {
		checkRows(t, conns[n.Name], n.Name, want)
	}

	// One replica of each shard down: synchronous inserts go to the others.
	down := []string{"s1r1", "s2r1"}
	stopping := time.Now()
	c.Stop(t, down...)
	t.Logf("replicas %v stopped in %s", down, time.Since(stopping).Round(time.Millisecond))
	more := rowsRange(1000, 1500, 1)
	mustInsert(t, conns["s1r2"], db+".facts", more)
	put(more)
	for _, name := range []string{"s1r2", "s2r2"} {
		checkRows(t, conns[name], name, want)
	}
	restarted := time.Now()
	c.Start(t, down...)
	waitReplicasEqual(t, c, conns, len(want))
	t.Logf("stopped replicas restarted and caught up in %s", time.Since(restarted).Round(time.Millisecond))
	for _, n := range c.Nodes {
		checkRows(t, conns[n.Name], n.Name, want)
	}

	// ZooKeeper down: replicated tables refuse inserts, reads go on.
	c.Stop(t, clustertest.ZooKeeper)
	probe := []row{{id: "zk-down", version: 1, amount: 1}}
	var insertErr error
	waitFor(t, 30*time.Second, "an insert into a replicated table to fail without ZooKeeper", func() error {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := insert(actx, conns["s1r1"], db+".facts_local", probe); err != nil {
			insertErr = err
			return nil
		}
		return errors.New("insert succeeded")
	})
	t.Logf("insert without ZooKeeper: %v", insertErr)
	if !clearZooKeeperError(insertErr) {
		t.Errorf("insert without ZooKeeper failed with %v, want a read-only, ZooKeeper or timeout error", insertErr)
	}
	checkRows(t, conns["s2r2"], "s2r2 (no ZooKeeper)", want)

	zkBack := time.Now()
	c.Start(t, clustertest.ZooKeeper)
	resumed := rowsRange(1500, 1600, 1)
	waitFor(t, 90*time.Second, "inserts to resume after ZooKeeper's restart", func() error {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return insert(actx, conns["s1r1"], db+".facts", resumed)
	})
	put(resumed)
	t.Logf("inserts resumed %s after ZooKeeper's restart", time.Since(zkBack).Round(time.Millisecond))
	waitReplicasEqual(t, c, conns, -1)
	for _, n := range c.Nodes {
		checkRows(t, conns[n.Name], n.Name, want)
		checkView(t, conns[n.Name], n.Name, want)
	}
	t.Logf("cluster test took %s", time.Since(began).Round(time.Millisecond))
}

func open(tb testing.TB, addr string) driver.Conn {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{addr},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
	})
	if err != nil {
		tb.Fatalf("opening %s: %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func rowsRange(from, to int, version uint64) []row {
	rows := make([]row, 0, to-from)
	for i := from; i < to; i++ {
		rows = append(rows, row{id: fmt.Sprintf("t-%05d", i), version: version, amount: int64(i) * int64(version)})
	}
	return rows
}

// insert sends rows in one batch; into a Distributed table synchronously
// (insert_distributed_sync, the 18.16 name of distributed_foreground_insert).
func insert(ctx context.Context, conn driver.Conn, table string, rows []row) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (id, version, amount, day)")
	if err != nil {
		return fmt.Errorf("preparing the insert into %s: %w", table, err)
	}
	for _, r := range rows {
		if err := batch.Append(r.id, r.version, r.amount, day); err != nil {
			return fmt.Errorf("appending to %s: %w", table, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("inserting %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

func mustInsert(tb testing.TB, conn driver.Conn, table string, rows []row) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := insert(ctx, conn, table, rows); err != nil {
		tb.Fatal(err)
	}
}

// checkRows reads the latest version of every row through the node's
// Distributed table and compares it with want. FINAL collapses versions per
// shard only, so a version on the wrong shard would show as an extra row.
func checkRows(tb testing.TB, conn driver.Conn, node string, want map[string]row) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT id, version, amount FROM "+db+".facts FINAL WHERE id NOT LIKE 'zk-%'")
	if err != nil {
		tb.Fatalf("%s: reading the rows: %v", node, err)
	}
	defer rows.Close()
	got := map[string]row{}
	dup := 0
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.version, &r.amount); err != nil {
			tb.Fatalf("%s: %v", node, err)
		}
		if _, ok := got[r.id]; ok {
			dup++
		}
		got[r.id] = r
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("%s: %v", node, err)
	}
	var missing, wrong []string
	for id, w := range want {
		if g, ok := got[id]; !ok {
			missing = append(missing, id)
		} else if g != w {
			wrong = append(wrong, fmt.Sprintf("%s: got %+v, want %+v", id, g, w))
		}
	}
	extra := len(got) - (len(want) - len(missing))
	if len(missing) > 0 || len(wrong) > 0 || extra > 0 || dup > 0 {
		sort.Strings(missing)
		tb.Errorf("%s: %d rows, want %d: %d missing (first %v), %d wrong (first %v), %d extra, %d ids twice",
			node, len(got), len(want), len(missing), first(missing), len(wrong), first(wrong), extra, dup)
	}
}

// checkView compares the argMax view over the Distributed table with want.
// checkAcknowledged: right after a synchronous distributed insert, every
// row is in some node's local table (on a replica of its shard).
func checkAcknowledged(tb testing.TB, c *clustertest.Cluster, conns map[string]driver.Conn, rows []row) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held := map[string]bool{}
	for _, n := range c.Nodes {
		rs, err := conns[n.Name].Query(ctx, "SELECT id FROM "+db+".facts_local")
		if err != nil {
			tb.Fatalf("%s: reading the local table: %v", n.Name, err)
		}
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				tb.Fatalf("%s: %v", n.Name, err)
			}
			held[id] = true
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			tb.Fatalf("%s: %v", n.Name, err)
		}
	}
	var missing []string
	for _, r := range rows {
		if !held[r.id] {
			missing = append(missing, r.id)
		}
	}
	if len(missing) > 0 {
		tb.Fatalf("%d acknowledged rows are on no replica right after the insert, e.g. %v", len(missing), first(missing))
	}
}

func checkView(tb testing.TB, conn driver.Conn, node string, want map[string]row) {
	tb.Helper()
	var wantAmount int64
	for _, r := range want {
		wantAmount += r.amount
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	var amount int64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(amount) FROM "+db+".facts_latest").Scan(&n, &amount); err != nil {
		tb.Fatalf("%s: reading the view: %v", node, err)
	}
	if int(n) != len(want) || amount != wantAmount {
		tb.Errorf("%s: the view has %d rows, amount %d; want %d, %d", node, n, amount, len(want), wantAmount)
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// waitReplicasEqual polls until, on every node, the replicated table is
// writable with an empty replication queue, both replicas of each shard hold
// the same rows, each shard holds some, and (when total >= 0) the shards hold
// total distinct rows together.
func waitReplicasEqual(tb testing.TB, c *clustertest.Cluster, conns map[string]driver.Conn, total int) {
	tb.Helper()
	waitFor(tb, 90*time.Second, "the replicas of each shard to hold the same rows", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sum := 0
		for shard, replicas := range c.Shards() {
			var ref string
			for i, n := range replicas {
				var readonly uint8
				var queueSize uint32
				row := conns[n.Name].QueryRow(ctx, "SELECT is_readonly, queue_size FROM system.replicas WHERE database = ? AND table = 'facts_local'", db)
				if err := row.Scan(&readonly, &queueSize); err != nil {
					return fmt.Errorf("%s: system.replicas: %w", n.Name, err)
				}
				if readonly != 0 || queueSize != 0 {
					return fmt.Errorf("%s: read-only %d, replication queue %d", n.Name, readonly, queueSize)
				}
				var cnt uint64
				var amount int64
				var maxVersion uint64
				if err := conns[n.Name].QueryRow(ctx, "SELECT count(), sum(amount), max(version) FROM "+db+".facts_local FINAL WHERE id NOT LIKE 'zk-%'").
					Scan(&cnt, &amount, &maxVersion); err != nil {
					return fmt.Errorf("%s: counting: %w", n.Name, err)
				}
				state := fmt.Sprintf("%d rows, amount %d, max version %d", cnt, amount, maxVersion)
				if cnt == 0 {
					return fmt.Errorf("%s: shard %d holds no rows", n.Name, shard)
				}
				if i == 0 {
					ref = state
					sum += int(cnt)
				} else if state != ref {
					return fmt.Errorf("shard %d: %s has %s, %s has %s", shard, replicas[0].Name, ref, n.Name, state)
				}
			}
		}
		if total >= 0 && sum != total {
			return fmt.Errorf("the shards hold %d rows together, want %d", sum, total)
		}
		return nil
	})
}

// waitFor polls fn every 200 ms until it returns nil, failing the test with
// fn's last error after timeout.
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
		time.Sleep(200 * time.Millisecond)
	}
}

// clearZooKeeperError: the insert failed because the table is read-only or
// ZooKeeper is unreachable, or it blocked until the deadline.
func clearZooKeeperError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && ex.Code == 242 {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"readonly", "read-only", "zookeeper", "coordination", "session expired", "connection loss"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
