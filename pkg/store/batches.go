package store

import (
	"context"

	"settlemon/pkg/fact"
)

var batchTable = newTable("batches", "batch progress",
	col("batch_id", func(r *fact.Batch) any { return r.BatchID }),
	col("source", func(r *fact.Batch) any { return r.Source }),
	col("status", func(r *fact.Batch) any { return string(r.Status) }),
	col("opened_at", func(r *fact.Batch) any { return dateTime(r.OpenedAt) }),
	col("closed_at", func(r *fact.Batch) any { return dateTime(r.ClosedAt) }),
	col("first_progress", func(r *fact.Batch) any { return dateTime(r.FirstProgress) }),
	col("last_progress", func(r *fact.Batch) any { return dateTime(r.LastProgress) }),
	col("declared_count", func(r *fact.Batch) any { return r.DeclaredCount }),
	col("declared_total", func(r *fact.Batch) any { return money(r.DeclaredTotal) }),
	col("seen_count", func(r *fact.Batch) any { return r.SeenCount }),
	col("seen_total", func(r *fact.Batch) any { return money(r.SeenTotal) }),
	col("stalls", func(r *fact.Batch) any { return r.Stalls }),
	col("as_of", func(r *fact.Batch) any { return dateTime(r.AsOf) }),
	col("version", func(r *fact.Batch) any { return r.Version }),
)

// InsertBatches writes batch progress rows; the highest version of a batch
// is its current state in batches_latest.
func (s *Store) InsertBatches(ctx context.Context, rows []fact.Batch) error {
	return insert(ctx, s, batchTable, rows)
}
