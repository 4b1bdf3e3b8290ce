package store

import (
	"context"

	"settlemon/pkg/fact"
)

var batchTable = newTable("batches", "batch progress",
	str("batch_id", func(r *fact.Batch) string { return r.BatchID }),
	str("source", func(r *fact.Batch) string { return r.Source }),
	str("status", func(r *fact.Batch) string { return string(r.Status) }),
	dateTime("opened_at", func(r *fact.Batch) int64 { return r.OpenedAt }),
	dateTime("closed_at", func(r *fact.Batch) int64 { return r.ClosedAt }),
	dateTime("first_progress", func(r *fact.Batch) int64 { return r.FirstProgress }),
	dateTime("last_progress", func(r *fact.Batch) int64 { return r.LastProgress }),
	i64("declared_count", func(r *fact.Batch) int64 { return r.DeclaredCount }),
	money("declared_total", func(r *fact.Batch) int64 { return r.DeclaredTotal }),
	i64("seen_count", func(r *fact.Batch) int64 { return r.SeenCount }),
	money("seen_total", func(r *fact.Batch) int64 { return r.SeenTotal }),
	i64("stalls", func(r *fact.Batch) int64 { return r.Stalls }),
	dateTime("as_of", func(r *fact.Batch) int64 { return r.AsOf }),
	u64("version", func(r *fact.Batch) uint64 { return r.Version }),
)

// InsertBatches writes batch progress rows; the highest version of a batch
// is its current state in batches_latest.
func (s *Store) InsertBatches(ctx context.Context, rows []fact.Batch) error {
	return insert(ctx, s, batchTable, rows)
}
