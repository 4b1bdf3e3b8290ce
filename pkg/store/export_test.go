package store

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// ColumnExists exposes columnExists to the external integration tests.
var ColumnExists = columnExists

// Conn gives the store's own tests its connection; other packages' tests
// open theirs with storetest.Conn.
func (s *Store) Conn() driver.Conn { return s.conn }
