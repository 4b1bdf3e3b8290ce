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
	switch a.Kind {
	case fact.AmountMismatch:
		return amountMismatch(&a)
	case fact.FeeRateDeviation:
		return feeRateDeviation(&a)
	case fact.MCCMismatch:
		return fmt.Sprintf("cleared under MCC %s; the merchant is registered as %s", a.Args.MCC, a.Args.RegisteredMCC)
	case fact.ReversedButSettled:
		return reversedButSettled(&a, loc)
	case fact.DuplicateTrace:
		return fmt.Sprintf("a second %s (event %s) for the same trace number", a.Args.EventType, a.Args.EventID)
	case fact.LateEvent:
		return fmt.Sprintf("%s (event %s, occurred %s) was delivered after its feed had moved past it, or after the trace was closed",
			a.Args.EventType, a.Args.EventID, at(loc, a.DetectedAt))
	case fact.ClearingMissing:
		return clearingMissing(&a, loc)
	case fact.PayoutOverdue:
		return payoutOverdue(&a, loc)
	case fact.OrphanClearing:
		return orphan(&a, loc, "clearing")
	case fact.OrphanPayout:
		return orphan(&a, loc, "payout")
	case fact.PayoutFailed:
		return payoutFailed(&a, loc)
	case fact.PayoutHeld:
		return payoutHeld(&a, loc)
	case fact.BatchStalled:
		return batchStalled(&a, loc)
	case fact.BatchIncomplete:
		return batchIncomplete(&a, loc)
	}
	return unknown(&a)
}

// The renderers take the anomaly by pointer and the location apart: a
// struct holding both would make the anomaly escape with the location.

// at renders an instant as support reads it.
func at(loc *time.Location, ms int64) string {
	return time.UnixMilli(ms).In(loc).Format("Mon 2006-01-02 15:04 -07:00")
}

func resolved(a *fact.Anomaly) bool { return a.Status == fact.Resolved }

func unknown(a *fact.Anomaly) string {
	return fmt.Sprintf("%s (%s) of %s", a.Kind, a.Reason, yuan(a.Amount))
}

func yuan(fen int64) string { return fact.Yuan(fen) }

// ppm renders parts per million as a percentage with two decimals, cut
// not rounded: 6000 is "0.60%", 3840 "0.38%".
func ppm(v int64) string {
	return strconv.FormatInt(v/10000, 10) + "." + strconv.FormatInt(v%10000/1000, 10) + strconv.FormatInt(v%1000/100, 10) + "%"
}

func duration(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

func amountMismatch(a *fact.Anomaly) string {
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
	return unknown(a)
}

func feeRateDeviation(a *fact.Anomaly) string {
	switch a.Reason {
	case "fee_exceeds_amount":
		return fmt.Sprintf("fee %s is larger than the cleared amount %s: the net payout would be %s", yuan(a.Amount), yuan(a.Args.ClearedAmount), yuan(a.Args.ClearedAmount-a.Amount))
	case "fee_above_contract":
		return fmt.Sprintf("fee %s on %s is %s; the contracted %s would be %s", yuan(a.Amount), yuan(a.Args.ClearedAmount), ppm(a.Args.FeeRatePPM), ppm(a.Args.ContractRatePPM), yuan(a.ExpectedAmount))
	}
	return unknown(a)
}

func reversedButSettled(a *fact.Anomaly, loc *time.Location) string {
	switch a.Reason {
	case "cleared_after_reversal":
		return fmt.Sprintf("reversed %s but cleared %s for %s", at(loc, a.Args.ReversedAt), at(loc, a.Args.SettledAt), yuan(a.Amount))
	case "paid_after_reversal":
		return fmt.Sprintf("reversed %s but paid %s: %s", at(loc, a.Args.ReversedAt), at(loc, a.Args.SettledAt), yuan(a.Amount))
	}
	return unknown(a)
}

// clearingMissing: DetectedAt is the clearing deadline, ResolvedAt the late
// clearing.
func clearingMissing(a *fact.Anomaly, loc *time.Location) string {
	s := fmt.Sprintf("approved %s for %s, not cleared by %s", at(loc, a.Args.AuthorizedAt), yuan(a.Amount), at(loc, a.DetectedAt))
	if resolved(a) {
		s += "; cleared late on " + at(loc, a.ResolvedAt)
	}
	return s
}

// payoutOverdue: DetectedAt is the payout deadline, ResolvedAt the late
// payment.
func payoutOverdue(a *fact.Anomaly, loc *time.Location) string {
	if resolved(a) {
		return fmt.Sprintf("paid %s after the %s deadline %s (%s late)", at(loc, a.ResolvedAt), a.Args.Mode, at(loc, a.DetectedAt), duration(a.ResolvedAt-a.DetectedAt))
	}
	return fmt.Sprintf("%s payout was due by %s and the payout feed has delivered past it with no payout", a.Args.Mode, at(loc, a.DetectedAt))
}

// orphan: DetectedAt is the time of the clearing or first payout event.
func orphan(a *fact.Anomaly, loc *time.Location, what string) string {
	return fmt.Sprintf("%s on %s with no authorization, although the authorization feed has delivered past it", what, at(loc, a.DetectedAt))
}

// payoutFailed: Reason is the mapped failure, DetectedAt the failure,
// ResolvedAt the payment that followed it.
func payoutFailed(a *fact.Anomaly, loc *time.Location) string {
	s := fmt.Sprintf("payout of %s returned by the bank on %s: %s", yuan(a.Amount), at(loc, a.DetectedAt), a.Reason)
	switch {
	case a.BankCode != "" && a.BankCodeUnknown:
		s += fmt.Sprintf(" (bank code %s is not in the return-code catalogue %s)", a.BankCode, a.BankCodesVersion)
	case a.BankCode != "":
		s += fmt.Sprintf(" (bank code %s)", a.BankCode)
	}
	if resolved(a) {
		s += "; paid after all on " + at(loc, a.ResolvedAt)
	}
	return s
}

// payoutHeld: ResolvedAt is the release or payment that ended the hold.
func payoutHeld(a *fact.Anomaly, loc *time.Location) string {
	s := fmt.Sprintf("payout held for risk review since %s, beyond the %s review SLA", at(loc, a.Args.HeldAt), a.Args.Window)
	if resolved(a) {
		s += "; released " + at(loc, a.ResolvedAt)
	}
	return s
}

// batchStalled: ResolvedAt is the progress that ended the stall.
func batchStalled(a *fact.Anomaly, loc *time.Location) string {
	if resolved(a) {
		return fmt.Sprintf("%s batch %s stopped progressing at %s after %d records and resumed at %s (%s without progress)",
			a.Args.Source, a.BatchID, at(loc, a.Args.LastProgressAt), a.Args.Count, at(loc, a.ResolvedAt), duration(a.ResolvedAt-a.Args.LastProgressAt))
	}
	return fmt.Sprintf("%s batch %s stopped progressing at %s after %d records; nothing for %s while its feed delivered past it",
		a.Args.Source, a.BatchID, at(loc, a.Args.LastProgressAt), a.Args.Count, a.Args.Window)
}

// batchIncomplete: Amount is the records' total, ExpectedAmount the declared
// total.
func batchIncomplete(a *fact.Anomaly, loc *time.Location) string {
	total, diff := yuan(a.Amount), fact.YuanSigned(a.Amount-a.ExpectedAmount)
	if a.Args.TotalBeyond {
		// The total passed the largest amount, which Amount holds: the
		// difference is at least one fen beyond it.
		total, diff = "more than "+total, "more than "+fact.YuanSigned(a.Amount+1-a.ExpectedAmount)
	}
	return fmt.Sprintf("%s batch %s closed declaring %d records for %s; %d arrived for %s (%+d records, %s)",
		a.Args.Source, a.BatchID, a.Args.DeclaredCount, yuan(a.ExpectedAmount), a.Args.Count, total, a.Args.Count-a.Args.DeclaredCount, diff)
}
