package main

import (
	"context"
	"fmt"
	"os"

	"settlemon/pkg/score"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

// exitBelowMin is score's status when detection quality is below --min, or
// payout_overdue was raised during the outage.
const exitBelowMin = 4

// scoreCommand is `settlemon-dev score`; it returns the exit status.
func scoreCommand(args []string) int {
	exit := service.NewExit("settlemon-dev score", args)
	f := service.NewFlags("settlemon-dev score", `settlemon-dev score — how well did the pipeline detect what the simulator injected?

Reads the simulator's ground truth (the JSON-lines file "settlemon-dev run" writes)
and the anomalies in ClickHouse (anomalies_latest), and prints per anomaly
kind: expected, found, true positives, precision and recall. An anomaly is
identified by (kind, trace_no), or (kind, batch_id) for batch kinds; several
rows of one identity count once. It then prints how many payout_overdue
anomalies were raised during the payout-feed outage the truth records (there
must be none: the feed was late, not the payouts).

Example:
  settlemon-dev run && settlemon-dev score --truth .run/truth.jsonl --min 0.99

Exit status: 0 every kind that was expected or found has precision and
recall >= --min and no overdue was raised during the outage; 4 otherwise;
1 on an error; 2 bad usage.`)
	sc := service.StoreFlags(f)
	lc := service.LogFlags(f)
	truthFile := f.String("truth", ".run/truth.jsonl", "the simulator's truth file (JSON lines)")
	minScore := f.Float64("min", 0.99, "the precision and recall every kind must reach")
	f.SetDefault("clickhouse-connect-wait", service.InteractiveConnectWait)
	f.AllowArgs()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	if f.NArg() > 0 {
		return exit.Code(service.Usagef("unexpected argument %q (the truth file is --truth)", f.Arg(0)))
	}
	if *minScore < 0 || *minScore > 1 {
		return exit.Code(service.Usagef("--min %v: want a value in [0, 1]", *minScore))
	}
	res, err := runScore(sc, lc, *truthFile)
	if err != nil {
		return exit.Code(err)
	}
	res.WriteText(os.Stdout)
	if !res.Pass(*minScore) {
		fmt.Fprintf(os.Stderr, "settlemon-dev score: FAIL: a kind is below precision/recall %v, or payout_overdue was raised during the outage\n", *minScore)
		return exitBelowMin
	}
	fmt.Printf("PASS: every kind at precision and recall >= %v\n", *minScore)
	return 0
}

func runScore(sc *store.Config, lc *service.LogConfig, truthFile string) (score.Result, error) {
	log, err := lc.Logger()
	if err != nil {
		return score.Result{}, service.Usage(err)
	}
	fh, err := os.Open(truthFile)
	if err != nil {
		return score.Result{}, fmt.Errorf("opening the truth file: %w", err)
	}
	truth, err := simulator.ReadRunTruth(fh)
	_ = fh.Close()
	if err != nil {
		return score.Result{}, fmt.Errorf("%s: %w", truthFile, err)
	}
	outage, err := score.PayoutOutage(truth.Outages)
	if err != nil {
		return score.Result{}, fmt.Errorf("%s: %w", truthFile, err)
	}

	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := store.New(ctx, *sc, log)
	if err != nil {
		return score.Result{}, service.StoreError(err)
	}
	defer st.Close()
	anomalies, err := st.LatestAnomalies(ctx)
	if err != nil {
		return score.Result{}, err
	}
	log.Debug("scoring", "truth_traces", len(truth.Traces), "anomaly_rows", len(anomalies))
	return score.Score(truth, score.FromAnomalies(anomalies), outage), nil
}
