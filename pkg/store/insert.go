package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// RawRow is one consumed source message to archive, with its Kafka lineage.
type RawRow struct {
	Topic     string
	Partition int32
	Offset    int64
	KafkaTime int64 // unix ms, the message timestamp
	Event     event.Event
	Payload   []byte // the original JSON
}

// ControlRow is a consumed control message (heartbeat and the like) that is
// recorded for accounting but not archived as a payment event.
type ControlRow struct {
	Topic      string
	Partition  int32
	Offset     int64
	KafkaTime  int64 // unix ms
	Type       string
	OccurredAt int64 // unix ms
	Producer   string
	Note       string
}

// DeadLetter is a message that could not be decoded or validated. Payload
// must already be masked by the caller.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
	KafkaTime int64 // unix ms
	Key       []byte
	Reason    string // code, e.g. "bad_amount"
	Detail    string // human-readable message
	Payload   []byte
}

// column maps one table column to its value in a row of type T.
type column[T any] struct {
	name  string
	value func(*T) any
}

// table is the insert shape of one table.
type table[T any] struct {
	name  string
	what  string // for errors and logs: "inserting <what>"
	cols  []column[T]
	query string
}

func newTable[T any](name, what string, cols ...column[T]) *table[T] {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "`" + c.name + "`"
	}
	return &table[T]{
		name:  name,
		what:  what,
		cols:  cols,
		query: "INSERT INTO " + name + " (" + strings.Join(names, ", ") + ")",
	}
}

func col[T any](name string, value func(*T) any) column[T] { return column[T]{name, value} }

// insert writes rows in one batch, retrying the whole batch on retryable
// errors. Each attempt prepares a new batch: a batch is never sent twice after
// a success.
func insert[T any](ctx context.Context, s *Store, t *table[T], rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	start, attempts := time.Now(), 0
	err := s.withRetry(ctx, "inserting "+t.what, len(rows), func() error {
		attempts++
		return sendBatch(ctx, s, t, rows)
	})
	observeInsert(s, t, rows, attempts, time.Since(start), err)
	return err
}

func sendBatch[T any](ctx context.Context, s *Store, t *table[T], rows []T) error {
	batch, err := s.conn.PrepareBatch(ctx, t.query)
	if err != nil {
		return fmt.Errorf("preparing insert into %s: %w", t.name, err)
	}
	vals := make([]any, len(t.cols))
	for i := range rows {
		for j, c := range t.cols {
			vals[j] = c.value(&rows[i])
		}
		if err := batch.Append(vals...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("appending row %d to %s: %w", i, t.name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending %d rows to %s: %w", len(rows), t.name, err)
	}
	return nil
}

// money converts fen to a Decimal(18,2) value: exact, no quantizing needed.
func money(fen int64) decimal.Decimal { return decimal.New(fen, -2) }

// maxDateTime is the last instant a ClickHouse DateTime (UInt32 seconds) holds.
const maxDateTime = 1<<32 - 1

// dateTime converts unix ms to a DateTime value, truncated to the second.
// Zero (and anything before 1970) is the zero DateTime, 1970-01-01 00:00:00.
func dateTime(ms int64) time.Time {
	sec := ms / 1000
	switch {
	case ms <= 0:
		sec = 0
	case sec > maxDateTime:
		sec = maxDateTime
	}
	return time.Unix(sec, 0).UTC()
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func u32(v int32) uint32 {
	if v < 0 {
		return 0
	}
	return uint32(v)
}

func u64(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// Lineage columns shared by the raw archives.
func rawLineage() []column[RawRow] {
	return []column[RawRow]{
		col("topic", func(r *RawRow) any { return r.Topic }),
		col("partition", func(r *RawRow) any { return u32(r.Partition) }),
		col("offset", func(r *RawRow) any { return u64(r.Offset) }),
		col("kafka_time", func(r *RawRow) any { return dateTime(r.KafkaTime) }),
		col("event_id", func(r *RawRow) any { return r.Event.ID }),
		col("type", func(r *RawRow) any { return r.Event.Type.String() }),
		col("occurred_at", func(r *RawRow) any { return dateTime(r.Event.OccurredAt) }),
	}
}

func rawTable(name, what string, cols ...column[RawRow]) *table[RawRow] {
	all := append(rawLineage(), cols...)
	all = append(all, col("payload", func(r *RawRow) any { return string(r.Payload) }))
	return newTable(name, what, all...)
}

var rawTables = [event.NumSources]*table[RawRow]{
	event.Auth: rawTable("auth_events", "authorization events",
		col("trace_no", func(r *RawRow) any { return r.Event.TraceNo }),
		col("merchant_id", func(r *RawRow) any { return r.Event.MerchantID }),
		col("terminal_id", func(r *RawRow) any { return r.Event.TerminalID }),
		col("response_code", func(r *RawRow) any { return r.Event.ResponseCode }),
		col("card_bin", func(r *RawRow) any { return r.Event.CardBIN }),
		col("card_last4", func(r *RawRow) any { return r.Event.CardLast4 }),
		col("currency", func(r *RawRow) any { return r.Event.Currency }),
		col("amount", func(r *RawRow) any { return money(r.Event.Amount) }),
		col("mcc", func(r *RawRow) any { return r.Event.MCC }),
	),
	event.Clearing: rawTable("clearing_events", "clearing events",
		col("trace_no", func(r *RawRow) any { return r.Event.TraceNo }),
		col("merchant_id", func(r *RawRow) any { return r.Event.MerchantID }),
		col("batch_id", func(r *RawRow) any { return r.Event.BatchID }),
		col("amount", func(r *RawRow) any { return money(r.Event.Amount) }),
		col("fee", func(r *RawRow) any { return money(r.Event.Fee) }),
		col("mcc", func(r *RawRow) any { return r.Event.MCC }),
		col("declared_count", func(r *RawRow) any { return r.Event.DeclaredCount }),
		col("declared_total", func(r *RawRow) any { return money(r.Event.DeclaredTotal) }),
	),
	event.Payouts: rawTable("payout_events", "payout events",
		col("trace_no", func(r *RawRow) any { return r.Event.TraceNo }),
		col("merchant_id", func(r *RawRow) any { return r.Event.MerchantID }),
		col("batch_id", func(r *RawRow) any { return r.Event.BatchID }),
		col("amount", func(r *RawRow) any { return money(r.Event.Amount) }),
		col("reason_code", func(r *RawRow) any { return r.Event.ReasonCode }),
		col("reason", func(r *RawRow) any { return r.Event.Reason }),
		col("declared_count", func(r *RawRow) any { return r.Event.DeclaredCount }),
		col("declared_total", func(r *RawRow) any { return money(r.Event.DeclaredTotal) }),
	),
	event.Merchants: rawTable("merchant_events", "merchant events",
		col("merchant_id", func(r *RawRow) any { return r.Event.MerchantID }),
		col("merchant_name", func(r *RawRow) any { return r.Event.MerchantName }),
		col("registered_mcc", func(r *RawRow) any { return r.Event.RegisteredMCC }),
		col("mode", func(r *RawRow) any { return modeName(r.Event.Mode) }),
		col("fee_rate_ppm", func(r *RawRow) any { return r.Event.FeeRatePPM }),
		col("account_ref", func(r *RawRow) any { return r.Event.AccountRef }),
	),
}

// modeName is the mode as stored: "T1", "D1", "D0", "T0", or "unknown".
func modeName(m event.Mode) string { return m.String() }

var controlTable = newTable("control_events", "control events",
	col("topic", func(r *ControlRow) any { return r.Topic }),
	col("partition", func(r *ControlRow) any { return u32(r.Partition) }),
	col("offset", func(r *ControlRow) any { return u64(r.Offset) }),
	col("kafka_time", func(r *ControlRow) any { return dateTime(r.KafkaTime) }),
	col("type", func(r *ControlRow) any { return r.Type }),
	col("occurred_at", func(r *ControlRow) any { return dateTime(r.OccurredAt) }),
	col("producer", func(r *ControlRow) any { return r.Producer }),
	col("note", func(r *ControlRow) any { return r.Note }),
)

var deadLetterTable = newTable("dead_letters", "dead letters",
	col("topic", func(r *DeadLetter) any { return r.Topic }),
	col("partition", func(r *DeadLetter) any { return u32(r.Partition) }),
	col("offset", func(r *DeadLetter) any { return u64(r.Offset) }),
	col("kafka_time", func(r *DeadLetter) any { return dateTime(r.KafkaTime) }),
	col("key", func(r *DeadLetter) any { return string(r.Key) }),
	col("reason", func(r *DeadLetter) any { return r.Reason }),
	col("detail", func(r *DeadLetter) any { return r.Detail }),
	col("payload", func(r *DeadLetter) any { return string(r.Payload) }),
)

var lagTable = newTable("settlement_lag", "lag facts",
	col("trace_no", func(r *fact.Lag) any { return r.TraceNo }),
	col("merchant_id", func(r *fact.Lag) any { return r.MerchantID }),
	col("terminal_id", func(r *fact.Lag) any { return r.TerminalID }),
	col("mcc", func(r *fact.Lag) any { return r.MCC }),
	col("cleared_mcc", func(r *fact.Lag) any { return r.ClearedMCC }),
	col("mode", func(r *fact.Lag) any { return modeName(r.Mode) }),
	col("authorized_amount", func(r *fact.Lag) any { return money(r.AuthorizedAmount) }),
	col("cleared_amount", func(r *fact.Lag) any { return money(r.ClearedAmount) }),
	col("fee", func(r *fact.Lag) any { return money(r.Fee) }),
	col("net_paid", func(r *fact.Lag) any { return money(r.NetPaid) }),
	col("authorized_at", func(r *fact.Lag) any { return dateTime(r.AuthorizedAt) }),
	col("cleared_at", func(r *fact.Lag) any { return dateTime(r.ClearedAt) }),
	col("paid_at", func(r *fact.Lag) any { return dateTime(r.PaidAt) }),
	col("expected_payout_at", func(r *fact.Lag) any { return dateTime(r.ExpectedPayoutAt) }),
	col("auth_to_clear_s", func(r *fact.Lag) any { return r.AuthToClearS }),
	col("clear_to_pay_s", func(r *fact.Lag) any { return r.ClearToPayS }),
	col("auth_to_pay_s", func(r *fact.Lag) any { return r.AuthToPayS }),
	col("past_due_s", func(r *fact.Lag) any { return r.PastDueS }),
	col("status", func(r *fact.Lag) any { return string(r.Status) }),
	col("calendar_version", func(r *fact.Lag) any { return r.CalendarVersion }),
	col("calendar_fallback", func(r *fact.Lag) any { return flag(r.CalendarFallback) }),
	col("version", func(r *fact.Lag) any { return r.Version }),
)

var anomalyTable = newTable("anomalies", "anomalies",
	col("id", func(r *fact.Anomaly) any { return r.ID }),
	col("kind", func(r *fact.Anomaly) any { return string(r.Kind) }),
	col("severity", func(r *fact.Anomaly) any { return string(r.Severity) }),
	col("status", func(r *fact.Anomaly) any { return string(r.Status) }),
	col("trace_no", func(r *fact.Anomaly) any { return r.TraceNo }),
	col("batch_id", func(r *fact.Anomaly) any { return r.BatchID }),
	col("merchant_id", func(r *fact.Anomaly) any { return r.MerchantID }),
	col("amount", func(r *fact.Anomaly) any { return money(r.Amount) }),
	col("expected_amount", func(r *fact.Anomaly) any { return money(r.ExpectedAmount) }),
	col("detected_at", func(r *fact.Anomaly) any { return dateTime(r.DetectedAt) }),
	col("resolved_at", func(r *fact.Anomaly) any { return dateTime(r.ResolvedAt) }),
	col("reason", func(r *fact.Anomaly) any { return r.Reason }),
	col("cause", func(r *fact.Anomaly) any { return r.Cause }),
	col("action", func(r *fact.Anomaly) any { return r.Action }),
	col("details", func(r *fact.Anomaly) any { return r.Details }),
	col("calendar_version", func(r *fact.Anomaly) any { return r.CalendarVersion }),
	col("version", func(r *fact.Anomaly) any { return r.Version }),
)

// RawTable returns the name of the raw archive table of a source.
func RawTable(src event.Source) (string, error) {
	if src >= event.NumSources {
		return "", fmt.Errorf("no raw table for %v", src)
	}
	return rawTables[src].name, nil
}

// InsertRaw archives consumed source messages in the raw table of src.
func (s *Store) InsertRaw(ctx context.Context, src event.Source, rows []RawRow) error {
	if src >= event.NumSources {
		return fmt.Errorf("inserting raw events: unknown source %v", src)
	}
	return insert(ctx, s, rawTables[src], rows)
}

// InsertControl records consumed control messages.
func (s *Store) InsertControl(ctx context.Context, rows []ControlRow) error {
	return insert(ctx, s, controlTable, rows)
}

// InsertDeadLetters records messages that could not be decoded or validated.
func (s *Store) InsertDeadLetters(ctx context.Context, rows []DeadLetter) error {
	return insert(ctx, s, deadLetterTable, rows)
}

// InsertLags writes settlement-lag facts; a row with the same trace and a
// higher version supersedes the earlier one in settlement_lag_latest.
func (s *Store) InsertLags(ctx context.Context, rows []fact.Lag) error {
	return insert(ctx, s, lagTable, rows)
}

// InsertAnomalies writes anomalies; the highest version of an id wins in
// anomalies_latest.
func (s *Store) InsertAnomalies(ctx context.Context, rows []fact.Anomaly) error {
	return insert(ctx, s, anomalyTable, rows)
}
