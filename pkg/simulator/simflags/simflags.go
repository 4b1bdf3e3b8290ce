// Package simflags registers the simulator's flags on a service flag set. It
// is used by the simulator and the development commands only, so that the
// production binaries, which import pkg/service, do not link the simulator.
package simflags

import (
	"fmt"

	"settlemon/pkg/calendar"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
)

// Register registers the simulation flags over cfg's values; call the
// returned function after Parse to apply the ones that need converting and
// the defaults that depend on --days: a default payout outage after the last
// simulated day moves onto it, with a note on the notes output (the user's
// own --payout-outage-day is left as given). A --days below 1 or a --start
// that is no date is a usage error.
func Register(f *service.Flags, cfg *simulator.Config) func() error {
	var start string
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed: equal seeds give identical traffic")
	f.IntVar(&cfg.Days, "days", cfg.Days, "simulated traffic days")
	f.StringVar(&start, "start", cfg.Start.String(), "first simulated day (local date, YYYY-MM-DD)")
	f.IntVar(&cfg.TracesPerDay, "traces-per-day", cfg.TracesPerDay, "authorizations per simulated day")
	f.IntVar(&cfg.Merchants, "merchants", cfg.Merchants, "simulated merchants")
	rates := []struct {
		p    *float64
		name string
		what string
	}{
		{&cfg.DeclineRate, "decline-rate", "declined authorizations"},
		{&cfg.PayoutFailedRate, "payout-failed-rate", "payout failed or returned by the bank"},
		{&cfg.PayoutMissingRate, "payout-missing-rate", "payout never sent (payout_overdue)"},
		{&cfg.AmountMismatchRate, "amount-mismatch-rate", "cleared for a different amount"},
		{&cfg.ClearingMissingRate, "clearing-missing-rate", "never cleared (clearing_missing)"},
		{&cfg.PayoutHeldRate, "payout-held-rate", "held for risk review beyond the SLA"},
		{&cfg.FeeDeviationRate, "fee-deviation-rate", "fee above the contracted rate"},
		{&cfg.MCCMismatchRate, "mcc-mismatch-rate", "cleared under another MCC (跳码)"},
		{&cfg.DuplicateAuthRate, "duplicate-rate", "authorized twice under one trace number"},
		{&cfg.ReversedSettledRate, "reversed-settled-rate", "reversed but still cleared and paid"},
		{&cfg.LateEventRate, "late-event-rate", "a payout re-sent after the trace closed"},
		{&cfg.OrphanClearingRate, "orphan-clearing-rate", "clearings without an authorization (per authorization)"},
		{&cfg.OrphanPayoutRate, "orphan-payout-rate", "payouts without an authorization (per authorization)"},
		{&cfg.HealthyReversalRate, "healthy-reversal-rate", "reversed sales that correctly never settle"},
		{&cfg.HealthyHoldRate, "healthy-hold-rate", "payouts held briefly and released within the SLA"},
	}
	for _, r := range rates {
		f.Float64Var(r.p, r.name, *r.p, "share of traces: "+r.what)
	}
	f.IntVar(&cfg.BatchStallCount, "batch-stall-count", cfg.BatchStallCount, "payout batches that stop midway for --batch-stall-for, then resume and close")
	f.DurationVar(&cfg.StallFor, "batch-stall-for", cfg.StallFor, "how long a stalled payout batch stops")
	f.IntVar(&cfg.BatchIncompleteCount, "batch-incomplete-count", cfg.BatchIncompleteCount, "payout batches that close declaring a record they did not carry")
	f.IntVar(&cfg.PayoutOutage.Day, "payout-outage-day", cfg.PayoutOutage.Day, "traffic day (1-based) on which the payout feed goes silent; 0: no outage")
	f.DurationVar(&cfg.PayoutOutage.From, "payout-outage-from", cfg.PayoutOutage.From, "local time of day the payout feed outage starts")
	f.DurationVar(&cfg.PayoutOutage.To, "payout-outage-to", cfg.PayoutOutage.To, "local time of day the payout feed outage ends (held-back messages are then published)")
	return func() error {
		d, err := calendar.ParseDate(start)
		if err != nil {
			return service.Usagef("--start: %w", err)
		}
		cfg.Start = d
		if cfg.Days < 1 {
			return service.Usagef("--days %d: want at least 1 simulated day", cfg.Days)
		}
		if !f.IsSet("payout-outage-day") {
			from := cfg.PayoutOutage.Day
			if cfg.FitOutage() {
				fmt.Fprintf(f.Notes(), "%s: note: the payout-feed outage is on day %d (%s), the last of --days %d; its default, day %d, is after the run (--payout-outage-day 0: no outage)\n",
					f.Name(), cfg.PayoutOutage.Day, cfg.Date(cfg.PayoutOutage.Day), cfg.Days, from)
			}
		}
		return nil
	}
}
