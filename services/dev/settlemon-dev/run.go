package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"settlemon/pkg/allinone"
	"settlemon/pkg/calendar"
	"settlemon/pkg/console"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator/simflags"
	"settlemon/pkg/store"
)

var errUnbalanced = errors.New("the reconciliation does not balance: some source messages have no recorded fate")

func runAll(args []string) error {
	f := service.NewFlags("settlemon-dev run", `settlemon-dev run — the whole pipeline on the embedded default, then a report.

Starts a Kafka-protocol broker in this process on a loopback port, creates the
topics, migrates ClickHouse (which must be running: deploy/clickhouse/local.sh
start, or simply "make run"), publishes a deterministic simulation onto the
source topics, runs one ingest consumer per source topic and the joiner until
everything is consumed, then prints events per topic with a reconciliation,
dead letters, facts written, lag percentiles per settlement mode and anomalies
by kind, and the console's URL. With --serve-console it then serves the ops
console (page and API) on that loopback address until interrupted. Exit
status 3 means the reconciliation did not balance.`)
	k := service.KafkaFlags(f)
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	cfg := allinone.DefaultConfig()
	f.IntVar(&cfg.BrokerPort, "broker-port", cfg.BrokerPort, "loopback port of the embedded broker; -1 uses --kafka-brokers instead")
	f.StringVar(&cfg.BrokerDataDir, "broker-data-dir", cfg.BrokerDataDir, "keep the embedded broker's data in this folder (empty: in memory)")
	f.IntVar(&cfg.Pipeline.Partitions, "partitions", cfg.Pipeline.Partitions, "partitions of every topic")
	f.StringVar(&cfg.TruthFile, "truth-file", ".run/truth.jsonl", "where the simulator writes the ground truth (JSON lines)")
	keep := f.Bool("keep-database", false, "keep what the database already holds instead of starting from an empty one")
	serve := f.String("serve-console", "", "after the report, serve the ops console on this loopback host:port (e.g. 127.0.0.1:8080) until interrupted; empty: exit after the report")
	reader := consoleReader{user: service.AnalystUser}
	f.StringVar(&reader.user, "console-clickhouse-user", reader.user, "the ClickHouse user --serve-console reads as: a read-only one, not the writer of --clickhouse-user")
	f.SecretVar(&reader.password, "console-clickhouse-password", "password of --console-clickhouse-user; empty for the user "+service.AnalystUser+
		" means its local default")
	f.SetLangUsage("language of the errors and of the report's sentences and headings: en or zh-CN")
	applySim := simflags.Register(f, &cfg.Simulator)
	sim := &cfg.Simulator
	f.SetDefault("clickhouse-connect-wait", service.InteractiveConnectWait)
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := lc.Logger()
	if err != nil {
		return service.Usage(err)
	}
	if err := applySim(); err != nil {
		return err
	}
	lang := f.Lang()
	sim.Schedule = cc.Schedule
	cfg.Store = *sc
	cfg.FreshDatabase = !*keep
	if cfg.Pipeline.Partitions <= 0 {
		return service.Usagef("--partitions %d: want at least 1", cfg.Pipeline.Partitions)
	}
	if err := service.Invalid(cfg.Validate(), sc.Validate(), cc.Schedule.Validate()); err != nil {
		return err
	}
	sched, err := cc.Load(log, service.Years(sim.Start.At(time.UTC, 0), sim.Start.AddDays(sim.Days+service.DeadlineHorizonDays).At(time.UTC, 0))...)
	if err != nil {
		return err
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	res, err := allinone.Run(ctx, cfg, allinone.Deps{Kafka: *k, Schedule: sched, Logger: log, Out: os.Stderr})
	if err != nil {
		return service.StoreError(err)
	}
	res.Report.WriteTextIn(os.Stdout, lang)
	if cfg.TruthFile != "" {
		fmt.Printf("\nGround truth of the simulation: %s\n", cfg.TruthFile)
	}
	if err := consoleAfterRun(ctx, *serve, reader.store(cfg.Store), sched, log); err != nil {
		return err
	}
	if !res.Report.Balanced() {
		return errUnbalanced
	}
	return nil
}

// consoleReader is the ClickHouse user the console of a run reads as.
type consoleReader struct{ user, password string }

// store is the run's store configuration with the reader's login.
func (r consoleReader) store(sc store.Config) store.Config {
	sc.User, sc.Password = r.user, service.ReaderPassword(r.user, r.password)
	return sc
}

// consoleAfterRun serves the console on addr until ctx ends, reading the
// run's database as sc's (read-only) user; with no addr it prints how to
// open it.
func consoleAfterRun(ctx context.Context, addr string, sc store.Config, sched *calendar.Schedule, log *slog.Logger) error {
	if addr == "" {
		fmt.Printf("\nConsole: %s — add --serve-console 127.0.0.1:8080 to keep it up after the report, or serve this database with\n"+
			"  bin/console --clickhouse-addr %s --clickhouse-database %s  (it reads as the read-only analyst; password: SETTLEMON_CLICKHOUSE_PASSWORD, \"analyst\" locally)\n",
			console.URL(console.DefaultConfig().Listen), sc.Addr, sc.Database)
		return nil
	}
	cfg := console.DefaultConfig()
	cfg.Listen = addr
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("--serve-console: %w", err)
	}
	st, err := store.New(ctx, sc, log)
	if err != nil {
		return fmt.Errorf("--serve-console reads as ClickHouse user %q (--console-clickhouse-user, --console-clickhouse-password): %w", sc.User, err)
	}
	defer st.Close()
	c, err := console.NewOnStore(cfg, st, sched, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--serve-console: %w", err)
	}
	fmt.Printf("\nConsole: %s — serving until interrupted (Ctrl-C)\n", console.URL(ln.Addr().String()))
	return c.Serve(ctx, ln)
}
