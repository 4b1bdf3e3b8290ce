package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/fact"
)

// The queries below serve the ops console (pkg/console): they only read, and
// they read the latest versions of the facts — through the *_latest and stats
// views, or FINAL with filters on columns that never change for a row's
// identity, with the status filter outside the FINAL subquery so that it sees
// only the latest version. They run as the read-only analyst.

// HourLag is one row of lag_stats_by_hour: the authorization-to-payout lag of
// the traces authorized in one hour and paid, in one settlement mode.
type HourLag struct {
	Hour          int64 // Unix ms: start of the authorization hour
	Mode          string
	Paid          uint64
	P50, P95, P99 float64 // seconds
	Max           int64   // seconds
}

// LagSpan returns the first and last authorization times in settlement_lag,
// Unix ms; both zero when it is empty. The console's lag chart ends at the
// last one, so a replayed or simulated period shows without a time picker.
func (s *Store) LagSpan(ctx context.Context) (first, last int64, err error) {
	var a, b time.Time
	var n uint64
	// No FINAL: authorized_at is part of a trace's identity, so every version
	// of a row has the same one.
	if err := s.conn.QueryRow(ctx, "SELECT count(), min(authorized_at), max(authorized_at) FROM settlement_lag").Scan(&n, &a, &b); err != nil {
		return 0, 0, fmt.Errorf("reading the span of lag facts: %w", err)
	}
	if n == 0 {
		return 0, 0, nil
	}
	return unixMs(a), unixMs(b), nil
}

// LagByHour returns the rows of lag_stats_by_hour whose hour is in [from,
// to), ordered by hour and mode.
func (s *Store) LagByHour(ctx context.Context, from, to time.Time) ([]HourLag, error) {
	rows, err := s.conn.Query(ctx, `
SELECT hour, mode, paid, p50_s, p95_s, p99_s, max_s
FROM lag_stats_by_hour
WHERE hour >= toDateTime(?) AND hour < toDateTime(?)
ORDER BY hour, mode`, dateTimeArg(from), dateTimeArg(to))
	if err != nil {
		return nil, fmt.Errorf("reading lag by hour: %w", err)
	}
	defer rows.Close()
	var out []HourLag
	for rows.Next() {
		var (
			r    HourLag
			hour time.Time
		)
		if err := rows.Scan(&hour, &r.Mode, &r.Paid, &r.P50, &r.P95, &r.P99, &r.Max); err != nil {
			return nil, fmt.Errorf("reading lag by hour: %w", err)
		}
		r.Hour = hour.UnixMilli()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading lag by hour: %w", err)
	}
	return out, nil
}

// dateTimeArg is t as the UInt32 seconds toDateTime(?) takes, clamped to the
// DateTime range.
func dateTimeArg(t time.Time) uint32 {
	sec := t.Unix()
	if t.IsZero() || sec < 0 {
		return 0
	}
	return uint32(min(sec, maxDateTime))
}

// KindTotal counts the open anomalies of one kind, and the distinct traces
// (for the batch kinds: batches) they concern, and totals their amounts.
type KindTotal struct {
	Kind   fact.Kind
	Count  uint64
	Traces uint64
	Amount int64 // fen
}

// OpenAnomalyTotals returns, per kind with any open anomaly, how many are
// open in their latest version, on how many traces, and their amount,
// ordered by kind.
func (s *Store) OpenAnomalyTotals(ctx context.Context) ([]KindTotal, error) {
	rows, err := s.conn.Query(ctx, `
SELECT kind, count(), uniqExact(subject), sum(amount)
FROM (SELECT kind, status, amount, if(trace_no != '', trace_no, concat('batch ', batch_id)) AS subject FROM anomalies FINAL)
WHERE status = 'open'
GROUP BY kind
ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("totalling open anomalies: %w", err)
	}
	defer rows.Close()
	var out []KindTotal
	for rows.Next() {
		var (
			k    KindTotal
			kind string
			sum  decimal.Decimal
		)
		if err := rows.Scan(&kind, &k.Count, &k.Traces, &sum); err != nil {
			return nil, fmt.Errorf("totalling open anomalies: %w", err)
		}
		k.Kind, k.Amount = fact.Kind(kind), sumFen(sum)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("totalling open anomalies: %w", err)
	}
	return out, nil
}

// AnomalyQuery selects anomalies for the console; zero fields do not filter.
type AnomalyQuery struct {
	Kind       fact.Kind
	MerchantID string
	TraceNo    string
	From, To   time.Time          // detected_at in [From, To)
	Status     fact.AnomalyStatus // open, resolved, or "" for both
	Limit      int                // default 100
	Offset     int
}

// AnomalyPage is one page of anomalies, newest detection first, and how many
// match in all.
type AnomalyPage struct {
	Total     uint64
	Anomalies []fact.Anomaly
}

// QueryAnomalies returns the latest version of the anomalies q selects.
func (s *Store) QueryAnomalies(ctx context.Context, q AnomalyQuery) (AnomalyPage, error) {
	// kind, merchant, trace and detection time never change for an anomaly id,
	// so they may filter inside FINAL; the status must be filtered outside.
	var inner []string
	var args []any
	if q.Kind != "" {
		inner, args = append(inner, "kind = ?"), append(args, string(q.Kind))
	}
	if q.MerchantID != "" {
		inner, args = append(inner, "merchant_id = ?"), append(args, q.MerchantID)
	}
	if q.TraceNo != "" {
		inner, args = append(inner, "trace_no = ?"), append(args, q.TraceNo)
	}
	if !q.From.IsZero() {
		inner, args = append(inner, "detected_at >= toDateTime(?)"), append(args, dateTimeArg(q.From))
	}
	if !q.To.IsZero() {
		inner, args = append(inner, "detected_at < toDateTime(?)"), append(args, dateTimeArg(q.To))
	}
	from := "(SELECT " + anomalyColumns + " FROM anomalies FINAL"
	if len(inner) > 0 {
		from += " WHERE " + strings.Join(inner, " AND ")
	}
	from += ")"
	outer := ""
	if q.Status != "" {
		outer, args = " WHERE status = ?", append(args, string(q.Status))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	offset := max(q.Offset, 0)

	var page AnomalyPage
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+from+outer, args...).Scan(&page.Total); err != nil {
		return AnomalyPage{}, fmt.Errorf("counting anomalies: %w", err)
	}
	rows, err := s.conn.Query(ctx, `
SELECT `+anomalyColumns+`
FROM `+from+outer+`
ORDER BY detected_at DESC, id
LIMIT `+strconv.Itoa(offset)+`, `+strconv.Itoa(limit), args...)
	if err != nil {
		return AnomalyPage{}, fmt.Errorf("reading anomalies: %w", err)
	}
	if page.Anomalies, err = scanAnomalyRows(rows); err != nil {
		return AnomalyPage{}, fmt.Errorf("reading anomalies: %w", err)
	}
	return page, nil
}

// BatchQuery selects batches for the console; zero fields do not filter.
type BatchQuery struct {
	Source string           // "clearing" or "payouts"
	Status fact.BatchStatus // open, stalled, closed, incomplete
	Limit  int              // default 200
}

// QueryBatches returns the latest state of the batches q selects: stalled
// first, then incomplete, open and closed, each newest first.
func (s *Store) QueryBatches(ctx context.Context, q BatchQuery) ([]fact.Batch, error) {
	var inner, outer []string
	var args []any
	if q.Source != "" { // part of a batch's identity
		inner, args = append(inner, "source = ?"), append(args, q.Source)
	}
	if q.Status != "" {
		outer, args = append(outer, "status = ?"), append(args, string(q.Status))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 200
	}
	query := `SELECT batch_id, source, status, opened_at, closed_at, first_progress, last_progress,
       declared_count, declared_total, seen_count, seen_total, stalls, as_of, version
FROM (SELECT * FROM batches FINAL`
	if len(inner) > 0 {
		query += " WHERE " + strings.Join(inner, " AND ")
	}
	query += ")"
	if len(outer) > 0 {
		query += " WHERE " + strings.Join(outer, " AND ")
	}
	query += `
ORDER BY ` + batchStatusOrder + `, opened_at DESC, source, batch_id
LIMIT ` + strconv.Itoa(limit)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	defer rows.Close()
	var out []fact.Batch
	for rows.Next() {
		var (
			b                                 fact.Batch
			status                            string
			opened, closed, first, last, asOf time.Time
			declaredTotal, seenTotal          decimal.Decimal
		)
		if err := rows.Scan(&b.BatchID, &b.Source, &status, &opened, &closed, &first, &last,
			&b.DeclaredCount, &declaredTotal, &b.SeenCount, &seenTotal, &b.Stalls, &asOf, &b.Version); err != nil {
			return nil, fmt.Errorf("reading batches: %w", err)
		}
		b.Status = fact.BatchStatus(status)
		b.OpenedAt, b.ClosedAt, b.FirstProgress, b.LastProgress, b.AsOf = unixMs(opened), unixMs(closed), unixMs(first), unixMs(last), unixMs(asOf)
		b.DeclaredTotal, b.SeenTotal = declaredTotal.Shift(2).IntPart(), seenTotal.Shift(2).IntPart()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	return out, nil
}

// LatestSourceHealth returns the latest report of every source by every
// reporter instance (source_health_latest), ordered by source, reporter and
// instance. ObservedAt is the time of that report.
func (s *Store) LatestSourceHealth(ctx context.Context) ([]SourceHealth, error) {
	rows, err := s.conn.Query(ctx, `
SELECT source, reporter, instance, last_observed_at, watermark, watermark_lag_s, consumer_lag, idle_s, withheld, status, threshold_s
FROM source_health_latest
ORDER BY source, reporter, instance`)
	if err != nil {
		return nil, fmt.Errorf("reading source health: %w", err)
	}
	defer rows.Close()
	var out []SourceHealth
	for rows.Next() {
		var (
			r             SourceHealth
			observed, wmk time.Time
		)
		if err := rows.Scan(&r.Source, &r.Reporter, &r.Instance, &observed, &wmk, &r.WatermarkLagS, &r.ConsumerLag,
			&r.IdleS, &r.Withheld, &r.Status, &r.ThresholdS); err != nil {
			return nil, fmt.Errorf("reading source health: %w", err)
		}
		r.ObservedAt, r.Watermark = unixMs(observed), unixMs(wmk)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading source health: %w", err)
	}
	return out, nil
}
