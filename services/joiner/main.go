// Command joiner runs a joiner instance: a member of the joiner consumer group
// on settle.events that joins authorizations, clearing and payouts by trace
// number in event time and writes settlement-lag and anomaly facts to
// ClickHouse. Run as many as settle.events has partitions.
package main

import (
	"context"
	"os"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/joiner"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/service"
	"settlemon/pkg/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	exit := service.NewExit("joiner", args)
	f := service.NewFlags("joiner", `joiner — the event-time join of the three source streams by trace number.

Each instance owns some partitions of settle.events; per partition it keeps a
state machine per open trace with per-source watermarks, emits settlement_lag
and anomaly facts (payout_failed, payout_overdue under the two-clock rule,
amount_mismatch, duplicate_trace) to ClickHouse, and commits offsets only
after the facts are durable. On (re)assignment a partition is rebuilt by
replay. SIGTERM flushes, commits and exits.`)
	k := service.KafkaFlags(f)
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	pc := pipeline.DefaultConfig()
	cfg := &pc.Joiner
	f.StringVar(&pc.Topics.Events, "events-topic", pc.Topics.Events, "repartition topic to join")
	f.StringVar(&pc.Topics.Profiles, "merchants-topic", pc.Topics.Profiles, "compacted topic of the merchant profiles ingest accepted; the only source of profiles")
	f.StringVar(&pc.Topics.Sources[event.Merchants], "merchants-source", pc.Topics.Sources[event.Merchants], "the producers' merchant profile topic, which the merchants ingest validates")
	f.StringVar(&pc.Groups.Ingest[event.Merchants], "merchants-group", pc.Groups.Ingest[event.Merchants], "consumer group of the merchants ingest")
	f.DurationVar(&cfg.MerchantsWait, "merchants-wait", cfg.MerchantsWait, "at start, wait this long at most for the merchants ingest to validate every profile already in --merchants-source; negative: do not wait")
	f.StringVar(&pc.Groups.Joiner, "group", pc.Groups.Joiner, "consumer group")
	f.StringVar(&cfg.Clock, "clock", cfg.Clock, `"live": now is the wall clock; "replay": now is the highest event time seen`)
	f.DurationVar(&cfg.FlushInterval, "flush-interval", cfg.FlushInterval, "longest a fact waits for its insert: every partition's facts go out together, one insert per table per interval")
	f.DurationVar(&cfg.CatchUpInterval, "catch-up-interval", cfg.CatchUpInterval, "longest a fact waits for its insert while a partition is more than --catch-up-lag records behind (its facts are late by that backlog anyway); at least --flush-interval, 0 disables")
	f.Int64Var(&cfg.CatchUpLag, "catch-up-lag", cfg.CatchUpLag, "records a partition must be behind the end of the topic for --catch-up-interval to apply")
	f.IntVar(&cfg.FlushRows, "flush-rows", cfg.FlushRows, "facts that start an insert before the interval is up; also the most a partition holds while its previous facts are written")
	f.DurationVar(&cfg.StuckAfter, "stuck-after", cfg.StuckAfter, "exit (for the supervisor to restart) when the consumer group has unconsumed messages but commits nothing for this long while this process is idle; 0 or negative disables")
	f.DurationVar(&cfg.SessionTimeout, "session-timeout", cfg.SessionTimeout, "consumer-group session: how long the coordinator waits for a silent (killed) member before its partitions go to the others; at least 1s")
	f.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "checkpoint a partition's join state after a flush once this much time has passed since its last checkpoint")
	f.Int64Var(&cfg.CheckpointRecords, "checkpoint-records", cfg.CheckpointRecords, "checkpoint a partition's join state after this many records since its last checkpoint; 0 or negative disables checkpoints (recovery replays from the first offset)")
	f.DurationVar(&cfg.StallThreshold, "stall-threshold", cfg.StallThreshold, "a source whose watermark is further behind now than this is reported lagging (its absence checks wait)")
	f.DurationVar(&cfg.HealthInterval, "health-interval", cfg.HealthInterval, "how often source health is written")
	f.DurationVar(&cfg.Join.HoldSLA, "hold-sla", cfg.Join.HoldSLA, "how long a payout may stay held for risk review before payout_held")
	f.Int64Var(&cfg.Join.FeeTolerancePPM, "fee-tolerance-ppm", cfg.Join.FeeTolerancePPM, "how far above the contracted fee rate (parts per million of the amount) a fee may be: fee ≤ ⌈amount × (rate + tolerance) / 1e6⌉ fen; 0..1000000")
	f.StringVar(&cfg.BankCodesFile, "bank-codes-file", cfg.BankCodesFile, "bank return-code catalogue JSON mapping payout failure codes to reasons (default: the bundled schemas/bank/return-codes.json)")
	migrate := f.Bool("migrate", false, "apply ClickHouse migrations before starting")
	ops := telemetry.DefaultConfigOn(telemetry.JoinerListen)
	f.StringVar(&ops.Listen, "ops-listen", ops.Listen, "host:port of /metrics, /healthz and /readyz (loopback unless inside a private network)")
	f.CheckConfigFlag()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	jc := pc.JoinerConfig()
	if err := service.Invalid(ops.Validate(), k.Validate(), sc.Validate(), jc.Validate(), cc.Schedule.Validate()); err != nil {
		return exit.Code(err)
	}
	if jc.BankCodesFile != "" {
		if _, err := fact.LoadBankCodes(jc.BankCodesFile); err != nil {
			return exit.Code(service.Usagef("--bank-codes-file: %w", err))
		}
	}
	sched, err := cc.Load(log, service.Years(time.Now(), time.Now().AddDate(0, 0, service.DeadlineHorizonDays))...)
	if err != nil {
		return exit.Code(err)
	}
	if f.CheckOnly() {
		return exit.Code(f.ConfigOK("joiner"))
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := service.OpenStore(ctx, *sc, log, *migrate)
	if err != nil {
		return exit.Code(err)
	}
	defer st.Close()
	j, err := joiner.New(jc, joiner.Deps{Kafka: *k, Store: st, Schedule: sched, Logger: log})
	if err != nil {
		return exit.Code(err)
	}
	reg := telemetry.NewRegistry()
	if err := st.Instrument(reg); err != nil {
		return exit.Code(err)
	}
	reg.MustRegister(joiner.NewCollector(j))
	srv, err := telemetry.New(ops, telemetry.Deps{Gatherer: reg, Logger: log,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", st), telemetry.BrokerCheck(*k)}})
	if err != nil {
		return exit.Code(err)
	}
	return exit.Code(srv.RunWith(ctx, j.Run))
}
