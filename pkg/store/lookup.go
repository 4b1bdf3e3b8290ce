package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/text"
)

// TraceQuery is what a merchant on the phone knows about a sale: who they
// are, the day, the amount, perhaps the terminal or the card's last four
// digits.
type TraceQuery struct {
	MerchantID string
	From, To   time.Time // the authorization in [From, To): the merchant's day
	Amount     int64     // fen
	TerminalID string    // optional
	CardLast4  string    // optional
	Limit      int       // default 20
}

// TraceMatch is one candidate trace, with what it matched. Money is fen,
// times Unix ms (zero: not yet).
type TraceMatch struct {
	TraceNo      string
	MerchantID   string
	TerminalID   string
	CardLast4    string
	Amount       int64 // authorized
	AuthorizedAt int64
	Approved     bool
	// From the settlement-lag fact; Status is empty when the trace has none
	// (a declined sale, or one the joiner has not written yet).
	Status           string
	Mode             string
	ClearedAmount    int64
	NetPaid          int64
	ExpectedPayoutAt int64
	PaidAt           int64
	// What matched: the amount (authorized or cleared) exactly, the
	// terminal, the card's last four digits. Score weighs them 3, 1 and 3: a card
	// and an amount each narrow a busy day more than a terminal does.
	AmountMatches, TerminalMatches, Last4Matches bool
	Score                                        int
}

// FindTraces returns the merchant's authorizations of the window, best match
// first: the highest score, then the amount nearest to q.Amount, then the
// time. The authorization archive is the base, so a declined sale is found
// too; the settlement-lag fact (latest version) gives status and expected
// payout. Both tables are read by the merchant's trace numbers, the
// settlement-lag table through its primary key.
func (s *Store) FindTraces(ctx context.Context, q TraceQuery) ([]TraceMatch, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	from, to := uint32(q.From.Unix()), uint32(q.To.Unix())
	amount := decimal.New(q.Amount, -2)
	yuan, _ := amount.Float64()
	rows, err := s.conn.Query(ctx, `
SELECT trace_no, terminal_id, card_last4, amount, authorized_at, approved,
       status, mode, cleared_amount, net_paid, expected_payout_at, paid_at,
       amount_matches, terminal_matches, last4_matches,
       amount_matches * 3 + last4_matches * 3 + terminal_matches AS score
FROM
(
    SELECT a.trace_no AS trace_no, terminal_id, card_last4, amount, authorized_at, approved,
           status, mode, cleared_amount, net_paid, expected_payout_at, paid_at,
           toUInt8(amount = toDecimal64(?, 2) OR (found = 1 AND cleared_amount = toDecimal64(?, 2))) AS amount_matches,
           toUInt8(? != '' AND terminal_id = ?) AS terminal_matches,
           toUInt8(? != '' AND card_last4 = ?) AS last4_matches
    FROM
    (
        SELECT trace_no, any(terminal_id) AS terminal_id, any(card_last4) AS card_last4, any(amount) AS amount,
               min(occurred_at) AS authorized_at, max(response_code = '00') AS approved
        FROM auth_events
        WHERE merchant_id = ? AND type = 'authorization' AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)
        GROUP BY trace_no
    ) AS a
    ANY LEFT JOIN
    (
        SELECT trace_no, status, mode, cleared_amount, net_paid, expected_payout_at, paid_at, toUInt8(1) AS found
        FROM settlement_lag FINAL
        WHERE trace_no IN
        (
            SELECT trace_no FROM auth_events
            WHERE merchant_id = ? AND type = 'authorization' AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)
        )
    ) AS l USING trace_no
)
ORDER BY score DESC, abs(toFloat64(amount) - ?), authorized_at, trace_no
LIMIT ?`,
		amount.String(), amount.String(), q.TerminalID, q.TerminalID, q.CardLast4, q.CardLast4,
		q.MerchantID, from, to, q.MerchantID, from, to, yuan, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("finding the traces of merchant %s: %w", q.MerchantID, err)
	}
	defer rows.Close()
	var out []TraceMatch
	for rows.Next() {
		var (
			m                      TraceMatch
			amt, cleared, net      decimal.Decimal
			authAt, expected, paid time.Time
			approved, am, tm, lm   uint8
			score                  uint64
		)
		if err := rows.Scan(&m.TraceNo, &m.TerminalID, &m.CardLast4, &amt, &authAt, &approved,
			&m.Status, &m.Mode, &cleared, &net, &expected, &paid, &am, &tm, &lm, &score); err != nil {
			return nil, fmt.Errorf("finding the traces of merchant %s: %w", q.MerchantID, err)
		}
		m.MerchantID = q.MerchantID
		m.Amount, m.ClearedAmount, m.NetPaid = toFen(amt), toFen(cleared), toFen(net)
		m.AuthorizedAt, m.ExpectedPayoutAt, m.PaidAt = unixMs(authAt), unixMs(expected), unixMs(paid)
		m.Approved, m.AmountMatches, m.TerminalMatches, m.Last4Matches = approved != 0, am != 0, tm != 0, lm != 0
		m.Score = int(score)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding the traces of merchant %s: %w", q.MerchantID, err)
	}
	return out, nil
}

// ParseTraceQuery builds the query from what a merchant says, as the
// console's parameters and `settlemon find` flags carry it: the merchant id,
// the day (YYYY-MM-DD, in loc), the amount in yuan ("128" or "128.00"),
// and optionally the terminal and the card's last four digits. The error
// names the first bad value: a text.Error whose first argument is the
// parameter's name.
func ParseTraceQuery(merchant, day, amount, terminal, last4 string, loc *time.Location) (TraceQuery, error) {
	var q TraceQuery
	switch {
	case merchant == "" || len(merchant) > 64 || !event.IsToken(merchant):
		return q, text.Errorf("error.find.merchant", "merchant", strconv.Quote(merchant), "A-Z a-z 0-9 _ -")
	case terminal != "" && (len(terminal) > 64 || !event.IsToken(terminal)):
		return q, text.Errorf("error.find.terminal", "terminal", strconv.Quote(terminal), "A-Z a-z 0-9 _ -")
	case last4 != "" && !fourDigits(last4):
		return q, text.Errorf("error.find.last4", "last4", strconv.Quote(last4))
	}
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return q, text.Errorf("error.find.day", "day", strconv.Quote(day), "YYYY-MM-DD", loc.String())
	}
	fen, ok := event.ParseYuan(amount)
	if !ok {
		return q, text.Errorf("error.find.amount", "amount", strconv.Quote(amount), "128", "128.50")
	}
	return TraceQuery{MerchantID: merchant, From: d, To: d.AddDate(0, 0, 1), Amount: fen, TerminalID: terminal, CardLast4: last4}, nil
}

func fourDigits(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := range 4 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
