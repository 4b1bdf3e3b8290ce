package join

import "settlemon/pkg/fact"

// Payout outcomes: payout_failed, resolved by a later payment, and
// payout_held beyond the review SLA, opened by its timer and resolved by
// the release or payment that ends the hold.

// checkFailed raises payout_failed for a failure, and resolves it once the
// trace is paid after all.
func (p *Partition) checkFailed(e *entry) {
	if !e.has(slotFailed) {
		return
	}
	if !e.is(flagFailedOpen | flagFailedDone) {
		e.flags |= flagFailedOpen
		p.open(p.failedAnomaly(e))
	}
	if e.has(slotPaid) && !e.is(flagFailedDone) {
		e.flags = e.flags&^flagFailedOpen | flagFailedDone
		at := p.time(e, tPaid)
		p.resolve(p.failedAnomaly(e), at, at)
	}
}

// checkHeld reports a hold that ended beyond the SLA resolved, whether or
// not the SLA timer fired first.
func (p *Partition) checkHeld(e *entry) {
	paid := e.has(slotPaid)
	if !e.has(slotHeld) || !e.has(slotReleased) && !paid || e.is(flagHeldDone) || !p.heldBeyond(e, p.cfg.HoldSLA.Milliseconds()) {
		return
	}
	e.flags = e.flags&^flagHeldOpen | flagHeldDone
	end := p.time(e, tReleased)
	if end == 0 || (paid && p.time(e, tPaid) < end) {
		end = p.time(e, tPaid)
	}
	p.resolve(p.heldAnomaly(e), end, end)
}

// fireHold runs when the payout watermark has passed the end of a hold's SLA.
func (p *Partition) fireHold(t timer) {
	e := p.live(t)
	if e == nil || e.is(flagHeldOpen|flagHeldDone) || !p.heldBeyond(e, p.cfg.HoldSLA.Milliseconds()) {
		return
	}
	e.flags |= flagHeldOpen
	p.open(p.heldAnomaly(e))
}

func (p *Partition) heldBeyond(e *entry, sla int64) bool {
	// The hold ended (release or payment) more than the SLA after it began,
	// or has not ended: the caller knows the watermark passed heldAt+SLA.
	end := p.time(e, tReleased)
	if paidAt := p.time(e, tPaid); e.has(slotPaid) && (end == 0 || paidAt < end) {
		end = paidAt
	}
	return end == 0 || end > p.time(e, tHeld)+sla
}

// failedAnomaly builds the payout_failed anomaly: the bank's return code
// mapped by the partition's catalogue, whose version it records. A code the
// catalogue lacks maps to other and says so.
func (p *Partition) failedAnomaly(e *entry) fact.Anomaly {
	r, unknown := failures[e.failure], e.is(flagCodeUnknown)
	code := ""
	if e.failCode != 0 {
		code = p.codes.name(int32(e.failCode) - 1)
		var known bool
		r, known = p.bank.Map(code) // the catalogue now in force (it may have been extended since)
		unknown = !known
	}
	a := p.traceAnomaly(e, fact.PayoutFailed, "", p.time(e, tFailed), e.failedAmt, 0, string(r), fact.Args{})
	a.Action = r.Action()
	a.BankCode, a.BankCodesVersion, a.BankCodeUnknown = code, p.bank.Version(), unknown
	return a
}

// heldAnomaly builds the payout_held anomaly, detected when the SLA ran out.
func (p *Partition) heldAnomaly(e *entry) fact.Anomaly {
	held := p.time(e, tHeld)
	return p.traceAnomaly(e, fact.PayoutHeld, "", held+p.cfg.HoldSLA.Milliseconds(), e.heldAmt, 0, "review_beyond_sla",
		fact.Args{HeldAt: held, Window: p.cfg.HoldSLA})
}
