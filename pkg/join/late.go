package join

import (
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// late reports a late_event: an event for a trace that was completed and
// purged, or one its source partition's watermark had passed by more than
// the allowed lateness. It is a fact of its own (by event id), open for
// good.
func (p *Partition) late(ev *event.Event) {
	p.stats.Late++
	tx, _ := fact.Describe(fact.LateEvent)
	p.scratch = append(append(append(append(append(p.scratch[:0], fact.LateEvent...), ':'), ev.TraceNo...), ':'), ev.ID...)
	p.open(fact.Anomaly{
		ID: p.strs.of(p.scratch), Kind: fact.LateEvent, Severity: tx.Severity,
		TraceNo: ev.TraceNo, MerchantID: ev.MerchantID, Amount: ev.Amount, DetectedAt: ev.OccurredAt,
		Reason: ev.Type.String(), Cause: tx.Cause, Action: tx.Action,
		Args:            fact.Args{EventType: ev.Type, EventID: ev.ID},
		CalendarVersion: p.sched.Calendar().Version(), Version: fact.Version(ev.OccurredAt, 0),
	})
}
