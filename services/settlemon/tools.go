package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"settlemon/pkg/explain"
	"settlemon/pkg/score"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
)

// Exit statuses of the support and scoring tools.
const (
	exitNotFound = 1 // explain: nothing archived for the trace
	exitBelowMin = 4 // score: detection quality below --min, or overdue during the outage
)

// explainCommand is `settlemon explain <trace_no>`; it returns the exit status.
func explainCommand(args []string) int {
	f := service.NewFlags("settlemon explain", `settlemon explain <trace_no> — why hasn't this trace been paid?

Reads what ClickHouse holds about one trace number — the settlement-lag fact,
the raw authorization, clearing and payout events, the anomalies and the
merchant's settlement mode — and prints its status (paid, failed, overdue,
held, reversed, clearing_missing, orphan, declined, pending or not_found), a
one-line summary for support, the calendar-aware expected payout time, the
timeline of every stage and the anomalies with cause and recommended action.
Times are shown in the calendar's time zone.

"Not overdue yet" is judged against how far the payout feed has delivered
(the latest payout event or heartbeat archived), or against --as-of.

Example:
  settlemon explain 260213000123
  settlemon explain 260213000123 --json --as-of 2026-02-20T10:00:00+08:00

Exit status: 0 explained, 1 nothing archived for the trace (or an error),
2 bad usage.`)
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	asJSON := f.Bool("json", false, "print JSON (the console API's shape) instead of text")
	asOfFlag := f.String("as-of", "", "judge due times as of this RFC 3339 time instead of the payout feed's progress")

	setDefault(f, "clickhouse-connect-wait", interactiveConnectWait)
	f.AllowArgs()
	traceNo, err := parseWithArg(f, args)
	if err != nil {
		return service.ExitCode("settlemon explain", service.Usage(err))
	}
	if !explain.ValidTraceNo(traceNo) {
		return service.ExitCode("settlemon explain", service.Usagef("%q: %w", traceNo, explain.ErrInvalidTraceNo))
	}
	var asOf time.Time
	if *asOfFlag != "" {
		if asOf, err = time.Parse(time.RFC3339, *asOfFlag); err != nil {
			return service.ExitCode("settlemon explain", service.Usagef("--as-of %q: want RFC 3339 with offset, e.g. 2026-02-20T10:00:00+08:00", *asOfFlag))
		}
	}

	x, err := runExplain(sc, cc, lc, traceNo, asOf)
	if err != nil {
		return service.ExitCode("settlemon explain", err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			fmt.Fprintln(os.Stderr, "settlemon explain:", err)
			return 1
		}
	} else {
		x.WriteText(os.Stdout)
	}
	if !x.Found() {
		return exitNotFound
	}
	return 0
}

func runExplain(sc *store.Config, cc *service.CalendarConfig, lc *service.LogConfig, traceNo string, asOf time.Time) (explain.Explanation, error) {
	log, err := lc.Logger()
	if err != nil {
		return explain.Explanation{}, service.Usage(err)
	}
	sched, err := cc.Load(log) // each deadline explained says when the calendar lacks its year
	if err != nil {
		return explain.Explanation{}, err
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := store.New(ctx, *sc, log)
	if err != nil {
		return explain.Explanation{}, service.StoreError(err)
	}
	defer st.Close()
	ex, err := explain.New(st, sched)
	if err != nil {
		return explain.Explanation{}, err
	}
	return ex.Explain(ctx, traceNo, asOf)
}

// parseWithArg parses flags around exactly one positional argument, which may
// come before, between or after the flags.
func parseWithArg(f *service.Flags, args []string) (string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return "", err
		}
		if f.NArg() == 0 {
			break
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
	switch len(pos) {
	case 1:
		return pos[0], nil
	case 0:
		return "", errors.New("missing the trace number")
	}
	return "", fmt.Errorf("want one trace number, got %d: %s", len(pos), strings.Join(pos, " "))
}

// scoreCommand is `settlemon score`; it returns the exit status.
func scoreCommand(args []string) int {
	f := service.NewFlags("settlemon score", `settlemon score — how well did the pipeline detect what the simulator injected?

Reads the simulator's ground truth (the JSON-lines file "settlemon run" writes)
and the anomalies in ClickHouse (anomalies_latest), and prints per anomaly
kind: expected, found, true positives, precision and recall. An anomaly is
identified by (kind, trace_no), or (kind, batch_id) for batch kinds; several
rows of one identity count once. It then prints how many payout_overdue
anomalies were raised during the payout-feed outage the truth records (there
must be none: the feed was late, not the payouts).

Example:
  settlemon run && settlemon score --truth .run/truth.jsonl --min 0.99

Exit status: 0 every kind that was expected or found has precision and
recall >= --min and no overdue was raised during the outage; 4 otherwise;
1 on an error; 2 bad usage.`)
	sc := service.StoreFlags(f)
	lc := service.LogFlags(f)
	truthFile := f.String("truth", ".run/truth.jsonl", "the simulator's truth file (JSON lines)")
	minScore := f.Float64("min", 0.99, "the precision and recall every kind must reach")
	setDefault(f, "clickhouse-connect-wait", interactiveConnectWait)
	f.AllowArgs()
	if err := f.Parse(args); err != nil {
		return service.ExitCode("settlemon score", err)
	}
	if f.NArg() > 0 {
		return service.ExitCode("settlemon score", service.Usagef("unexpected argument %q (the truth file is --truth)", f.Arg(0)))
	}
	if *minScore < 0 || *minScore > 1 {
		return service.ExitCode("settlemon score", service.Usagef("--min %v: want a value in [0, 1]", *minScore))
	}
	res, err := runScore(sc, lc, *truthFile)
	if err != nil {
		return service.ExitCode("settlemon score", err)
	}
	res.WriteText(os.Stdout)
	if !res.Pass(*minScore) {
		fmt.Fprintf(os.Stderr, "settlemon score: FAIL: a kind is below precision/recall %v, or payout_overdue was raised during the outage\n", *minScore)
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
