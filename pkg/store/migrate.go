package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"settlemon/schemas"
)

// migrationsTable records applied migrations. The migrator owns it, so it is
// created here rather than by a migration file.
const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY version`

// migration is one versioned SQL file.
type migration struct {
	version    uint32
	name       string // file name, e.g. "0001_core.sql"
	statements []string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[A-Za-z0-9_]+\.sql$`)

// loadMigrations reads every *.sql file at the root of fsys, in version
// order. File names are NNNN_name.sql; versions must be unique and every file
// must hold at least one statement.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var out []migration
	seen := map[uint32]string{}
	for _, name := range names {
		m := migrationName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		v, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("migration %s: version must be a positive 32-bit number", name)
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", prev, name, v)
		}
		seen[uint32(v)] = name
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		stmts, err := splitStatements(string(src))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", name)
		}
		out = append(out, migration{version: uint32(v), name: name, statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// splitStatements splits SQL text into statements at semicolons outside
// quotes and comments. Comments (-- to end of line, /* … */) are removed;
// empty statements are dropped. An unterminated quote or comment is an error.
func splitStatements(src string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment")
			}
			i += 2 + end + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
					continue
				}
				if src[j] == c {
					if j+1 < len(src) && src[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			cur.WriteString(src[i : j+1])
			i = j
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return stmts, nil
}

// codeColumnExists is ClickHouse's ILLEGAL_COLUMN: "column already exists"
// on ALTER TABLE … ADD COLUMN.
const codeColumnExists = 44

var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+(?:ON\s+CLUSTER\s+\S+\s+)?ADD\s+COLUMN\s`)

// columnExists reports whether err is an ADD COLUMN statement finding its
// column already there: a migration interrupted after it, applied again.
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS.
func columnExists(stmt string, err error) bool {
	var exc *clickhouse.Exception
	return addColumn.MatchString(stmt) && errors.As(err, &exc) && exc.Code == codeColumnExists
}

// Migrate applies the migrations of schemas.ClickHouse not yet recorded in
// schema_migrations, in version order, recording each after its statements
// succeeded. It returns the file names it applied; re-running is a no-op.
// Every statement is idempotent (IF NOT EXISTS; an ADD COLUMN whose column
// exists counts as done), so a migration interrupted half-way is simply
// applied again.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		return nil, fmt.Errorf("migrating clickhouse: %w", err)
	}
	return s.migrate(ctx, sub)
}

func (s *Store) migrate(ctx context.Context, fsys fs.FS) ([]string, error) {
	migrations, err := loadMigrations(fsys)
	if err != nil {
		return nil, fmt.Errorf("migrating clickhouse: %w", err)
	}
	migrations, err = renderCluster(migrations, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("migrating clickhouse: %w", err)
	}
	bookkeeping, err := s.migrationsTableStatements()
	if err != nil {
		return nil, fmt.Errorf("migrating clickhouse: %w", err)
	}
	for _, stmt := range bookkeeping {
		if err := s.execDDL(ctx, stmt); err != nil {
			return nil, fmt.Errorf("migrating clickhouse: creating schema_migrations: %w", err)
		}
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range migrations {
		if done[m.version] {
			continue
		}
		for i, stmt := range m.statements {
			if err := s.execDDL(ctx, stmt); err != nil && !columnExists(stmt, err) {
				return applied, fmt.Errorf("migrating clickhouse: %s statement %d: %w", m.name, i+1, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return applied, err
		}
		s.logger.Info("applied clickhouse migration", "migration", m.name, "database", s.cfg.Database)
		applied = append(applied, m.name)
	}
	return applied, nil
}

// migrationsTableStatements creates schema_migrations: the statement
// itself on a single node; on a cluster, rendered like a migration (the
// database ON CLUSTER first, then a replicated table and its Distributed
// table, so every node reads the applied set).
func (s *Store) migrationsTableStatements() ([]string, error) {
	if s.cfg.Cluster == "" {
		return []string{migrationsTable}, nil
	}
	ms, err := renderCluster([]migration{{name: "schema_migrations", statements: []string{migrationsTable}}}, s.cfg)
	if err != nil {
		return nil, err
	}
	create := "CREATE DATABASE IF NOT EXISTS `" + s.cfg.Database + "`" + s.cfg.onCluster()
	return append([]string{create}, ms[0].statements...), nil
}

// execDDL runs a migration statement. On a cluster, ON CLUSTER DDL fails
// while ZooKeeper is away or a host is slow to execute it (codes 999, 159):
// it is retried like an insert, every statement being idempotent. On a
// single node it runs once.
func (s *Store) execDDL(ctx context.Context, stmt string) error {
	if s.cfg.Cluster == "" {
		return s.conn.Exec(ctx, stmt)
	}
	return s.withRetry(ctx, "running migration DDL", 0, func() error { return s.conn.Exec(ctx, stmt) })
}

func (s *Store) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT version FROM schema_migrations FINAL")
	if err != nil {
		return nil, fmt.Errorf("migrating clickhouse: reading schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrating clickhouse: reading schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrating clickhouse: reading schema_migrations: %w", err)
	}
	return done, nil
}

func (s *Store) recordMigration(ctx context.Context, m migration) error {
	batch, err := s.conn.PrepareBatch(s.insertContext(ctx), "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return fmt.Errorf("migrating clickhouse: recording %s: %w", m.name, err)
	}
	if err := batch.Append(m.version, m.name, time.Now().UTC().Truncate(time.Second)); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("migrating clickhouse: recording %s: %w", m.name, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("migrating clickhouse: recording %s: %w", m.name, err)
	}
	return nil
}
