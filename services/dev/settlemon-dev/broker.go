package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"settlemon/pkg/chaos"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/service"
)

// brokerCommand is `settlemon-dev broker`: the dev broker as a process of its
// own, so that it can be killed and started again on its data directory.
func brokerCommand(args []string) error {
	f := service.NewFlags("settlemon-dev broker", `settlemon-dev broker — a Kafka-protocol dev broker (kfake) on a loopback port.

Runs until SIGTERM or SIGINT. With --data-dir it keeps topics, records and
committed offsets across restarts (add --sync-writes to survive kill -9).
For fault tests it can answer produce requests with REQUEST_TIMED_OUT after
writing them (an ambiguous ack: the producer retries and stores the batch
twice) and fail fetch requests, each at a rate; --control-listen serves
GET /faults (rates and how many requests were faulted) and PUT /faults
{"produce_ambiguous_rate":0.1,"fetch_error_rate":0.05} to change the rates
while it runs. With --brokers N it runs N nodes (the first on --port, the
others on free ports) and the control endpoint also serves GET /leaders and
POST /leaders/shuffle, which draws a new leader for every partition and
rehashes the group coordinators. A development broker: no replication;
production runs a real Kafka.`)
	lc := service.LogFlags(f)
	var cfg devbroker.Config
	var faults chaos.FaultConfig
	f.IntVar(&cfg.Port, "port", 19092, "loopback port to listen on")
	f.StringVar(&cfg.DataDir, "data-dir", "", "keep topics, records and committed offsets in this folder (empty: in memory, lost on exit)")
	f.BoolVar(&cfg.SyncWrites, "sync-writes", false, "fsync every write, so that data survives kill -9 (needs --data-dir)")
	f.IntVar(&cfg.Brokers, "brokers", 1, "nodes of the cluster: the first on --port, the others on free loopback ports")
	f.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the topics it creates")
	f.ListVar(&cfg.Topics, "topics", nil, "topics to create at start, comma-separated")
	f.Float64Var(&faults.ProduceAmbiguousRate, "fault-produce-ambiguous-rate", 0, "share of produced partitions answered REQUEST_TIMED_OUT after the append")
	f.ListVar(&faults.ProduceTopics, "fault-produce-topics", nil, "topics produce faults apply to, comma-separated (empty: every topic)")
	f.Float64Var(&faults.FetchErrorRate, "fault-fetch-error-rate", 0, "share of fetched partitions answered with --fault-fetch-error")
	f.StringVar(&faults.FetchError, "fault-fetch-error", "NOT_LEADER_FOR_PARTITION", "Kafka error fetches fail with")
	seed := f.Uint64("fault-seed", 1, "seed of the fault pattern")
	control := f.String("control-listen", "", "loopback host:port of the fault control endpoint (empty: none)")
	if err := f.Parse(args); err != nil {
		return err
	}
	faults.Seed = *seed
	if err := faults.Validate(); err != nil {
		return service.Usage(err)
	}
	if cfg.SyncWrites && cfg.DataDir == "" {
		return service.Usage(errors.New("--sync-writes needs --data-dir"))
	}
	if *control != "" {
		host, _, err := net.SplitHostPort(*control)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return service.Usagef("--control-listen %q: want a loopback host:port", *control)
		}
	}
	log, err := lc.Logger()
	if err != nil {
		return service.Usage(err)
	}
	b, err := devbroker.New(cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	inj, err := chaos.NewFaults(b.Cluster(), faults)
	if err != nil {
		return err
	}
	leaders := chaos.NewLeaderShuffle(b.Cluster(), cfg.Topics)
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	if *control != "" {
		ln, err := net.Listen("tcp", *control)
		if err != nil {
			return fmt.Errorf("fault control: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/faults", inj.Handler())
		mux.Handle("/healthz", inj.Handler())
		mux.Handle("/leaders", leaders.Handler())
		mux.Handle("/leaders/", leaders.Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("fault control listening", "addr", ln.Addr().String())
	}
	fmt.Printf("broker listening on %s\n", strings.Join(b.Addrs(), ","))
	<-ctx.Done()
	st := inj.State()
	log.Info("broker stopping", "produce_ambiguous", st.ProduceAmbiguous, "fetch_errors", st.FetchErrors)
	return nil
}
