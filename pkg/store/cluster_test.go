package store

import (
	goflag "flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"settlemon/schemas"
)

var updateGolden = goflag.Bool("update", false, "rewrite the golden files of the cluster rendering under testdata/cluster")

func embeddedMigrations(tb testing.TB) []migration {
	tb.Helper()
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		tb.Fatal(err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}

func clusterConfig() Config {
	cfg := DefaultConfig()
	cfg.Cluster = "settlemon"
	return cfg
}

// TestRenderSingleNodeIsTheFiles: without a cluster the statements are the
// files' statements, unchanged, and schema_migrations is the one statement.
func TestRenderSingleNodeIsTheFiles(t *testing.T) {
	ms := embeddedMigrations(t)
	got, err := renderCluster(ms, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		src, err := fs.ReadFile(schemas.ClickHouse, "clickhouse/"+m.name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := splitStatements(string(src))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i].statements, want) || got[i].name != m.name || got[i].version != m.version {
			t.Errorf("%s: single-node rendering differs from the file", m.name)
		}
	}
	s := &Store{cfg: DefaultConfig()}
	stmts, err := s.migrationsTableStatements()
	if err != nil || !reflect.DeepEqual(stmts, []string{migrationsTable}) {
		t.Errorf("single-node schema_migrations = %q, %v; want the one statement", stmts, err)
	}
}

// TestRenderClusterGolden compares the cluster rendering of every migration
// (and of schema_migrations) with testdata/cluster/<name>; -update rewrites
// them.
func TestRenderClusterGolden(t *testing.T) {
	cfg := clusterConfig()
	got, err := renderCluster(embeddedMigrations(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{cfg: cfg}
	bookkeeping, err := s.migrationsTableStatements()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, migration{name: "schema_migrations.sql", statements: bookkeeping})
	for _, m := range got {
		text := strings.Join(m.statements, ";\n\n") + ";\n"
		path := filepath.Join("testdata", "cluster", m.name)
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./pkg/store -run TestRenderClusterGolden -update writes it)", err)
		}
		if text != string(want) {
			t.Errorf("%s: cluster rendering differs from %s:\n%s", m.name, path, text)
		}
	}
}

// TestRenderClusterStatements checks what each kind of statement becomes.
func TestRenderClusterStatements(t *testing.T) {
	cfg := clusterConfig()
	cfg.Database = "db"
	tests := []struct {
		name string
		in   []string
		want []string // substrings of the rendered statements, in order, one per statement
		err  string
	}{
		{
			name: "versioned table",
			in: []string{"CREATE TABLE IF NOT EXISTS t\n(\n    id String,\n    amount Decimal(18, 2),\n    at DateTime,\n    version UInt64\n)\n" +
				"ENGINE = ReplacingMergeTree(version)\nPARTITION BY toYYYYMM(at)\nORDER BY (id, at)"},
			want: []string{
				"CREATE TABLE IF NOT EXISTS db.t_local ON CLUSTER settlemon\n(\n    id String,\n    amount Decimal(18, 2),\n    at DateTime,\n    version UInt64\n)\n" +
					"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}', version)\nPARTITION BY toYYYYMM(at)\nORDER BY (id, at)",
				"CREATE TABLE IF NOT EXISTS db.t ON CLUSTER settlemon\n(\n    id String,\n    amount Decimal(18, 2),\n    at DateTime,\n    version UInt64\n)\n" +
					"ENGINE = Distributed(settlemon, db, t_local, cityHash64(id, at))",
			},
		},
		{
			name: "engine without parentheses, single-column key",
			in:   []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = ReplacingMergeTree PARTITION BY tuple() ORDER BY id"},
			want: []string{
				"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}')\nPARTITION BY tuple() ORDER BY id",
				"ENGINE = Distributed(settlemon, db, t_local, cityHash64(id))",
			},
		},
		{
			name: "view reads qualified tables",
			in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id",
				"CREATE VIEW IF NOT EXISTS v AS\nSELECT x FROM (SELECT id AS x FROM t FINAL) JOIN db.u USING x"},
			want: []string{"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}')", "Distributed",
				"CREATE VIEW IF NOT EXISTS db.v ON CLUSTER settlemon AS\nSELECT x FROM (SELECT id AS x FROM db.t FINAL) JOIN db.u USING x"},
		},
		{
			name: "add column on both halves",
			in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id",
				"ALTER TABLE t ADD COLUMN note String DEFAULT ''"},
			want: []string{"t_local", "Distributed",
				"ALTER TABLE db.t_local ON CLUSTER settlemon ADD COLUMN note String DEFAULT ''",
				"ALTER TABLE db.t ON CLUSTER settlemon_all ADD COLUMN note String DEFAULT ''"},
		},
		{
			name: "other alter on the local table only",
			in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id",
				"ALTER TABLE t DROP PARTITION 202401"},
			want: []string{"t_local", "Distributed", "ALTER TABLE db.t_local ON CLUSTER settlemon DROP PARTITION 202401"},
		},
		{
			name: "drop of a view, of a table",
			in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id",
				"DROP TABLE IF EXISTS v", "DROP TABLE IF EXISTS t"},
			want: []string{"t_local", "Distributed", "DROP TABLE IF EXISTS db.v ON CLUSTER settlemon",
				"DROP TABLE IF EXISTS db.t ON CLUSTER settlemon", "DROP TABLE IF EXISTS db.t_local ON CLUSTER settlemon"},
		},
		{name: "alter of an unknown table", in: []string{"ALTER TABLE t ADD COLUMN x String"}, err: "no CREATE TABLE t"},
		{name: "unsupported statement", in: []string{"INSERT INTO t VALUES (1)"}, err: "no cluster rendering"},
		{name: "table without ORDER BY", in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() PARTITION BY tuple()"}, err: "no ORDER BY"},
		{name: "expression key", in: []string{"CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY (lower(id))"}, err: "want a list of columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderCluster([]migration{{version: 1, name: "0001_t.sql", statements: tt.in}}, cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stmts := got[0].statements
			if len(stmts) != len(tt.want) {
				t.Fatalf("%d statements, want %d:\n%s", len(stmts), len(tt.want), strings.Join(stmts, "\n---\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(stmts[i], w) {
					t.Errorf("statement %d:\n%s\nwant it to contain\n%s", i+1, stmts[i], w)
				}
			}
		})
	}
}

// TestDDLClusterAndStatements: the second cluster is derived or given, and
// the store's cluster statements change only with a cluster.
func TestDDLClusterAndStatements(t *testing.T) {
	cfg := clusterConfig()
	if got := cfg.ddlCluster(); got != "settlemon_all" {
		t.Errorf("derived DDL cluster = %q", got)
	}
	cfg.DDLCluster = "every_node"
	if got := cfg.ddlCluster(); got != "every_node" {
		t.Errorf("given DDL cluster = %q", got)
	}
	single := &Store{cfg: DefaultConfig()}
	if single.globalIn() != "IN" || single.cfg.onCluster() != "" {
		t.Error("single-node statements changed")
	}
	clustered := &Store{cfg: clusterConfig()}
	if clustered.globalIn() != "GLOBAL IN" {
		t.Error("cluster IN is not GLOBAL")
	}
}

func TestConfigValidateCluster(t *testing.T) {
	for _, tt := range []struct {
		cluster, ddl string
		ok           bool
	}{
		{"", "", true},
		{"settlemon", "", true},
		{"settlemon", "settlemon_all", true},
		{"", "settlemon_all", false},
		{"bad-name", "", false},
		{"settlemon", "x y", false},
	} {
		cfg := DefaultConfig()
		cfg.Cluster, cfg.DDLCluster = tt.cluster, tt.ddl
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("cluster %q, DDL cluster %q: Validate() = %v, want ok %v", tt.cluster, tt.ddl, err, tt.ok)
		}
	}
}
