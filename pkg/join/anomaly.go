package join

import (
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// The rules live by family: absence.go (clearing_missing, payout_overdue,
// the orphans and their timers), money.go (amount_mismatch,
// fee_rate_deviation, mcc_mismatch), reversal.go (reversed_but_settled,
// duplicate_trace), payout.go (payout_failed, payout_held), batch.go (the
// batch kinds) and late.go (late_event). Each builds an anomaly with
// traceAnomaly or batchAnomaly, its values in Args, and emits it with open
// or resolve; the sentence a person reads is rendered from those values by
// package text, in emit.

// traceAnomaly builds anomaly k of trace e, detected at the event time at
// and versioned there; disc tells several anomalies of one kind apart. Its
// id is in the arena, and its trace number a substring of the id.
func (p *Partition) traceAnomaly(e *entry, k fact.Kind, disc string, at, amount, expected int64, reason string, args fact.Args) fact.Anomaly {
	tx, _ := fact.Describe(k)
	b := append(append(append(p.scratch[:0], k...), ':'), e.key[:e.keyLen]...)
	if disc != "" {
		b = append(append(b, ':'), disc...)
	}
	p.scratch = b
	id := p.strs.of(b)
	return fact.Anomaly{
		ID: id, Kind: k, Severity: tx.Severity,
		TraceNo: id[len(k)+1 : len(k)+1+int(e.keyLen)], MerchantID: p.names.name(e.merchant),
		Amount: amount, ExpectedAmount: expected, DetectedAt: at,
		Reason: reason, Cause: tx.Cause, Action: tx.Action, Args: args,
		CalendarVersion: p.sched.Calendar().Version(), Version: fact.Version(at, 0),
	}
}

// open emits the open version of a, with the version it was built with.
func (p *Partition) open(a fact.Anomaly) {
	a.Status, a.ResolvedAt = fact.Open, 0
	p.emit(a)
}

// resolve emits the resolved version of a: resolved at the event time at,
// versioned as of asOf (rank 1), the latest of the times it depends on, so
// that it supersedes the open version.
func (p *Partition) resolve(a fact.Anomaly, at, asOf int64) {
	a.Status, a.ResolvedAt, a.Version = fact.Resolved, at, fact.Version(asOf, 1)
	p.emit(a)
}

// emit renders a's Details, names its incident and appends it to the facts.
// The strings go into the arena, so that an anomaly allocates nothing.
func (p *Partition) emit(a fact.Anomaly) {
	loc := p.sched.Calendar().Location()
	p.scratch = p.details.Append(p.scratch[:0], &a, loc)
	a.Details = p.strs.of(p.scratch)
	p.scratch = incident.AppendOf(p.scratch[:0], &a, loc)
	a.IncidentKey = p.strs.of(p.scratch)
	p.anomalies = append(p.anomalies, a)
	p.stats.AnomalyFacts++
}
