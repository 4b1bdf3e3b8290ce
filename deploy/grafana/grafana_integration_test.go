//go:build integration

package grafana

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// macro is a Grafana macro or variable as the ClickHouse plugin expands it,
// with a value for the test.
var macros = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\$__timeFilter\(([A-Za-z_][A-Za-z0-9_]*)\)`), "$1 >= toDateTime(1758988800) AND $1 <= toDateTime(1759852800)"},
	{regexp.MustCompile(`\$\{kind:singlequote\}`), "'payout_failed','payout_overdue'"},
	{regexp.MustCompile(`\$\{status:singlequote\}`), "'open'"},
	{regexp.MustCompile(`\$\{mode\}`), "T1"},
	{regexp.MustCompile(`\$\{merchant\}`), "M000001"},
}

// TestDashboardQueriesRun runs every panel's and variable's SQL, macros
// expanded, on a migrated database of the ClickHouse the tests use (the
// oldest the project supports): each must parse and read existing columns.
func TestDashboardQueriesRun(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leftover := regexp.MustCompile(`\$\{?[A-Za-z_]`)
	for file, d := range loadDashboards(t) {
		for _, q := range queries(t, file, d) {
			sql := q.sql
			for _, m := range macros {
				sql = m.re.ReplaceAllString(sql, m.with)
			}
			if l := leftover.FindString(sql); l != "" {
				t.Errorf("%s: the test does not expand %s...: add it to macros", q.where, l)
				continue
			}
			rows, err := storetest.Conn(t, st).Query(ctx, sql)
			if err != nil {
				t.Errorf("%s: %v\n%s", q.where, err, strings.TrimSpace(sql))
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("%s: %v", q.where, err)
			}
			rows.Close()
		}
	}
}

// TestSourcesLaggingPanelAfterHealthyRun: in replay the joiner's last "ok"
// report of a source can share its observed time with an earlier "lagging"
// one; the dashboard's "Sources lagging" panel must read the later report,
// on every refresh.
func TestSourcesLaggingPanelAfterHealthyRun(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	at := time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC).UnixMilli()
	for _, src := range []string{"auth", "clearing", "payouts"} {
		for _, status := range []string{"lagging", "ok"} {
			if err := st.InsertSourceHealth(ctx, []store.SourceHealth{{Source: src, Reporter: "joiner", Instance: "j1",
				ObservedAt: at, Watermark: at, Status: status, ThresholdS: 1800}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var sql string
	for file, d := range loadDashboards(t) {
		for _, q := range queries(t, file, d) {
			if strings.Contains(q.where, "panel Sources lagging ") {
				sql = q.sql
			}
		}
	}
	if sql == "" {
		t.Fatal("no \"Sources lagging\" panel in the dashboards")
	}
	for i := range 10 {
		var lagging uint64
		if err := storetest.Conn(t, st).QueryRow(ctx, sql).Scan(&lagging); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		if lagging != 0 {
			t.Fatalf("refresh %d: the panel shows %d sources lagging after every source reported ok", i, lagging)
		}
	}
}
