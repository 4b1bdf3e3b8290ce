package store

import (
	"context"
	"fmt"
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
)

// InsertSourceHealth records source health observations.
func (s *Store) InsertSourceHealth(ctx context.Context, rows []SourceHealth) error {
	return insert(ctx, s, healthTable, rows)
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
       toInt64(toUInt32(argMax(watermark, observed_at))) * 1000,
       argMax(watermark_lag_s, observed_at),
       argMax(status, observed_at),
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
	lag, err := s.countBy(ctx, `SELECT source, toUInt64(greatest(argMax(consumer_lag, observed_at), 0)) FROM source_health FINAL WHERE reporter = 'ingest' GROUP BY source`)
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
