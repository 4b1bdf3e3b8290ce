package join

import (
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Absences: clearing_missing, payout_overdue, orphan_clearing and
// orphan_payout. Each is a timer armed when a trace could miss a stage,
// fired when the feed that would carry the stage has delivered past it
// (the open anomaly), and resolved when the stage arrives after all.

// arm sets the timers of the absences this trace can still have.
func (p *Partition) arm(i int32) {
	e := p.slab.at(i)
	auth, rev, cleared := e.has(slotAuth), e.has(slotReversal), e.has(slotCleared)
	// Payout deadline: after clearing for T1 and D1, after the authorization
	// for D0 and T0.
	if auth && !e.is(flagArmed) && !e.has(slotPaid) && !e.has(slotFailed) && (cleared || e.mode == event.D0 || e.mode == event.T0) {
		e.flags |= flagArmed
		p.byPayouts.push(newTimer(p.time(e, tDeadline), i, e.gen))
	}
	if auth && !rev && !cleared && !e.is(flagClearingArmed) {
		e.flags |= flagClearingArmed
		p.byClearing.push(newTimer(p.sched.ClearingDeadline(p.time(e, tAuth)).At, i, e.gen))
	}
	if !auth && cleared && !e.is(flagOrphanClrArmed) {
		e.flags |= flagOrphanClrArmed
		p.byAuth.push(newTimer(p.time(e, tCleared), i, e.gen))
	}
	if !auth && e.payoutSeen() && !e.is(flagOrphanPayArmed) {
		e.flags |= flagOrphanPayArmed
		p.byAuth.push(newTimer(p.time(e, tPay), i, e.gen))
	}
	if e.has(slotHeld) && !e.is(flagHoldArmed) {
		e.flags |= flagHoldArmed
		t := newTimer(p.time(e, tHeld)+p.cfg.HoldSLA.Milliseconds(), i, e.gen)
		t.ref |= timerHold
		p.byPayouts.push(t)
	}
	// Fire at once what the feeds have already passed.
	p.fire()
}

// fire runs the timers the feeds' watermarks have passed. An absence waits
// for the feed that would carry the missing event and for the
// authorization feed, which could cancel the obligation with a reversal.
func (p *Partition) fire() {
	auth := p.wmMin[event.Auth]
	p.byPayouts.fire(min(p.wmMin[event.Payouts], auth), p.fireByPayouts)
	p.byClearing.fire(min(p.wmMin[event.Clearing], auth), p.fireClearing)
	p.byAuth.fire(auth, p.fireOrphan)
}

func (p *Partition) fireByPayouts(t timer) {
	if t.ref&timerHold != 0 {
		p.fireHold(t) // payout.go
	} else {
		p.fireDeadline(t)
	}
}

// fireDeadline runs when the payout watermark has passed a trace's deadline:
// the payout feed has proved it delivered everything up to then, so a payout
// that is not here is really missing.
func (p *Partition) fireDeadline(t timer) {
	e := p.live(t)
	if e == nil || e.has(slotPaid) || e.has(slotFailed) || e.has(slotHeld) || e.has(slotReversal) || e.is(flagOverdueOpen|flagOverdueDone) {
		return
	}
	e.flags |= flagOverdueOpen
	p.open(p.overdue(e))
	p.syncLag(e)
}

// fireClearing runs when the clearing watermark has passed the clearing
// deadline of an authorization.
func (p *Partition) fireClearing(t timer) {
	e := p.live(t)
	if e == nil || e.has(slotCleared) || e.has(slotReversal) || e.is(flagClearingOpen|flagClearingDone) {
		return
	}
	e.flags |= flagClearingOpen
	p.open(p.clearingMissing(e, t.at))
	p.syncLag(e)
}

// fireOrphan runs when the authorization watermark has passed the first
// clearing or payout of a trace: its authorization, if it existed, would be
// here by now.
func (p *Partition) fireOrphan(t timer) {
	e := p.live(t)
	if e == nil || e.has(slotAuth) {
		return
	}
	if e.has(slotCleared) && p.time(e, tCleared) <= t.at && !e.is(flagOrphanClrOpen) {
		e.flags |= flagOrphanClrOpen
		p.open(p.orphan(e, fact.OrphanClearing, p.time(e, tCleared)))
	}
	if e.payoutSeen() && p.time(e, tPay) <= t.at && !e.is(flagOrphanPayOpen) {
		e.flags |= flagOrphanPayOpen
		p.open(p.orphan(e, fact.OrphanPayout, p.time(e, tPay)))
	}
}

// clearedLate: a clearing after the clearing deadline resolves
// clearing_missing, or records it resolved if the timer had not fired. The
// authorization's and the clearing's times never change once set, so a
// clearing found on time is marked and not looked at again.
func (p *Partition) clearedLate(e *entry) {
	if !e.has(slotAuth) || !e.has(slotCleared) || e.has(slotReversal) || e.is(flagClearingDone|flagClearingOnTime) {
		return
	}
	dl := p.sched.ClearingDeadline(p.time(e, tAuth)).At
	if at := p.time(e, tCleared); at > dl {
		e.flags = e.flags&^flagClearingOpen | flagClearingDone
		p.resolve(p.clearingMissing(e, dl), at, at)
	} else {
		e.flags |= flagClearingOnTime
	}
}

// reviseOverdue re-versions an open payout_overdue when a clearing from
// before the deadline reaches the join after it was raised: what was due
// is then the net amount (see overdue).
func (p *Partition) reviseOverdue(e *entry) {
	if e.has(slotCleared) && e.is(flagOverdueOpen) && !e.is(flagOverdueNet) && p.time(e, tCleared) <= p.time(e, tDeadline) {
		p.open(p.overdue(e))
	}
}

// paidLate: a late payment resolves payout_overdue, or records it resolved
// if the timer had not fired. A held payout is late because of the hold,
// which is its own anomaly. A payment always closes an open overdue (an
// on-time payment can only follow one if the feed's watermark overstated
// its progress).
func (p *Partition) paidLate(e *entry) {
	if !e.has(slotPaid) || !e.has(slotAuth) || e.is(flagOverdueDone) {
		return
	}
	due := e.has(slotCleared) || e.mode == event.D0 || e.mode == event.T0
	if !e.is(flagOverdueOpen) && (e.has(slotHeld) || p.time(e, tPaid) <= p.time(e, tDeadline) || !due) {
		return
	}
	e.flags = e.flags&^flagOverdueOpen | flagOverdueDone
	at := p.time(e, tPaid)
	p.resolve(p.overdue(e), at, at)
}

// authorizedLate: a late authorization resolves the trace's orphans.
func (p *Partition) authorizedLate(e *entry) {
	if !e.has(slotAuth) || !e.is(flagOrphanClrOpen|flagOrphanPayOpen) || e.is(flagOrphanDone) {
		return
	}
	e.flags |= flagOrphanDone
	auth := p.time(e, tAuth)
	if e.is(flagOrphanClrOpen) {
		at := p.time(e, tCleared)
		p.resolve(p.orphan(e, fact.OrphanClearing, at), auth, max(auth, at))
	}
	if e.is(flagOrphanPayOpen) {
		at := p.time(e, tPay)
		p.resolve(p.orphan(e, fact.OrphanPayout, at), auth, max(auth, at))
	}
	e.flags &^= flagOrphanClrOpen | flagOrphanPayOpen
}

// clearingMissing builds the clearing_missing anomaly of e, whose clearing
// was due by deadline.
func (p *Partition) clearingMissing(e *entry, deadline int64) fact.Anomaly {
	return p.traceAnomaly(e, fact.ClearingMissing, "", deadline, e.authAmt, 0, "not_cleared",
		fact.Args{AuthorizedAt: p.time(e, tAuth)})
}

// orphan builds the orphan_clearing or orphan_payout anomaly of e, for its
// clearing or first payout event at the time at.
func (p *Partition) orphan(e *entry, k fact.Kind, at int64) fact.Anomaly {
	amt := e.clearedAmt
	if k == fact.OrphanPayout {
		amt = e.payAmt
	}
	return p.traceAnomaly(e, k, "", at, amt, 0, "no_authorization", fact.Args{})
}

// overdue builds the payout_overdue anomaly. Its amount is what was due at
// the deadline, in event time: net of the fee once cleared by then, the
// authorized amount otherwise (D0 and T0 are due before the nightly
// clearing). A clearing from before the deadline that reaches the join after
// the anomaly was raised re-versions it (rank 1), so the latest row does not
// depend on which feed was read first.
func (p *Partition) overdue(e *entry) fact.Anomaly {
	amt, rank := e.authAmt, uint8(0)
	if e.has(slotCleared) && p.time(e, tCleared) <= p.time(e, tDeadline) {
		amt, rank = e.clearedAmt-e.fee, 1
		e.flags |= flagOverdueNet
	}
	a := p.traceAnomaly(e, fact.PayoutOverdue, "", p.time(e, tDeadline), amt, 0, "", fact.Args{Mode: e.mode})
	a.Version = fact.Version(p.time(e, tDeadline), rank)
	return a
}
