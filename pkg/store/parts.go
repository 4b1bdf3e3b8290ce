package store

import (
	"context"
	"fmt"
	"time"
)

// PartActivity is what the server did to one table of the store's database
// in a time window, from its own part log: the parts inserts wrote and the
// merges that rewrote them.
type PartActivity struct {
	Table       string
	Parts       uint64 // parts written by inserts
	Rows        uint64 // rows they held
	Merges      uint64
	MergedRows  uint64 // rows the merges wrote
	MergeMillis uint64 // the merges' wall time
}

// partActivityQuery reads system.part_log, which the project's server
// config keeps (deploy/clickhouse/lib.sh). event_type is compared by value:
// 1 is a new part and 2 a merge in 18.16 (NEW_PART, MERGE_PARTS) and in
// current releases (NewPart, MergeParts) alike.
const partActivityQuery = `
SELECT table,
       countIf(toInt8(event_type) = 1) AS parts, sumIf(rows, toInt8(event_type) = 1),
       countIf(toInt8(event_type) = 2) AS merges, sumIf(rows, toInt8(event_type) = 2), sumIf(duration_ms, toInt8(event_type) = 2)
FROM system.part_log
WHERE database = ? AND event_time >= ? AND event_time <= ?
GROUP BY table
HAVING parts + merges > 0
ORDER BY parts DESC, table`

// PartActivity returns, per table of the store's database that had any,
// the parts written and the merges done between from and to (to the
// second), most parts first, after
// asking the server to flush its logs. On a cluster it reads the node the
// store is connected to. A server without a part log answers with an error
// naming system.part_log.
func (s *Store) PartActivity(ctx context.Context, from, to time.Time) ([]PartActivity, error) {
	if err := s.conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, fmt.Errorf("flushing the server's logs: %w", err)
	}
	rows, err := s.conn.Query(ctx, partActivityQuery, s.cfg.Database, from.UTC().Truncate(time.Second), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("reading system.part_log: %w", err)
	}
	defer rows.Close()
	var out []PartActivity
	for rows.Next() {
		var a PartActivity
		if err := rows.Scan(&a.Table, &a.Parts, &a.Rows, &a.Merges, &a.MergedRows, &a.MergeMillis); err != nil {
			return nil, fmt.Errorf("reading system.part_log: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading system.part_log: %w", err)
	}
	return out, nil
}
