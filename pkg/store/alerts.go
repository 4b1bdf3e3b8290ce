package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"settlemon/pkg/fact"
	"settlemon/pkg/text"
)

// AlertRecord is one version of one episode of an alert in the alerts table:
// what the alerter has notified about it. An episode runs from the alert's
// start to its resolution; the same alert (fingerprint) firing again later is
// a new episode, a new row. Times are Unix ms, stored in whole seconds; zero
// when not reached.
type AlertRecord struct {
	Fingerprint string
	AlertName   string
	Labels      map[string]string // stored as a JSON object
	Annotations map[string]string // stored as a JSON object, rendered in the alerter's language
	// Messages are the annotations as catalogue messages (key and
	// arguments), stored as a JSON object beside them so that a reader
	// renders them in the reader's language; empty for rows written before
	// (or by an alerter that gave none): those read as Annotations.
	Messages      map[string]text.Msg
	State         string // "firing" or "resolved"
	StartedAt     int64
	EndedAt       int64 // zero while firing
	LastSentAt    int64
	Notifications uint64 // notifications sent in this episode
	Version       uint64 // higher wins within an episode
}

var alertTable = newTable("alerts", "alert history",
	str("fingerprint", func(r *AlertRecord) string { return r.Fingerprint }),
	str("alertname", func(r *AlertRecord) string { return r.AlertName }),
	str("labels", func(r *AlertRecord) string { return jsonObject(r.Labels) }),
	str("annotations", func(r *AlertRecord) string { return jsonObject(r.Annotations) }),
	str("annotation_messages", func(r *AlertRecord) string { return jsonMessages(r.Messages) }),
	str("state", func(r *AlertRecord) string { return r.State }),
	dateTime("started_at", func(r *AlertRecord) int64 { return r.StartedAt }),
	dateTime("ended_at", func(r *AlertRecord) int64 { return r.EndedAt }),
	dateTime("last_sent_at", func(r *AlertRecord) int64 { return r.LastSentAt }),
	u64("notifications", func(r *AlertRecord) uint64 { return r.Notifications }),
	u64("version", func(r *AlertRecord) uint64 { return r.Version }),
)

// jsonObject encodes a string map with sorted keys; nil is "{}".
func jsonObject(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

// jsonMessages encodes messages as a JSON object; none is "".
func jsonMessages(m map[string]text.Msg) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "" // plain data always encodes; the rendered annotations remain
	}
	return string(b)
}

// InsertAlerts records alert history; within an episode (fingerprint and
// start) the highest version wins.
func (s *Store) InsertAlerts(ctx context.Context, rows []AlertRecord) error {
	return insert(ctx, s, alertTable, rows)
}

// LatestAlerts returns, for every alert fingerprint, the latest version of
// its latest episode, ordered by fingerprint.
func (s *Store) LatestAlerts(ctx context.Context) ([]AlertRecord, error) {
	rows, err := s.conn.Query(ctx, `
SELECT fingerprint, alertname, labels, annotations, annotation_messages, state, started_at, ended_at, last_sent_at, notifications, version
FROM (SELECT * FROM alerts FINAL)
ORDER BY fingerprint, started_at DESC, version DESC
LIMIT 1 BY fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("reading alert history: %w", err)
	}
	defer rows.Close()
	var out []AlertRecord
	for rows.Next() {
		var (
			r                      AlertRecord
			labels, annotations    string
			messages               string
			started, ended, sentAt time.Time
		)
		if err := rows.Scan(&r.Fingerprint, &r.AlertName, &labels, &annotations, &messages, &r.State, &started, &ended, &sentAt,
			&r.Notifications, &r.Version); err != nil {
			return nil, fmt.Errorf("reading alert history: %w", err)
		}
		if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
			return nil, fmt.Errorf("reading alert history: labels of %s: %w", r.Fingerprint, err)
		}
		if err := json.Unmarshal([]byte(annotations), &r.Annotations); err != nil {
			return nil, fmt.Errorf("reading alert history: annotations of %s: %w", r.Fingerprint, err)
		}
		if messages != "" {
			if err := json.Unmarshal([]byte(messages), &r.Messages); err != nil {
				return nil, fmt.Errorf("reading alert history: annotation messages of %s: %w", r.Fingerprint, err)
			}
		}
		r.StartedAt, r.EndedAt, r.LastSentAt = unixMs(started), unixMs(ended), unixMs(sentAt)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alert history: %w", err)
	}
	return out, nil
}

// unixMs is the inverse of dateTime: the zero DateTime is 0.
func unixMs(t time.Time) int64 {
	if t.Unix() <= 0 {
		return 0
	}
	return t.UnixMilli()
}

// AnomalyVersions returns every stored version of the anomalies of the given
// kinds, ordered by id and version: the base table, not its latest view, so
// that an anomaly that opened and resolved between two reads still shows
// both versions (until ClickHouse merges the older one away). Identical
// versions of a retried insert are returned once.
func (s *Store) AnomalyVersions(ctx context.Context, kinds ...fact.Kind) ([]fact.Anomaly, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = string(k)
	}
	rows, err := s.conn.Query(ctx, `
SELECT `+anomalyColumns+`
FROM anomalies
WHERE kind IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(kinds)), ", ")+`)
ORDER BY id, version
LIMIT 1 BY id, version`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading anomaly versions: %w", err)
	}
	out, err := scanAnomalyRows(rows)
	if err != nil {
		return nil, fmt.Errorf("reading anomaly versions: %w", err)
	}
	return out, nil
}

// anomalyColumns are the columns of an anomaly row, in the order
// scanAnomalyRows reads them: every query of anomalies selects them.
const anomalyColumns = `id, kind, severity, status, trace_no, batch_id, merchant_id, amount, expected_amount,
       detected_at, resolved_at, reason, cause, action, details, calendar_version, version,
       bank_code, bank_codes_version, bank_code_unknown, incident_key, args`

// scanAnomalyRows reads rows of anomalyColumns, and closes them.
func scanAnomalyRows(rows driver.Rows) ([]fact.Anomaly, error) {
	defer rows.Close()
	var out []fact.Anomaly
	for rows.Next() {
		var (
			a                    fact.Anomaly
			kind, sev, status    string
			amount, expected     decimal.Decimal
			detected, resolvedAt time.Time
			unknown              uint8
			args                 string
		)
		if err := rows.Scan(&a.ID, &kind, &sev, &status, &a.TraceNo, &a.BatchID, &a.MerchantID, &amount, &expected,
			&detected, &resolvedAt, &a.Reason, &a.Cause, &a.Action, &a.Details, &a.CalendarVersion, &a.Version,
			&a.BankCode, &a.BankCodesVersion, &unknown, &a.IncidentKey, &args); err != nil {
			return nil, err
		}
		var err error
		if a.Args, err = decodeArgs(args); err != nil {
			return nil, fmt.Errorf("anomaly %s: %w", a.ID, err)
		}
		a.Kind, a.Severity, a.Status = fact.Kind(kind), fact.Severity(sev), fact.AnomalyStatus(status)
		a.Amount, a.ExpectedAmount = toFen(amount), toFen(expected)
		a.DetectedAt, a.ResolvedAt = unixMs(detected), unixMs(resolvedAt)
		a.BankCodeUnknown = unknown != 0
		out = append(out, a)
	}
	return out, rows.Err()
}

// OpenAnomalyTotal returns how many anomalies of kind are open in their
// latest version, and their amount in fen.
func (s *Store) OpenAnomalyTotal(ctx context.Context, kind fact.Kind) (count uint64, amount int64, err error) {
	// The status filter sits outside the FINAL subquery: it must see only the
	// latest version. The kind of an id never changes, so it may filter inside.
	var sum decimal.Decimal
	if err := s.conn.QueryRow(ctx, `
SELECT count(), sum(amount)
FROM (SELECT status, amount FROM anomalies FINAL WHERE kind = ?)
WHERE status = 'open'`, string(kind)).Scan(&count, &sum); err != nil {
		return 0, 0, fmt.Errorf("totalling open %s anomalies: %w", kind, err)
	}
	return count, sumFen(sum), nil
}

// DeadLettersSince returns the number of distinct dead-lettered messages
// whose Kafka timestamp is at or after since.
func (s *Store) DeadLettersSince(ctx context.Context, since time.Time) (uint64, error) {
	sec := since.Unix()
	if sec < 0 {
		sec = 0
	}
	n, err := s.countArgs(ctx, `SELECT uniqExact(topic, "partition", "offset") FROM dead_letters WHERE kafka_time >= toDateTime(?)`, uint32(min(sec, maxDateTime)))
	if err != nil {
		return 0, fmt.Errorf("counting recent dead letters: %w", err)
	}
	return n, nil
}

func (s *Store) countArgs(ctx context.Context, query string, args ...any) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// SourceStatus is the latest joiner observation of one source feed.
type SourceStatus struct {
	Source        string
	Status        string // "ok", "lagging" or "unknown"
	ObservedAt    int64  // Unix ms: the reporter's now
	Watermark     int64  // Unix ms
	WatermarkLagS int64
	ThresholdS    int64
}

// JoinerSourceStatus returns, per source, the joiner's latest observation:
// of every joiner instance's latest report, the most recent one (an instance
// that stopped reporting is superseded by the ones still running). Ordered
// by source.
func (s *Store) JoinerSourceStatus(ctx context.Context) ([]SourceStatus, error) {
	rows, err := s.conn.Query(ctx, `
SELECT source,
       argMax(status, (last_version, last_seq)),
       toInt64(toUInt32(argMax(last_observed_at, (last_version, last_seq)))) * 1000,
       toInt64(toUInt32(argMax(watermark, (last_version, last_seq)))) * 1000,
       argMax(watermark_lag_s, (last_version, last_seq)),
       argMax(threshold_s, (last_version, last_seq))
FROM source_health_latest
WHERE reporter = 'joiner'
GROUP BY source
ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("reading source status: %w", err)
	}
	defer rows.Close()
	var out []SourceStatus
	for rows.Next() {
		var r SourceStatus
		if err := rows.Scan(&r.Source, &r.Status, &r.ObservedAt, &r.Watermark, &r.WatermarkLagS, &r.ThresholdS); err != nil {
			return nil, fmt.Errorf("reading source status: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading source status: %w", err)
	}
	return out, nil
}
