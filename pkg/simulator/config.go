// Package simulator generates realistic, deterministic acquirer traffic for
// the source topics (DESIGN §3) — merchant profiles, authorizations on a
// daily curve, clearing and payout batches by settlement mode and calendar,
// heartbeats — with every cause of DESIGN §1 injected at a configured rate,
// and writes the ground truth of every trace for pkg/score. It knows nothing
// of Kafka or ClickHouse (the caller publishes), reads no clock, and draws
// every choice from a generator seeded by Config.Seed: the same Config and
// calendar give byte-identical output.
package simulator

import (
	"errors"
	"fmt"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
)

// Topics names the topics the simulator writes to.
type Topics struct {
	Authorizations string
	Clearing       string
	Payouts        string
	Merchants      string
}

// Config configures a simulation run.
type Config struct {
	// Seed selects the run: equal seeds give byte-identical output.
	Seed int64
	// Start is the first traffic day (local date). Merchant profiles are
	// published at 00:00 local the day before.
	Start calendar.Date
	// Days is the number of traffic days.
	Days int
	// TracesPerDay is the number of authorizations per traffic day (at most
	// 1,000,000: trace numbers carry a 6-digit sequence).
	TracesPerDay int
	// Merchants is the number of merchants (at most 999,999).
	Merchants int
	// Partitions is the partition count of each source topic: heartbeats go
	// to every partition of the three event topics.
	Partitions int
	// HeartbeatInterval is the simulated time between heartbeats, whole
	// seconds.
	HeartbeatInterval time.Duration

	// DeclineRate is the probability that an authorization is declined.
	DeclineRate float64
	// PayoutFailedRate, PayoutMissingRate and AmountMismatchRate are the
	// probabilities, per approved trace, of each injected fault; a trace gets
	// at most one, so their sum must not exceed 1.
	PayoutFailedRate   float64
	PayoutMissingRate  float64
	AmountMismatchRate float64

	// The rates below are per approved trace too, and share the one-cause
	// rule with the three above: all of them together must not exceed 1.
	//
	// ClearingMissingRate: the sale is never cleared and never paid. Only
	// T1 and D1 sales: a D0 sale is due to be paid before its clearing is
	// due, so without both it would be an overdue payout too; a D0 sale
	// drawn for it stays healthy (the effective rate is about 85% of this).
	ClearingMissingRate float64
	// PayoutHeldRate: the payout is held for risk review and released only
	// HoldSLA+6h to HoldSLA+16h later (30–40h at the default SLA), then paid.
	PayoutHeldRate float64
	// FeeDeviationRate: the clearing charges the contracted rate plus 0.30%
	// plus 0.50 yuan; the payout carries cleared − fee.
	FeeDeviationRate float64
	// MCCMismatchRate: the clearing carries another MCC than the merchant's
	// registered one (the authorization carries the registered one).
	MCCMismatchRate float64
	// DuplicateAuthRate: a second authorization (new event_id, same trace)
	// 5–120 s after the first; the trace settles normally.
	DuplicateAuthRate float64
	// ReversedSettledRate: a reversal 1–10 min after the authorization, and
	// the sale is still cleared and paid.
	ReversedSettledRate float64
	// LateEventRate: the trace settles normally and its payout_paid is
	// re-sent, with a new event_id and the original occurred_at, at least
	// three days after the trace completed.
	LateEventRate float64
	// HealthyReversalRate: a reversal 1–10 min after the authorization and
	// nothing else (no anomaly).
	HealthyReversalRate float64
	// HealthyHoldRate: the payout is held and released within a few hours,
	// and paid before its deadline (no anomaly).
	HealthyHoldRate float64

	// OrphanClearingRate and OrphanPayoutRate give the number of orphan
	// traces per traffic day as a share of TracesPerDay (rounded): extra
	// traces, never authorized, that are only cleared (in a normal clearing
	// batch) or only paid (payout_initiated and payout_paid in a normal
	// payout batch).
	OrphanClearingRate float64
	OrphanPayoutRate   float64

	// HoldSLA is the risk-review SLA of held payouts: holds released within
	// it are healthy, the injected payout_held ones are released after it.
	HoldSLA time.Duration
	// PayoutOutage silences the payout topic for part of one day.
	PayoutOutage Outage

	// BatchStallCount is the number of T1 or D1 payout batches (each with at
	// least 20 payout_initiated records) that stall midway: after about half
	// of their payout_initiated records, the rest of the batch (the
	// remaining records, their payout_paid or payout_failed, and
	// batch_closed) comes StallFor later, while heartbeats continue on every
	// partition. Payouts pulled out of the batch for risk review keep their
	// times (payout_held and payout_released are not batch progress). The
	// batch then closes normally, declaring exactly what it carried, and its
	// payouts are still paid before their deadlines: no trace anomaly.
	BatchStallCount int
	// StallFor is how long a stalled batch pauses, whole seconds. A stalled
	// batch must still be paid on time: PayoutAt + 30m + StallFor + 1h may
	// not be later than the T1 and D1 payout cut-offs.
	StallFor time.Duration
	// BatchIncompleteCount is the number of T1 or D1 payout batches that
	// leave out one payout_initiated record while their batch_closed still
	// declares it (count and total). The trace of that record is otherwise
	// healthy: its payout_paid arrives normally.
	BatchIncompleteCount int

	Topics   Topics
	Schedule calendar.ScheduleConfig

	// ClearingAt is the local time of day at which the clearing batch of
	// trade date D opens, on D+1. The batch lasts about 30 minutes and must
	// end an hour before Schedule.ClearingCutoff.
	ClearingAt time.Duration
	// PayoutAt is the local time of day at which T1 and D1 payout batches
	// open. It must lie at least an hour after ClearingAt and two hours before
	// the T1 and D1 payout cut-offs.
	PayoutAt time.Duration
	// ChunkSize is the largest number of messages per emit call.
	ChunkSize int
}

// Outage is a payout-feed outage: during [From, To) local time of traffic
// day Day nothing is published on the payout topic, neither events nor
// heartbeats; at To everything held back is published in its original order
// with its original occurred_at, and normal flow (heartbeats included)
// resumes. The other topics flow normally. The payouts themselves happen on
// time; only the feed is late.
type Outage struct {
	Day      int           // 1-based traffic day; 0: no outage
	From, To time.Duration // local times of day, whole seconds, From < To <= 24h
}

// Enabled reports whether the outage is configured.
func (o Outage) Enabled() bool { return o.Day > 0 }

// FitOutage moves an outage configured after the last traffic day onto the
// last one, so that a default outage (FullConfig's day 4) stays inside a
// shorter run; it reports whether it moved it. Callers apply it to defaults
// only: an outage day the user chose is validated as given.
func (c *Config) FitOutage() bool {
	if c.Days < 1 || c.PayoutOutage.Day <= c.Days {
		return false
	}
	c.PayoutOutage.Day = c.Days
	return true
}

// Date returns the local date of traffic day n (1-based).
func (c Config) Date(n int) calendar.Date { return c.Start.AddDays(n - 1) }

// DefaultConfig returns the default run: three days of 30,000 traces from
// 2026-09-28 (so that T1 payouts cross the National Day holiday) over 500
// merchants and 6 partitions per topic, with the three original faults at
// 0.5% each. The extra causes are off (rate 0) and so is the
// payout outage; FullConfig turns them on.
func DefaultConfig() Config {
	return Config{
		Seed:               1,
		Start:              calendar.DateOf(2026, time.September, 28),
		Days:               3,
		TracesPerDay:       30000,
		Merchants:          500,
		Partitions:         6,
		HeartbeatInterval:  5 * time.Minute,
		DeclineRate:        0.05,
		PayoutFailedRate:   0.005,
		PayoutMissingRate:  0.005,
		AmountMismatchRate: 0.005,
		HoldSLA:            24 * time.Hour,
		PayoutOutage:       Outage{From: 9 * time.Hour, To: 21 * time.Hour},
		StallFor:           2 * time.Hour,
		Topics: Topics{
			Authorizations: event.Auth.DefaultTopic(),
			Clearing:       event.Clearing.DefaultTopic(),
			Payouts:        event.Payouts.DefaultTopic(),
			Merchants:      event.Merchants.DefaultTopic(),
		},
		Schedule:   calendar.DefaultScheduleConfig(),
		ClearingAt: 2 * time.Hour,
		PayoutAt:   10 * time.Hour,
		ChunkSize:  1000,
	}
}

// FullConfig returns the full acceptance run: five traffic days from
// 2026-09-28 (spanning the National Day holiday, so that T1 payouts of the
// sales of 09-30..10-02 fall due on 10-08), every cause injected at 0.1% of
// approved traces (about 140 each at 30,000 traces a day), 0.1% orphan
// clearings and payouts per day (30 each), healthy reversals at 1% and
// healthy short holds at 0.5%, the payout feed silent on the fourth traffic
// day (10-01) from 09:00 to 21:00, one payout batch stalled for two hours and
// one closed with a record missing.
func FullConfig() Config {
	c := DefaultConfig()
	c.Days = 5
	c.ClearingMissingRate = 0.001
	c.PayoutHeldRate = 0.001
	c.FeeDeviationRate = 0.001
	c.MCCMismatchRate = 0.001
	c.DuplicateAuthRate = 0.001
	c.ReversedSettledRate = 0.001
	c.LateEventRate = 0.001
	c.HealthyReversalRate = 0.01
	c.HealthyHoldRate = 0.005
	c.OrphanClearingRate = 0.001
	c.OrphanPayoutRate = 0.001
	c.PayoutOutage.Day = 4
	c.BatchStallCount = 1
	c.BatchIncompleteCount = 1
	return c
}

// Limits of a run.
const (
	maxDays         = 366
	maxTracesPerDay = 1_000_000
	maxMerchants    = 999_999
	maxPartitions   = 1024

	clearingSpread = 30 * time.Minute // cleared events of a batch spread over this
	payoutSpread   = 30 * time.Minute // initiations of a T1/D1 payout batch
	d0Spread       = 10 * time.Minute // initiations of a D0 payout batch
	minHoldSLA     = 6 * time.Hour    // healthy holds are released within 4h

	// minBatchItems is the least number of payout_initiated records of a
	// batch chosen for a batch fault.
	minBatchItems = 20
	// stallSlack is how long before its deadline a delayed payout of a
	// stalled batch must be initiated: a confirmation takes at most 5
	// minutes, a return 30; the rest is margin.
	stallSlack = time.Hour
)

// Validate reports every problem with c.
func (c Config) Validate() error {
	var p problems
	c.validateSize(&p)
	c.validateRates(&p)
	if c.HoldSLA < minHoldSLA || c.HoldSLA%time.Second != 0 {
		p.add("hold SLA %v: want whole seconds, at least %v", c.HoldSLA, minHoldSLA)
	}
	c.validateOutage(&p)
	c.validateBatchFaults(&p)
	c.validateTopics(&p)
	c.validateTimes(&p)
	return errors.Join(p...)
}

// problems collects the problems Validate finds, in the order it checks.
type problems []error

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Errorf(format, a...)) }

// cutoff is a payout cut-off of the schedule, with its mode's name.
type cutoff struct {
	name string
	v    time.Duration
}

// payoutCutoffs returns the T1 and D1 payout cut-offs.
func (c Config) payoutCutoffs() []cutoff {
	return []cutoff{{"T1", c.Schedule.T1PayoutCutoff}, {"D1", c.Schedule.D1PayoutCutoff}}
}

// validateSize checks the size of the run.
func (c Config) validateSize(p *problems) {
	if c.Days < 1 || c.Days > maxDays {
		p.add("days %d: want 1..%d", c.Days, maxDays)
	}
	if c.TracesPerDay < 1 || c.TracesPerDay > maxTracesPerDay {
		p.add("traces per day %d: want 1..%d", c.TracesPerDay, maxTracesPerDay)
	}
	if c.Merchants < 1 || c.Merchants > maxMerchants {
		p.add("merchants %d: want 1..%d", c.Merchants, maxMerchants)
	}
	if c.Partitions < 1 || c.Partitions > maxPartitions {
		p.add("partitions %d: want 1..%d", c.Partitions, maxPartitions)
	}
	if c.HeartbeatInterval < time.Second || c.HeartbeatInterval%time.Second != 0 {
		p.add("heartbeat interval %v: want whole seconds, at least 1s", c.HeartbeatInterval)
	}
	if c.ChunkSize < 1 {
		p.add("chunk size %d: want at least 1", c.ChunkSize)
	}
}

// validateRates checks that every rate is a probability and that the
// one-cause rates add up to at most 1.
func (c Config) validateRates(p *problems) {
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"decline rate", c.DeclineRate},
		{"payout failed rate", c.PayoutFailedRate},
		{"payout missing rate", c.PayoutMissingRate},
		{"amount mismatch rate", c.AmountMismatchRate},
		{"clearing missing rate", c.ClearingMissingRate},
		{"payout held rate", c.PayoutHeldRate},
		{"fee deviation rate", c.FeeDeviationRate},
		{"MCC mismatch rate", c.MCCMismatchRate},
		{"duplicate authorization rate", c.DuplicateAuthRate},
		{"reversed-but-settled rate", c.ReversedSettledRate},
		{"late event rate", c.LateEventRate},
		{"healthy reversal rate", c.HealthyReversalRate},
		{"healthy hold rate", c.HealthyHoldRate},
		{"orphan clearing rate", c.OrphanClearingRate},
		{"orphan payout rate", c.OrphanPayoutRate},
	} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			p.add("%s %v: want a probability in [0, 1]", r.name, r.v)
		}
	}
	var sum float64
	for _, f := range c.faults() {
		sum += f.rate
	}
	if sum > 1 {
		p.add("fault rates add up to %v: a trace gets at most one fault, want at most 1", sum)
	}
}

// validateOutage checks the payout-feed outage.
func (c Config) validateOutage(p *problems) {
	o := c.PayoutOutage
	if !o.Enabled() {
		if o.Day < 0 {
			p.add("payout outage day %d: want 0 (off) or a traffic day", o.Day)
		}
		return
	}
	if o.Day > c.Days {
		p.add("payout outage day %d: want a traffic day in 1..%d", o.Day, c.Days)
	}
	if o.From < 0 || o.From%time.Second != 0 || o.To%time.Second != 0 || o.To <= o.From || o.To > 24*time.Hour {
		p.add("payout outage %v..%v: want whole-second local times of day with from < to <= 24h", o.From, o.To)
	}
}

// validateBatchFaults checks the batch fault counts and that a stalled batch
// is still paid on time.
func (c Config) validateBatchFaults(p *problems) {
	if c.BatchStallCount < 0 || c.BatchIncompleteCount < 0 {
		p.add("batch faults %d stalled, %d incomplete: want counts of at least 0", c.BatchStallCount, c.BatchIncompleteCount)
	}
	if c.BatchStallCount <= 0 {
		return
	}
	if c.StallFor < time.Second || c.StallFor%time.Second != 0 {
		p.add("stall duration %v: want whole seconds, at least 1s", c.StallFor)
	}
	for _, co := range c.payoutCutoffs() {
		if c.PayoutAt+payoutSpread+c.StallFor+stallSlack > co.v {
			p.add("stall duration %v: a stalled batch opening at %v must still be paid by the %s payout cut-off %v (want payout time + 30m + stall + 1h at most the cut-off)", c.StallFor, c.PayoutAt, co.name, co.v)
		}
	}
}

// validateTopics checks that the four topics are named, each differently.
func (c Config) validateTopics(p *problems) {
	names := []struct{ what, name string }{
		{"authorizations", c.Topics.Authorizations},
		{"clearing", c.Topics.Clearing},
		{"payouts", c.Topics.Payouts},
		{"merchants", c.Topics.Merchants},
	}
	seen := map[string]string{}
	for _, n := range names {
		if n.name == "" {
			p.add("%s topic: empty name", n.what)
			continue
		}
		if other, dup := seen[n.name]; dup {
			p.add("%s topic %q: same name as the %s topic", n.what, n.name, other)
		}
		seen[n.name] = n.what
	}
}

// validateTimes checks the schedule and that the batch times leave healthy
// traffic on time under it.
func (c Config) validateTimes(p *problems) {
	if err := c.Schedule.Validate(); err != nil {
		p.add("schedule: %w", err)
	}
	if c.ClearingAt < 0 || c.ClearingAt%time.Second != 0 {
		p.add("clearing time %v: want a whole-second time of day", c.ClearingAt)
	}
	if c.ClearingAt+time.Hour > c.Schedule.ClearingCutoff {
		p.add("clearing time %v: batches must end well before the clearing cut-off %v (want at least 1h before)", c.ClearingAt, c.Schedule.ClearingCutoff)
	}
	if c.PayoutAt%time.Second != 0 || c.PayoutAt < c.ClearingAt+time.Hour {
		p.add("payout time %v: want a whole-second time of day at least 1h after the clearing time %v", c.PayoutAt, c.ClearingAt)
	}
	for _, co := range c.payoutCutoffs() {
		if c.PayoutAt+2*time.Hour > co.v {
			p.add("payout time %v: healthy payouts must be well before the %s payout cut-off %v (want at least 2h before)", c.PayoutAt, co.name, co.v)
		}
	}
	if c.Schedule.D0Window < 2*time.Hour {
		p.add("D0 window %v: D0 batches run hourly, want at least 2h so healthy payouts are on time", c.Schedule.D0Window)
	}
	if c.HealthyHoldRate <= 0 {
		return
	}
	// A healthy hold is released, re-batched at the next full hour and paid
	// before the deadline: it needs an hour more of slack.
	if c.Schedule.D0Window < 3*time.Hour {
		p.add("D0 window %v: healthy holds need at least 3h to be paid on time", c.Schedule.D0Window)
	}
	for _, co := range c.payoutCutoffs() {
		if c.PayoutAt+3*time.Hour > co.v {
			p.add("payout time %v: healthy holds need the %s payout cut-off %v at least 3h later", c.PayoutAt, co.name, co.v)
		}
	}
}

// faultRate is the probability of one fault of the one-cause draw.
type faultRate struct {
	rate  float64
	fault uint8
}

// faults lists the one-cause faults in draw order. The first three must stay
// first: with the others at zero a run draws exactly what it drew before they
// existed.
func (c Config) faults() []faultRate {
	return []faultRate{
		{c.PayoutFailedRate, faultFailed},
		{c.PayoutMissingRate, faultMissing},
		{c.AmountMismatchRate, faultMismatch},
		{c.ClearingMissingRate, faultClearingMissing},
		{c.PayoutHeldRate, faultHeld},
		{c.FeeDeviationRate, faultFee},
		{c.MCCMismatchRate, faultMCC},
		{c.DuplicateAuthRate, faultDuplicate},
		{c.ReversedSettledRate, faultReversedSettled},
		{c.LateEventRate, faultLate},
		{c.HealthyReversalRate, faultHealthyReversal},
		{c.HealthyHoldRate, faultHealthyHold},
	}
}
