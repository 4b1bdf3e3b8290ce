package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// A cluster (Config.Cluster) changes the migrations, rendered from the same
// files (renderCluster), and a few statements of the store:
//
//   - CREATE TABLE x … ENGINE = XMergeTree(args) becomes the replicated table
//     x_local ON CLUSTER c, ENGINE = ReplicatedXMergeTree(
//     '/clickhouse/tables/{shard}/<db>/x', '{replica}', args), and in front of
//     it the table x ON CLUSTER c, ENGINE = Distributed(c, db, x_local,
//     cityHash64(<x's ORDER BY columns>)): the sorting key is a row's
//     identity, so every version and retry of a row lands on one shard, where
//     ReplacingMergeTree and FINAL collapse it;
//   - CREATE VIEW v and DROP TABLE v are run ON CLUSTER c, their tables
//     qualified with the database (a host running ON CLUSTER DDL has no
//     current database: an unqualified name is looked up in "default");
//   - ALTER TABLE x … COLUMN … is run on x_local ON CLUSTER c and on the
//     Distributed x ON CLUSTER <c>_all (Config.DDLCluster): an ALTER of a
//     table that is not replicated, ON CLUSTER of a cluster whose shards are
//     (internal_replication), fails with code 371; any other ALTER only on
//     x_local ON CLUSTER c;
//   - the database is created and dropped ON CLUSTER c, schema_migrations is
//     rendered like any table (replicated, read through its Distributed
//     table from any node);
//   - inserts are synchronous (insert_distributed_sync = 1): an acknowledged
//     insert is on a replica of its shard before the caller commits offsets;
//   - an IN subquery over a table is GLOBAL IN (a distributed subquery inside
//     a distributed query is refused, code 288).
//
// Any other statement in a migration is an error in cluster mode, so a new
// kind of statement cannot silently reach one node only.

// insertSettings are the settings of every insert. The store sends each
// insert as one block already sized for a part (a batch's rows), so the
// server is told not to squash blocks (min_insert_block_size_rows and
// _bytes 0): squashing would copy every block into fresh memory first, the
// largest single cost of an insert on the server. On a cluster the insert
// is also synchronous.
var (
	insertSettings  = clickhouse.Settings{"min_insert_block_size_rows": 0, "min_insert_block_size_bytes": 0}
	clusterSettings = clickhouse.Settings{"min_insert_block_size_rows": 0, "min_insert_block_size_bytes": 0, "insert_distributed_sync": 1}
)

// insertContext returns ctx with the settings of an insert.
func (s *Store) insertContext(ctx context.Context) context.Context {
	if s.cfg.Cluster == "" {
		return clickhouse.Context(ctx, clickhouse.WithSettings(insertSettings))
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clusterSettings))
}

// globalIn is the IN of a subquery over a table: GLOBAL IN on a cluster.
func (s *Store) globalIn() string {
	if s.cfg.Cluster == "" {
		return "IN"
	}
	return "GLOBAL IN"
}

// onCluster is the ON CLUSTER clause of database DDL, empty on a single node.
func (c Config) onCluster() string {
	if c.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + c.Cluster
}

// ddlCluster is the cluster for DDL of the tables that are not replicated
// (the Distributed ones): Config.DDLCluster, or <Cluster>_all.
func (c Config) ddlCluster() string {
	if c.DDLCluster != "" {
		return c.DDLCluster
	}
	return c.Cluster + "_all"
}

var (
	createTableRe = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_]\w*)\s*(\(.*\))\s*ENGINE\s*=\s*(\w*MergeTree)\b\s*(?:\(([^)]*)\))?(.*)$`)
	orderByRe     = regexp.MustCompile(`(?is)\bORDER\s+BY\s+(\([^)]*\)|[^\s()]+)`)
	createViewRe  = regexp.MustCompile(`(?is)^CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_]\w*)\s+AS\s+(.*)$`)
	dropTableRe   = regexp.MustCompile(`(?is)^DROP\s+TABLE\s+IF\s+EXISTS\s+([A-Za-z_]\w*)$`)
	alterTableRe  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z_]\w*)\s+(.*)$`)
	columnAlterRe = regexp.MustCompile(`(?is)^(ADD|DROP|MODIFY|COMMENT)\s+COLUMN\s`)
	fromTableRe   = regexp.MustCompile(`(?i)\b(FROM|JOIN)(\s+)([A-Za-z_]\w*)\b`)
)

// clusterRenderer renders migration statements for a cluster; tables
// remembers the names created as tables (a DROP of one drops both halves).
type clusterRenderer struct {
	db, cluster, all string
	tables           map[string]bool
}

// renderCluster returns the migrations rendered for cfg's cluster, in the
// same versions and order; on a single node it returns ms unchanged.
func renderCluster(ms []migration, cfg Config) ([]migration, error) {
	if cfg.Cluster == "" {
		return ms, nil
	}
	r := clusterRenderer{db: cfg.Database, cluster: cfg.Cluster, all: cfg.ddlCluster(), tables: map[string]bool{}}
	out := make([]migration, 0, len(ms))
	for _, m := range ms {
		rm := migration{version: m.version, name: m.name}
		for i, stmt := range m.statements {
			stmts, err := r.render(stmt)
			if err != nil {
				return nil, fmt.Errorf("migration %s statement %d on cluster %s: %w", m.name, i+1, cfg.Cluster, err)
			}
			rm.statements = append(rm.statements, stmts...)
		}
		out = append(out, rm)
	}
	return out, nil
}

// render returns the cluster statements of one statement.
func (r clusterRenderer) render(stmt string) ([]string, error) {
	stmt = strings.TrimSpace(stmt)
	if m := createTableRe.FindStringSubmatch(stmt); m != nil {
		return r.createTable(m[1], m[2], m[3], m[4], strings.TrimSpace(m[5]))
	}
	if m := createViewRe.FindStringSubmatch(stmt); m != nil {
		return []string{fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s.%s ON CLUSTER %s AS\n%s",
			r.db, m[1], r.cluster, r.qualify(m[2]))}, nil
	}
	if m := dropTableRe.FindStringSubmatch(stmt); m != nil {
		out := []string{fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", r.db, m[1], r.cluster)}
		if r.tables[m[1]] {
			out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s_local ON CLUSTER %s", r.db, m[1], r.cluster))
			delete(r.tables, m[1])
		}
		return out, nil
	}
	if m := alterTableRe.FindStringSubmatch(stmt); m != nil {
		if !r.tables[m[1]] {
			return nil, fmt.Errorf("ALTER TABLE %s: no CREATE TABLE %s before it", m[1], m[1])
		}
		out := []string{fmt.Sprintf("ALTER TABLE %s.%s_local ON CLUSTER %s %s", r.db, m[1], r.cluster, m[2])}
		if columnAlterRe.MatchString(m[2]) {
			out = append(out, fmt.Sprintf("ALTER TABLE %s.%s ON CLUSTER %s %s", r.db, m[1], r.all, m[2]))
		}
		return out, nil
	}
	first, _, _ := strings.Cut(stmt, "\n")
	return nil, fmt.Errorf("no cluster rendering for %q (CREATE TABLE IF NOT EXISTS … MergeTree, CREATE VIEW IF NOT EXISTS, DROP TABLE IF EXISTS and ALTER TABLE have one)", first)
}

// createTable renders a MergeTree table as its replicated local table and
// the Distributed table in front of it.
func (r clusterRenderer) createTable(name, columns, engine, args, rest string) ([]string, error) {
	m := orderByRe.FindStringSubmatch(rest)
	if m == nil {
		return nil, fmt.Errorf("CREATE TABLE %s: no ORDER BY to shard by", name)
	}
	var key []string
	for _, k := range strings.Split(strings.Trim(m[1], "()"), ",") {
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, "()") {
			return nil, fmt.Errorf("CREATE TABLE %s: ORDER BY %s: want a list of columns", name, m[1])
		}
		key = append(key, k)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("CREATE TABLE %s: empty ORDER BY", name)
	}
	params := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", r.db, name)
	if a := strings.TrimSpace(args); a != "" {
		params += ", " + a
	}
	r.tables[name] = true
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s_local ON CLUSTER %s\n%s\nENGINE = Replicated%s(%s)\n%s",
			r.db, name, r.cluster, columns, engine, params, rest),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s\n%s\nENGINE = Distributed(%s, %s, %s_local, cityHash64(%s))",
			r.db, name, r.cluster, columns, r.cluster, r.db, name, strings.Join(key, ", ")),
	}, nil
}

// qualify prefixes the tables a view reads (FROM t, JOIN t) with the
// database.
func (r clusterRenderer) qualify(body string) string {
	var b strings.Builder
	last := 0
	for _, m := range fromTableRe.FindAllStringSubmatchIndex(body, -1) {
		end := m[1]
		if end < len(body) && body[end] == '.' { // already qualified
			continue
		}
		b.WriteString(body[last:m[6]])
		b.WriteString(r.db + ".")
		b.WriteString(body[m[6]:end])
		last = end
	}
	b.WriteString(body[last:])
	return b.String()
}

// ReplicationBacklog counts the replicated tables of the database on the
// node the store is connected to (the first answering address) that are
// read-only (no ZooKeeper session) or still have entries in their
// replication queue; 0 on a single node. Once it is 0 on every node, a read
// through any node sees every acknowledged insert.
func (s *Store) ReplicationBacklog(ctx context.Context) (int, error) {
	if s.cfg.Cluster == "" {
		return 0, nil
	}
	var busy uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.replicas
WHERE database = ? AND (is_readonly OR queue_size > 0 OR inserts_in_queue > 0)`, s.cfg.Database).Scan(&busy); err != nil {
		return 0, fmt.Errorf("reading the replication queues of %s: %w", s.cfg.Database, err)
	}
	return int(busy), nil
}
