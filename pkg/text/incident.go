package text

import (
	"fmt"
	"slices"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// IncidentTitle renders what an incident is, in one line, from its key and
// what it holds, with its times in loc: "T1 payouts due 2026-10-08 not
// confirmed by the bank".
func IncidentTitle(s incident.Summary, loc *time.Location) string {
	k := s.Key
	switch k.Class {
	case incident.SourceOutage:
		return outageTitle(k.Source, s.FirstAt, s.LastAt, s.Status == fact.Open, loc)
	case incident.Batch:
		return batchTitle(k.Source, k.BatchID, s.Kinds)
	case incident.BankReturn:
		return fmt.Sprintf("payouts returned by the bank with code %s on %s", k.Code, k.Day)
	case incident.Account:
		return fmt.Sprintf("payouts to merchant %s returned: its settlement account", k.MerchantID)
	case incident.ClearingFile:
		return fmt.Sprintf("approved sales missing from the clearing due on %s", k.Day)
	case incident.PayoutRun:
		return fmt.Sprintf("%s payouts due on %s not confirmed by the bank", k.Mode, k.Day)
	case incident.Merchant:
		return merchantTitle(k.Kind, k.MerchantID)
	case incident.Daily:
		return dailyTitle(k.Kind, k.Reason, k.Day)
	}
	return fmt.Sprintf("incident %s", k)
}

func outageTitle(source string, from, to int64, open bool, loc *time.Location) string {
	if open {
		return fmt.Sprintf("the %s feed has sent nothing since %s", source, at(loc, from))
	}
	return fmt.Sprintf("the %s feed sent nothing from %s to %s (%s) and delivered what it held back late",
		source, at(loc, from), at(loc, to), duration(to-from))
}

func batchTitle(source, batchID string, kinds []fact.Kind) string {
	stalled, incomplete := slices.Contains(kinds, fact.BatchStalled), slices.Contains(kinds, fact.BatchIncomplete)
	switch {
	case stalled && incomplete:
		return fmt.Sprintf("%s batch %s stalled and closed incomplete", source, batchID)
	case incomplete:
		return fmt.Sprintf("%s batch %s closed incomplete", source, batchID)
	}
	return fmt.Sprintf("%s batch %s stalled", source, batchID)
}

func merchantTitle(k fact.Kind, merchantID string) string {
	switch k {
	case fact.FeeRateDeviation:
		return fmt.Sprintf("merchant %s charged fees above its contracted rate", merchantID)
	case fact.MCCMismatch:
		return fmt.Sprintf("merchant %s cleared under another merchant category than registered (跳码)", merchantID)
	case fact.PayoutHeld:
		return fmt.Sprintf("payouts of merchant %s held for risk review beyond the SLA", merchantID)
	}
	return fmt.Sprintf("%s at merchant %s", k, merchantID)
}

func dailyTitle(k fact.Kind, reason, day string) string {
	switch k {
	case fact.AmountMismatch:
		return fmt.Sprintf("amounts differ between stages (%s) on %s", reason, day)
	case fact.DuplicateTrace:
		return fmt.Sprintf("trace numbers charged twice (a second %s) on %s", reason, day)
	case fact.ReversedButSettled:
		return fmt.Sprintf("reversed sales still settled (%s) on %s", reason, day)
	case fact.OrphanClearing:
		return fmt.Sprintf("clearings without an authorization on %s", day)
	case fact.OrphanPayout:
		return fmt.Sprintf("payouts without an authorization on %s", day)
	case fact.LateEvent:
		return fmt.Sprintf("%s events delivered late on %s", reason, day)
	}
	if reason == "" {
		return fmt.Sprintf("%s on %s", k, day)
	}
	return fmt.Sprintf("%s (%s) on %s", k, reason, day)
}

// IncidentAction renders the one thing to do about an incident: the kind's
// action, said once for all of its traces.
func IncidentAction(s incident.Summary) string {
	k := s.Key
	switch k.Class {
	case incident.SourceOutage:
		return fmt.Sprintf("check the %s feed's producer and its ingest consumer; no per-trace action: absences waited for the feed (two-clock rule)", k.Source)
	case incident.Batch:
		kind := fact.BatchStalled
		if slices.Contains(s.Kinds, fact.BatchIncomplete) {
			kind = fact.BatchIncomplete
		}
		return fmt.Sprintf("batch %s: %s", k.BatchID, kindAction(kind))
	case incident.BankReturn:
		return fmt.Sprintf("%s; once for all %d payouts with code %s", fact.MapPayoutFailure(k.Code).Action(), s.Traces, k.Code)
	case incident.Account:
		return fmt.Sprintf("have merchant %s correct its settlement account once, then re-pay its %d returned payouts", k.MerchantID, s.Traces)
	case incident.ClearingFile:
		return fmt.Sprintf("ask the clearing team for the %d missing records of the clearing due on %s (a re-send), with the trace list", s.Traces, k.Day)
	case incident.PayoutRun:
		return fmt.Sprintf("chase the paying bank for the %s payout run due on %s with the list of %d traces; tell the %d merchants it is being chased", k.Mode, k.Day, s.Traces, s.Merchants)
	}
	if len(s.Kinds) > 0 {
		return kindAction(s.Kinds[0])
	}
	return kindAction(k.Kind)
}

func kindAction(k fact.Kind) string {
	if t, ok := fact.Describe(k); ok {
		return t.Action
	}
	return "look at the traces"
}

// at renders an instant of an incident title, in loc.
func at(loc *time.Location, ms int64) string {
	return time.UnixMilli(ms).In(loc).Format("Mon 2006-01-02 15:04 -07:00")
}

// duration renders a span of an incident title.
func duration(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }
