package fact

// Kind is an anomaly kind (DESIGN §7).
type Kind string

// Anomaly kinds.
const (
	ClearingMissing    Kind = "clearing_missing"
	PayoutOverdue      Kind = "payout_overdue"
	PayoutFailed       Kind = "payout_failed"
	PayoutHeld         Kind = "payout_held"
	AmountMismatch     Kind = "amount_mismatch"
	FeeRateDeviation   Kind = "fee_rate_deviation"
	MCCMismatch        Kind = "mcc_mismatch"
	DuplicateTrace     Kind = "duplicate_trace"
	ReversedButSettled Kind = "reversed_but_settled"
	OrphanClearing     Kind = "orphan_clearing"
	OrphanPayout       Kind = "orphan_payout"
	LateEvent          Kind = "late_event"
	BatchStalled       Kind = "batch_stalled"
	BatchIncomplete    Kind = "batch_incomplete"
)

// Severity orders anomalies for ops.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Rank orders severities, the worst first: 1 critical, 2 warning, 3 info
// (the store's severity_rank), 4 anything else.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 1
	case Warning:
		return 2
	case Info:
		return 3
	}
	return 4
}

// Taxonomy is what the product says about a kind: how bad it is, what usually
// causes it and what to do about it (DESIGN §1, right column).
type Taxonomy struct {
	Severity Severity
	Cause    string
	Action   string
}

var taxonomy = map[Kind]Taxonomy{
	ClearingMissing:    {Critical, "clearing never happened: network delay, channel congestion or a sync problem between terminal, acquirer and network", "escalate to the acquirer's clearing team with the trace number"},
	PayoutOverdue:      {Critical, "payout not confirmed by the calendar-aware deadline: bank processing time, peak load or bank maintenance", "contact the paying bank; tell the merchant the payout is being chased"},
	PayoutFailed:       {Critical, "the bank failed or returned the payout", "see the reason: correct the settlement account, or contact the bank"},
	PayoutHeld:         {Warning, "payout held for risk review beyond the review SLA", "chase the risk review; ask the merchant for supporting documents"},
	AmountMismatch:     {Critical, "cleared or paid amount differs from what was approved", "reconcile the trace with clearing and settlement; raise a dispute if confirmed"},
	FeeRateDeviation:   {Warning, "fee above the contracted rate, or larger than the amount itself", "dispute the fee with the acquirer"},
	MCCMismatch:        {Warning, "cleared under a different merchant category than registered (跳码)", "report the acquirer or agent for merchant-category jumping"},
	DuplicateTrace:     {Critical, "the same trace number was charged more than once", "refund the duplicate charge"},
	ReversedButSettled: {Critical, "a reversed or refunded sale was still cleared or paid", "claw back the settled amount"},
	OrphanClearing:     {Warning, "clearing with no matching authorization: sync problem between switch and clearing", "check the POS switch feed for the missing authorization"},
	OrphanPayout:       {Warning, "payout with no matching authorization: sync problem between switch and settlement", "check the POS switch feed for the missing authorization"},
	LateEvent:          {Info, "event arrived after its trace was closed, or later than the feed's watermark allows", "check the producing feed for delays; the event is archived"},
	BatchStalled:       {Critical, "a batch stopped progressing before it closed: system or bank outage", "check the batch job and the bank link; restart the batch"},
	BatchIncomplete:    {Critical, "a batch closed with fewer records or a different total than declared: file or transfer problem", "request the missing records or a re-send of the batch file"},
}

// Kinds lists every anomaly kind in a stable order.
func Kinds() []Kind {
	return []Kind{ClearingMissing, PayoutOverdue, PayoutFailed, PayoutHeld, AmountMismatch,
		FeeRateDeviation, MCCMismatch, DuplicateTrace, ReversedButSettled, OrphanClearing,
		OrphanPayout, LateEvent, BatchStalled, BatchIncomplete}
}

// Describe returns the taxonomy entry of k; ok is false for an unknown kind.
func Describe(k Kind) (t Taxonomy, ok bool) {
	t, ok = taxonomy[k]
	return t, ok
}

// PayoutFailure is the mapped reason of a failed or returned payout.
type PayoutFailure string

// Payout failure reasons.
const (
	AccountInvalid PayoutFailure = "account_invalid"
	NameMismatch   PayoutFailure = "name_mismatch"
	AccountFrozen  PayoutFailure = "account_frozen"
	AccountClosed  PayoutFailure = "account_closed"
	LimitExceeded  PayoutFailure = "limit_exceeded"
	RiskRestricted PayoutFailure = "risk_restricted"
	OtherFailure   PayoutFailure = "other"
)

var failureActions = map[PayoutFailure]string{
	AccountInvalid: "settlement account invalid — correct the settlement account",
	NameMismatch:   "account name mismatch — correct the settlement account",
	AccountFrozen:  "account frozen — the merchant must contact the bank",
	AccountClosed:  "account closed — the merchant must register a new settlement account",
	LimitExceeded:  "limit exceeded — raise the account or terminal limit, then re-pay",
	RiskRestricted: "restricted by risk control — wait for the review or provide documents",
	OtherFailure:   "payout returned — contact the bank with the return code",
}

// failureReasons lists the reasons in a stable order.
var failureReasons = []PayoutFailure{AccountInvalid, NameMismatch, AccountFrozen, AccountClosed, LimitExceeded, RiskRestricted, OtherFailure}

// MapPayoutFailure maps a bank return code to a reason with the bundled
// catalogue (DefaultBankCodes); unknown codes map to OtherFailure.
func MapPayoutFailure(code string) PayoutFailure {
	r, _ := DefaultBankCodes().Map(code)
	return r
}

// simulatorCodes are the return codes the simulator sends, one per reason;
// every one is in the bundled catalogue (TestBankCodes).
var simulatorCodes = map[PayoutFailure]string{
	AccountInvalid: "R01", NameMismatch: "R02", AccountFrozen: "R03", AccountClosed: "R04",
	LimitExceeded: "R05", RiskRestricted: "R06", OtherFailure: "R99",
}

// BankCode returns the bank return code the simulator sends for a reason
// ("R99" for other or an unknown reason): the inverse of MapPayoutFailure on
// the simulator's codes.
func BankCode(r PayoutFailure) string {
	if c, ok := simulatorCodes[r]; ok {
		return c
	}
	return "R99"
}

// Action returns the recommended action for a payout failure reason.
func (r PayoutFailure) Action() string {
	if a, ok := failureActions[r]; ok {
		return a
	}
	return failureActions[OtherFailure]
}
