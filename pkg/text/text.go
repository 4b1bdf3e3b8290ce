// Package text renders the sentences a person reads from structured facts:
// an anomaly's Details from its kind, reason, status, amounts, times and
// Args. English only today.
//
// It is pure: no I/O and no clock. Times are shown in the location the
// caller passes (the calendar's time zone), money with fact.Yuan.
package text

import (
	"fmt"
	"strconv"
	"time"

	"settlemon/pkg/fact"
)

// AnomalyDetails renders the Details sentence of a, with its times in loc.
// An anomaly of a kind or reason it does not know gets a sentence naming
// them.
func AnomalyDetails(a fact.Anomaly, loc *time.Location) string {
	r := renderer{a: &a, loc: loc}
	switch a.Kind {
	case fact.AmountMismatch:
		return r.amountMismatch()
	case fact.FeeRateDeviation:
		return r.feeRateDeviation()
	case fact.MCCMismatch:
		return fmt.Sprintf("cleared under MCC %s; the merchant is registered as %s", a.Args.MCC, a.Args.RegisteredMCC)
	case fact.ReversedButSettled:
		return r.reversedButSettled()
	case fact.DuplicateTrace:
		return fmt.Sprintf("a second %s (event %s) for the same trace number", a.Args.EventType, a.Args.EventID)
	case fact.LateEvent:
		return fmt.Sprintf("%s (event %s, occurred %s) was delivered after its feed had moved past it, or after the trace was closed",
			a.Args.EventType, a.Args.EventID, r.time(a.DetectedAt))
	case fact.ClearingMissing:
		return r.clearingMissing()
	case fact.PayoutOverdue:
		return r.payoutOverdue()
	case fact.OrphanClearing:
		return r.orphan("clearing")
	case fact.OrphanPayout:
		return r.orphan("payout")
	case fact.PayoutFailed:
		return r.payoutFailed()
	case fact.PayoutHeld:
		return r.payoutHeld()
	case fact.BatchStalled:
		return r.batchStalled()
	case fact.BatchIncomplete:
		return r.batchIncomplete()
	}
	return r.unknown()
}

type renderer struct {
	a   *fact.Anomaly
	loc *time.Location
}

// time renders an instant as support reads it.
func (r renderer) time(ms int64) string {
	return time.UnixMilli(ms).In(r.loc).Format("Mon 2006-01-02 15:04 -07:00")
}

func (r renderer) resolved() bool { return r.a.Status == fact.Resolved }

func (r renderer) unknown() string {
	return fmt.Sprintf("%s (%s) of %s", r.a.Kind, r.a.Reason, yuan(r.a.Amount))
}

func yuan(fen int64) string { return fact.Yuan(fen) }

// ppm renders parts per million as a percentage with two decimals, cut
// not rounded: 6000 is "0.60%", 3840 "0.38%".
func ppm(v int64) string {
	return strconv.FormatInt(v/10000, 10) + "." + strconv.FormatInt(v%10000/1000, 10) + strconv.FormatInt(v%1000/100, 10) + "%"
}

func duration(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

func (r renderer) amountMismatch() string {
	a := r.a
	switch a.Reason {
	case "cleared_currency_differs":
		return fmt.Sprintf("cleared %s %s for an authorization of %s %s: the currency changed between authorization and clearing",
			a.Args.Currency, yuan(a.Amount), a.Args.ExpectedCurrency, yuan(a.ExpectedAmount))
	case "cleared_differs":
		return fmt.Sprintf("cleared %s but authorized %s (difference %s)", yuan(a.Amount), yuan(a.ExpectedAmount), fact.YuanSigned(a.Amount-a.ExpectedAmount))
	case "paid_currency_differs":
		return fmt.Sprintf("paid %s %s against a clearing in %s (cleared %s minus fee %s is %s): the currency changed between clearing and payout",
			a.Args.Currency, yuan(a.Amount), a.Args.ExpectedCurrency, yuan(a.Args.ClearedAmount), yuan(a.Args.Fee), yuan(a.Args.ClearedAmount-a.Args.Fee))
	case "net_differs":
		return fmt.Sprintf("paid %s but cleared %s minus fee %s is %s", yuan(a.Amount), yuan(a.Args.ClearedAmount), yuan(a.Args.Fee), yuan(a.Args.ClearedAmount-a.Args.Fee))
	}
	return r.unknown()
}

func (r renderer) feeRateDeviation() string {
	a := r.a
	switch a.Reason {
	case "fee_exceeds_amount":
		return fmt.Sprintf("fee %s is larger than the cleared amount %s: the net payout would be %s", yuan(a.Amount), yuan(a.Args.ClearedAmount), yuan(a.Args.ClearedAmount-a.Amount))
	case "fee_above_contract":
		return fmt.Sprintf("fee %s on %s is %s; the contracted %s would be %s", yuan(a.Amount), yuan(a.Args.ClearedAmount), ppm(a.Args.FeeRatePPM), ppm(a.Args.ContractRatePPM), yuan(a.ExpectedAmount))
	}
	return r.unknown()
}

func (r renderer) reversedButSettled() string {
	a := r.a
	switch a.Reason {
	case "cleared_after_reversal":
		return fmt.Sprintf("reversed %s but cleared %s for %s", r.time(a.Args.ReversedAt), r.time(a.Args.SettledAt), yuan(a.Amount))
	case "paid_after_reversal":
		return fmt.Sprintf("reversed %s but paid %s: %s", r.time(a.Args.ReversedAt), r.time(a.Args.SettledAt), yuan(a.Amount))
	}
	return r.unknown()
}

// clearingMissing: DetectedAt is the clearing deadline, ResolvedAt the late
// clearing.
func (r renderer) clearingMissing() string {
	a := r.a
	s := fmt.Sprintf("approved %s for %s, not cleared by %s", r.time(a.Args.AuthorizedAt), yuan(a.Amount), r.time(a.DetectedAt))
	if r.resolved() {
		s += "; cleared late on " + r.time(a.ResolvedAt)
	}
	return s
}

// payoutOverdue: DetectedAt is the payout deadline, ResolvedAt the late
// payment.
func (r renderer) payoutOverdue() string {
	a := r.a
	if r.resolved() {
		return fmt.Sprintf("paid %s after the %s deadline %s (%s late)", r.time(a.ResolvedAt), a.Args.Mode, r.time(a.DetectedAt), duration(a.ResolvedAt-a.DetectedAt))
	}
	return fmt.Sprintf("%s payout was due by %s and the payout feed has delivered past it with no payout", a.Args.Mode, r.time(a.DetectedAt))
}

// orphan: DetectedAt is the time of the clearing or first payout event.
func (r renderer) orphan(what string) string {
	return fmt.Sprintf("%s on %s with no authorization, although the authorization feed has delivered past it", what, r.time(r.a.DetectedAt))
}

// payoutFailed: Reason is the mapped failure, DetectedAt the failure,
// ResolvedAt the payment that followed it.
func (r renderer) payoutFailed() string {
	a := r.a
	s := fmt.Sprintf("payout of %s returned by the bank on %s: %s", yuan(a.Amount), r.time(a.DetectedAt), a.Reason)
	switch {
	case a.BankCode != "" && a.BankCodeUnknown:
		s += fmt.Sprintf(" (bank code %s is not in the return-code catalogue %s)", a.BankCode, a.BankCodesVersion)
	case a.BankCode != "":
		s += fmt.Sprintf(" (bank code %s)", a.BankCode)
	}
	if r.resolved() {
		s += "; paid after all on " + r.time(a.ResolvedAt)
	}
	return s
}

// payoutHeld: ResolvedAt is the release or payment that ended the hold.
func (r renderer) payoutHeld() string {
	a := r.a
	s := fmt.Sprintf("payout held for risk review since %s, beyond the %s review SLA", r.time(a.Args.HeldAt), a.Args.Window)
	if r.resolved() {
		s += "; released " + r.time(a.ResolvedAt)
	}
	return s
}

// batchStalled: ResolvedAt is the progress that ended the stall.
func (r renderer) batchStalled() string {
	a := r.a
	if r.resolved() {
		return fmt.Sprintf("%s batch %s stopped progressing at %s after %d records and resumed at %s (%s without progress)",
			a.Args.Source, a.BatchID, r.time(a.Args.LastProgressAt), a.Args.Count, r.time(a.ResolvedAt), duration(a.ResolvedAt-a.Args.LastProgressAt))
	}
	return fmt.Sprintf("%s batch %s stopped progressing at %s after %d records; nothing for %s while its feed delivered past it",
		a.Args.Source, a.BatchID, r.time(a.Args.LastProgressAt), a.Args.Count, a.Args.Window)
}

// batchIncomplete: Amount is the records' total, ExpectedAmount the declared
// total.
func (r renderer) batchIncomplete() string {
	a := r.a
	total, diff := yuan(a.Amount), fact.YuanSigned(a.Amount-a.ExpectedAmount)
	if a.Args.TotalBeyond {
		// The total passed the largest amount, which Amount holds: the
		// difference is at least one fen beyond it.
		total, diff = "more than "+total, "more than "+fact.YuanSigned(a.Amount+1-a.ExpectedAmount)
	}
	return fmt.Sprintf("%s batch %s closed declaring %d records for %s; %d arrived for %s (%+d records, %s)",
		a.Args.Source, a.BatchID, a.Args.DeclaredCount, yuan(a.ExpectedAmount), a.Args.Count, total, a.Args.Count-a.Args.DeclaredCount, diff)
}
