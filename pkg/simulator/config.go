// Package simulator generates realistic, deterministic acquirer traffic for the
// source topics of DESIGN §3: merchant profiles with settlement modes and fee
// contracts, authorizations following a daily curve, nightly clearing batches,
// payout batches by settlement mode and business-day calendar, heartbeats on
// every partition of every event topic, and injected faults (failed payouts,
// missing payouts, amount mismatches) at configured rates. Alongside the
// messages it writes the ground truth of every trace, one JSON line each, so
// that the pipeline's detection quality can be scored.
//
// Messages are handed to a callback in event-time order, in chunks. The
// package deliberately knows nothing of Kafka or ClickHouse (the caller writes
// the messages), reads no clock, and draws every random choice from a PCG
// generator seeded by Config.Seed: the same Config and calendar give
// byte-identical messages and truth.
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

// DefaultConfig returns the default run: three days of 30,000 traces from
// 2026-09-28 (so that T1 payouts cross the National Day holiday) over 500
// merchants and 6 partitions per topic.
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

// Limits of a run.
const (
	maxDays         = 366
	maxTracesPerDay = 1_000_000
	maxMerchants    = 999_999
	maxPartitions   = 1024

	clearingSpread = 30 * time.Minute // cleared events of a batch spread over this
	payoutSpread   = 30 * time.Minute // initiations of a T1/D1 payout batch
	d0Spread       = 10 * time.Minute // initiations of a D0 payout batch
)

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.Days < 1 || c.Days > maxDays {
		add("days %d: want 1..%d", c.Days, maxDays)
	}
	if c.TracesPerDay < 1 || c.TracesPerDay > maxTracesPerDay {
		add("traces per day %d: want 1..%d", c.TracesPerDay, maxTracesPerDay)
	}
	if c.Merchants < 1 || c.Merchants > maxMerchants {
		add("merchants %d: want 1..%d", c.Merchants, maxMerchants)
	}
	if c.Partitions < 1 || c.Partitions > maxPartitions {
		add("partitions %d: want 1..%d", c.Partitions, maxPartitions)
	}
	if c.HeartbeatInterval < time.Second || c.HeartbeatInterval%time.Second != 0 {
		add("heartbeat interval %v: want whole seconds, at least 1s", c.HeartbeatInterval)
	}
	if c.ChunkSize < 1 {
		add("chunk size %d: want at least 1", c.ChunkSize)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"decline rate", c.DeclineRate},
		{"payout failed rate", c.PayoutFailedRate},
		{"payout missing rate", c.PayoutMissingRate},
		{"amount mismatch rate", c.AmountMismatchRate},
	} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			add("%s %v: want a probability in [0, 1]", r.name, r.v)
		}
	}
	if s := c.PayoutFailedRate + c.PayoutMissingRate + c.AmountMismatchRate; s > 1 {
		add("fault rates add up to %v: a trace gets at most one fault, want at most 1", s)
	}

	names := []struct{ what, name string }{
		{"authorizations", c.Topics.Authorizations},
		{"clearing", c.Topics.Clearing},
		{"payouts", c.Topics.Payouts},
		{"merchants", c.Topics.Merchants},
	}
	seen := map[string]string{}
	for _, n := range names {
		if n.name == "" {
			add("%s topic: empty name", n.what)
			continue
		}
		if other, dup := seen[n.name]; dup {
			add("%s topic %q: same name as the %s topic", n.what, n.name, other)
		}
		seen[n.name] = n.what
	}

	if err := c.Schedule.Validate(); err != nil {
		add("schedule: %w", err)
	}
	if c.ClearingAt < 0 || c.ClearingAt%time.Second != 0 {
		add("clearing time %v: want a whole-second time of day", c.ClearingAt)
	}
	if c.ClearingAt+time.Hour > c.Schedule.ClearingCutoff {
		add("clearing time %v: batches must end well before the clearing cut-off %v (want at least 1h before)", c.ClearingAt, c.Schedule.ClearingCutoff)
	}
	if c.PayoutAt%time.Second != 0 || c.PayoutAt < c.ClearingAt+time.Hour {
		add("payout time %v: want a whole-second time of day at least 1h after the clearing time %v", c.PayoutAt, c.ClearingAt)
	}
	for _, co := range []struct {
		name string
		v    time.Duration
	}{{"T1", c.Schedule.T1PayoutCutoff}, {"D1", c.Schedule.D1PayoutCutoff}} {
		if c.PayoutAt+2*time.Hour > co.v {
			add("payout time %v: healthy payouts must be well before the %s payout cut-off %v (want at least 2h before)", c.PayoutAt, co.name, co.v)
		}
	}
	if c.Schedule.D0Window < 2*time.Hour {
		add("D0 window %v: D0 batches run hourly, want at least 2h so healthy payouts are on time", c.Schedule.D0Window)
	}
	return errors.Join(errs...)
}
