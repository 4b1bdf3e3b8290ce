package store

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"settlemon/pkg/fact"
)

// TopicCount accounts for the consumed messages of one topic: how many
// distinct Kafka offsets were archived as events, recorded as control
// messages, or dead-lettered.
type TopicCount struct {
	Topic       string
	Archived    uint64
	Control     uint64
	DeadLetters uint64
}

// Counting distinct (partition, offset) pairs is independent of whether
// ReplacingMergeTree has merged the duplicates of a retried insert yet.
// "partition" and "offset" are quoted: both are keywords.
const topicCountsQuery = `
SELECT topic, sum(archived), sum(control), sum(dead)
FROM
(
    SELECT topic, uniqExact("partition", "offset") AS archived, toUInt64(0) AS control, toUInt64(0) AS dead
    FROM
    (
        SELECT topic, "partition", "offset" FROM auth_events
        UNION ALL SELECT topic, "partition", "offset" FROM clearing_events
        UNION ALL SELECT topic, "partition", "offset" FROM payout_events
        UNION ALL SELECT topic, "partition", "offset" FROM merchant_events
    )
    GROUP BY topic
    UNION ALL
    SELECT topic, toUInt64(0), uniqExact("partition", "offset"), toUInt64(0) FROM control_events GROUP BY topic
    UNION ALL
    SELECT topic, toUInt64(0), toUInt64(0), uniqExact("partition", "offset") FROM dead_letters GROUP BY topic
)
GROUP BY topic
ORDER BY topic`

// TopicCounts returns, per topic, the distinct offsets archived across the raw
// tables, recorded in control_events and in dead_letters, ordered by topic.
func (s *Store) TopicCounts(ctx context.Context) ([]TopicCount, error) {
	rows, err := s.conn.Query(ctx, topicCountsQuery)
	if err != nil {
		return nil, fmt.Errorf("counting messages per topic: %w", err)
	}
	defer rows.Close()
	var out []TopicCount
	for rows.Next() {
		var tc TopicCount
		if err := rows.Scan(&tc.Topic, &tc.Archived, &tc.Control, &tc.DeadLetters); err != nil {
			return nil, fmt.Errorf("counting messages per topic: %w", err)
		}
		out = append(out, tc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting messages per topic: %w", err)
	}
	return out, nil
}

// DeadLetterReasons returns the number of distinct dead-lettered messages by
// reason code.
func (s *Store) DeadLetterReasons(ctx context.Context) (map[string]uint64, error) {
	m, err := s.countBy(ctx, `SELECT reason, uniqExact(topic, "partition", "offset") FROM dead_letters GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("counting dead letters by reason: %w", err)
	}
	return m, nil
}

// DeclinedCount returns the number of distinct archived authorizations (by
// event id, so a message the producer wrote twice counts once) whose response
// code is not "00".
func (s *Store) DeclinedCount(ctx context.Context) (uint64, error) {
	n, err := s.count(ctx, "SELECT uniqExact(event_id) FROM auth_events WHERE type = 'authorization' AND response_code != '00'")
	if err != nil {
		return 0, fmt.Errorf("counting declined authorizations: %w", err)
	}
	return n, nil
}

// ModeLag is the authorization-to-payout lag of paid traces in one settlement
// mode, in seconds.
type ModeLag struct {
	Mode          string
	Paid          uint64
	P50, P95, P99 float64
}

// LagByMode returns the lag percentiles of paid traces by mode (latest
// versions only), ordered by mode.
func (s *Store) LagByMode(ctx context.Context) ([]ModeLag, error) {
	rows, err := s.conn.Query(ctx, "SELECT mode, paid, p50_s, p95_s, p99_s FROM lag_stats_by_mode ORDER BY mode")
	if err != nil {
		return nil, fmt.Errorf("computing lag by mode: %w", err)
	}
	defer rows.Close()
	var out []ModeLag
	for rows.Next() {
		var ml ModeLag
		if err := rows.Scan(&ml.Mode, &ml.Paid, &ml.P50, &ml.P95, &ml.P99); err != nil {
			return nil, fmt.Errorf("computing lag by mode: %w", err)
		}
		out = append(out, ml)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("computing lag by mode: %w", err)
	}
	return out, nil
}

// AnomalyCount counts the anomalies of one kind in their latest version,
// open and resolved apart, as rows and as traces: one trace may carry
// several anomalies of a kind (a reversed sale that was cleared and paid
// has two reversed_but_settled rows). The batch kinds name no trace; their
// "traces" are the distinct batches.
type AnomalyCount struct {
	Kind           string
	OpenRows       uint64
	OpenTraces     uint64
	ResolvedRows   uint64
	ResolvedTraces uint64
	Traces         uint64 // distinct traces (or batches) with any anomaly of the kind
}

// Rows is every anomaly of the kind, open and resolved.
func (c AnomalyCount) Rows() uint64 { return c.OpenRows + c.ResolvedRows }

// anomalyCountsQuery filters the status outside the FINAL subquery, so that
// only the latest version of each anomaly counts. Its last row, with an
// empty kind, is every kind together: a trace with anomalies of two kinds
// counts once there.
const anomalyCountsQuery = `
SELECT kind, open_rows, open_traces, resolved_rows, resolved_traces, traces
FROM
(
    SELECT kind,
           countIf(status = 'open') AS open_rows, uniqExactIf(subject, status = 'open') AS open_traces,
           countIf(status = 'resolved') AS resolved_rows, uniqExactIf(subject, status = 'resolved') AS resolved_traces,
           uniqExact(subject) AS traces
    FROM (SELECT kind, status, if(trace_no != '', trace_no, concat('batch ', batch_id)) AS subject FROM anomalies FINAL)
    GROUP BY kind
    UNION ALL
    SELECT '' AS kind,
           countIf(status = 'open') AS open_rows, uniqExactIf(subject, status = 'open') AS open_traces,
           countIf(status = 'resolved') AS resolved_rows, uniqExactIf(subject, status = 'resolved') AS resolved_traces,
           uniqExact(subject) AS traces
    FROM (SELECT status, if(trace_no != '', trace_no, concat('batch ', batch_id)) AS subject FROM anomalies FINAL)
)
ORDER BY kind = '', kind`

// AnomalyCounts returns, per kind, the anomalies open and resolved in their
// latest version, as rows and as distinct traces, ordered by kind; and the
// same for all kinds together (Kind empty).
func (s *Store) AnomalyCounts(ctx context.Context) (byKind []AnomalyCount, all AnomalyCount, err error) {
	rows, err := s.conn.Query(ctx, anomalyCountsQuery)
	if err != nil {
		return nil, all, fmt.Errorf("counting anomalies by kind: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c AnomalyCount
		if err := rows.Scan(&c.Kind, &c.OpenRows, &c.OpenTraces, &c.ResolvedRows, &c.ResolvedTraces, &c.Traces); err != nil {
			return nil, all, fmt.Errorf("counting anomalies by kind: %w", err)
		}
		if c.Kind == "" {
			all = c
			continue
		}
		byKind = append(byKind, c)
	}
	if err := rows.Err(); err != nil {
		return nil, all, fmt.Errorf("counting anomalies by kind: %w", err)
	}
	return byKind, all, nil
}

// LagRowCount returns the number of traces in settlement_lag (latest versions).
func (s *Store) LagRowCount(ctx context.Context) (uint64, error) {
	n, err := s.count(ctx, "SELECT count() FROM settlement_lag FINAL")
	if err != nil {
		return 0, fmt.Errorf("counting lag facts: %w", err)
	}
	return n, nil
}

func (s *Store) count(ctx context.Context, query string) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Store) countBy(ctx context.Context, query string) (map[string]uint64, error) {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var (
			k string
			n uint64
		)
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// LatestAnomalies reads the latest version of every anomaly, ordered by id.
func (s *Store) LatestAnomalies(ctx context.Context) ([]fact.Anomaly, error) {
	rows, err := s.conn.Query(ctx, `SELECT `+anomalyColumns+` FROM anomalies_latest ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading anomalies: %w", err)
	}
	out, err := scanAnomalyRows(rows)
	if err != nil {
		return nil, fmt.Errorf("reading anomalies: %w", err)
	}
	return out, nil
}

// ExampleTraces returns, per anomaly kind, one trace number that has it (the
// smallest, so the choice is stable).
func (s *Store) ExampleTraces(ctx context.Context) (map[string]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT kind, min(trace_no) FROM anomalies_latest WHERE trace_no != '' GROUP BY kind")
	if err != nil {
		return nil, fmt.Errorf("reading example traces: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, tr string
		if err := rows.Scan(&k, &tr); err != nil {
			return nil, fmt.Errorf("reading example traces: %w", err)
		}
		out[k] = tr
	}
	return out, rows.Err()
}

// BatchSummary counts batches by source and status (latest versions), and
// stall episodes.
type BatchSummary struct {
	Source        string
	Status        string
	Batches       uint64
	Stalls        int64
	Declared      int64 // records declared by the closed ones
	Seen          int64 // records seen
	DeclaredTotal int64 // fen declared by the closed ones
	SeenTotal     int64 // fen seen
}

// batchStatusOrder ranks batch statuses by how urgently they need a look:
// stalled, incomplete, open, closed. The console's list and the report's
// summary both sort by it.
const batchStatusOrder = `multiIf(status = 'stalled', 0, status = 'incomplete', 1, status = 'open', 2, status = 'closed', 3, 4)`

// BatchSummaries reads the batch summary for the report: stalled first,
// then incomplete, open and closed, each by source.
func (s *Store) BatchSummaries(ctx context.Context) ([]BatchSummary, error) {
	rows, err := s.conn.Query(ctx, `SELECT source, status, count(), sum(stalls), sum(declared_count), sum(seen_count),
       sum(declared_total), sum(seen_total)
FROM batches_latest GROUP BY source, status ORDER BY `+batchStatusOrder+`, source, status`)
	if err != nil {
		return nil, fmt.Errorf("reading batches: %w", err)
	}
	defer rows.Close()
	var out []BatchSummary
	for rows.Next() {
		var (
			b                        BatchSummary
			declaredTotal, seenTotal decimal.Decimal
		)
		if err := rows.Scan(&b.Source, &b.Status, &b.Batches, &b.Stalls, &b.Declared, &b.Seen, &declaredTotal, &seenTotal); err != nil {
			return nil, fmt.Errorf("reading batches: %w", err)
		}
		b.DeclaredTotal, b.SeenTotal = sumFen(declaredTotal), sumFen(seenTotal)
		out = append(out, b)
	}
	return out, rows.Err()
}

// UnknownBankCode is a bank return code of failed payouts that the
// return-code catalogue in force lacked (so it was mapped to other).
type UnknownBankCode struct {
	Code            string
	CatalogVersion  string
	Payouts         uint64 // payout_failed anomalies with it, latest versions
	LatestFailedAtS int64  // Unix seconds of the latest such failure
}

// UnknownBankCodes returns the bank return codes that payout_failed
// anomalies carried and their catalogue did not list, most frequent first,
// at most limit of them, and how many such anomalies there are in all.
func (s *Store) UnknownBankCodes(ctx context.Context, limit int) ([]UnknownBankCode, uint64, error) {
	// The unknown flag sits outside the FINAL subquery: only the latest
	// version of each anomaly counts. The kind of an id never changes.
	rows, err := s.conn.Query(ctx, `
SELECT bank_code, bank_codes_version, count(), toUInt32(max(detected_at))
FROM (SELECT bank_code, bank_codes_version, bank_code_unknown, detected_at FROM anomalies FINAL WHERE kind = 'payout_failed')
WHERE bank_code_unknown = 1
GROUP BY bank_code, bank_codes_version
ORDER BY count() DESC, bank_code`)
	if err != nil {
		return nil, 0, fmt.Errorf("reading unknown bank codes: %w", err)
	}
	defer rows.Close()
	var (
		out   []UnknownBankCode
		total uint64
	)
	for rows.Next() {
		var (
			u  UnknownBankCode
			at uint32
		)
		if err := rows.Scan(&u.Code, &u.CatalogVersion, &u.Payouts, &at); err != nil {
			return nil, 0, fmt.Errorf("reading unknown bank codes: %w", err)
		}
		u.LatestFailedAtS = int64(at)
		total += u.Payouts
		if len(out) < limit {
			out = append(out, u)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading unknown bank codes: %w", err)
	}
	return out, total, nil
}
