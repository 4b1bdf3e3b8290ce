package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/service"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// findCommand is `settlemon find`: the traces of a sale the merchant
// describes, without its trace number; it returns the exit status.
func findCommand(args []string) int {
	exit := service.NewExit("settlemon find", args)
	f := service.NewFlags("settlemon find", `settlemon find --merchant <id> --day <YYYY-MM-DD> --amount <yuan> [--terminal <id>] [--last4 <dddd>]
— which trace is the sale the merchant is calling about?

Lists the merchant's authorizations of that day (in the calendar's time
zone), best match first: the amount (authorized or cleared) exactly and
the card's last four digits weigh most, the terminal less, then the nearest
amount and the time. Declined sales are listed too. Each comes
with its status and its calendar-aware expected payout; "settlemon explain
<trace_no>" tells the rest.

Example:
  settlemon find --merchant M000123 --day 2026-10-01 --amount 128.00 --last4 0427

Exit status: 0 at least one trace found, 1 none (or an error), 2 bad usage.`)
	sc := service.StoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	merchant := f.String("merchant", "", "the merchant id (required)")
	day := f.String("day", "", "the day of the sale, YYYY-MM-DD in the calendar's time zone (required)")
	amount := f.String("amount", "", "the amount in yuan, e.g. 128 or 128.50 (required)")
	terminal := f.String("terminal", "", "the terminal id, when the merchant knows it")
	last4 := f.String("last4", "", "the card's last four digits, when the merchant knows them")
	limit := f.Int("limit", 10, "how many candidates to list")
	asJSON := f.Bool("json", false, "print JSON (the console API's shape) instead of text")
	f.SetDefault("clickhouse-connect-wait", service.InteractiveConnectWait)
	if err := f.Parse(args); err != nil {
		return exit.Code(service.Usage(err))
	}
	if f.NArg() > 0 {
		return exit.Code(service.Errorf("error.find.argument", strconv.Quote(f.Arg(0))))
	}
	if *limit < 1 || *limit > 1000 {
		return exit.Code(service.Errorf("error.range", "--limit", strconv.Itoa(*limit), "1", "1000"))
	}
	if err := service.Invalid(sc.Validate()); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	sched, err := cc.Load(log)
	if err != nil {
		return exit.Code(err)
	}
	loc := sched.Calendar().Location()
	q, err := store.ParseTraceQuery(*merchant, *day, *amount, *terminal, *last4, loc)
	if err != nil {
		return exit.Code(service.Usage(flagNamed(err)))
	}
	q.Limit = *limit
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := store.New(ctx, *sc, log)
	if err != nil {
		return exit.Code(service.StoreError(err))
	}
	defer st.Close()
	started := time.Now()
	found, err := st.FindTraces(ctx, q)
	if err != nil {
		return exit.Code(err)
	}
	took := time.Since(started)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(found); err != nil {
			return exit.Print(err)
		}
	} else {
		writeFound(q, found, loc, took)
	}
	if len(found) == 0 {
		return 1
	}
	return 0
}

func writeFound(q store.TraceQuery, found []store.TraceMatch, loc *time.Location, took time.Duration) {
	esc := event.EscapeText
	fmt.Printf("Sales of merchant %s on %s for %s (best match first; %d found in %s):\n",
		esc(q.MerchantID), q.From.In(loc).Format(time.DateOnly), fact.Yuan(q.Amount), len(found), took.Round(time.Millisecond))
	if len(found) == 0 {
		fmt.Println("  none: check the merchant id and the day")
		return
	}
	fmt.Printf("  %-14s %-16s %-11s %5s %12s  %-9s %-16s %-16s %s\n", "trace", "authorized", "terminal", "card", "amount", "status", "expected payout", "paid", "matched")
	for _, m := range found {
		status := m.Status
		switch {
		case !m.Approved:
			status = "declined"
		case status == "":
			status = "pending"
		}
		var matched []string
		if m.AmountMatches {
			matched = append(matched, "amount")
		}
		if m.TerminalMatches {
			matched = append(matched, "terminal")
		}
		if m.Last4Matches {
			matched = append(matched, "last4")
		}
		fmt.Printf("  %-14s %-16s %-11s %5s %12s  %-9s %-16s %-16s %s\n", esc(m.TraceNo), local(m.AuthorizedAt, loc), esc(m.TerminalID),
			esc(m.CardLast4), fact.Yuan(m.Amount), esc(status), local(m.ExpectedPayoutAt, loc), local(m.PaidAt, loc), strings.Join(matched, "+"))
	}
	fmt.Println("  then: settlemon explain <trace>")
}

func local(ms int64, loc *time.Location) string {
	if ms <= 0 {
		return "–"
	}
	return time.UnixMilli(ms).In(loc).Format("2006-01-02 15:04")
}

// flagNamed names the flag in an error of store.ParseTraceQuery, whose first
// argument is the parameter: "--amount" for "amount".
func flagNamed(err error) error {
	var te *text.Error
	if !errors.As(err, &te) || len(te.Args) == 0 {
		return err
	}
	named := *te
	named.Args = append([]string{"--" + te.Args[0]}, te.Args[1:]...)
	return &named
}
