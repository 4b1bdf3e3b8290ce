package simulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"settlemon/pkg/fact"
)

// The truth file is JSON lines. Each trace line is a Truth, in
// authorization order within each traffic day, the day's orphans last; after
// all trace lines come the run-level lines: one per feed outage, then one per
// batch fault, in the order the batches opened:
//
//	{"outage":{"source":"payouts","from":1790730000000,"to":1790773200000,"held_back":1234}}
//	{"batch":{"batch_id":"PAY-T1-20260929","source":"payouts","kind":"batch_stalled","stalled_from":1790648101000,"resumed_at":1790655301000}}
//	{"batch":{"batch_id":"PAY-D1-20260930","source":"payouts","kind":"batch_incomplete","declared_count":6051,"seen_count":6050}}
//
// ReadTruth returns the trace lines only (and skips run-level lines), so
// readers written before run-level lines existed keep working; ReadRunTruth
// returns all of them.

// Truth is what really happened to one trace: one JSON line per trace in the
// truth file. Money is fen; times are Unix milliseconds, zero when the stage
// did not happen; lags are whole seconds, zero when either stage is missing
// (ClearToPayS is negative for D0 traces, paid before the nightly clearing;
// PastDueS is negative when paid early, which healthy traces always are, and
// positive for payouts held beyond the SLA).
//
// A sale that was never cleared (clearing_missing, healthy reversal) has no
// cleared amount, fee, net or clearing batch; a healthy reversal has no
// expected payout either. An orphan (never authorized) has Approved false, no
// response code, AuthorizedAt and Amount zero and no trade date; an orphan
// clearing carries the cleared amount, fee, net and clearing batch, an orphan
// payout only Net (the amount paid), PaidAt and the payout batch.
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
	PayoutBatchID   string `json:"payout_batch_id,omitempty"` // the batch of payout_paid / payout_failed

	// Orphan is "clearing" or "payout" for a trace that was never
	// authorized; empty otherwise.
	Orphan string `json:"orphan,omitempty"`
	// ReversedAt is the reversal (healthy reversal or reversed_but_settled).
	ReversedAt int64 `json:"reversed_at,omitempty"`
	// DuplicateAt is the second authorization of a duplicate_trace.
	DuplicateAt int64 `json:"duplicate_at,omitempty"`
	// HeldAt and ReleasedAt are the payout_held and payout_released events
	// (payout_held beyond the SLA, or a healthy short hold).
	HeldAt     int64 `json:"held_at,omitempty"`
	ReleasedAt int64 `json:"released_at,omitempty"`
	// HoldBatchID is the batch a held payout was pulled from (named by its
	// payout_held and payout_released events; they are not counted in it).
	HoldBatchID string `json:"hold_batch_id,omitempty"`
	// LateAt is when the late copy of payout_paid was published (its
	// occurred_at is PaidAt).
	LateAt int64 `json:"late_at,omitempty"`
	// ClearedMCC is the MCC the clearing carried when it differs from MCC
	// (mcc_mismatch).
	ClearedMCC string `json:"cleared_mcc,omitempty"`
	// OutageDelayed is true when a payout-topic event of this trace was held
	// back by the payout-feed outage (published late, occurred on time).
	OutageDelayed bool `json:"outage_delayed,omitempty"`
	// InitiatedMissing is true when the payout_initiated record of this
	// trace was left out of its payout batch (a batch_incomplete batch
	// fault, see BatchTruth); the payout itself was paid normally, so the
	// trace has no anomaly.
	InitiatedMissing bool `json:"initiated_missing,omitempty"`

	// Anomalies are the faults injected into this trace: at most one, never
	// null. (A late_event trace is otherwise settled normally: its payout_paid
	// is merely re-sent.)
	Anomalies []Anomaly `json:"anomalies"`
}

// Anomaly is an injected fault: a pkg/fact anomaly kind and the reason: for
// payout_failed the mapped failure reason (e.g. "name_mismatch"), for the
// others a short cause (e.g. "payout_missing", "fee_above_contract").
type Anomaly struct {
	Kind   fact.Kind `json:"kind"`
	Reason string    `json:"reason"`
}

// FeedOutage is a run-level fact: the topic of source Source ("payouts")
// published nothing, heartbeats included, over [From, To) (Unix ms, event
// time = simulated time); the HeldBack messages it would have carried were
// published at To with their original occurred_at.
type FeedOutage struct {
	Source   string `json:"source"`
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	HeldBack int    `json:"held_back"`
}

// BatchTruth is a run-level fact: a batch fault injected into batch BatchID
// of source Source ("payouts"). Times are Unix ms of event time.
//
// For Kind batch_stalled, StalledFrom is the last progress of the batch
// before the gap (the occurred_at of its last payout_initiated before it) and
// ResumedAt the first progress after it (the next payout_initiated): between
// the two nothing of the batch's progress was sent for at least
// Config.StallFor, while heartbeats continued. The batch then closed with
// exact declared counts.
//
// For Kind batch_incomplete, the batch_closed declared DeclaredCount records
// (and a total including the missing one) but only SeenCount =
// DeclaredCount-1 payout_initiated records were sent; the trace of the
// missing record has InitiatedMissing set in its truth line.
type BatchTruth struct {
	BatchID       string    `json:"batch_id"`
	Source        string    `json:"source"`
	Kind          fact.Kind `json:"kind"`
	StalledFrom   int64     `json:"stalled_from,omitempty"`
	ResumedAt     int64     `json:"resumed_at,omitempty"`
	DeclaredCount int       `json:"declared_count,omitempty"`
	SeenCount     int       `json:"seen_count,omitempty"`
}

// RunTruth is a whole truth file.
type RunTruth struct {
	Traces  []Truth
	Outages []FeedOutage
	Batches []BatchTruth
}

// runLine is a run-level line of the truth file.
type runLine struct {
	Outage *FeedOutage `json:"outage,omitempty"`
	Batch  *BatchTruth `json:"batch,omitempty"`
}

// ReadTruth reads the trace lines of a truth file written by Run, skipping
// run-level lines.
func ReadTruth(r io.Reader) ([]Truth, error) {
	rt, err := ReadRunTruth(r)
	return rt.Traces, err
}

// ReadRunTruth reads a truth file written by Run: trace and run-level lines.
func ReadRunTruth(r io.Reader) (RunTruth, error) {
	var out RunTruth
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l struct {
			Truth
			runLine
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return RunTruth{}, fmt.Errorf("truth line %d: %w", line, err)
		}
		switch {
		case l.Outage != nil:
			out.Outages = append(out.Outages, *l.Outage)
			continue
		case l.Batch != nil:
			out.Batches = append(out.Batches, *l.Batch)
			continue
		}
		out.Traces = append(out.Traces, l.Truth)
	}
	if err := sc.Err(); err != nil {
		return RunTruth{}, fmt.Errorf("reading truth: %w", err)
	}
	return out, nil
}
