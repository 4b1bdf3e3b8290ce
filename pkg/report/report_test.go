package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

func TestReconciliation(t *testing.T) {
	tests := []struct {
		name     string
		topics   []TopicLine
		balanced bool
		verdict  string
	}{
		{"every message accounted for", []TopicLine{{Topic: "a", Messages: 10, Archived: 6, Control: 3, DeadLetters: 1}}, true, "BALANCED"},
		{"a message without a fate", []TopicLine{{Topic: "a", Messages: 10, Archived: 6, Control: 3}}, false, "NOT BALANCED"},
		{"more fates than messages", []TopicLine{{Topic: "a", Messages: 9, Archived: 6, Control: 3, DeadLetters: 1}}, false, "NOT BALANCED"},
		{"no topics proves nothing", nil, false, "NOT BALANCED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Topics: tc.topics, Database: "settle", ClickHouse: "127.0.0.1:19000",
				LagByMode: []store.ModeLag{{Mode: "T1", Paid: 3, P50: 3600, P95: 7200, P99: 9000}},
				Anomalies: []store.AnomalyCount{{Kind: "payout_failed", OpenRows: 2, OpenTraces: 2, Traces: 2}}}
			if r.Balanced() != tc.balanced {
				t.Errorf("Balanced() = %v, want %v", r.Balanced(), tc.balanced)
			}
			var b bytes.Buffer
			r.WriteText(&b)
			out := b.String()
			if !strings.Contains(out, tc.verdict) {
				t.Errorf("report lacks %q:\n%s", tc.verdict, out)
			}
			for _, want := range []string{"payout_failed", "T1", "3600 s (1.0 h)", "clickhouse-client --host 127.0.0.1 --port 19000 --database settle"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestUnknownBankCodesLine(t *testing.T) {
	tests := []struct {
		name  string
		codes []store.UnknownBankCode
		total uint64
		want  []string
	}{
		{"none", nil, 0, []string{"every failed payout's code is in the return-code catalogue"}},
		{"two codes", []store.UnknownBankCode{{Code: "E_NEW", CatalogVersion: "cn-bank-return-codes-2026.1", Payouts: 3, LatestFailedAtS: 1790000000}, {Code: "X9", CatalogVersion: "cn-bank-return-codes-2026.1", Payouts: 1}}, 4,
			[]string{"not in the return-code catalogue: 4 failed payouts mapped to other", "--bank-codes-file", "E_NEW", "     3", "X9"}},
		{"more than shown", []store.UnknownBankCode{{Code: "E_NEW", Payouts: 3}}, 10, []string{"10 failed payouts", "… and 7 more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			Report{UnknownCodes: tt.codes, UnknownCodePayouts: tt.total}.WriteText(&b)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestWriteTextEscapes: names read from the store are printed escaped.
func TestWriteTextEscapes(t *testing.T) {
	const evil = "M\x00\x1b[31m\u202E1"
	r := Report{Database: "settle", ClickHouse: "127.0.0.1:19000",
		Topics:      []TopicLine{{Topic: "t\x1b[2J", Messages: 1, Archived: 1}},
		DeadReasons: map[string]uint64{"bad\u2066field": 1},
		LagByMode:   []store.ModeLag{{Mode: "T\u202E1", Paid: 1}},
		Anomalies:   []store.AnomalyCount{{Kind: "kind\x07", OpenRows: 1, OpenTraces: 1, Traces: 1}},
		Examples:    map[string]string{"payout_failed": evil}}
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for _, want := range []string{`t\x1b[2J`, `bad\u2066field`, `T\u202e1`, `kind\x07`, `explain M\x00\x1b[31m\u202e1`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x00\x1b\x07\u202e\u2066") {
		t.Errorf("report holds a control or bidi character raw: %q", out)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// issueRun is shaped like the default run of issue 12: every payout_held
// resolved (released within the SLA), reversed_but_settled two rows per
// trace, one incomplete batch among many closed ones, lags of days.
func issueRun() Report {
	return Report{
		Database: "settle", ClickHouse: "127.0.0.1:19000",
		Simulation: &Simulation{Days: 7, Start: "2026-09-21", Traces: 300000, Approved: 294000, Declined: 6000, Messages: 480933, Elapsed: 95*time.Second + 120*time.Millisecond},
		Topics: []TopicLine{
			{Topic: "acq.clearing", Messages: 180_412, Archived: 180_000, Control: 412},
			{Topic: "pos.authorizations", Messages: 300_521, Archived: 300_000, Control: 421, DeadLetters: 100},
		},
		DeadReasons: map[string]uint64{"bad_amount": 100},
		Declined:    6_000,
		LagRows:     294_000,
		LagByMode: []store.ModeLag{
			{Mode: "D0", Paid: 9, P50: 3_600, P95: 7_200, P99: 7_300},
			{Mode: "T1", Paid: 250_000, P50: 172_800, P95: 604_800, P99: 1_209_600},
		},
		Anomalies: []store.AnomalyCount{
			{Kind: "payout_failed", OpenRows: 1_412, OpenTraces: 1_412, Traces: 1_412},
			{Kind: "payout_held", ResolvedRows: 165, ResolvedTraces: 165, Traces: 165},
			{Kind: "reversed_but_settled", OpenRows: 40, OpenTraces: 20, Traces: 20},
		},
		// 5 traces carry both a reversed_but_settled and a payout_failed.
		AllAnomalies: store.AnomalyCount{OpenRows: 1_452, OpenTraces: 1_427, ResolvedRows: 165, ResolvedTraces: 165, Traces: 1_592},
		Batches: []store.BatchSummary{
			{Source: "clearing", Status: "incomplete", Batches: 1, Declared: 25_000, Seen: 24_990, DeclaredTotal: 237_000_000, SeenTotal: 236_900_000},
			{Source: "payouts", Status: "open", Batches: 2, Seen: 300, SeenTotal: 1_234_500},
			{Source: "clearing", Status: "closed", Batches: 120, Declared: 155_010, Seen: 155_010, DeclaredTotal: 9_876_543_210, SeenTotal: 9_876_543_210, Stalls: 2},
		},
		Sources: []store.SourceSummary{
			{Source: "payouts", Watermark: 1_790_000_000_000, WatermarkLagS: 0, Status: "ok", LaggingReports: 12, MaxLagS: 43_200, MaxWithheld: 5_100, ConsumerLag: 0},
		},
		Examples: map[string]string{"payout_failed": "627100000205"},
		Incidents: []incident.Summary{
			{Key: incident.Key{Class: incident.BankReturn, Day: "2026-09-21", Code: "R05"}, Kinds: []fact.Kind{fact.PayoutFailed},
				Severity: fact.Critical, Status: fact.Open, Anomalies: 1_412, Open: 1_412, Traces: 1_412, Amount: 98_765_00, Merchants: 300,
				FirstAt: 1_789_990_000_000, LastAt: 1_790_000_000_000},
			{Key: incident.OutageKey("payouts", 1_789_900_000_000), Severity: fact.Critical, Status: fact.Resolved,
				Traces: 9_000, Amount: 4_000_000_00, Merchants: 450, FirstAt: 1_789_900_000_000, LastAt: 1_789_943_200_000, ResolvedAt: 1_789_943_200_000},
		},
		Location: time.FixedZone("CST", 8*3600),
	}
}

// TestIncidentsBeforeKinds: ops read incidents first; the anomalies by kind
// follow.
func TestIncidentsBeforeKinds(t *testing.T) {
	var b bytes.Buffer
	issueRun().WriteText(&b)
	out := b.String()
	inc, kinds := strings.Index(out, "\nIncidents:"), strings.Index(out, "\nAnomalies by kind")
	if inc < 0 || kinds < 0 || inc > kinds {
		t.Fatalf("incidents at %d, kinds at %d, want incidents first:\n%s", inc, kinds, out)
	}
	for _, want := range []string{
		"2 incidents from 1412 anomalies: 1 open, 1 resolved",
		"1. [critical, open] payouts returned by the bank with code R05 on 2026-09-21",
		"1412 traces, ¥98,765.00, 300 merchants",
		"2. [critical, resolved] the payouts feed sent nothing from",
		"action: check the payouts feed's producer",
		"key: source_outage|payouts|1789900000000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestWriteTextGolden compares the whole report with testdata/report.golden
// (go test ./pkg/report -update rewrites it).
func TestWriteTextGolden(t *testing.T) {
	for _, l := range text.Langs() {
		t.Run(l.String(), func(t *testing.T) { checkGolden(t, l) })
	}
}

// checkGolden compares the report in lang with its golden file: English is
// testdata/report.golden, Chinese testdata/report.zh-CN.golden.
func checkGolden(t *testing.T, lang text.Lang) {
	var b bytes.Buffer
	issueRun().WriteTextIn(&b, lang)
	path := filepath.Join("testdata", "report.golden")
	if lang != text.English {
		path = filepath.Join("testdata", "report."+lang.String()+".golden")
	}
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/report -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("the report differs from %s (go test ./pkg/report -update, then review the diff):\n%s", path, b.String())
	}
}

// section returns the lines of out after the line starting with heading, up
// to the next blank line.
func section(tb testing.TB, out, heading string) []string {
	tb.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, heading) {
			continue
		}
		var sec []string
		for _, s := range lines[i+1:] {
			if s == "" {
				break
			}
			sec = append(sec, s)
		}
		return sec
	}
	tb.Fatalf("the report has no section %q:\n%s", heading, out)
	return nil
}

// TestTablesLineUp: in every table the last column is right-aligned, so a
// table whose columns line up has lines of one width; and each right-aligned
// heading ends where its figures end.
func TestTablesLineUp(t *testing.T) {
	var b bytes.Buffer
	issueRun().WriteText(&b)
	out := b.String()
	tests := []struct {
		heading string
		lines   int // heading row and rows; notes below are not part of the table
	}{
		{"Events read per source topic", 3},
		{"Settlement lag of paid traces", 3},
		{"Anomalies by kind", 5},
		{"Batches (", 4},
		{"Source health", 2},
	}
	for _, tt := range tests {
		t.Run(tt.heading, func(t *testing.T) {
			sec := section(t, out, tt.heading)
			if len(sec) < tt.lines {
				t.Fatalf("%d lines, want at least %d:\n%s", len(sec), tt.lines, strings.Join(sec, "\n"))
			}
			tab := sec[:tt.lines]
			w := utf8.RuneCountInString(tab[0])
			for _, l := range tab[1:] {
				if utf8.RuneCountInString(l) != w {
					t.Errorf("the columns do not line up:\n%s", strings.Join(tab, "\n"))
					break
				}
			}
		})
	}
}

func TestTableAlignment(t *testing.T) {
	tab := newTable("name", "n>", "lag>")
	tab.row("a", 1, "3600 s (1.0 h)")
	tab.row("longer name", 1_234_567, "1209600 s (336.0 h)")
	var b bytes.Buffer
	tab.write(&b)
	want := "" +
		"  name               n                  lag\n" +
		"  a                  1       3600 s (1.0 h)\n" +
		"  longer name  1234567  1209600 s (336.0 h)\n"
	if b.String() != want {
		t.Errorf("table =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestAnomaliesOpenAndResolved: each kind's row separates open from
// resolved, in rows and in traces, so a kind whose anomalies all resolved
// reads 0 open.
func TestAnomaliesOpenAndResolved(t *testing.T) {
	tests := []struct {
		name  string
		count store.AnomalyCount
		want  []string // the row's fields: kind, open rows, open traces, resolved rows, resolved traces
	}{
		{"all resolved", store.AnomalyCount{Kind: "payout_held", ResolvedRows: 165, ResolvedTraces: 165, Traces: 165}, []string{"payout_held", "0", "0", "165", "165"}},
		{"two rows per trace", store.AnomalyCount{Kind: "reversed_but_settled", OpenRows: 40, OpenTraces: 20, Traces: 20}, []string{"reversed_but_settled", "40", "20", "0", "0"}},
		{"both", store.AnomalyCount{Kind: "batch_stalled", OpenRows: 1, OpenTraces: 1, ResolvedRows: 3, ResolvedTraces: 2, Traces: 2}, []string{"batch_stalled", "1", "1", "3", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			all := tt.count
			all.Kind = ""
			Report{Anomalies: []store.AnomalyCount{tt.count}, AllAnomalies: all}.WriteText(&b)
			sec := section(t, b.String(), "Anomalies by kind")
			if got := strings.Fields(sec[0]); strings.Join(got, " ") != "kind open rows open traces resolved rows resolved traces" {
				t.Errorf("heading %q", sec[0])
			}
			if got := strings.Fields(sec[1]); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("row %q, want fields %v", sec[1], tt.want)
			}
			if got := strings.Fields(sec[2]); strings.Join(got, " ") != "all kinds "+strings.Join(tt.want[1:], " ") {
				t.Errorf("total row %q", sec[2])
			}
		})
	}
}

func TestYuan(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
	}{
		{0, "¥0.00"}, {5, "¥0.05"}, {123_456, "¥1,234.56"}, {237_000_000, "¥2,370,000.00"}, {-100_001, "-¥1,000.01"},
	}
	for _, tt := range tests {
		if got := yuan(tt.fen); got != tt.want {
			t.Errorf("yuan(%d) = %q, want %q", tt.fen, got, tt.want)
		}
	}
}
