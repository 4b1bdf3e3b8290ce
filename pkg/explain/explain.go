// Package explain answers the support question "why hasn't trace X been
// paid?". For one trace number it gathers what ClickHouse holds — the latest
// settlement_lag row, the raw authorization, clearing and payout archives, the
// anomalies and the merchant's latest profile — and turns it into a status, a
// one-line summary in plain words, the calendar-aware expected payout time, a
// timeline of every stage and the anomalies with their cause and recommended
// action.
//
// It only reads; it never writes facts and does not re-run the join. The
// decision itself (decide) is a pure function of the gathered rows, the
// schedule and the "as of" instant, so it is tested without a database.
package explain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
)

// Status values of an Explanation.
const (
	StatusPaid            = "paid"
	StatusFailed          = "failed"
	StatusOverdue         = "overdue"
	StatusHeld            = "held"
	StatusReversed        = "reversed"
	StatusClearingMissing = "clearing_missing"
	StatusOrphan          = "orphan"
	StatusDeclined        = "declined"
	StatusPending         = "pending"
	StatusNotFound        = "not_found"
)

// Stage is one archived event of the trace.
type Stage struct {
	Stage  string    `json:"stage"` // the event type: authorization, cleared, payout_paid, ...
	At     time.Time `json:"at"`    // occurred_at, in the calendar's time zone
	Amount string    `json:"amount,omitempty"`
	Batch  string    `json:"batch,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Source string    `json:"source"` // the topic it was consumed from
}

// Anomaly is one anomaly of the trace, latest version.
type Anomaly struct {
	Kind       string     `json:"kind"`
	Severity   string     `json:"severity"`
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	Cause      string     `json:"cause"`
	Action     string     `json:"action"`
	Details    string     `json:"details,omitempty"`
	DetectedAt time.Time  `json:"detected_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Explanation is the answer for one trace.
type Explanation struct {
	TraceNo    string `json:"trace_no"`
	MerchantID string `json:"merchant_id,omitempty"`
	Mode       string `json:"mode,omitempty"`

	// Status is one of the Status* constants.
	Status string `json:"status"`
	// Summary is the one line support reads.
	Summary string `json:"summary"`

	ExpectedPayoutAt *time.Time `json:"expected_payout_at,omitempty"`
	CalendarVersion  string     `json:"calendar_version,omitempty"`
	CalendarFallback bool       `json:"calendar_fallback"`

	// AsOf is how far the payout feed has delivered (event time): whether a
	// payout is "not overdue yet" is judged against it.
	AsOf time.Time `json:"as_of,omitzero"`

	Timeline  []Stage   `json:"timeline"`  // by occurred_at
	Anomalies []Anomaly `json:"anomalies"` // open first
}

// Found reports whether anything is archived for the trace.
func (e Explanation) Found() bool { return e.Status != StatusNotFound }

// ErrInvalidTraceNo is returned for a trace number that no event could carry.
var ErrInvalidTraceNo = errors.New("invalid trace number: want 1 to 32 characters of A-Z a-z 0-9 _ -")

// ValidTraceNo reports whether s is a well-formed trace number: 1 to 32
// characters of A-Z a-z 0-9 _ - (the rule pkg/event enforces on input).
func ValidTraceNo(s string) bool { return event.ValidTraceNo(s) }

// Explainer reads what ClickHouse holds about a trace. It is safe for
// concurrent use.
type Explainer struct {
	st    *store.Store
	sched *calendar.Schedule
}

// New returns an Explainer reading from st, computing deadlines with sched.
func New(st *store.Store, sched *calendar.Schedule) (*Explainer, error) {
	if st == nil {
		return nil, errors.New("explain: no store")
	}
	if sched == nil {
		return nil, errors.New("explain: no schedule")
	}
	return &Explainer{st: st, sched: sched}, nil
}

// Explain explains traceNo as of asOf. A zero asOf means the payout feed's
// progress: the highest occurred_at archived from the payouts topic, events
// and heartbeats alike. A trace with nothing archived gives status not_found
// and no error.
func (x *Explainer) Explain(ctx context.Context, traceNo string, asOf time.Time) (Explanation, error) {
	if !ValidTraceNo(traceNo) {
		return Explanation{}, ErrInvalidTraceNo
	}
	f := facts{traceNo: traceNo}
	var err error
	if f.lag, err = x.lag(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if f.events, err = x.events(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if f.anomalies, err = x.anomalies(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if m := f.merchantID(); m != "" {
		if f.merchant, err = x.profile(ctx, m); err != nil {
			return Explanation{}, err
		}
	}
	if asOf.IsZero() {
		if asOf, err = x.PayoutFeedProgress(ctx); err != nil {
			return Explanation{}, err
		}
	}
	return decide(f, x.sched, asOf), nil
}

// PayoutFeedProgress returns the highest occurred_at archived from the payout
// feed: payout events and the control messages (heartbeats) of the payouts
// topic — the default topic and every topic payout events were read from.
// It is zero when the feed has delivered nothing.
func (x *Explainer) PayoutFeedProgress(ctx context.Context) (time.Time, error) {
	conn := x.st.Conn()
	var a, b time.Time
	if err := conn.QueryRow(ctx, "SELECT max(occurred_at) FROM payout_events").Scan(&a); err != nil {
		return time.Time{}, fmt.Errorf("reading the payout feed's progress: %w", err)
	}
	if err := conn.QueryRow(ctx,
		"SELECT max(occurred_at) FROM control_events WHERE topic = ? OR topic IN (SELECT DISTINCT topic FROM payout_events)",
		event.Payouts.DefaultTopic()).Scan(&b); err != nil {
		return time.Time{}, fmt.Errorf("reading the payout feed's heartbeats: %w", err)
	}
	ms := max(unixMs(a), unixMs(b))
	if ms == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms).In(x.sched.Calendar().Location()), nil
}

// unixMs converts a scanned DateTime to Unix ms; the zero DateTime
// (1970-01-01) and anything before it is 0, "did not happen".
func unixMs(t time.Time) int64 {
	if t.Unix() <= 0 {
		return 0
	}
	return t.UnixMilli()
}

// toFen converts a scanned Decimal(18,2) to integer fen.
func toFen(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }

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

func (x *Explainer) lag(ctx context.Context, traceNo string) (*fact.Lag, error) {
	rows, err := x.st.Conn().Query(ctx, lagQuery, traceNo)
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

func (x *Explainer) events(ctx context.Context, traceNo string) ([]archived, error) {
	var out []archived
	for _, q := range eventQueries {
		rows, err := x.st.Conn().Query(ctx, q.query, traceNo)
		if err != nil {
			return nil, fmt.Errorf("reading the %s events of trace %s: %w", q.src, traceNo, err)
		}
		for rows.Next() {
			var (
				a      = archived{src: q.src}
				e      = &a.ev
				typ    string
				at     time.Time
				amount decimal.Decimal
				fee    decimal.Decimal
			)
			switch q.src {
			case event.Auth:
				err = rows.Scan(&a.topic, &e.ID, &typ, &at, &e.MerchantID, &e.TerminalID, &e.ResponseCode,
					&e.CardBIN, &e.CardLast4, &amount, &e.MCC)
			case event.Clearing:
				err = rows.Scan(&a.topic, &e.ID, &typ, &at, &e.MerchantID, &e.BatchID, &amount, &fee, &e.MCC)
			default:
				err = rows.Scan(&a.topic, &e.ID, &typ, &at, &e.MerchantID, &e.BatchID, &amount, &e.ReasonCode, &e.Reason)
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

const anomaliesQuery = `
SELECT id, kind, severity, status, merchant_id, amount, expected_amount,
       detected_at, resolved_at, reason, cause, action, details, calendar_version,
       bank_code, bank_codes_version, bank_code_unknown
FROM anomalies FINAL
WHERE trace_no = ?`

func (x *Explainer) anomalies(ctx context.Context, traceNo string) ([]fact.Anomaly, error) {
	rows, err := x.st.Conn().Query(ctx, anomaliesQuery, traceNo)
	if err != nil {
		return nil, fmt.Errorf("reading the anomalies of trace %s: %w", traceNo, err)
	}
	defer rows.Close()
	var out []fact.Anomaly
	for rows.Next() {
		var (
			a                      fact.Anomaly
			kind, sev, status      string
			amount, expected       decimal.Decimal
			detectedAt, resolvedAt time.Time
			unknown                uint8
		)
		if err := rows.Scan(&a.ID, &kind, &sev, &status, &a.MerchantID, &amount, &expected,
			&detectedAt, &resolvedAt, &a.Reason, &a.Cause, &a.Action, &a.Details, &a.CalendarVersion,
			&a.BankCode, &a.BankCodesVersion, &unknown); err != nil {
			return nil, fmt.Errorf("reading the anomalies of trace %s: %w", traceNo, err)
		}
		a.BankCodeUnknown = unknown != 0
		a.TraceNo = traceNo
		a.Kind, a.Severity, a.Status = fact.Kind(kind), fact.Severity(sev), fact.AnomalyStatus(status)
		a.Amount, a.ExpectedAmount = toFen(amount), toFen(expected)
		a.DetectedAt, a.ResolvedAt = unixMs(detectedAt), unixMs(resolvedAt)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the anomalies of trace %s: %w", traceNo, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

const profileQuery = `
SELECT mode, registered_mcc
FROM merchant_events
WHERE merchant_id = ?
ORDER BY occurred_at DESC, kafka_time DESC, "offset" DESC
LIMIT 1`

func (x *Explainer) profile(ctx context.Context, merchantID string) (*profile, error) {
	rows, err := x.st.Conn().Query(ctx, profileQuery, merchantID)
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
	var p profile
	var mode string
	if err := rows.Scan(&mode, &p.registeredMCC); err != nil {
		return nil, fmt.Errorf("reading the profile of merchant %s: %w", merchantID, err)
	}
	p.mode, _ = event.ParseMode(mode)
	return &p, nil
}
