package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"settlemon/pkg/bench"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
	"settlemon/pkg/simulator/simflags"
)

func benchCommand(args []string) error {
	f := service.NewFlags("settlemon-dev bench", `settlemon-dev bench — measure the real pipeline on this machine and compare with the targets.

Starts the embedded Kafka-protocol broker (by default in a child process, so
that its CPU is measured apart), drops and migrates the bench database in the
local ClickHouse (which must be running: "make bench" starts it), prefills
the source topics with a deterministic simulation (default 1M traces, about
3.9M source messages), then measures a raw kafka-go consume of the same
topics, the ingest consumers and the joiner consuming everything into
ClickHouse, the live-mode latency from a payout deadline to a queryable
anomaly, the join alone on one goroutine, and the memory per open trace.
Prints every figure next to its target and by how much it is met or missed.`)
	cfg := bench.DefaultConfig()
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	f.SetDefault("clickhouse-database", cfg.Store.Database)
	f.SetDefault("log-level", "warn")
	f.IntVar(&cfg.BrokerPort, "broker-port", cfg.BrokerPort, "loopback port of the bench's broker")
	inline := f.Bool("broker-inline", false, "run the broker in this process, as `settlemon-dev run` does (its CPU then counts with the pipeline's)")
	serve := f.Bool("serve-broker", false, "internal: serve the broker for a bench run until stdin closes")
	f.IntVar(&cfg.Pipeline.Partitions, "partitions", cfg.Pipeline.Partitions, "partitions of every topic")
	applySim := simflags.Register(f, &cfg.Simulator)
	f.IntVar(&cfg.Pipeline.Ingest.MaxBatch, "ingest-batch", cfg.Pipeline.Ingest.MaxBatch, "ingest: messages per batch (one Kafka write)")
	f.IntVar(&cfg.Pipeline.Ingest.ArchiveRows, "ingest-archive-rows", cfg.Pipeline.Ingest.ArchiveRows, "ingest: rows gathered for one insert per ClickHouse table and a commit")
	f.DurationVar(&cfg.Pipeline.Ingest.ArchiveWait, "ingest-archive-wait", cfg.Pipeline.Ingest.ArchiveWait, "ingest: longest the gathered rows wait for their insert")
	f.IntVar(&cfg.Pipeline.Joiner.FlushRows, "flush-rows", cfg.Pipeline.Joiner.FlushRows, "joiner: facts that start an insert before the flush interval is up")
	f.DurationVar(&cfg.Pipeline.Joiner.CatchUpInterval, "catch-up-interval", cfg.Pipeline.Joiner.CatchUpInterval, "joiner: longest a fact waits for its insert while a partition is behind (0 disables)")
	f.DurationVar(&cfg.Pipeline.Joiner.FlushInterval, "flush-interval", cfg.Pipeline.Joiner.FlushInterval, "joiner: longest a fact waits for its insert")
	f.BoolVar(&cfg.SkipBaseline, "skip-baseline", false, "skip the raw kafka-go consume")
	f.BoolVar(&cfg.SkipStripped, "skip-stripped", false, "skip the stripped pipeline (decode, re-key by trace, minimal join, one fact table), the same-run reference of \"product ÷ stripped\"")
	f.IntVar(&cfg.Live.Traces, "live-traces", cfg.Live.Traces, "payout deadlines measured in the live phase (0 skips it)")
	f.DurationVar(&cfg.Live.Spread, "live-spread", cfg.Live.Spread, "live phase: authorizations are published over this long")
	f.DurationVar(&cfg.Live.Window, "live-window", cfg.Live.Window, "live phase: T0 payout window (deadline = authorization + window)")
	f.DurationVar(&cfg.Live.Heartbeat, "live-heartbeat", cfg.Live.Heartbeat, "live phase: heartbeat interval on every source partition")
	f.IntVar(&cfg.JoinWorkload.Days, "join-days", cfg.JoinWorkload.Days, "days of the acceptance simulation the join is measured on alone (0 skips it)")
	f.IntVar(&cfg.RestoreTraces, "restore-traces", cfg.RestoreTraces, "open traces for the checkpointed-restore measurement (0 skips it)")
	stateTraces := f.String("state-traces", "1000000,10000000", "open-trace counts at which memory per trace is measured, comma-separated (empty skips; the target is stated at 10000000, which needs about 3 GiB and half a minute)")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write the CPU profile of the end-to-end phase (this process) to this file")
	f.StringVar(&cfg.ClickHousePIDFile, "clickhouse-pid-file", cfg.ClickHousePIDFile, "pid file of the local ClickHouse server, for its CPU and memory")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "longest the end-to-end phase may take")
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := lc.Logger()
	if err != nil {
		return service.Usage(err)
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	if *serve {
		return bench.ServeBroker(ctx, cfg.BrokerPort, cfg.Pipeline.Partitions, os.Stdin, os.Stdout, log)
	}
	if err := applySim(); err != nil {
		return err
	}
	cfg.Simulator.Schedule = cc.Schedule
	// The acceptance mix silences the payout feed on day 4: shorter runs
	// go without the outage rather than fail validation.
	for _, sim := range []*simulator.Config{&cfg.Simulator, &cfg.JoinWorkload} {
		if sim.Days < sim.PayoutOutage.Day {
			sim.PayoutOutage.Day = 0
		}
	}
	cfg.Store = *sc
	if cfg.StateTraces, err = parseCounts(*stateTraces); err != nil {
		return service.Usagef("--state-traces: %w", err)
	}
	if !*inline {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this executable to start the broker process: %w", err)
		}
		cfg.BrokerCommand = []string{exe, "bench", "--serve-broker", "--broker-port", strconv.Itoa(cfg.BrokerPort),
			"--partitions", strconv.Itoa(cfg.Pipeline.Partitions), "--log-level", lc.Level, "--log-format", lc.Format}
	}
	sched, err := cc.Load(log) // a measurement: its deadlines are not read by anyone
	if err != nil {
		return err
	}
	res, err := bench.Run(ctx, cfg, bench.Deps{Kafka: kafkaio.DefaultConfig(), Schedule: sched, Logger: log, Out: os.Stderr})
	if err != nil {
		return err
	}
	res.WriteText(os.Stdout)
	if cfg.CPUProfile != "" {
		fmt.Printf("\nCPU profile of the end-to-end phase: go tool pprof -top bin/settlemon-dev %s\n", cfg.CPUProfile)
	}
	return nil
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(p, "_", ""))
		if err != nil || n <= 0 {
			return nil, errors.New("want positive counts, comma-separated")
		}
		out = append(out, n)
	}
	return out, nil
}
