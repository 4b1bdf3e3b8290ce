package store

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"settlemon/schemas"
)

// ColumnExists exposes columnExists to the external integration tests.
var ColumnExists = columnExists

// Conn gives the store's own tests its connection; other packages' tests
// open theirs with storetest.Conn.
func (s *Store) Conn() driver.Conn { return s.conn }

// ReapplyMigrations runs every statement of every migration again, as a
// migration interrupted before it was recorded is applied again: each must
// succeed or count as done.
func (s *Store) ReapplyMigrations(ctx context.Context) error {
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		return err
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		return err
	}
	if ms, err = renderCluster(ms, s.cfg); err != nil {
		return err
	}
	for _, m := range ms {
		for i, stmt := range m.statements {
			if err := s.execDDL(ctx, stmt); err != nil && !columnExists(stmt, err) {
				return fmt.Errorf("%s statement %d again: %w", m.name, i+1, err)
			}
		}
	}
	return nil
}
