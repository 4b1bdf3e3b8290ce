package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

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

// insert writes rows in one batch, retrying the whole batch on retryable
// errors. The rows are converted into columns once; each attempt prepares a
// new batch and appends those columns to it: a batch is never sent twice
// after a success.
func insert[T any](ctx context.Context, s *Store, t *table[T], rows []T) error {
	return insertOrdered(ctx, s, t, rows, nil)
}

// insertOrdered is insert with the rows sent in the order of the indexes
// in order (nil: as they are).
func insertOrdered[T any](ctx context.Context, s *Store, t *table[T], rows []T, order []int32) error {
	if len(rows) == 0 {
		return nil
	}
	start := time.Now()
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	ends := []int{len(rows)}
	if t.month != nil {
		order, ends = byMonth(rows, order, t.month, s.zone())
	}
	cols := t.build(rows, order, sc)
	err := s.withRetry(ctx, "inserting "+t.what, len(rows), s.attempt(t.name, time.Now, func() error {
		return sendBatch(ctx, s, t, cols, ends, sc)
	}))
	observeInsert(s, t, rows, time.Since(start), err)
	return err
}

// tableNames lists every table the store inserts into, for metrics that
// exist from the start.
func tableNames() []string {
	names := []string{controlTable.name, deadLetterTable.name, lagTable.name, anomalyTable.name,
		batchTable.name, healthTable.name, alertTable.name, checkpointTable.name}
	for _, t := range rawTables {
		names = append(names, t.name)
	}
	return names
}

// sendBatch prepares a batch, appends the built columns and sends them, in
// one block per group of rows (ends: the end of each, the last being the
// number of rows), all in one insert.
func sendBatch[T any](ctx context.Context, s *Store, t *table[T], cols []colData, ends []int, sc *scratch) error {
	n := ends[len(ends)-1]
	batch, err := s.conn.PrepareBatch(s.insertContext(ctx), t.query)
	if err != nil {
		return fmt.Errorf("preparing insert into %s: %w", t.name, err)
	}
	var win []colData // the columns of one group's rows
	lo := 0
	for i, hi := range ends {
		block := cols
		if len(ends) > 1 {
			win = window(win, cols, lo, hi)
			block = win
		}
		if err := appendColumns(batch, t, block, sc); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("appending %d rows to %s: %w", hi-lo, t.name, err)
		}
		if i < len(ends)-1 {
			if err := batch.Flush(); err != nil {
				_ = batch.Abort()
				return fmt.Errorf("sending %d of %d rows to %s: %w", hi, n, t.name, err)
			}
		}
		lo = hi
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending %d rows to %s: %w", n, t.name, err)
	}
	return nil
}

// Lineage columns shared by the raw archives.
func rawLineage() []column[RawRow] {
	return []column[RawRow]{
		str("topic", func(r *RawRow) string { return r.Topic }),
		u32("partition", func(r *RawRow) uint32 { return clampU32(r.Partition) }),
		u64("offset", func(r *RawRow) uint64 { return clampU64(r.Offset) }),
		dateTime("kafka_time", func(r *RawRow) int64 { return r.KafkaTime }),
		str("event_id", func(r *RawRow) string { return r.Event.ID }),
		str("type", func(r *RawRow) string { return r.Event.Type.String() }),
		dateTime("occurred_at", func(r *RawRow) int64 { return r.Event.OccurredAt }),
	}
}

func rawTable(name, what string, cols ...column[RawRow]) *table[RawRow] {
	all := append(rawLineage(), cols...)
	all = append(all, bin("payload", func(r *RawRow) []byte { return r.Payload }))
	return newTable(name, what, all...).monthly(func(r *RawRow) int64 { return r.Event.OccurredAt })
}

var rawTables = [event.NumSources]*table[RawRow]{
	event.Auth: rawTable("auth_events", "authorization events",
		str("trace_no", func(r *RawRow) string { return r.Event.TraceNo }),
		str("merchant_id", func(r *RawRow) string { return r.Event.MerchantID }),
		str("terminal_id", func(r *RawRow) string { return r.Event.TerminalID }),
		str("response_code", func(r *RawRow) string { return r.Event.ResponseCode }),
		str("card_bin", func(r *RawRow) string { return r.Event.CardBIN }),
		str("card_last4", func(r *RawRow) string { return r.Event.CardLast4 }),
		str("currency", func(r *RawRow) string { return r.Event.Currency }),
		money("amount", func(r *RawRow) int64 { return r.Event.Amount }),
		str("mcc", func(r *RawRow) string { return r.Event.MCC }),
	),
	event.Clearing: rawTable("clearing_events", "clearing events",
		str("trace_no", func(r *RawRow) string { return r.Event.TraceNo }),
		str("merchant_id", func(r *RawRow) string { return r.Event.MerchantID }),
		str("batch_id", func(r *RawRow) string { return r.Event.BatchID }),
		money("amount", func(r *RawRow) int64 { return r.Event.Amount }),
		money("fee", func(r *RawRow) int64 { return r.Event.Fee }),
		str("mcc", func(r *RawRow) string { return r.Event.MCC }),
		i64("declared_count", func(r *RawRow) int64 { return r.Event.DeclaredCount }),
		money("declared_total", func(r *RawRow) int64 { return r.Event.DeclaredTotal }),
	),
	event.Payouts: rawTable("payout_events", "payout events",
		str("trace_no", func(r *RawRow) string { return r.Event.TraceNo }),
		str("merchant_id", func(r *RawRow) string { return r.Event.MerchantID }),
		str("batch_id", func(r *RawRow) string { return r.Event.BatchID }),
		money("amount", func(r *RawRow) int64 { return r.Event.Amount }),
		str("reason_code", func(r *RawRow) string { return r.Event.ReasonCode }),
		str("reason", func(r *RawRow) string { return r.Event.Reason }),
		i64("declared_count", func(r *RawRow) int64 { return r.Event.DeclaredCount }),
		money("declared_total", func(r *RawRow) int64 { return r.Event.DeclaredTotal }),
	),
	event.Merchants: rawTable("merchant_events", "merchant events",
		str("merchant_id", func(r *RawRow) string { return r.Event.MerchantID }),
		str("merchant_name", func(r *RawRow) string { return r.Event.MerchantName }),
		str("registered_mcc", func(r *RawRow) string { return r.Event.RegisteredMCC }),
		str("mode", func(r *RawRow) string { return modeName(r.Event.Mode) }),
		i64("fee_rate_ppm", func(r *RawRow) int64 { return r.Event.FeeRatePPM }),
		str("account_ref", func(r *RawRow) string { return r.Event.AccountRef }),
	),
}

// modeName is the mode as stored: "T1", "D1", "D0", "T0", or "unknown".
func modeName(m event.Mode) string { return m.String() }

var controlTable = newTable("control_events", "control events",
	str("topic", func(r *ControlRow) string { return r.Topic }),
	u32("partition", func(r *ControlRow) uint32 { return clampU32(r.Partition) }),
	u64("offset", func(r *ControlRow) uint64 { return clampU64(r.Offset) }),
	dateTime("kafka_time", func(r *ControlRow) int64 { return r.KafkaTime }),
	str("type", func(r *ControlRow) string { return r.Type }),
	dateTime("occurred_at", func(r *ControlRow) int64 { return r.OccurredAt }),
	str("producer", func(r *ControlRow) string { return r.Producer }),
	str("note", func(r *ControlRow) string { return r.Note }),
).monthly(func(r *ControlRow) int64 { return r.OccurredAt })

var deadLetterTable = newTable("dead_letters", "dead letters",
	str("topic", func(r *DeadLetter) string { return r.Topic }),
	u32("partition", func(r *DeadLetter) uint32 { return clampU32(r.Partition) }),
	u64("offset", func(r *DeadLetter) uint64 { return clampU64(r.Offset) }),
	dateTime("kafka_time", func(r *DeadLetter) int64 { return r.KafkaTime }),
	bin("key", func(r *DeadLetter) []byte { return r.Key }),
	str("reason", func(r *DeadLetter) string { return r.Reason }),
	str("detail", func(r *DeadLetter) string { return r.Detail }),
	bin("payload", func(r *DeadLetter) []byte { return r.Payload }),
).monthly(func(r *DeadLetter) int64 { return r.KafkaTime })

var lagTable = newTable("settlement_lag", "lag facts",
	str("trace_no", func(r *fact.Lag) string { return r.TraceNo }),
	str("merchant_id", func(r *fact.Lag) string { return r.MerchantID }),
	str("terminal_id", func(r *fact.Lag) string { return r.TerminalID }),
	str("mcc", func(r *fact.Lag) string { return r.MCC }),
	str("cleared_mcc", func(r *fact.Lag) string { return r.ClearedMCC }),
	str("mode", func(r *fact.Lag) string { return modeName(r.Mode) }),
	money("authorized_amount", func(r *fact.Lag) int64 { return r.AuthorizedAmount }),
	money("cleared_amount", func(r *fact.Lag) int64 { return r.ClearedAmount }),
	money("fee", func(r *fact.Lag) int64 { return r.Fee }),
	money("net_paid", func(r *fact.Lag) int64 { return r.NetPaid }),
	dateTime("authorized_at", func(r *fact.Lag) int64 { return r.AuthorizedAt }),
	dateTime("cleared_at", func(r *fact.Lag) int64 { return r.ClearedAt }),
	dateTime("paid_at", func(r *fact.Lag) int64 { return r.PaidAt }),
	dateTime("expected_payout_at", func(r *fact.Lag) int64 { return r.ExpectedPayoutAt }),
	i64("auth_to_clear_s", func(r *fact.Lag) int64 { return r.AuthToClearS }),
	i64("clear_to_pay_s", func(r *fact.Lag) int64 { return r.ClearToPayS }),
	i64("auth_to_pay_s", func(r *fact.Lag) int64 { return r.AuthToPayS }),
	i64("past_due_s", func(r *fact.Lag) int64 { return r.PastDueS }),
	str("status", func(r *fact.Lag) string { return string(r.Status) }),
	str("calendar_version", func(r *fact.Lag) string { return r.CalendarVersion }),
	u8("calendar_fallback", func(r *fact.Lag) uint8 { return flag(r.CalendarFallback) }),
	u64("version", func(r *fact.Lag) uint64 { return r.Version }),
).monthly(func(r *fact.Lag) int64 { return r.AuthorizedAt })

var anomalyTable = newTable("anomalies", "anomalies",
	str("id", func(r *fact.Anomaly) string { return r.ID }),
	str("kind", func(r *fact.Anomaly) string { return string(r.Kind) }),
	str("severity", func(r *fact.Anomaly) string { return string(r.Severity) }),
	str("status", func(r *fact.Anomaly) string { return string(r.Status) }),
	str("trace_no", func(r *fact.Anomaly) string { return r.TraceNo }),
	str("batch_id", func(r *fact.Anomaly) string { return r.BatchID }),
	str("merchant_id", func(r *fact.Anomaly) string { return r.MerchantID }),
	money("amount", func(r *fact.Anomaly) int64 { return r.Amount }),
	money("expected_amount", func(r *fact.Anomaly) int64 { return r.ExpectedAmount }),
	dateTime("detected_at", func(r *fact.Anomaly) int64 { return r.DetectedAt }),
	dateTime("resolved_at", func(r *fact.Anomaly) int64 { return r.ResolvedAt }),
	str("reason", func(r *fact.Anomaly) string { return r.Reason }),
	str("cause", func(r *fact.Anomaly) string { return r.Cause }),
	str("action", func(r *fact.Anomaly) string { return r.Action }),
	str("details", func(r *fact.Anomaly) string { return r.Details }),
	str("calendar_version", func(r *fact.Anomaly) string { return r.CalendarVersion }),
	u64("version", func(r *fact.Anomaly) uint64 { return r.Version }),
	str("bank_code", func(r *fact.Anomaly) string { return r.BankCode }),
	str("bank_codes_version", func(r *fact.Anomaly) string { return r.BankCodesVersion }),
	u8("bank_code_unknown", func(r *fact.Anomaly) uint8 { return flag(r.BankCodeUnknown) }),
	str("incident_key", func(r *fact.Anomaly) string { return r.IncidentKey }),
	str("args", func(r *fact.Anomaly) string { return encodeArgs(r.Args) }),
).monthly(func(r *fact.Anomaly) int64 { return r.DetectedAt })

// RawTable returns the name of the raw archive table of a source.
func RawTable(src event.Source) (string, error) {
	if src >= event.NumSources {
		return "", fmt.Errorf("no raw table for %v", src)
	}
	return rawTables[src].name, nil
}

// InsertRaw archives consumed source messages in the raw table of src. The
// rows are sent in the archive's sorting key (topic, partition, offset), so
// that ClickHouse writes the block as it comes instead of sorting it and
// copying every column; rows is not reordered.
func (s *Store) InsertRaw(ctx context.Context, src event.Source, rows []RawRow) error {
	if src >= event.NumSources {
		return fmt.Errorf("inserting raw events: unknown source %v", src)
	}
	var order []int32
	if !coordinatesSorted(rows) {
		order = byCoordinates(rows)
	}
	return insertOrdered(ctx, s, rawTables[src], rows, order)
}

// compareCoordinates orders raw rows as the archive's sorting key does.
func compareCoordinates(a, b *RawRow) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Partition, b.Partition); c != 0 {
		return c
	}
	return cmp.Compare(a.Offset, b.Offset)
}

func coordinatesSorted(rows []RawRow) bool {
	for i := 1; i < len(rows); i++ {
		if compareCoordinates(&rows[i-1], &rows[i]) > 0 {
			return false
		}
	}
	return true
}

// byCoordinates returns the indexes of rows in (topic, partition, offset)
// order. A consumer's rows arrive as runs of ascending offsets of its
// partitions, interleaved: they are grouped by topic and partition in one
// pass, keeping their order, and only a group that is not ascending is
// sorted.
func byCoordinates(rows []RawRow) []int32 {
	type coord struct {
		topic string
		part  int32
	}
	counts := map[coord]int{}
	for i := range rows {
		counts[coord{rows[i].Topic, rows[i].Partition}]++
	}
	keys := make([]coord, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b coord) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.part, b.part)
	})
	start := make(map[coord]int, len(keys))
	at := 0
	for _, k := range keys {
		start[k] = at
		at += counts[k]
	}
	order := make([]int32, len(rows))
	next := maps.Clone(start)
	for i := range rows {
		k := coord{rows[i].Topic, rows[i].Partition}
		order[next[k]] = int32(i)
		next[k]++
	}
	for _, k := range keys {
		group := order[start[k] : start[k]+counts[k]]
		ascending := slices.IsSortedFunc(group, func(a, b int32) int { return cmp.Compare(rows[a].Offset, rows[b].Offset) })
		if !ascending {
			slices.SortStableFunc(group, func(a, b int32) int { return cmp.Compare(rows[a].Offset, rows[b].Offset) })
		}
	}
	return order
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
