package store

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// The read side of one trace, for explain: its lag fact, archived events,
// anomalies and its merchant's latest profile.

// ArchivedEvent is an event of a trace as the raw archive holds it.
type ArchivedEvent struct {
	Source event.Source
	Topic  string // the topic it was consumed from
	Event  event.Event
}

// MerchantProfile is the part of a merchant's latest archived profile that
// explain uses.
type MerchantProfile struct {
	Mode          event.Mode
	RegisteredMCC string
}

// toFen converts a scanned Decimal(18,2) to integer fen.
func toFen(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }

// PayoutFeedProgress returns, in Unix ms, the highest occurred_at archived
// from the payout feed: payout events and the control messages (heartbeats)
// of the payouts topic — the default topic and every topic payout events
// were read from. It is 0 when the feed has delivered nothing.
func (s *Store) PayoutFeedProgress(ctx context.Context) (int64, error) {
	var a, b time.Time
	if err := s.conn.QueryRow(ctx, "SELECT max(occurred_at) FROM payout_events").Scan(&a); err != nil {
		return 0, fmt.Errorf("reading the payout feed's progress: %w", err)
	}
	if err := s.conn.QueryRow(ctx,
		"SELECT max(occurred_at) FROM control_events WHERE topic = ? OR topic "+s.globalIn()+" (SELECT DISTINCT topic FROM payout_events)",
		event.Payouts.DefaultTopic()).Scan(&b); err != nil {
		return 0, fmt.Errorf("reading the payout feed's heartbeats: %w", err)
	}
	return max(unixMs(a), unixMs(b)), nil
}

// The fact tables are read with FINAL and a filter on identity columns only
// (trace_no never changes for a row's key), which is what the *_latest views
// give, without merging the whole table.
const lagQuery = `
SELECT merchant_id, terminal_id, mcc, cleared_mcc, mode,
       authorized_amount, cleared_amount, fee, net_paid,
       authorized_at, cleared_at, paid_at, expected_payout_at,
       status, calendar_version, calendar_fallback, version
FROM settlement_lag FINAL
WHERE trace_no = ?
ORDER BY authorized_at DESC
LIMIT 1`

// TraceLag returns the latest lag fact of traceNo, or nil.
func (s *Store) TraceLag(ctx context.Context, traceNo string) (*fact.Lag, error) {
	rows, err := s.conn.Query(ctx, lagQuery, traceNo)
	if err != nil {
		return nil, fmt.Errorf("reading the lag fact of trace %s: %w", traceNo, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading the lag fact of trace %s: %w", traceNo, err)
		}
		return nil, nil
	}
	var (
		l                            fact.Lag
		mode, status                 string
		authAmt, clrAmt, fee, net    decimal.Decimal
		authAt, clrAt, paidAt, expAt time.Time
		fallback                     uint8
	)
	if err := rows.Scan(&l.MerchantID, &l.TerminalID, &l.MCC, &l.ClearedMCC, &mode,
		&authAmt, &clrAmt, &fee, &net, &authAt, &clrAt, &paidAt, &expAt,
		&status, &l.CalendarVersion, &fallback, &l.Version); err != nil {
		return nil, fmt.Errorf("reading the lag fact of trace %s: %w", traceNo, err)
	}
	l.TraceNo = traceNo
	l.Mode, _ = event.ParseMode(mode)
	l.AuthorizedAmount, l.ClearedAmount, l.Fee, l.NetPaid = toFen(authAmt), toFen(clrAmt), toFen(fee), toFen(net)
	l.AuthorizedAt, l.ClearedAt, l.PaidAt, l.ExpectedPayoutAt = unixMs(authAt), unixMs(clrAt), unixMs(paidAt), unixMs(expAt)
	l.Status = fact.LagStatus(status)
	l.CalendarFallback = fallback != 0
	return &l, nil
}

// eventQueries read the archived events of a trace, at most 1000 per table.
var eventQueries = [...]struct {
	src   event.Source
	query string
}{
	{event.Auth, `SELECT topic, event_id, type, occurred_at, merchant_id, terminal_id, response_code,
       card_bin, card_last4, amount, mcc
FROM auth_events WHERE trace_no = ? ORDER BY occurred_at, topic, "partition", "offset" LIMIT 1000`},
	{event.Clearing, `SELECT topic, event_id, type, occurred_at, merchant_id, batch_id, amount, fee, mcc
FROM clearing_events WHERE trace_no = ? ORDER BY occurred_at, topic, "partition", "offset" LIMIT 1000`},
	{event.Payouts, `SELECT topic, event_id, type, occurred_at, merchant_id, batch_id, amount, reason_code, reason
FROM payout_events WHERE trace_no = ? ORDER BY occurred_at, topic, "partition", "offset" LIMIT 1000`},
}

// TraceEvents returns the archived events of traceNo, at most 1000 per
// source, in event time.
func (s *Store) TraceEvents(ctx context.Context, traceNo string) ([]ArchivedEvent, error) {
	var out []ArchivedEvent
	for _, q := range eventQueries {
		rows, err := s.conn.Query(ctx, q.query, traceNo)
		if err != nil {
			return nil, fmt.Errorf("reading the %s events of trace %s: %w", q.src, traceNo, err)
		}
		for rows.Next() {
			var (
				a      = ArchivedEvent{Source: q.src}
				e      = &a.Event
				typ    string
				at     time.Time
				amount decimal.Decimal
				fee    decimal.Decimal
			)
			switch q.src {
			case event.Auth:
				err = rows.Scan(&a.Topic, &e.ID, &typ, &at, &e.MerchantID, &e.TerminalID, &e.ResponseCode,
					&e.CardBIN, &e.CardLast4, &amount, &e.MCC)
			case event.Clearing:
				err = rows.Scan(&a.Topic, &e.ID, &typ, &at, &e.MerchantID, &e.BatchID, &amount, &fee, &e.MCC)
			default:
				err = rows.Scan(&a.Topic, &e.ID, &typ, &at, &e.MerchantID, &e.BatchID, &amount, &e.ReasonCode, &e.Reason)
			}
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading the %s events of trace %s: %w", q.src, traceNo, err)
			}
			e.Type = event.ParseType(typ)
			e.TraceNo = traceNo
			e.OccurredAt = unixMs(at)
			e.Amount, e.Fee = toFen(amount), toFen(fee)
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the %s events of trace %s: %w", q.src, traceNo, err)
		}
	}
	return out, nil
}

// TraceAnomalies returns the anomalies of traceNo, latest versions, by id.
// The table is read with FINAL and a filter on trace_no only, which is what
// anomalies_latest gives, without merging the whole table.
func (s *Store) TraceAnomalies(ctx context.Context, traceNo string) ([]fact.Anomaly, error) {
	rows, err := s.conn.Query(ctx, `SELECT `+anomalyColumns+` FROM anomalies FINAL WHERE trace_no = ? ORDER BY id`, traceNo)
	if err != nil {
		return nil, fmt.Errorf("reading the anomalies of trace %s: %w", traceNo, err)
	}
	out, err := scanAnomalyRows(rows)
	if err != nil {
		return nil, fmt.Errorf("reading the anomalies of trace %s: %w", traceNo, err)
	}
	return out, nil
}

const profileQuery = `
SELECT mode, registered_mcc
FROM merchant_events
WHERE merchant_id = ?
ORDER BY occurred_at DESC, kafka_time DESC, "offset" DESC
LIMIT 1`

// LatestProfile returns the latest archived profile of merchantID, or nil.
func (s *Store) LatestProfile(ctx context.Context, merchantID string) (*MerchantProfile, error) {
	rows, err := s.conn.Query(ctx, profileQuery, merchantID)
	if err != nil {
		return nil, fmt.Errorf("reading the profile of merchant %s: %w", merchantID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading the profile of merchant %s: %w", merchantID, err)
		}
		return nil, nil
	}
	var p MerchantProfile
	var mode string
	if err := rows.Scan(&mode, &p.RegisteredMCC); err != nil {
		return nil, fmt.Errorf("reading the profile of merchant %s: %w", merchantID, err)
	}
	p.Mode, _ = event.ParseMode(mode)
	return &p, nil
}

// AnomalyTraces returns the trace numbers that start with tracePrefix and
// hold an anomaly of kind, in any version, as soon as its row is queryable.
func (s *Store) AnomalyTraces(ctx context.Context, kind fact.Kind, tracePrefix string) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT trace_no FROM anomalies WHERE kind = ? AND startsWith(trace_no, ?)`, string(kind), tracePrefix)
	if err != nil {
		return nil, fmt.Errorf("reading the traces with %s: %w", kind, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("reading the traces with %s: %w", kind, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the traces with %s: %w", kind, err)
	}
	return out, nil
}
