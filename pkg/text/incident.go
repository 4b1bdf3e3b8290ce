package text

import (
	"slices"
	"strconv"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// IncidentTitle renders what an incident is, in one line, from its key and
// what it holds: "T1 payouts due on 2026-10-08 not confirmed by the bank",
// "应于 2026年10月8日（周四）到账的 T1 出款未获银行确认".
func (p *Printer) IncidentTitle(s incident.Summary) string {
	k := s.Key
	switch k.Class {
	case incident.SourceOutage:
		if s.Status == fact.Open {
			return p.S("incident.outage.open", k.Source, p.Instant(s.FirstAt))
		}
		return p.S("incident.outage.over", k.Source, p.Instant(s.FirstAt), p.Instant(s.LastAt),
			p.Span(time.Duration(s.LastAt-s.FirstAt)*time.Millisecond))
	case incident.Batch:
		stalled, incomplete := slices.Contains(s.Kinds, fact.BatchStalled), slices.Contains(s.Kinds, fact.BatchIncomplete)
		switch {
		case stalled && incomplete:
			return p.S("incident.batch.stalled_incomplete", k.Source, k.BatchID)
		case incomplete:
			return p.S("incident.batch.incomplete", k.Source, k.BatchID)
		}
		return p.S("incident.batch.stalled", k.Source, k.BatchID)
	case incident.BankReturn:
		return p.S("incident.bank_return", k.Code, p.incidentDay(k.Day))
	case incident.Account:
		return p.S("incident.account", k.MerchantID)
	case incident.ClearingFile:
		return p.S("incident.clearing_file", p.incidentDay(k.Day))
	case incident.PayoutRun:
		return p.S("incident.payout_run", k.Mode, p.incidentDay(k.Day))
	case incident.Merchant:
		if id := "incident.merchant." + string(k.Kind); p.Has(id) {
			return p.S(id, k.MerchantID)
		}
		return p.S("incident.merchant_other", p.KindName(k.Kind), k.MerchantID)
	case incident.Daily:
		day := p.incidentDay(k.Day)
		if id := "incident.daily." + string(k.Kind); p.Has(id) {
			if k.Kind == fact.OrphanClearing || k.Kind == fact.OrphanPayout {
				return p.S(id, day)
			}
			return p.S(id, k.Reason, day)
		}
		if k.Reason == "" {
			return p.S("incident.daily_other", p.KindName(k.Kind), day)
		}
		return p.S("incident.daily_other_reason", p.KindName(k.Kind), k.Reason, day)
	}
	return p.S("incident.unknown", k.String())
}

// IncidentAction renders the one thing to do about an incident: the kind's
// action, said once for all of its traces.
func (p *Printer) IncidentAction(s incident.Summary) string {
	k := s.Key
	n := func(v uint64) string { return strconv.FormatUint(v, 10) }
	switch k.Class {
	case incident.SourceOutage:
		return p.S("incident.action.outage", k.Source)
	case incident.Batch:
		kind := fact.BatchStalled
		if slices.Contains(s.Kinds, fact.BatchIncomplete) {
			kind = fact.BatchIncomplete
		}
		return p.S("incident.action.batch", k.BatchID, p.kindAction(kind))
	case incident.BankReturn:
		return p.S("incident.action.bank_return", p.FailureAction(fact.MapPayoutFailure(k.Code)), n(s.Traces), k.Code)
	case incident.Account:
		return p.S("incident.action.account", k.MerchantID, n(s.Traces))
	case incident.ClearingFile:
		return p.S("incident.action.clearing_file", n(s.Traces), p.incidentDay(k.Day))
	case incident.PayoutRun:
		return p.S("incident.action.payout_run", k.Mode, p.incidentDay(k.Day), n(s.Traces), n(s.Merchants))
	}
	if len(s.Kinds) > 0 {
		return p.kindAction(s.Kinds[0])
	}
	return p.kindAction(k.Kind)
}

func (p *Printer) kindAction(k fact.Kind) string {
	if _, ok := fact.Describe(k); ok {
		return p.Action(k)
	}
	return p.S("incident.action.look")
}

// IncidentStatus names an incident's status: "open", "未处理".
func (p *Printer) IncidentStatus(st fact.AnomalyStatus) string {
	if id := "incident.status." + string(st); p.Has(id) {
		return p.S(id)
	}
	return string(st)
}

// SeverityName names a severity: "critical", "严重".
func (p *Printer) SeverityName(sv fact.Severity) string {
	if id := "severity." + string(sv); p.Has(id) {
		return p.S(id)
	}
	return string(sv)
}

// incidentDay renders an incident key's local date: "2026-10-08" in
// English, "2026年10月8日（周四）" in Chinese.
func (p *Printer) incidentDay(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil || !p.Chinese() {
		return day
	}
	return p.date(t)
}
