// Package text renders every sentence a person reads — an anomaly's
// details, its cause and recommended action, a payout failure, a due time,
// the explanation of a trace and the reply to its merchant — from
// structured facts, in English or Simplified Chinese. The sentences live in
// message catalogues (locales/*.json, embedded) keyed by message id and are
// rendered with golang.org/x/text/message; an anomaly's details, which the
// join writes for every anomaly, are rendered from the same messages by
// templates that append to reused buffers (Details), so that the join
// allocates nothing for them.
//
// It is pure: no I/O besides the embedded catalogues and no clock. Times
// are shown in the location the caller passes (the calendar's time zone),
// money with fact.Yuan.
package text

import (
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
	var l line
	l.reset(p)
	l.details(&a)
	return string(l.result())
}

// DetailsRenderer renders the English Details sentences of anomalies, as
// AnomalyDetails does, into buffers it reuses: once they have grown it
// allocates nothing. It is for one goroutine.
type DetailsRenderer struct {
	p Printer
	l line
}

// Append appends the Details sentence of a, with its times in loc, to dst.
func (d *DetailsRenderer) Append(dst []byte, a *fact.Anomaly, loc *time.Location) []byte {
	if d.p.tmpls == nil {
		d.p = *NewPrinter(English, loc)
	}
	if loc == nil {
		loc = time.UTC
	}
	d.p.loc = loc
	d.l.reset(&d.p)
	d.l.details(a)
	return append(dst, d.l.result()...)
}

// details pushes the sentence of a.
func (l *line) details(a *fact.Anomaly) {
	switch a.Kind {
	case fact.AmountMismatch:
		l.amountMismatch(a)
	case fact.FeeRateDeviation:
		l.feeRateDeviation(a)
	case fact.MCCMismatch:
		l.str(a.Args.MCC)
		l.str(a.Args.RegisteredMCC)
		l.msg("details.mcc_mismatch", 2)
	case fact.ReversedButSettled:
		l.reversedButSettled(a)
	case fact.DuplicateTrace:
		l.str(a.Args.EventType.String())
		l.str(a.Args.EventID)
		l.msg("details.duplicate_trace", 2)
	case fact.LateEvent:
		l.str(a.Args.EventType.String())
		l.str(a.Args.EventID)
		l.instant(a.DetectedAt)
		l.msg("details.late_event", 3)
	case fact.ClearingMissing:
		l.clearingMissing(a)
	case fact.PayoutOverdue:
		l.payoutOverdue(a)
	case fact.OrphanClearing:
		l.instant(a.DetectedAt)
		l.msg("details.orphan_clearing", 1)
	case fact.OrphanPayout:
		l.instant(a.DetectedAt)
		l.msg("details.orphan_payout", 1)
	case fact.PayoutFailed:
		l.payoutFailed(a)
	case fact.PayoutHeld:
		l.payoutHeld(a)
	case fact.BatchStalled:
		l.batchStalled(a)
	case fact.BatchIncomplete:
		l.batchIncomplete(a)
	default:
		l.unknown(a)
	}
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

func (l *line) unknown(a *fact.Anomaly) {
	l.str(string(a.Kind))
	l.str(a.Reason)
	l.money(a.Amount)
	l.msg("details.unknown", 3)
}

func (l *line) amountMismatch(a *fact.Anomaly) {
	net := a.Args.ClearedAmount - a.Args.Fee
	switch a.Reason {
	case "cleared_currency_differs":
		l.str(a.Args.Currency)
		l.yuan(a.Amount)
		l.str(a.Args.ExpectedCurrency)
		l.yuan(a.ExpectedAmount)
		l.msg("details.amount_mismatch.cleared_currency_differs", 4)
	case "cleared_differs":
		l.money(a.Amount)
		l.money(a.ExpectedAmount)
		l.moneySigned(a.Amount - a.ExpectedAmount)
		l.msg("details.amount_mismatch.cleared_differs", 3)
	case "paid_currency_differs":
		l.str(a.Args.Currency)
		l.yuan(a.Amount)
		l.str(a.Args.ExpectedCurrency)
		l.yuan(a.Args.ClearedAmount)
		l.yuan(a.Args.Fee)
		l.yuan(net)
		l.msg("details.amount_mismatch.paid_currency_differs", 6)
	case "net_differs":
		l.money(a.Amount)
		l.money(a.Args.ClearedAmount)
		l.money(a.Args.Fee)
		l.money(net)
		l.msg("details.amount_mismatch.net_differs", 4)
	default:
		l.unknown(a)
	}
}

func (l *line) feeRateDeviation(a *fact.Anomaly) {
	switch a.Reason {
	case "fee_exceeds_amount":
		l.money(a.Amount)
		l.money(a.Args.ClearedAmount)
		l.money(a.Args.ClearedAmount - a.Amount)
		l.msg("details.fee_rate_deviation.fee_exceeds_amount", 3)
	case "fee_above_contract":
		l.money(a.Amount)
		l.money(a.Args.ClearedAmount)
		l.ppm(a.Args.FeeRatePPM)
		l.ppm(a.Args.ContractRatePPM)
		l.money(a.ExpectedAmount)
		l.msg("details.fee_rate_deviation.fee_above_contract", 5)
	default:
		l.unknown(a)
	}
}

func (l *line) reversedButSettled(a *fact.Anomaly) {
	var id string
	switch a.Reason {
	case "cleared_after_reversal":
		id = "details.reversed_but_settled.cleared_after_reversal"
	case "paid_after_reversal":
		id = "details.reversed_but_settled.paid_after_reversal"
	default:
		l.unknown(a)
		return
	}
	l.instant(a.Args.ReversedAt)
	l.instant(a.Args.SettledAt)
	l.money(a.Amount)
	l.msg(id, 3)
}

// clearingMissing: DetectedAt is the clearing deadline, ResolvedAt the late
// clearing.
func (l *line) clearingMissing(a *fact.Anomaly) {
	l.instant(a.Args.AuthorizedAt)
	l.money(a.Amount)
	l.instant(a.DetectedAt)
	l.msg("details.clearing_missing", 3)
	if resolved(a) {
		l.instant(a.ResolvedAt)
		l.msg("details.clearing_missing.resolved", 2)
	}
}

// payoutOverdue: DetectedAt is the payout deadline, ResolvedAt the late
// payment.
func (l *line) payoutOverdue(a *fact.Anomaly) {
	if resolved(a) {
		l.instant(a.ResolvedAt)
		l.str(a.Args.Mode.String())
		l.instant(a.DetectedAt)
		l.span(time.Duration(a.ResolvedAt-a.DetectedAt) * time.Millisecond)
		l.msg("details.payout_overdue.resolved", 4)
		return
	}
	l.str(a.Args.Mode.String())
	l.instant(a.DetectedAt)
	l.msg("details.payout_overdue", 2)
}

// payoutFailed: Reason is the mapped failure, DetectedAt the failure,
// ResolvedAt the payment that followed it.
func (l *line) payoutFailed(a *fact.Anomaly) {
	reason := a.Reason
	if l.p.Chinese() {
		r := fact.PayoutFailure(a.Reason)
		if r == "" {
			r = fact.OtherFailure
		}
		reason = l.p.FailureReason(r)
	}
	l.money(a.Amount)
	l.instant(a.DetectedAt)
	l.str(reason)
	l.msg("details.payout_failed", 3)
	switch {
	case a.BankCode != "" && a.BankCodeUnknown:
		l.str(a.BankCode)
		l.str(a.BankCodesVersion)
		l.msg("details.payout_failed.code_unknown", 3)
	case a.BankCode != "":
		l.str(a.BankCode)
		l.msg("details.payout_failed.code", 2)
	}
	if resolved(a) {
		l.instant(a.ResolvedAt)
		l.msg("details.payout_failed.resolved", 2)
	}
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
func (l *line) payoutHeld(a *fact.Anomaly) {
	l.instant(a.Args.HeldAt)
	l.span(a.Args.Window)
	l.msg("details.payout_held", 2)
	if resolved(a) {
		l.instant(a.ResolvedAt)
		l.msg("details.payout_held.resolved", 2)
	}
}

// batchStalled: ResolvedAt is the progress that ended the stall.
func (l *line) batchStalled(a *fact.Anomaly) {
	l.str(a.Args.Source.String())
	l.str(a.BatchID)
	l.instant(a.Args.LastProgressAt)
	l.count(a.Args.Count)
	if resolved(a) {
		l.instant(a.ResolvedAt)
		l.span(time.Duration(a.ResolvedAt-a.Args.LastProgressAt) * time.Millisecond)
		l.msg("details.batch_stalled.resolved", 6)
		return
	}
	l.span(a.Args.Window)
	l.msg("details.batch_stalled", 5)
}

// batchIncomplete: Amount is the records' total, ExpectedAmount the declared
// total.
func (l *line) batchIncomplete(a *fact.Anomaly) {
	l.str(a.Args.Source.String())
	l.str(a.BatchID)
	l.count(a.Args.DeclaredCount)
	l.money(a.ExpectedAmount)
	l.count(a.Args.Count)
	l.money(a.Amount)
	if a.Args.TotalBeyond {
		// The total passed the largest amount, which Amount holds: the
		// difference is at least one fen beyond it.
		l.msg("details.more_than", 1)
	}
	l.signedCount(a.Args.Count - a.Args.DeclaredCount)
	if a.Args.TotalBeyond {
		l.moneySigned(a.Amount + 1 - a.ExpectedAmount)
		l.msg("details.more_than", 1)
	} else {
		l.moneySigned(a.Amount - a.ExpectedAmount)
	}
	l.msg("details.batch_incomplete", 8)
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
