package explain

import (
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// reply is what the support agent can send the merchant: one or two
// sentences saying what happened and when the money is expected or what
// the merchant must do. kind is the anomaly the status speaks for.
func (s *subject) reply(status string, kind fact.Kind) string {
	p, tr := s.p, &s.tr
	switch status {
	case StatusPaid:
		paidAt := s.paidAt()
		if tr.paid != nil && tr.paid.Amount > 0 {
			return p.S("reply.paid.amount", p.Money(tr.paid.Amount), p.Time(paidAt))
		}
		return p.S("reply.paid", p.Time(paidAt))
	case StatusFailed:
		r, _, _, _ := s.failure()
		if id := "reply.failed." + string(r); p.Has(id) {
			return p.S(id)
		}
		return p.S("reply.failed." + string(fact.OtherFailure))
	case StatusHeld:
		return p.S("reply.held")
	case StatusReversed:
		if kind == fact.ReversedButSettled {
			return p.S("reply.reversed.settled", p.Time(tr.reversal.OccurredAt))
		}
		return p.S("reply.reversed", p.Time(tr.reversal.OccurredAt))
	case StatusOverdue:
		return p.S("reply.overdue", p.Time(s.expected))
	case StatusClearingMissing:
		return p.S("reply.clearing_missing")
	case StatusOrphan:
		return p.S("reply.orphan")
	case StatusDeclined:
		return p.S("reply.declined", tr.declined.ResponseCode)
	}
	switch {
	case s.expected == 0:
		return p.S("reply.pending.unknown")
	case !s.asOf.IsZero() && s.asOf.UnixMilli() >= s.expected:
		return p.S("reply.pending.past_due", p.Time(s.expected))
	}
	return p.S("reply.pending", shownMode(s.mode).String(), p.Time(s.expected), s.delay())
}

// delay names, for the merchant, the holidays that moved a T1 payout:
// " (postponed for Spring Festival)", "（春节假期顺延）"; "" when none.
func (s *subject) delay() string {
	d := s.dueInfo
	if d == nil || d.Mode != event.T1 || len(d.Holidays) == 0 {
		return ""
	}
	names := ""
	for i, h := range d.Holidays {
		if i > 0 {
			names += s.p.S("list.sep")
		}
		names += s.p.HolidayName(h.Name)
	}
	return s.p.S("reply.pending.delay", names)
}
