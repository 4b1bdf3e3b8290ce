package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/explain"
	"settlemon/pkg/service"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// exitNotFound is explain's status when nothing is archived for the trace.
const exitNotFound = 1

// explainCommand is `settlemon explain <trace_no>`; it returns the exit status.
func explainCommand(args []string) int {
	exit := service.NewExit("settlemon explain", args)
	f := service.NewFlags("settlemon explain", `settlemon explain <trace_no> — why hasn't this trace been paid?

Reads what ClickHouse holds about one trace number — the settlement-lag fact,
the raw authorization, clearing and payout events, the anomalies and the
merchant's settlement mode — and prints its status (paid, failed, overdue,
held, reversed, clearing_missing, orphan, declined, pending or not_found), a
one-line summary for support, the calendar-aware expected payout time, the
timeline of every stage and the anomalies with cause and recommended action.
Times are shown in the calendar's time zone. --lang zh-CN writes the
sentences in Simplified Chinese (the JSON keys, statuses, kinds and ids stay
as they are); the reply is what the agent can send the merchant.

"Not overdue yet" is judged against how far the payout feed has delivered
(the latest payout event or heartbeat archived), or against --as-of.

Example:
  settlemon explain 260213000123
  settlemon explain 260213000123 --json --as-of 2026-02-20T10:00:00+08:00
  settlemon explain 260213000123 --lang zh-CN

Exit status: 0 explained, 1 nothing archived for the trace (or an error),
2 bad usage.`)
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	asJSON := f.Bool("json", false, "print JSON (the console API's shape) instead of text")
	asOfFlag := f.String("as-of", "", "judge due times as of this RFC 3339 time instead of the payout feed's progress")
	f.SetLangUsage("language of the sentences and the errors: en or zh-CN (zh)")

	f.SetDefault("clickhouse-connect-wait", service.InteractiveConnectWait)
	f.AllowArgs()
	traceNo, err := parseWithArg(f, args)
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	if !explain.ValidTraceNo(traceNo) {
		return exit.Code(service.Usage(text.Wrap(explain.ErrInvalidTraceNo, "error.explain.trace", strconv.Quote(traceNo))))
	}
	var asOf time.Time
	if *asOfFlag != "" {
		if asOf, err = time.Parse(time.RFC3339, *asOfFlag); err != nil {
			return exit.Code(service.Errorf("error.as_of", strconv.Quote(*asOfFlag), "RFC 3339", "2026-02-20T10:00:00+08:00"))
		}
	}
	lang := f.Lang()
	if err := service.Invalid(sc.Validate()); err != nil {
		return exit.Code(err)
	}

	x, err := runExplain(sc, cc, lc, traceNo, asOf, lang)
	if err != nil {
		return exit.Code(err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			return exit.Print(err)
		}
	} else {
		x.WriteText(os.Stdout)
	}
	if !x.Found() {
		return exitNotFound
	}
	return 0
}

func runExplain(sc *store.Config, cc *service.CalendarConfig, lc *service.LogConfig, traceNo string, asOf time.Time, lang text.Lang) (explain.Explanation, error) {
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
	return ex.ExplainIn(ctx, traceNo, asOf, lang)
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
		return "", text.Errorf("error.explain.no_trace")
	}
	return "", text.Errorf("error.explain.traces", strconv.Itoa(len(pos)), strings.Join(pos, " "))
}
