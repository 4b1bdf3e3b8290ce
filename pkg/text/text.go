// Package text renders every sentence a person reads — an anomaly's
// details, its cause and recommended action, a payout failure, a due time,
// the explanation of a trace and the reply to its merchant — from
// structured facts, in English or Simplified Chinese. The sentences live in
// message catalogues (locales/*.json, embedded) keyed by message id and are
// rendered with golang.org/x/text/message.
//
// It is pure: no I/O besides the embedded catalogues and no clock. Times
// are shown in the location the caller passes (the calendar's time zone),
// money with fact.Yuan.
package text

import (
	"strconv"
	"time"

	"settlemon/pkg/fact"
)

// AnomalyDetails renders the Details sentence of a in English, with its
// times in loc: the sentence the joiner stores.
func AnomalyDetails(a fact.Anomaly, loc *time.Location) string {
	return NewPrinter(English, loc).AnomalyDetails(a)
}

// AnomalyDetails renders the Details sentence of a. An anomaly of a kind
// or reason it does not know gets a sentence naming them.
func (p *Printer) AnomalyDetails(a fact.Anomaly) string {
	switch a.Kind {
	case fact.AmountMismatch:
		return p.amountMismatch(&a)
	case fact.FeeRateDeviation:
		return p.feeRateDeviation(&a)
	case fact.MCCMismatch:
		return p.S("details.mcc_mismatch", a.Args.MCC, a.Args.RegisteredMCC)
	case fact.ReversedButSettled:
		return p.reversedButSettled(&a)
	case fact.DuplicateTrace:
		return p.S("details.duplicate_trace", a.Args.EventType.String(), a.Args.EventID)
	case fact.LateEvent:
		return p.S("details.late_event", a.Args.EventType.String(), a.Args.EventID, p.Instant(a.DetectedAt))
	case fact.ClearingMissing:
		return p.clearingMissing(&a)
	case fact.PayoutOverdue:
		return p.payoutOverdue(&a)
	case fact.OrphanClearing:
		return p.S("details.orphan_clearing", p.Instant(a.DetectedAt))
	case fact.OrphanPayout:
		return p.S("details.orphan_payout", p.Instant(a.DetectedAt))
	case fact.PayoutFailed:
		return p.payoutFailed(&a)
	case fact.PayoutHeld:
		return p.payoutHeld(&a)
	case fact.BatchStalled:
		return p.batchStalled(&a)
	case fact.BatchIncomplete:
		return p.batchIncomplete(&a)
	}
	return p.unknown(&a)
}

// NeedsArgs reports whether the details of a kind are rendered from Args:
// an anomaly read back from a row stored without them (before the store
// kept them) has zero Args, and only its stored (English) Details say them.
func NeedsArgs(k fact.Kind) bool {
	switch k {
	case fact.OrphanClearing, fact.OrphanPayout, fact.PayoutFailed:
		return false
	}
	return true
}

// Brief renders what an anomaly without its Args still says: its kind,
// amount and when it was detected (and resolved).
func (p *Printer) Brief(a fact.Anomaly) string {
	s := p.S("details.brief", p.KindName(a.Kind), p.Money(a.Amount), p.Instant(a.DetectedAt))
	if resolved(&a) {
		s = p.S("details.brief_resolved", s, p.Instant(a.ResolvedAt))
	}
	return s
}

// KindName is the kind in plain words ("到账逾期"); the kind itself in
// English, where it is the identifier support knows.
func (p *Printer) KindName(k fact.Kind) string {
	if id := "kind." + string(k); p.Has(id) {
		return p.S(id)
	}
	return string(k)
}

// The renderers take the anomaly by pointer: it is large.

func resolved(a *fact.Anomaly) bool { return a.Status == fact.Resolved }

func (p *Printer) unknown(a *fact.Anomaly) string {
	return p.S("details.unknown", string(a.Kind), a.Reason, p.Money(a.Amount))
}

// ppm renders parts per million as a percentage with two decimals, cut
// not rounded: 6000 is "0.60%", 3840 "0.38%".
func ppm(v int64) string {
	return strconv.FormatInt(v/10000, 10) + "." + strconv.FormatInt(v%10000/1000, 10) + strconv.FormatInt(v%1000/100, 10) + "%"
}

func (p *Printer) amountMismatch(a *fact.Anomaly) string {
	net := a.Args.ClearedAmount - a.Args.Fee
	switch a.Reason {
	case "cleared_currency_differs":
		return p.S("details.amount_mismatch.cleared_currency_differs",
			a.Args.Currency, fact.Yuan(a.Amount), a.Args.ExpectedCurrency, fact.Yuan(a.ExpectedAmount))
	case "cleared_differs":
		return p.S("details.amount_mismatch.cleared_differs", p.Money(a.Amount), p.Money(a.ExpectedAmount), p.MoneySigned(a.Amount-a.ExpectedAmount))
	case "paid_currency_differs":
		return p.S("details.amount_mismatch.paid_currency_differs",
			a.Args.Currency, fact.Yuan(a.Amount), a.Args.ExpectedCurrency, fact.Yuan(a.Args.ClearedAmount), fact.Yuan(a.Args.Fee), fact.Yuan(net))
	case "net_differs":
		return p.S("details.amount_mismatch.net_differs", p.Money(a.Amount), p.Money(a.Args.ClearedAmount), p.Money(a.Args.Fee), p.Money(net))
	}
	return p.unknown(a)
}

func (p *Printer) feeRateDeviation(a *fact.Anomaly) string {
	switch a.Reason {
	case "fee_exceeds_amount":
		return p.S("details.fee_rate_deviation.fee_exceeds_amount", p.Money(a.Amount), p.Money(a.Args.ClearedAmount), p.Money(a.Args.ClearedAmount-a.Amount))
	case "fee_above_contract":
		return p.S("details.fee_rate_deviation.fee_above_contract", p.Money(a.Amount), p.Money(a.Args.ClearedAmount),
			ppm(a.Args.FeeRatePPM), ppm(a.Args.ContractRatePPM), p.Money(a.ExpectedAmount))
	}
	return p.unknown(a)
}

func (p *Printer) reversedButSettled(a *fact.Anomaly) string {
	switch a.Reason {
	case "cleared_after_reversal":
		return p.S("details.reversed_but_settled.cleared_after_reversal", p.Instant(a.Args.ReversedAt), p.Instant(a.Args.SettledAt), p.Money(a.Amount))
	case "paid_after_reversal":
		return p.S("details.reversed_but_settled.paid_after_reversal", p.Instant(a.Args.ReversedAt), p.Instant(a.Args.SettledAt), p.Money(a.Amount))
	}
	return p.unknown(a)
}

// clearingMissing: DetectedAt is the clearing deadline, ResolvedAt the late
// clearing.
func (p *Printer) clearingMissing(a *fact.Anomaly) string {
	s := p.S("details.clearing_missing", p.Instant(a.Args.AuthorizedAt), p.Money(a.Amount), p.Instant(a.DetectedAt))
	if resolved(a) {
		s = p.S("details.clearing_missing.resolved", s, p.Instant(a.ResolvedAt))
	}
	return s
}

// payoutOverdue: DetectedAt is the payout deadline, ResolvedAt the late
// payment.
func (p *Printer) payoutOverdue(a *fact.Anomaly) string {
	if resolved(a) {
		return p.S("details.payout_overdue.resolved", p.Instant(a.ResolvedAt), a.Args.Mode.String(), p.Instant(a.DetectedAt),
			p.Span(time.Duration(a.ResolvedAt-a.DetectedAt)*time.Millisecond))
	}
	return p.S("details.payout_overdue", a.Args.Mode.String(), p.Instant(a.DetectedAt))
}

// payoutFailed: Reason is the mapped failure, DetectedAt the failure,
// ResolvedAt the payment that followed it.
func (p *Printer) payoutFailed(a *fact.Anomaly) string {
	reason := a.Reason
	if p.Chinese() {
		r := fact.PayoutFailure(a.Reason)
		if r == "" {
			r = fact.OtherFailure
		}
		reason = p.FailureReason(r)
	}
	s := p.S("details.payout_failed", p.Money(a.Amount), p.Instant(a.DetectedAt), reason)
	switch {
	case a.BankCode != "" && a.BankCodeUnknown:
		s = p.S("details.payout_failed.code_unknown", s, a.BankCode, a.BankCodesVersion)
	case a.BankCode != "":
		s = p.S("details.payout_failed.code", s, a.BankCode)
	}
	if resolved(a) {
		s = p.S("details.payout_failed.resolved", s, p.Instant(a.ResolvedAt))
	}
	return s
}

// FailureReason names a payout failure reason in plain words: the reason
// itself in English, where it is the identifier ("name_mismatch"), "户名不符"
// in Chinese.
func (p *Printer) FailureReason(r fact.PayoutFailure) string {
	if id := "failure_reason." + string(r); p.Has(id) {
		return p.S(id)
	}
	return string(r)
}

// payoutHeld: ResolvedAt is the release or payment that ended the hold.
func (p *Printer) payoutHeld(a *fact.Anomaly) string {
	s := p.S("details.payout_held", p.Instant(a.Args.HeldAt), p.Span(a.Args.Window))
	if resolved(a) {
		s = p.S("details.payout_held.resolved", s, p.Instant(a.ResolvedAt))
	}
	return s
}

// batchStalled: ResolvedAt is the progress that ended the stall.
func (p *Printer) batchStalled(a *fact.Anomaly) string {
	if resolved(a) {
		return p.S("details.batch_stalled.resolved", a.Args.Source.String(), a.BatchID, p.Instant(a.Args.LastProgressAt), Count(a.Args.Count),
			p.Instant(a.ResolvedAt), p.Span(time.Duration(a.ResolvedAt-a.Args.LastProgressAt)*time.Millisecond))
	}
	return p.S("details.batch_stalled", a.Args.Source.String(), a.BatchID, p.Instant(a.Args.LastProgressAt), Count(a.Args.Count), p.Span(a.Args.Window))
}

// batchIncomplete: Amount is the records' total, ExpectedAmount the declared
// total.
func (p *Printer) batchIncomplete(a *fact.Anomaly) string {
	total, diff := p.Money(a.Amount), p.MoneySigned(a.Amount-a.ExpectedAmount)
	if a.Args.TotalBeyond {
		// The total passed the largest amount, which Amount holds: the
		// difference is at least one fen beyond it.
		total, diff = p.S("details.more_than", total), p.S("details.more_than", p.MoneySigned(a.Amount+1-a.ExpectedAmount))
	}
	d := a.Args.Count - a.Args.DeclaredCount
	sign := "+"
	if d < 0 {
		sign = ""
	}
	return p.S("details.batch_incomplete", a.Args.Source.String(), a.BatchID, Count(a.Args.DeclaredCount), p.Money(a.ExpectedAmount),
		Count(a.Args.Count), total, sign+Count(d), diff)
}

// Stored renders the cause, action and details of an anomaly read back
// from the store: in English the joiner's stored sentences; in another
// language the catalogue's cause and action (the failure's for a failed
// payout) and the details rendered from the stored fields and Args, in
// full when they suffice and briefly (Brief) when the details needed Args
// the row lacks (written before the store kept them).
func (p *Printer) Stored(a fact.Anomaly) (cause, action, details string) {
	if p.lang == English {
		return a.Cause, a.Action, a.Details
	}
	cause, action, details = p.Cause(a.Kind), p.Action(a.Kind), a.Details
	if a.Kind == fact.PayoutFailed && a.Reason != "" {
		action = p.FailureAction(fact.PayoutFailure(a.Reason))
	}
	switch {
	case a.Args != (fact.Args{}) || !NeedsArgs(a.Kind):
		details = p.AnomalyDetails(a)
	case a.Details != "":
		details = p.Brief(a)
	}
	return cause, action, details
}
