package join

import (
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Reversals and duplicates: reversed_but_settled, a reversed sale that was
// still cleared or paid, and duplicate_trace, a second charge or payment
// under one trace number. Both are facts of what arrived, open for good.

// checkReversal reports a reversed trace's clearing and payment.
func (p *Partition) checkReversal(e *entry) {
	if !e.has(slotReversal) {
		return
	}
	rev := p.time(e, tReversal)
	if e.has(slotCleared) && !e.is(flagRevCleared) {
		e.flags |= flagRevCleared
		at := p.time(e, tCleared)
		p.open(p.traceAnomaly(e, fact.ReversedButSettled, "cleared", max(rev, at), e.clearedAmt, 0, "cleared_after_reversal",
			fact.Args{ReversedAt: rev, SettledAt: at}))
	}
	if e.has(slotPaid) && !e.is(flagRevPaid) {
		e.flags |= flagRevPaid
		at := p.time(e, tPaid)
		p.open(p.traceAnomaly(e, fact.ReversedButSettled, "paid", max(rev, at), e.paidAmt, 0, "paid_after_reversal",
			fact.Args{ReversedAt: rev, SettledAt: at}))
	}
}

// duplicate reports a second, different authorization, clearing or payment
// of one trace: the same trace number charged or paid twice.
func (p *Partition) duplicate(e *entry, ev *event.Event) {
	t := ev.Type.String()
	p.scratch = append(append(append(p.scratch[:0], t...), ':'), ev.ID...)
	disc := p.strs.of(p.scratch)
	p.open(p.traceAnomaly(e, fact.DuplicateTrace, disc, ev.OccurredAt, ev.Amount, 0, t,
		fact.Args{EventType: ev.Type, EventID: ev.ID}))
}
