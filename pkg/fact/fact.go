// Package fact defines the facts the joiner emits and the store writes to
// ClickHouse: one settlement-lag row per trace and one row per anomaly, each
// with a deterministic id and version so that a replay collapses onto the rows
// it wrote before (DESIGN §6). It also holds the anomaly taxonomy of DESIGN §7:
// every kind's severity, cause and recommended action in plain words.
//
// It does no I/O and computes nothing from events; the join decides when a fact
// exists and this package only says what it looks like.
package fact

import (
	"time"

	"settlemon/pkg/event"
)

// LagStatus is where a trace stands in its settlement lifecycle.
type LagStatus string

// Lag statuses, in the order a trace usually passes them.
const (
	StatusPending LagStatus = "pending" // authorized, payout not due or not yet known
	StatusOverdue LagStatus = "overdue" // payout deadline passed under the two-clock rule, nothing paid
	StatusFailed  LagStatus = "failed"  // payout failed or returned by the bank
	StatusPaid    LagStatus = "paid"    // the bank confirmed the payout
)

// Lag is the settlement_lag fact of one trace. Money is fen; times are Unix
// milliseconds, zero when the stage has not happened; lags are whole seconds,
// zero when either stage is missing.
type Lag struct {
	TraceNo    string
	MerchantID string
	TerminalID string
	MCC        string // MCC of the authorization
	ClearedMCC string
	Mode       event.Mode

	AuthorizedAmount int64
	ClearedAmount    int64
	Fee              int64
	NetPaid          int64

	AuthorizedAt     int64
	ClearedAt        int64
	PaidAt           int64
	ExpectedPayoutAt int64 // calendar-aware payout deadline

	AuthToClearS int64
	ClearToPayS  int64 // negative when paid before clearing (D0, T0)
	AuthToPayS   int64
	PastDueS     int64 // PaidAt - ExpectedPayoutAt: negative when paid early

	Status           LagStatus
	CalendarVersion  string
	CalendarFallback bool // the deadline was computed on weekends only: the calendar lacks the year

	Version uint64 // higher wins; deterministic from the input
}

// AnomalyStatus is open until the event that was missing arrives.
type AnomalyStatus string

// Anomaly statuses.
const (
	Open     AnomalyStatus = "open"
	Resolved AnomalyStatus = "resolved"
)

// Anomaly is one row of the anomalies table.
type Anomaly struct {
	ID       string // deterministic: kind, trace or batch, and a discriminator
	Kind     Kind
	Severity Severity
	Status   AnomalyStatus

	TraceNo    string
	BatchID    string
	MerchantID string

	Amount         int64 // fen: the amount concerned
	ExpectedAmount int64 // fen: what it should have been, where that is known

	DetectedAt int64 // Unix ms, event time: the deadline for absences, the event's time otherwise
	ResolvedAt int64 // Unix ms, zero while open

	Reason  string // machine-readable reason, e.g. the mapped payout failure reason
	Cause   string // plain words, from the taxonomy
	Action  string // recommended action in plain words, from the taxonomy
	Details string // human-readable specifics of this occurrence

	// The bank's return code of a payout_failed anomaly, as the payout feed
	// sent it; the version of the return-code catalogue (BankCodes) that
	// mapped it to Reason; and whether that catalogue lacked the code (Reason
	// is then OtherFailure). Empty for every other kind.
	BankCode         string
	BankCodesVersion string
	BankCodeUnknown  bool

	// IncidentKey names the incident the anomaly belongs to: the anomalies
	// that share one cause share it (package incident computes it from the
	// fields above; the store groups on it).
	IncidentKey string

	// Args are the specifics of this occurrence as values, beside the
	// amounts and times above; Details is rendered from them (package
	// text), and a reader renders them again in its own language. The
	// store keeps them (anomalies.args); rows written before it did read
	// back with none.
	Args Args `json:"-"`

	CalendarVersion string
	Version         uint64
}

// Args are the values an anomaly's rule found, beyond its Amount,
// ExpectedAmount, DetectedAt, ResolvedAt and Reason. Money is fen, times
// Unix ms; a field the kind does not use is zero.
type Args struct {
	// ClearedAmount and Fee: the clearing of an amount_mismatch of the
	// payout (the net due is ClearedAmount − Fee) or of a
	// fee_rate_deviation (whose Amount is the fee).
	ClearedAmount int64
	Fee           int64
	// Currency of the Amount and ExpectedCurrency of the ExpectedAmount of
	// an amount_mismatch, ISO 4217.
	Currency         string
	ExpectedCurrency string
	// FeeRatePPM is the fee charged and ContractRatePPM the merchant's
	// contracted rate, parts per million of the cleared amount
	// (fee_rate_deviation above the contract).
	FeeRatePPM      int64
	ContractRatePPM int64
	// MCC is the merchant category cleared under, RegisteredMCC the
	// merchant's (mcc_mismatch).
	MCC           string
	RegisteredMCC string

	AuthorizedAt int64 // clearing_missing: the authorization
	ReversedAt   int64 // reversed_but_settled: the reversal
	SettledAt    int64 // reversed_but_settled: the clearing or payment
	HeldAt       int64 // payout_held: the start of the hold
	// Window is the review SLA of a payout_held or the stall timeout of a
	// batch_stalled.
	Window time.Duration

	Mode event.Mode // payout_overdue: the settlement mode whose deadline passed

	// EventType and EventID name the event of a duplicate_trace or a
	// late_event.
	EventType event.Type
	EventID   string

	// The batch kinds: the batch's source; the records evaluated (Count)
	// and when the last of them happened (LastProgressAt); what the close
	// declared (DeclaredCount; the total is ExpectedAmount); and whether
	// the records' total passed the largest amount (Amount is then that
	// largest amount).
	Source         event.Source
	Count          int64
	LastProgressAt int64
	DeclaredCount  int64
	TotalBeyond    bool
}

// Version builds a fact version from an event time and a stage rank, so that
// a later stage of the same trace always wins and equal inputs give equal
// versions.
func Version(atMs int64, rank uint8) uint64 {
	if atMs < 0 {
		atMs = 0
	}
	return uint64(atMs)<<4 | uint64(rank&0x0f)
}

// StatusClearingMissing marks a trace whose clearing never came by its
// deadline (the clearing feed having delivered past it).
const StatusClearingMissing LagStatus = "clearing_missing"
