// Package fact defines the facts the joiner emits and the store writes to
// ClickHouse: one settlement-lag row per trace and one row per anomaly, each
// with a deterministic id and version so that a replay collapses onto the rows
// it wrote before (DESIGN §6). It also holds the anomaly taxonomy of DESIGN §7:
// every kind's severity, cause and recommended action in plain words.
//
// It does no I/O and computes nothing from events; the join decides when a fact
// exists and this package only says what it looks like.
package fact

import "settlemon/pkg/event"

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

	CalendarVersion string
	Version         uint64
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
