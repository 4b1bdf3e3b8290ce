package simulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"settlemon/pkg/fact"
)

// Truth is what really happened to one trace: one JSON line per trace in the
// truth file, in authorization order of each traffic day. Money is fen;
// times are Unix milliseconds, zero when the stage did not happen; lags are
// whole seconds, zero when either stage is missing (ClearToPayS is negative
// for D0 traces, paid before the nightly clearing; PastDueS is negative when
// paid early, which healthy traces always are).
type Truth struct {
	TraceNo      string `json:"trace_no"`
	MerchantID   string `json:"merchant_id"`
	TerminalID   string `json:"terminal_id"`
	MCC          string `json:"mcc"`
	Mode         string `json:"mode"` // "T1", "D1", "D0"
	Approved     bool   `json:"approved"`
	ResponseCode string `json:"response_code"`

	Amount        int64 `json:"amount"`         // authorized
	ClearedAmount int64 `json:"cleared_amount"` // zero when declined
	Fee           int64 `json:"fee"`
	Net           int64 `json:"net"` // cleared - fee: what the payout carries (or would have)

	AuthorizedAt     int64 `json:"authorized_at"`
	ClearedAt        int64 `json:"cleared_at"`
	PaidAt           int64 `json:"paid_at"`
	FailedAt         int64 `json:"failed_at"`          // payout_failed event, zero otherwise
	ExpectedPayoutAt int64 `json:"expected_payout_at"` // Schedule.PayoutDeadline; zero when declined

	AuthToClearS int64 `json:"auth_to_clear_s"`
	ClearToPayS  int64 `json:"clear_to_pay_s"`
	AuthToPayS   int64 `json:"auth_to_pay_s"`
	PastDueS     int64 `json:"past_due_s"`

	TradeDate       string `json:"trade_date,omitempty"` // "2026-09-30"; empty when declined
	ClearingBatchID string `json:"clearing_batch_id,omitempty"`
	PayoutBatchID   string `json:"payout_batch_id,omitempty"`

	// Anomalies are the faults injected into this trace (at most one today);
	// never null.
	Anomalies []Anomaly `json:"anomalies"`
}

// Anomaly is an injected fault: a pkg/fact anomaly kind and, for
// payout_failed, the mapped failure reason (e.g. "name_mismatch").
type Anomaly struct {
	Kind   fact.Kind `json:"kind"`
	Reason string    `json:"reason"`
}

// ReadTruth reads a truth file written by Run.
func ReadTruth(r io.Reader) ([]Truth, error) {
	var out []Truth
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t Truth
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("truth line %d: %w", line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading truth: %w", err)
	}
	return out, nil
}
