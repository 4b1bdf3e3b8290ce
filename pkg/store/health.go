package store

import (
	"context"
	"fmt"
	"time"
)

// SourceHealth is one observation of a source feed by a reporter: the joiner
// (watermark lag, withheld absence checks) or ingest (consumer lag, idle
// time). Times are Unix ms; -1 means unknown for the counters.
type SourceHealth struct {
	Source        string
	Reporter      string // "joiner" or "ingest"
	Instance      string
	ObservedAt    int64 // the reporter's now
	Watermark     int64
	WatermarkLagS int64
	ConsumerLag   int64
	IdleS         int64
	Withheld      uint64
	Status        string // "ok", "lagging" or "unknown"
	ThresholdS    int64
	// Seq orders the reports of one instance that share ObservedAt: set by
	// InsertSourceHealth from the store's writer sequence (nextSeq), never
	// by the caller.
	Seq uint64
}

var healthTable = newTable("source_health", "source health",
	str("source", func(r *SourceHealth) string { return r.Source }),
	str("reporter", func(r *SourceHealth) string { return r.Reporter }),
	str("instance", func(r *SourceHealth) string { return r.Instance }),
	dateTime("observed_at", func(r *SourceHealth) int64 { return r.ObservedAt }),
	dateTime("watermark", func(r *SourceHealth) int64 { return r.Watermark }),
	i64("watermark_lag_s", func(r *SourceHealth) int64 { return r.WatermarkLagS }),
	i64("consumer_lag", func(r *SourceHealth) int64 { return r.ConsumerLag }),
	i64("idle_s", func(r *SourceHealth) int64 { return r.IdleS }),
	u64("withheld", func(r *SourceHealth) uint64 { return r.Withheld }),
	str("status", func(r *SourceHealth) string { return r.Status }),
	i64("threshold_s", func(r *SourceHealth) int64 { return r.ThresholdS }),
	u64("version", func(r *SourceHealth) uint64 { return clampU64(r.ObservedAt) }),
	u64("seq", func(r *SourceHealth) uint64 { return r.Seq }),
)

// InsertSourceHealth records source health observations, in order: each
// row gets the next number of the store's writer sequence, so that of two
// reports with the same ObservedAt the one written later is the latest
// (source_health_latest orders by observed time, then by seq).
func (s *Store) InsertSourceHealth(ctx context.Context, rows []SourceHealth) error {
	numbered := make([]SourceHealth, len(rows))
	for i, r := range rows {
		r.Seq = s.nextSeq()
		numbered[i] = r
	}
	return insert(ctx, s, healthTable, numbered)
}

// nextSeq returns the next number of the writer sequence: strictly
// increasing within the process, and starting from the wall clock in
// nanoseconds so that a later process (a restarted reporter) numbers after
// an earlier one.
func (s *Store) nextSeq() uint64 {
	for {
		last := s.seq.Load()
		next := max(last+1, uint64(max(time.Now().UnixNano(), 0)))
		if s.seq.CompareAndSwap(last, next) {
			return next
		}
	}
}

// SourceSummary is what the report says about one source.
type SourceSummary struct {
	Source         string
	Watermark      int64 // latest joiner watermark, Unix ms
	WatermarkLagS  int64 // latest
	Status         string
	LaggingReports uint64 // joiner observations with status lagging
	MaxLagS        int64  // the largest watermark lag observed
	MaxWithheld    uint64 // the most absence checks held back at once
	ConsumerLag    int64  // latest ingest consumer lag, -1 when unknown
}

// SourceSummaries summarises the joiner's and ingest's health reports per source.
func (s *Store) SourceSummaries(ctx context.Context) ([]SourceSummary, error) {
	rows, err := s.conn.Query(ctx, `
SELECT source,
       toInt64(toUInt32(argMax(watermark, (version, seq)))) * 1000,
       argMax(watermark_lag_s, (version, seq)),
       argMax(status, (version, seq)),
       countIf(status = 'lagging'),
       max(watermark_lag_s),
       max(withheld)
FROM source_health FINAL
WHERE reporter = 'joiner'
GROUP BY source
ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("reading source health: %w", err)
	}
	defer rows.Close()
	var out []SourceSummary
	for rows.Next() {
		var r SourceSummary
		if err := rows.Scan(&r.Source, &r.Watermark, &r.WatermarkLagS, &r.Status, &r.LaggingReports, &r.MaxLagS, &r.MaxWithheld); err != nil {
			return nil, fmt.Errorf("reading source health: %w", err)
		}
		r.ConsumerLag = -1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading source health: %w", err)
	}
	lag, err := s.countBy(ctx, `SELECT source, toUInt64(greatest(argMax(consumer_lag, (version, seq)), 0)) FROM source_health FINAL WHERE reporter = 'ingest' GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("reading ingest health: %w", err)
	}
	for i := range out {
		if v, ok := lag[out[i].Source]; ok {
			out[i].ConsumerLag = int64(v)
		}
	}
	return out, nil
}
