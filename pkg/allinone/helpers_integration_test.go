//go:build integration

package allinone_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"settlemon/pkg/allinone"
	"settlemon/pkg/calendar"
	"settlemon/pkg/fact"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/report"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store/storetest"
)

// The helpers below are shared by the end-to-end tests: a small simulation,
// the pipeline's facts read back from ClickHouse, and their comparison with
// the simulator's ground truth.

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	return port
}

// testLogger sends warnings and errors to the test log; the pipeline's info
// lines would drown it.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testSchedule(tb testing.TB) *calendar.Schedule {
	tb.Helper()
	s, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// testCtx bounds a test generously; the tests never assert on durations.
func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// smallSim is a run small enough for a 2-core CI machine: two days of 3000
// traces from the default start (2026-09-28, so T1 payouts cross the National
// Day holiday), with every injected fault at 2% so that each occurs about
// 100 times.
func smallSim(seed int64) simulator.Config {
	c := simulator.DefaultConfig()
	c.Seed = seed
	c.Days = 2
	c.TracesPerDay = 3000
	c.Merchants = 60
	c.HeartbeatInterval = 15 * time.Minute
	c.PayoutFailedRate = 0.02
	c.PayoutMissingRate = 0.02
	c.AmountMismatchRate = 0.02
	return c
}

// runConfig is an all-in-one run on its own broker port into database db
// (already created and migrated by storetest).
func runConfig(tb testing.TB, db, truthFile string, seed int64) allinone.Config {
	tb.Helper()
	cfg := allinone.DefaultConfig()
	cfg.BrokerPort, cfg.TruthFile, cfg.Progress = freePort(tb), truthFile, 500*time.Millisecond
	cfg.Pipeline.Partitions = 3
	cfg.Simulator, cfg.Store = smallSim(seed), storetest.Config(tb, db)
	return cfg
}

func runDeps(tb testing.TB) allinone.Deps {
	return allinone.Deps{Kafka: kafkaio.DefaultConfig(), Schedule: testSchedule(tb), Logger: testLogger(tb), Out: tbWriter{tb}}
}

func readTruth(tb testing.TB, path string) []simulator.Truth {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("opening the truth file: %v", err)
	}
	defer f.Close()
	truth, err := simulator.ReadTruth(f)
	if err != nil {
		tb.Fatal(err)
	}
	if len(truth) == 0 {
		tb.Fatal("the truth file is empty")
	}
	return truth
}

// lagRow is one row of settlement_lag_latest; money in fen, times in Unix
// seconds.
type lagRow struct {
	TraceNo, MerchantID, Mode, Status                 string
	Authorized, Cleared, Fee, NetPaid                 int64
	AuthorizedAt, ClearedAt, PaidAt, ExpectedPayoutAt int64
	AuthToClearS, ClearToPayS, AuthToPayS, PastDueS   int64
}

func fen(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }

// readLags returns every row of settlement_lag_latest.
func readLags(tb testing.TB, ctx context.Context, conn driver.Conn) []lagRow {
	tb.Helper()
	rows, err := conn.Query(ctx, `
SELECT trace_no, merchant_id, mode, status,
       authorized_amount, cleared_amount, fee, net_paid,
       toInt64(toUnixTimestamp(authorized_at)), toInt64(toUnixTimestamp(cleared_at)),
       toInt64(toUnixTimestamp(paid_at)), toInt64(toUnixTimestamp(expected_payout_at)),
       auth_to_clear_s, clear_to_pay_s, auth_to_pay_s, past_due_s
FROM settlement_lag_latest`)
	if err != nil {
		tb.Fatalf("reading settlement_lag_latest: %v", err)
	}
	defer rows.Close()
	var out []lagRow
	for rows.Next() {
		var r lagRow
		var a, c, f, n decimal.Decimal
		if err := rows.Scan(&r.TraceNo, &r.MerchantID, &r.Mode, &r.Status, &a, &c, &f, &n,
			&r.AuthorizedAt, &r.ClearedAt, &r.PaidAt, &r.ExpectedPayoutAt,
			&r.AuthToClearS, &r.ClearToPayS, &r.AuthToPayS, &r.PastDueS); err != nil {
			tb.Fatalf("scanning settlement_lag_latest: %v", err)
		}
		r.Authorized, r.Cleared, r.Fee, r.NetPaid = fen(a), fen(c), fen(f), fen(n)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("reading settlement_lag_latest: %v", err)
	}
	return out
}

// anomalyRow is one row of anomalies_latest.
type anomalyRow struct {
	ID, Kind, Status, TraceNo, Reason string
	Amount, Expected                  int64
	DetectedAt, ResolvedAt            int64
}

func readAnomalies(tb testing.TB, ctx context.Context, conn driver.Conn) []anomalyRow {
	tb.Helper()
	rows, err := conn.Query(ctx, `
SELECT id, kind, status, trace_no, reason, amount, expected_amount,
       toInt64(toUnixTimestamp(detected_at)), toInt64(toUnixTimestamp(resolved_at))
FROM anomalies_latest`)
	if err != nil {
		tb.Fatalf("reading anomalies_latest: %v", err)
	}
	defer rows.Close()
	var out []anomalyRow
	for rows.Next() {
		var r anomalyRow
		var a, e decimal.Decimal
		if err := rows.Scan(&r.ID, &r.Kind, &r.Status, &r.TraceNo, &r.Reason, &a, &e, &r.DetectedAt, &r.ResolvedAt); err != nil {
			tb.Fatalf("scanning anomalies_latest: %v", err)
		}
		r.Amount, r.Expected = fen(a), fen(e)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("reading anomalies_latest: %v", err)
	}
	return out
}

// errorLimit reports the first few mismatches in full and counts the rest,
// so that a systematic bug does not print ten thousand lines.
type errorLimit struct {
	tb    testing.TB
	max   int
	count int
}

func (e *errorLimit) Errorf(format string, a ...any) {
	e.tb.Helper()
	e.count++
	if e.count <= e.max {
		e.tb.Errorf(format, a...)
	}
}

func (e *errorLimit) done() {
	e.tb.Helper()
	if e.count > e.max {
		e.tb.Errorf("... and %d more mismatches", e.count-e.max)
	}
}

// checkAgainstTruth compares the pipeline's facts with the simulator's
// ground truth, trace by trace:
//   - one settlement_lag row with status paid per paid trace, with exactly the
//     truth's amounts, stage times, deadline and lags; status failed for a
//     failed payout, overdue for a payout never sent; no row for a declined
//     trace;
//   - exactly the injected anomalies (kind, reason, amounts, times) and none
//     anywhere else.
//
// It returns the number of injected faults per anomaly kind.
func checkAgainstTruth(tb testing.TB, truth []simulator.Truth, lags []lagRow, anomalies []anomalyRow) map[fact.Kind]int {
	tb.Helper()
	errs := &errorLimit{tb: tb, max: 25}
	defer errs.done()

	byTrace := make(map[string]*simulator.Truth, len(truth))
	for i := range truth {
		t := &truth[i]
		if byTrace[t.TraceNo] != nil {
			tb.Fatalf("truth: trace %s appears twice", t.TraceNo)
		}
		byTrace[t.TraceNo] = t
	}

	lagsOf := map[string][]lagRow{}
	for _, l := range lags {
		if byTrace[l.TraceNo] == nil {
			errs.Errorf("settlement_lag: row for trace %s that the simulator never produced: %+v", l.TraceNo, l)
			continue
		}
		lagsOf[l.TraceNo] = append(lagsOf[l.TraceNo], l)
	}
	anomaliesOf := map[string][]anomalyRow{}
	for _, a := range anomalies {
		if byTrace[a.TraceNo] == nil {
			errs.Errorf("anomalies: %s %s on trace %q that the simulator never produced", a.Kind, a.ID, a.TraceNo)
			continue
		}
		anomaliesOf[a.TraceNo] = append(anomaliesOf[a.TraceNo], a)
	}

	injected := map[fact.Kind]int{}
	var paid int
	for _, t := range truth {
		ls, as := lagsOf[t.TraceNo], anomaliesOf[t.TraceNo]
		if !t.Approved {
			if len(ls) != 0 {
				errs.Errorf("declined trace %s (response %s) has %d settlement_lag rows, want none", t.TraceNo, t.ResponseCode, len(ls))
			}
			if len(as) != 0 {
				errs.Errorf("declined trace %s has anomalies %v, want none", t.TraceNo, kinds(as))
			}
			continue
		}

		// The lag row.
		var wantStatus string
		switch {
		case t.PaidAt != 0:
			wantStatus = string(fact.StatusPaid)
			paid++
		case t.FailedAt != 0:
			wantStatus = string(fact.StatusFailed)
		case hasKind(t, fact.PayoutOverdue):
			wantStatus = string(fact.StatusOverdue)
		}
		switch {
		case wantStatus == "" && len(ls) != 0:
			errs.Errorf("trace %s: %d settlement_lag rows, want none", t.TraceNo, len(ls))
		case wantStatus != "" && len(ls) != 1:
			errs.Errorf("trace %s: %d settlement_lag rows, want exactly one with status %s", t.TraceNo, len(ls), wantStatus)
		case wantStatus != "":
			checkLag(errs, &t, ls[0], wantStatus)
		}

		// The anomalies: exactly the injected ones.
		want := map[fact.Kind]simulator.Anomaly{}
		for _, a := range t.Anomalies {
			want[a.Kind] = a
			injected[a.Kind]++
		}
		got := map[fact.Kind]int{}
		for _, a := range as {
			k := fact.Kind(a.Kind)
			got[k]++
			w, ok := want[k]
			if !ok {
				errs.Errorf("trace %s: anomaly %s (id %s, reason %q, status %s) where none was injected (injected: %v)",
					t.TraceNo, a.Kind, a.ID, a.Reason, a.Status, t.Anomalies)
				continue
			}
			checkAnomaly(errs, &t, w, a)
		}
		for k := range want {
			if got[k] != 1 {
				errs.Errorf("trace %s: %d %s anomalies, want exactly one (injected %v)", t.TraceNo, got[k], k, t.Anomalies)
			}
		}
	}
	if paid == 0 {
		tb.Errorf("the truth has no paid trace: the run proves nothing")
	}
	return injected
}

func checkLag(errs *errorLimit, t *simulator.Truth, l lagRow, status string) {
	errs.tb.Helper()
	want := lagRow{
		TraceNo: t.TraceNo, MerchantID: t.MerchantID, Mode: t.Mode, Status: status,
		Authorized: t.Amount, Cleared: t.ClearedAmount, Fee: t.Fee,
		AuthorizedAt: t.AuthorizedAt / 1000, ClearedAt: t.ClearedAt / 1000, ExpectedPayoutAt: t.ExpectedPayoutAt / 1000,
		AuthToClearS: t.AuthToClearS,
	}
	if status == string(fact.StatusPaid) {
		want.NetPaid = t.Net
		want.PaidAt = t.PaidAt / 1000
		want.ClearToPayS, want.AuthToPayS, want.PastDueS = t.ClearToPayS, t.AuthToPayS, t.PastDueS
	}
	if l != want {
		errs.Errorf("trace %s: settlement_lag\n got  %+v\n want %+v", t.TraceNo, l, want)
	}
}

func checkAnomaly(errs *errorLimit, t *simulator.Truth, inj simulator.Anomaly, a anomalyRow) {
	errs.tb.Helper()
	bad := func(what string, got, want any) {
		errs.Errorf("trace %s: %s anomaly %s: %s = %v, want %v", t.TraceNo, a.Kind, a.ID, what, got, want)
	}
	if a.Status != string(fact.Open) {
		bad("status", a.Status, fact.Open)
	}
	switch inj.Kind {
	case fact.PayoutFailed:
		if a.Reason != inj.Reason {
			bad("reason", a.Reason, inj.Reason)
		}
		if a.Amount != t.Net {
			bad("amount (net payout)", a.Amount, t.Net)
		}
		if a.DetectedAt != t.FailedAt/1000 {
			bad("detected_at", a.DetectedAt, t.FailedAt/1000)
		}
	case fact.AmountMismatch:
		if a.Amount != t.ClearedAmount || a.Expected != t.Amount {
			bad("amount/expected", [2]int64{a.Amount, a.Expected}, [2]int64{t.ClearedAmount, t.Amount})
		}
		if a.Amount == a.Expected {
			bad("cleared amount", a.Amount, "different from the authorized amount")
		}
	case fact.PayoutOverdue:
		if a.DetectedAt != t.ExpectedPayoutAt/1000 {
			bad("detected_at (the deadline)", a.DetectedAt, t.ExpectedPayoutAt/1000)
		}
		// In event time the anomaly is raised at the deadline: the amount
		// due is the net of the clearing if the trace was cleared by then,
		// else the authorized amount (D0 sales are due before the nightly
		// clearing).
		want := t.Amount
		if t.ClearedAt != 0 && t.ClearedAt <= t.ExpectedPayoutAt {
			want = t.Net
		}
		if a.Amount != want {
			bad("amount due at the deadline", a.Amount, want)
		}
	}
}

func hasKind(t simulator.Truth, k fact.Kind) bool {
	for _, a := range t.Anomalies {
		if a.Kind == k {
			return true
		}
	}
	return false
}

func kinds(as []anomalyRow) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Kind+"/"+a.Status)
	}
	return out
}

// checkInjected requires every fault kind to occur often enough for the
// comparison to mean something.
func checkInjected(tb testing.TB, injected map[fact.Kind]int, sim simulator.Stats) {
	tb.Helper()
	for _, k := range []fact.Kind{fact.PayoutFailed, fact.PayoutOverdue, fact.AmountMismatch} {
		if injected[k] < 20 {
			tb.Errorf("only %d %s faults in the truth, want at least 20", injected[k], k)
		}
		if injected[k] != sim.Injected[string(k)] {
			tb.Errorf("truth has %d %s faults, the simulator's stats %d", injected[k], k, sim.Injected[string(k)])
		}
	}
}

// checkReport requires the reconciliation to balance with no dead letters,
// and every simulated message to be in its topic.
func checkReport(tb testing.TB, rep report.Report, sim simulator.Stats) {
	tb.Helper()
	if !rep.Balanced() {
		tb.Errorf("the report does not balance: %+v", rep.Topics)
	}
	if len(rep.Topics) != 4 {
		tb.Errorf("report covers %d topics, want the 4 source topics", len(rep.Topics))
	}
	for _, l := range rep.Topics {
		if l.Messages != int64(l.Archived+l.Control+l.DeadLetters) {
			tb.Errorf("topic %s: %d messages != %d archived + %d heartbeats + %d dead letters", l.Topic, l.Messages, l.Archived, l.Control, l.DeadLetters)
		}
		if l.DeadLetters != 0 {
			tb.Errorf("topic %s: %d dead letters, want 0", l.Topic, l.DeadLetters)
		}
		if want := sim.Messages[l.Topic]; l.Messages < int64(want) || want == 0 {
			tb.Errorf("topic %s holds %d messages, the simulator published %d", l.Topic, l.Messages, want)
		}
	}
	if len(rep.DeadReasons) != 0 {
		tb.Errorf("dead letters by reason: %v, want none", rep.DeadReasons)
	}
	if rep.Declined != uint64(sim.Declined) {
		tb.Errorf("report counts %d declined authorizations, the simulator declined %d", rep.Declined, sim.Declined)
	}
}

// snapshot renders every row of a query as text, in the query's order: a
// generic row-for-row image of an analyst view.
func snapshot(tb testing.TB, ctx context.Context, conn driver.Conn, query string) []string {
	tb.Helper()
	rows, err := conn.Query(ctx, query)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			tb.Fatalf("%s: scanning: %v", query, err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprint(&b, reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return out
}

// diffRows reports the first differences between two snapshots.
func diffRows(tb testing.TB, what string, before, after []string) {
	tb.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	tb.Errorf("%s changed: %d rows before, %d after", what, len(before), len(after))
	b, a := map[string]bool{}, map[string]bool{}
	for _, r := range before {
		b[r] = true
	}
	for _, r := range after {
		a[r] = true
	}
	var gone, added []string
	for _, r := range before {
		if !a[r] {
			gone = append(gone, r)
		}
	}
	for _, r := range after {
		if !b[r] {
			added = append(added, r)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	for i := 0; i < len(gone) && i < 5; i++ {
		tb.Errorf("  %s: only before: %s", what, gone[i])
	}
	for i := 0; i < len(added) && i < 5; i++ {
		tb.Errorf("  %s: only after:  %s", what, added[i])
	}
}
