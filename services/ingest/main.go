// Command ingest runs one ingest consumer: it reads one source topic in its
// own consumer group, archives and validates every message, dead-letters bad
// input, and re-keys payment events by trace number onto settle.events. Run
// one per source topic (--source auth|clearing|payouts|merchants).
package main

import (
	"context"
	"os"

	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/service"
	"settlemon/pkg/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	exit := service.NewExit("ingest", args)
	f := service.NewFlags("ingest", `ingest — one consumer per source topic: validate, archive, dead-letter, re-key.

Reads --topic (default: the source's topic) in consumer group --group, sends
invalid messages to the dead-letter topic and the dead_letters table with a
reason, archives valid ones with their topic/partition/offset, forwards
payment events keyed by trace number to settle.events together with the
source partitions' watermarks, and commits offsets only after all of that is
durable: batches go to Kafka one by one, their ClickHouse rows are gathered
into one insert per table (--archive-rows, --archive-wait). SIGTERM finishes
the batch in hand, writes what is gathered, commits and exits.

Beyond the event contract, a message is dead-lettered when it has no Kafka
key (empty_key), is dated more than --max-future-skew ahead of the wall clock
(future_timestamp), or reuses the event_id of a different message this
instance read among its last --event-id-memory ids (event_id_reused; an
identical re-delivery passes).`)
	k := service.KafkaFlags(f)
	sc := service.StoreFlags(f)
	lc := service.LogFlags(f)
	pc := pipeline.DefaultConfig()
	cfg := &pc.Ingest
	source := f.String("source", "", "source to ingest: auth, clearing, payouts or merchants (required)")
	topic := f.String("topic", "", "source topic (default: the source's topic, e.g. "+pc.Topics.Sources[event.Auth]+")")
	group := f.String("group", "", "consumer group (default: the source's group, e.g. "+pc.Groups.Ingest[event.Auth]+")")
	f.StringVar(&pc.Topics.Events, "events-topic", pc.Topics.Events, "repartition topic the events are re-keyed onto")
	f.StringVar(&pc.Topics.DLQ, "dlq-topic", pc.Topics.DLQ, "dead-letter topic")
	f.StringVar(&pc.Topics.Profiles, "profiles-topic", pc.Topics.Profiles, "compacted topic the merchants source forwards accepted profiles to (the joiner reads profiles only there)")
	f.IntVar(&cfg.MaxBatch, "batch", cfg.MaxBatch, "messages per batch (one Kafka write); a partial batch waits at most "+cfg.MaxWait.String()+" for more")
	f.IntVar(&cfg.ArchiveRows, "archive-rows", cfg.ArchiveRows, "rows batches gather for ClickHouse (archive, control, dead letters) before one insert per table and the commit of their offsets")
	f.DurationVar(&cfg.ArchiveWait, "archive-wait", cfg.ArchiveWait, "longest the rows batches gather for ClickHouse wait for that insert (and their offsets for the commit)")
	f.DurationVar(&cfg.StuckAfter, "stuck-after", cfg.StuckAfter, "exit (for the supervisor to restart) when the consumer group has unconsumed messages but commits nothing for this long while this process is idle; 0 or negative disables")
	f.DurationVar(&cfg.MaxFutureSkew, "max-future-skew", cfg.MaxFutureSkew,
		"dead-letter (future_timestamp) an event dated further than this ahead of the wall clock; 0 disables (past dates are never rejected)")
	f.IntVar(&cfg.EventIDMemory, "event-id-memory", cfg.EventIDMemory,
		"distinct event ids remembered per instance to dead-letter an event_id reused with different content (event_id_reused); about 46 bytes each; 0 disables")
	migrate := f.Bool("migrate", false, "apply ClickHouse migrations before starting")
	ops := telemetry.DefaultConfigOn(telemetry.IngestListen)
	f.StringVar(&ops.Listen, "ops-listen", ops.Listen, "host:port of /metrics, /healthz and /readyz (loopback unless inside a private network)")
	f.CheckConfigFlag()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	src, err := event.ParseSource(*source)
	if err != nil {
		return exit.Code(service.Usagef("--source: %w", err))
	}
	if *topic != "" {
		pc.Topics.Sources[src] = *topic
	}
	if *group != "" {
		pc.Groups.Ingest[src] = *group
	}
	ic := pc.IngestConfig(src)
	if err := service.Invalid(ops.Validate(), k.Validate(), sc.Validate(), ic.Validate()); err != nil {
		return exit.Code(err)
	}
	if f.CheckOnly() {
		return exit.Code(f.ConfigOK("ingest"))
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := service.OpenStore(ctx, *sc, log, *migrate)
	if err != nil {
		return exit.Code(err)
	}
	defer st.Close()
	in, err := ingest.New(ic, ingest.Deps{Kafka: *k, Store: st, Logger: log})
	if err != nil {
		return exit.Code(err)
	}
	reg := telemetry.NewRegistry()
	if err := st.Instrument(reg); err != nil {
		return exit.Code(err)
	}
	reg.MustRegister(ingest.NewCollector(in))
	srv, err := telemetry.New(ops, telemetry.Deps{Gatherer: reg, Logger: log,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", st), telemetry.BrokerCheck(*k)}})
	if err != nil {
		return exit.Code(err)
	}
	return exit.Code(srv.RunWith(ctx, in.Run))
}
