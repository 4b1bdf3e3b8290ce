//go:build integration

package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"settlemon/pkg/allinone"
	"settlemon/pkg/calendar"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
	"settlemon/pkg/text"
)

// Environment of the browser test.
const (
	// chromiumEnv names the browser binary; default: chromium on PATH.
	chromiumEnv = "SETTLEMON_CHROMIUM"
	// artifactsEnv names the folder the screenshots are written to;
	// default: the test's temporary folder (removed after the test).
	artifactsEnv = "SETTLEMON_ARTIFACTS"
	// analystPasswordEnv is the read-only analyst's password
	// (deploy/clickhouse/local.sh; default "analyst").
	analystPasswordEnv = "SETTLEMON_ANALYST_PASSWORD"
)

// TestBrowserAcceptance is the page's acceptance test: after a small
// simulated run (kfake over TCP, real ClickHouse), the console serves on
// loopback with a token, reading ClickHouse as the read-only analyst;
// its real API answers validate against schemas/openapi.yaml; and headless
// Chromium, driven by chromedp, checks that the page loads with no console
// error, the lag chart draws the hourly data, filtering anomalies by kind
// narrows the table, and clicking a trace opens its explanation with the
// status the explainer gives. Screenshots are saved as artifacts.
func TestBrowserAcceptance(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sched := testSchedule(t)

	// A small simulated run into a database of its own.
	st := storetest.New(t)
	runCfg := allinone.DefaultConfig()
	runCfg.BrokerPort, runCfg.Progress = freePort(t), 500*time.Millisecond
	runCfg.Pipeline.Partitions = 3
	runCfg.Simulator, runCfg.Store = smallSim(), storetest.Config(t, st.Database())
	res, err := allinone.Run(ctx, runCfg, allinone.Deps{Kafka: kafkaio.DefaultConfig(), Schedule: sched, Logger: logger, Out: tbWriter{t}})
	if err != nil {
		t.Fatalf("allinone.Run: %v", err)
	}
	t.Logf("simulated %d traces in %s", res.Simulated.Traces, res.Elapsed.Round(time.Millisecond))
	// The alerter is not part of the run: record two firing alerts the way
	// it would, one started on the wall clock, one by a fact in event time.
	started := time.Date(2026, 10, 1, 9, 30, 0, 0, sched.Calendar().Location()).UnixMilli()
	detected := time.Date(2026, 9, 29, 2, 15, 0, 0, sched.Calendar().Location()).UnixMilli()
	if err := st.InsertAlerts(ctx, []store.AlertRecord{{
		Fingerprint: "a1b2c3", AlertName: "SourceLagging", State: "firing", StartedAt: started, LastSentAt: started, Notifications: 1, Version: 1,
		Labels:      map[string]string{"alertname": "SourceLagging", "severity": "critical", "source": "payouts"},
		Annotations: map[string]string{"summary": "the payouts feed is 6h behind: absence checks withheld"},
	}, {
		Fingerprint: "d4e5f6", AlertName: "BatchIncomplete", State: "firing", StartedAt: detected, LastSentAt: started, Notifications: 1, Version: 1,
		Labels:      map[string]string{"alertname": "BatchIncomplete", "batch_id": "CLR-X", "anomaly_id": "batch_incomplete:CLR-X", "severity": "critical"},
		Annotations: map[string]string{"summary": "batch CLR-X closed with another total than it declared"},
	}}); err != nil {
		t.Fatal(err)
	}

	// The console reads as the read-only analyst.
	acfg := storetest.Config(t, st.Database())
	acfg.User, acfg.Password = "analyst", os.Getenv(analystPasswordEnv)
	if acfg.Password == "" {
		acfg.Password = "analyst"
	}
	analyst, err := store.New(ctx, acfg, logger)
	if err != nil {
		t.Fatalf("connecting as the read-only analyst: %v", err)
	}
	defer analyst.Close()
	if err := analyst.InsertAlerts(ctx, []store.AlertRecord{{Fingerprint: "x", AlertName: "x", State: "firing", Version: 1}}); err == nil {
		t.Fatal("the analyst could write: it must be read-only")
	}
	const token = "browser-t0ken"
	c, err := NewOnStore(DefaultConfigOn("127.0.0.1:0", token), analyst, sched, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- c.Serve(srvCtx, ln) }()
	defer func() {
		stopSrv()
		if err := <-served; err != nil {
			t.Errorf("console: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	// The real answers conform to the OpenAPI document.
	ov := apiGet[overviewResponse](t, base, "/api/v1/overview", token)
	lag := apiGet[lagResponse](t, base, "/api/v1/lag/hourly", token)
	all := apiGet[anomaliesResponse](t, base, "/api/v1/anomalies?limit=200", token)
	const kind = fact.PayoutFailed
	failed := apiGet[anomaliesResponse](t, base, "/api/v1/anomalies?limit=200&kind="+string(kind), token)
	apiGet[anomaliesResponse](t, base, "/api/v1/anomalies?status=all&limit=5&date=2026-09-29", token)
	batches := apiGet[batchesResponse](t, base, "/api/v1/batches", token)
	sources := apiGet[sourcesResponse](t, base, "/api/v1/sources", token)
	alerts := apiGet[alertsResponse](t, base, "/api/v1/alerts", token)
	apiGet[lagResponse](t, base, "/api/v1/lag/hourly?mode=T1", token)
	if len(lag.Points) == 0 || ov.OpenAnomalies == 0 || len(batches.Batches) == 0 || len(sources.Sources) < 3 || len(alerts.Alerts) != 2 {
		t.Fatalf("the run left too little to show: %d lag points, %d open anomalies, %d batches, %d sources, %d alerts",
			len(lag.Points), ov.OpenAnomalies, len(batches.Batches), len(sources.Sources), len(alerts.Alerts))
	}
	if failed.Total == 0 || failed.Total >= all.Total {
		t.Fatalf("open %s anomalies: %d of %d; the filter test needs some, and fewer than all", kind, failed.Total, all.Total)
	}
	if ov.Payouts.Failed.Count != failed.Total {
		t.Errorf("overview counts %d failed payouts, the anomaly list %d", ov.Payouts.Failed.Count, failed.Total)
	}
	if code := rawGet(t, base+"/api/v1/overview", ""); code != http.StatusUnauthorized {
		t.Errorf("the API answered %d without the token, want 401", code)
	}

	// The browser.
	bctx, problems := startBrowser(t, ctx, chromium)
	run(t, bctx, chromedp.Navigate(base+"/?token="+token))
	waitJS(t, bctx, `document.body.dataset.state === "ready"`, "the page to load its data")

	// The token was taken from the address and kept in the tab.
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, "token") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	if kept := eval[string](t, bctx, `sessionStorage.getItem("settlemon.console.token")`); kept != token {
		t.Errorf("sessionStorage holds %q, want the token", kept)
	}

	// The overview cards show the API's figures.
	if got := eval[string](t, bctx, `document.querySelector('#card-failed [data-field="count"]').textContent`); got != fmt.Sprint(ov.Payouts.Failed.Count) {
		t.Errorf("failed payouts card shows %q, want %d", got, ov.Payouts.Failed.Count)
	}

	// A finished, healthy run shows no lagging source, on every refresh:
	// the latest health row is chosen by a strict version, not by a tie on
	// observed_at that could pick either.
	for i := range 5 {
		o := apiGet[overviewResponse](t, base, "/api/v1/overview", token)
		srcs := apiGet[sourcesResponse](t, base, "/api/v1/sources", token)
		if o.SourcesLagging != 0 {
			t.Errorf("read %d: %d sources lagging after a finished healthy run", i, o.SourcesLagging)
		}
		for _, s := range srcs.Sources {
			if s.Status != "ok" {
				t.Errorf("read %d: source %s is %q after a finished healthy run", i, s.Source, s.Status)
			}
		}
	}
	if got := eval[string](t, bctx, `document.querySelector('#card-sources [data-field="count"]').textContent`); got != "0" {
		t.Errorf("the sources-lagging card shows %q after a finished healthy run, want 0", got)
	}

	// The lag chart draws one SVG per mode, with the API's hourly points.
	type series struct {
		Mode   string  `json:"mode"`
		Pct    string  `json:"pct"`
		Points int     `json:"points"`
		Width  float64 `json:"width"`
		DLen   int     `json:"dlen"`
	}
	drawn := eval[[]series](t, bctx, `[...document.querySelectorAll('#lag-charts path.series')].map(p => ({
		mode: p.closest('svg').dataset.mode, pct: p.classList[1], points: Number(p.dataset.points),
		width: p.getBBox().width, dlen: p.getAttribute('d').length }))`)
	perMode := map[string]int{}
	for _, p := range lag.Points {
		perMode[p.Mode]++
	}
	if len(drawn) != 3*len(perMode) {
		t.Fatalf("the chart draws %d series, want p50/p95/p99 for each of %d modes", len(drawn), len(perMode))
	}
	for _, s := range drawn {
		if s.Points != perMode[s.Mode] || s.DLen < 10 || (s.Points > 1 && s.Width < 50) {
			t.Errorf("mode %s %s: %d points drawn %.0f px wide (path of %d chars), want %d points", s.Mode, s.Pct, s.Points, s.Width, s.DLen, perMode[s.Mode])
		}
	}

	checkIncidents(t, bctx, base, token)
	checkFind(t, bctx, st, failed, sched.Calendar().Location())
	checkSeriesDistinct(t, bctx)
	checkBatchOrder(t, bctx, batches)
	checkAlertClocks(t, bctx, alerts)

	// Filtering anomalies by kind narrows the table to that kind.
	waitJS(t, bctx, `document.querySelector('#anomalies').dataset.state === "ready"`, "the anomalies table")
	before := eval[int](t, bctx, `document.querySelectorAll('#anomalies tbody tr[data-kind]').length`)
	if before != len(all.Anomalies) {
		t.Errorf("the table shows %d anomalies before filtering, the API %d", before, len(all.Anomalies))
	}
	// SetValue fires input and change, as choosing in the list does.
	run(t, bctx, chromedp.SetValue(chromedp.CSS("#f-kind"), string(kind)))
	waitJS(t, bctx, `(t => t.dataset.state === "ready" && t.dataset.kind === "`+string(kind)+`")(document.querySelector('#anomalies'))`, "the filtered table")
	kinds := eval[[]string](t, bctx, `[...document.querySelectorAll('#anomalies tbody tr[data-kind]')].map(r => r.dataset.kind)`)
	if len(kinds) == 0 || len(kinds) >= before || len(kinds) != len(failed.Anomalies) {
		t.Errorf("filtering by %s left %d rows of %d (the API has %d)", kind, len(kinds), before, len(failed.Anomalies))
	}
	for _, k := range kinds {
		if k != string(kind) {
			t.Errorf("filtered by %s, the table still shows a %s", kind, k)
			break
		}
	}

	// Clicking a trace opens its explanation, with the status the explainer gives.
	link := chromedp.CSS(`#anomalies tbody tr[data-kind="` + string(kind) + `"] a.trace`)
	attr, err := chromedp.Run(bctx, chromedp.AttributeValue(link, "data-trace"))
	if err != nil || !attr.Exists {
		t.Fatalf("no trace link in the filtered table: %v", err)
	}
	trace := attr.Value
	run(t, bctx, chromedp.Click(link))
	waitJS(t, bctx, `(e => !e.hidden && e.dataset.state === "ready" && e.dataset.trace === `+jsString(trace)+`)(document.querySelector('#explain'))`, "the explain view of "+trace)
	shown, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#explain [data-field="status"]`)))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(analyst, sched)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ex.Explain(ctx, trace, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if shown != want.Status || shown != explain.StatusFailed {
		t.Errorf("trace %s: the explain view shows status %q, the explainer says %q (want %q for an open %s)", trace, shown, want.Status, explain.StatusFailed, kind)
	}
	summary, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#explain [data-field="summary"]`)))
	if err != nil || summary != want.Summary {
		t.Errorf("trace %s: summary %q, want %q (%v)", trace, summary, want.Summary, err)
	}
	reply, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#explain [data-field="reply"]`)))
	if err != nil || reply != want.Reply || reply == "" {
		t.Errorf("trace %s: reply %q, want %q (%v)", trace, reply, want.Reply, err)
	}
	// The explain view in Chinese: the sentences the explainer writes in
	// zh-CN, with the reply ready to copy.
	wantZh, err := ex.ExplainIn(ctx, trace, time.Time{}, text.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	eval[bool](t, bctx, `(s => { s.value = "zh-CN"; return s.dispatchEvent(new Event("change")) })(document.querySelector("#explain-lang"))`)
	waitJS(t, bctx, `(e => e.dataset.state === "ready" && e.dataset.lang === "zh-CN")(document.querySelector('#explain'))`, "the explain view in Chinese")
	if got := eval[string](t, bctx, `document.querySelector('#explain [data-field="summary"]').textContent`); got != wantZh.Summary {
		t.Errorf("trace %s: Chinese summary %q, want %q", trace, got, wantZh.Summary)
	}
	if got := eval[string](t, bctx, `document.querySelector('#explain [data-field="reply"]').textContent`); got != wantZh.Reply {
		t.Errorf("trace %s: Chinese reply %q, want %q", trace, got, wantZh.Reply)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS("#explain-copy-reply")))
	waitJS(t, bctx, `document.querySelector('#explain .reply .copied').textContent !== ""`, "the copy button's answer")
	screenshot(t, bctx, filepath.Join(artifactsDir(t), "console-explain-zh.png"), false)
	eval[bool](t, bctx, `(s => { s.value = ""; return s.dispatchEvent(new Event("change")) })(document.querySelector("#explain-lang"))`)
	waitJS(t, bctx, `(e => e.dataset.state === "ready" && e.dataset.lang === "en")(document.querySelector('#explain'))`, "the explain view back in English")

	if hash := eval[string](t, bctx, `location.hash`); hash != "#/trace/"+trace {
		t.Errorf("the explain view's address is %q", hash)
	}

	dir := artifactsDir(t)
	// The view is a fixed overlay: capture what the window shows.
	screenshot(t, bctx, filepath.Join(dir, "console-explain.png"), false)
	run(t, bctx, chromedp.Click(chromedp.CSS("#explain-close")))
	waitJS(t, bctx, `document.querySelector('#explain').hidden`, "the explain view to close")
	// Clear the filters for the overall picture.
	run(t, bctx, chromedp.Click(chromedp.CSS(`#anomaly-filters button[type="reset"]`)))
	waitJS(t, bctx, `(t => t.dataset.state === "ready" && t.dataset.kind === "")(document.querySelector('#anomalies'))`, "the unfiltered table")
	screenshot(t, bctx, filepath.Join(dir, "console.png"), true)

	// An auto-refresh later, still no error.
	waitJS(t, bctx, `Number(document.body.dataset.refreshes) >= 2`, "an automatic refresh")
	for _, p := range problems() {
		t.Errorf("browser console: %s", p)
	}

	checkChinese(t, ctx, chromium, base, token, st, failed, sched.Calendar().Location(), ex)
}

// checkChinese: a browser that asks for zh-CN gets the page in Chinese —
// every heading, column, label and button, the incidents first with their
// Chinese titles, one expanding to its traces, the search finding a trace
// by merchant, day and amount, and that trace's explanation with its
// Chinese reply to copy. The page's switch turns it to English, and the
// choice is kept for the next visit. Screenshots are saved as artifacts.
func checkChinese(t *testing.T, ctx context.Context, chromium, base, token string, st *store.Store, failed anomaliesResponse,
	loc *time.Location, ex *explain.Explainer) {
	t.Helper()
	bctx, problems := startBrowser(t, ctx, chromium)
	run(t, bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9"}})
		return err
	}))
	run(t, bctx, chromedp.Navigate(base+"/?token="+token))
	waitJS(t, bctx, `document.body.dataset.state === "ready"`, "the Chinese page to load its data")
	if lang := eval[string](t, bctx, `document.documentElement.lang`); lang != "zh-CN" {
		t.Fatalf("with Accept-Language zh-CN the page is in %q", lang)
	}
	// Every heading, column, label and button reads in Chinese; the
	// identifiers (kinds in the filter, p95, T1) stay as they are.
	english := eval[[]string](t, bctx, `[...document.querySelectorAll('h1 span, h2, h3, th, label, button, .card .sub[data-field="sub"], #refreshed, #as-of, #incident-count')]
		.map(e => e.textContent.trim()).filter(s => s !== "" && s !== "×" && !/\p{Script=Han}/u.test(s))`)
	if len(english) > 0 {
		t.Errorf("labels not in Chinese: %q", english)
	}
	for sel, want := range map[string]string{
		"#incidents-panel h2":     "事件",
		"#find-form button":       "查找",
		"#card-overdue h2":        "逾期出款",
		"#explain .reply h3":      "回复商户",
		"#explain-copy-reply":     "复制",
		"#lag-panel h2":           "结算时长",
		"#anomalies-panel h2":     "异常",
		"#page-lang":              "English",
		"#sources-panel h2":       "数据源健康",
		"#batches-panel h2 small": "停滞",
	} {
		if got := eval[string](t, bctx, `document.querySelector(`+jsString(sel)+`).textContent`); !strings.Contains(got, want) {
			t.Errorf("%s reads %q, want %q in it", sel, got, want)
		}
	}

	// The incidents come first, titled in Chinese, and expand to their traces.
	checkIncidents(t, bctx, base, token)
	titles := eval[[]string](t, bctx, `[...document.querySelectorAll('#incidents tbody tr.incident strong')].map(e => e.textContent)`)
	for _, title := range titles {
		if !strings.ContainsFunc(title, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("incident title not in Chinese: %q", title)
		}
	}
	if h := eval[string](t, bctx, `document.querySelector('#incidents tr.incident-traces:not([hidden]) table.inner th').textContent`); h != "时间" {
		t.Errorf("the incident's traces are headed %q, want 时间", h)
	}
	screenshot(t, bctx, filepath.Join(artifactsDir(t), "console-zh.png"), true)

	// The search by merchant, day and amount finds the trace; its
	// explanation is in Chinese, with the reply to the merchant.
	checkFind(t, bctx, st, failed, loc)
	if c := eval[string](t, bctx, `document.querySelector('#find-count').textContent`); !strings.Contains(c, "最匹配") {
		t.Errorf("the search's note reads %q", c)
	}
	trace := failed.Anomalies[0].TraceNo
	want, err := ex.ExplainIn(ctx, trace, time.Time{}, text.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS(`#found tbody tr[data-trace=`+jsString(trace)+`] a.trace`)))
	waitJS(t, bctx, `(e => !e.hidden && e.dataset.state === "ready" && e.dataset.trace === `+jsString(trace)+` && e.dataset.lang === "zh-CN")(document.querySelector('#explain'))`,
		"the Chinese explain view of "+trace)
	if got := eval[string](t, bctx, `document.querySelector('#explain [data-field="reply"]').textContent`); got != want.Reply || got == "" {
		t.Errorf("trace %s: the reply reads %q, want %q", trace, got, want.Reply)
	}
	if got := eval[string](t, bctx, `document.querySelector('#explain [data-field="summary"]').textContent`); got != want.Summary {
		t.Errorf("trace %s: the summary reads %q, want %q", trace, got, want.Summary)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS("#explain-copy-reply")))
	waitJS(t, bctx, `document.querySelector('#explain .reply .copied').textContent !== ""`, "the copy button's answer")
	if c := eval[string](t, bctx, `document.querySelector('#explain .reply .copied').textContent`); !strings.HasPrefix(c, "已") {
		t.Errorf("the copy button answers %q, want 已复制 or 已选中", c)
	}
	screenshot(t, bctx, filepath.Join(artifactsDir(t), "console-zh-explain.png"), false)
	run(t, bctx, chromedp.Click(chromedp.CSS("#explain-close")))
	waitJS(t, bctx, `document.querySelector('#explain').hidden`, "the explain view to close")

	// The switch turns the page to English, and the choice is kept: the
	// next visit without ?lang= is in English despite the browser's zh-CN.
	eval[bool](t, bctx, `(s => { s.value = "en"; return s.dispatchEvent(new Event("change")) })(document.querySelector("#page-lang"))`)
	waitJS(t, bctx, `document.documentElement.lang === "en" && document.body.dataset.state === "ready"`, "the page in English")
	run(t, bctx, chromedp.Navigate(base+"/"))
	waitJS(t, bctx, `document.documentElement.lang === "en" && document.body.dataset.state === "ready"`, "the page kept in English")
	if h := eval[string](t, bctx, `document.querySelector('#incidents-panel h2').textContent`); !strings.HasPrefix(h, "Incidents") {
		t.Errorf("after switching to English the incidents are headed %q", h)
	}
	if got := eval[string](t, bctx, `document.querySelector('#incidents tbody tr.incident strong').textContent`); len(titles) > 0 &&
		strings.ContainsFunc(got, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		t.Errorf("the English page titles an incident %q", got)
	}
	screenshot(t, bctx, filepath.Join(artifactsDir(t), "console-en-switched.png"), false)
	for _, p := range problems() {
		t.Errorf("browser console (zh-CN): %s", p)
	}
}

// checkSeriesDistinct: p50, p95 and p99 differ in colour and in dash, in
// the chart and in the legend alike; each line is named at its end in its
// colour; hovering shows a marker on each line and a readout with each
// percentile in its line's colour.
func checkSeriesDistinct(tb testing.TB, ctx context.Context) {
	tb.Helper()
	type look struct {
		Where  string `json:"where"`
		Pct    string `json:"pct"`
		Stroke string `json:"stroke"`
		Dash   string `json:"dash"`
		Fill   string `json:"fill"`
	}
	looks := eval[[]look](tb, ctx, `(() => {
		const cs = (n) => getComputedStyle(n);
		const out = [];
		const chart = document.querySelector('#lag-charts .chart svg');
		for (const p of chart.querySelectorAll('path.series')) out.push({ where: 'chart', pct: p.dataset.series, stroke: cs(p).stroke, dash: cs(p).strokeDasharray, fill: '' });
		for (const l of document.querySelectorAll('#lag-legend [data-series] line')) out.push({ where: 'legend', pct: l.closest('[data-series]').dataset.series, stroke: cs(l).stroke, dash: cs(l).strokeDasharray, fill: '' });
		for (const e of chart.querySelectorAll('text.end-label')) out.push({ where: 'end', pct: e.dataset.series, stroke: '', dash: '', fill: cs(e).fill });
		const hit = chart.querySelector('rect.hit');
		const r = hit.getBoundingClientRect();
		hit.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true }));
		for (const t of chart.querySelectorAll('text.readout tspan[data-series]')) out.push({ where: 'readout', pct: t.dataset.series, stroke: '', dash: '', fill: cs(t).fill + '|' + t.textContent });
		for (const m of chart.querySelectorAll('circle.marker')) out.push({ where: 'marker', pct: m.dataset.series, stroke: '', dash: m.getAttribute('cx'), fill: cs(m).fill });
		return out;
	})()`)
	by := map[string]map[string]look{}
	for _, l := range looks {
		if by[l.Where] == nil {
			by[l.Where] = map[string]look{}
		}
		by[l.Where][l.Pct] = l
	}
	pcts := []string{"p50", "p95", "p99"}
	for _, where := range []string{"chart", "legend", "end", "readout", "marker"} {
		if len(by[where]) != 3 {
			tb.Errorf("%s: %d percentiles %v, want p50, p95 and p99", where, len(by[where]), by[where])
		}
	}
	for i, a := range pcts {
		c := by["chart"][a]
		if l := by["legend"][a]; l.Stroke != c.Stroke || l.Dash != c.Dash {
			tb.Errorf("%s: the legend draws %s %q, the chart %s %q", a, l.Stroke, l.Dash, c.Stroke, c.Dash)
		}
		if e := by["end"][a]; e.Fill != c.Stroke {
			tb.Errorf("%s: the line's end label is %s, the line %s", a, e.Fill, c.Stroke)
		}
		if r := by["readout"][a]; !strings.HasPrefix(r.Fill, c.Stroke+"|") || !strings.Contains(r.Fill, a) {
			tb.Errorf("%s: the hover readout shows %q, want the value in %s", a, r.Fill, c.Stroke)
		}
		if m := by["marker"][a]; m.Fill != c.Stroke || m.Dash == "-10" {
			tb.Errorf("%s: the hover marker is %s at x %s, want %s on the hovered hour", a, m.Fill, m.Dash, c.Stroke)
		}
		for _, b := range pcts[i+1:] {
			d := by["chart"][b]
			if c.Stroke == d.Stroke || c.Dash == d.Dash {
				tb.Errorf("%s and %s look alike: %s %q and %s %q (want another colour and another dash)", a, b, c.Stroke, c.Dash, d.Stroke, d.Dash)
			}
		}
	}
}

// checkBatchOrder: the batches table lists stalled, then incomplete, open
// and closed batches, in the API's order.
func checkBatchOrder(tb testing.TB, ctx context.Context, api batchesResponse) {
	tb.Helper()
	waitJS(tb, ctx, `document.querySelector('#batches').dataset.state === "ready"`, "the batches table")
	type row struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	rows := eval[[]row](tb, ctx, `[...document.querySelectorAll('#batches tbody tr[data-batch]')].map(r => ({ id: r.dataset.batch, status: r.dataset.status }))`)
	rank := map[string]int{"stalled": 0, "incomplete": 1, "open": 2, "closed": 3}
	if len(rows) == 0 {
		tb.Fatal("the batches table is empty")
	}
	for i, r := range rows {
		if i > 0 && rank[r.Status] < rank[rows[i-1].Status] {
			tb.Errorf("batch %d (%s, %s) comes after a %s one: want stalled, incomplete, open, closed", i, r.ID, r.Status, rows[i-1].Status)
			break
		}
		if i < len(api.Batches) && api.Batches[i].BatchID != r.ID {
			tb.Errorf("batch row %d is %s, the API's %s", i, r.ID, api.Batches[i].BatchID)
			break
		}
	}
}

// checkAlertClocks: each alert's start sits in the column of its clock.
func checkAlertClocks(tb testing.TB, ctx context.Context, api alertsResponse) {
	tb.Helper()
	waitJS(tb, ctx, `document.querySelector('#alerts').dataset.state === "ready"`, "the alerts table")
	type cells struct {
		Clock  string `json:"clock"`
		Event  string `json:"event"`
		Wall   string `json:"wall"`
		Notify string `json:"notify"`
	}
	shown := eval[map[string]cells](tb, ctx, `Object.fromEntries([...document.querySelectorAll('#alerts tbody tr[data-alert]')].map(r => [r.dataset.alert, {
		clock: r.dataset.clock,
		event: r.querySelector('[data-col="since-event"]').textContent,
		wall: r.querySelector('[data-col="since-wall"]').textContent,
		notify: r.querySelector('[data-col="notified-wall"]').textContent }]))`)
	for _, a := range api.Alerts {
		c, ok := shown[a.AlertName]
		start := a.StartedAt.Format("2006-01-02 15:04")
		switch {
		case !ok:
			tb.Errorf("alert %s is not on the page", a.AlertName)
		case c.Clock != a.StartedClock:
			tb.Errorf("alert %s: the row says clock %q, the API %q", a.AlertName, c.Clock, a.StartedClock)
		case a.StartedClock == clockEvent && (c.Event != start || c.Wall != "–"):
			tb.Errorf("alert %s started in event time at %s: the page shows event %q, wall %q", a.AlertName, start, c.Event, c.Wall)
		case a.StartedClock == clockWall && (c.Wall != start || c.Event != "–"):
			tb.Errorf("alert %s started on the wall clock at %s: the page shows event %q, wall %q", a.AlertName, start, c.Event, c.Wall)
		case c.Notify != a.LastSentAt.Format("2006-01-02 15:04"):
			tb.Errorf("alert %s: last notified %q, want %s", a.AlertName, c.Notify, a.LastSentAt.Format("2006-01-02 15:04"))
		}
	}
	if shown["BatchIncomplete"].Clock != clockEvent || shown["SourceLagging"].Clock != clockWall {
		tb.Errorf("clocks on the page: %+v; want BatchIncomplete in event time, SourceLagging on the wall clock", shown)
	}
}

// --- the browser ---------------------------------------------------------------

// findChromium returns the browser binary; without one the test is skipped,
// or fails when CI=true (deploy/local/test.sh installs Debian's chromium).
func findChromium(tb testing.TB) string {
	tb.Helper()
	name := os.Getenv(chromiumEnv)
	if name == "" {
		name = "chromium"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("no %s browser (%v): apt-get install -y chromium, or set %s", name, err, chromiumEnv)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return path
}

// startBrowser starts headless Chromium with a fresh profile and no network
// beyond what the page asks for, and collects console errors, uncaught
// exceptions and error log entries (failed loads, CSP violations).
func startBrowser(tb testing.TB, ctx context.Context, path string) (context.Context, func() []string) {
	tb.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1440, 1000),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	run(tb, bctx, chromedp.Navigate("about:blank"))

	var (
		mu       sync.Mutex
		problems []string
		wg       sync.WaitGroup
	)
	add := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	consoleCalls := chromedp.Events(bctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(bctx, runtime.ExceptionThrown)
	entries := chromedp.Events(bctx, log.EntryAdded)
	wg.Add(3)
	go func() {
		defer wg.Done()
		for ev, err := range consoleCalls {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				add(fmt.Sprintf("console.%s(%s)", ev.Type, strings.Join(args, ", ")))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			add(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e != nil && (e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) {
				add(fmt.Sprintf("log %s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
			}
		}
	}()
	return bctx, func() []string {
		// Let the last events arrive.
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

func run(tb testing.TB, ctx context.Context, a chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(ctx, a); err != nil {
		tb.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page (the DevTools protocol
// is not bound by the page's Content-Security-Policy).
func eval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is true in the page. It polls from Go: chromedp's
// Poll builds its predicate with new Function, which the page's CSP forbids.
func waitJS(tb testing.TB, ctx context.Context, expr, what string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			banner, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#banner').textContent`))
			tb.Fatalf("waited a minute for %s (%s): last error %v; page banner %q", what, expr, err, banner)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves a PNG of the whole page, or of the window only.
func screenshot(tb testing.TB, ctx context.Context, path string, full bool) {
	tb.Helper()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // quality 100: PNG
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("screenshot: %s (%d bytes)", path, len(png))
}

func artifactsDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		dir = tb.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("artifacts: %s (set %s to keep them)", abs, artifactsEnv)
	return abs
}

// --- the API -------------------------------------------------------------------

// apiGet fetches path with the token, checks the answer against the OpenAPI
// document and decodes it.
func apiGet[T any](tb testing.TB, base, path, token string) T {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	checkSpec(tb, req, true, res.StatusCode, res.Header, body)
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	return v
}

func rawGet(tb testing.TB, url, token string) int {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// --- the run -------------------------------------------------------------------

// smallSim is two days of 2000 traces from the default start (2026-09-28),
// with every injected fault frequent enough to show on the page.
func smallSim() simulator.Config {
	c := simulator.DefaultConfig()
	c.Seed = 11
	c.Days = 2
	c.TracesPerDay = 2000
	c.Merchants = 40
	c.HeartbeatInterval = 15 * time.Minute
	c.PayoutFailedRate = 0.02
	c.PayoutMissingRate = 0.02
	c.AmountMismatchRate = 0.02
	return c
}

func testSchedule(tb testing.TB) *calendar.Schedule {
	tb.Helper()
	s, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkIncidents: the incidents come first on the page, as the API lists
// them, and clicking one shows its traces below it.
func checkIncidents(t *testing.T, bctx context.Context, base, token string) {
	t.Helper()
	inc := apiGet[incidentsResponse](t, base, "/api/v1/incidents", token)
	if len(inc.Incidents) == 0 {
		t.Fatal("the small run has no open incident")
	}
	apiGet[incidentTracesResponse](t, base, "/api/v1/incidents/traces?key="+url.QueryEscape(inc.Incidents[0].Key), token)
	apiGet[incidentsResponse](t, base, "/api/v1/incidents?status=all&limit=3", token)
	waitJS(t, bctx, `document.querySelector('#incidents').dataset.state === "ready"`, "the incidents table")
	first := eval[string](t, bctx, `document.querySelector('main > section.panel').id`)
	if first != "incidents-panel" {
		t.Errorf("the first panel is %q, want the incidents", first)
	}
	keys := eval[[]string](t, bctx, `[...document.querySelectorAll('#incidents tbody tr.incident')].map(r => r.dataset.key)`)
	if len(keys) != len(inc.Incidents) || keys[0] != inc.Incidents[0].Key {
		t.Fatalf("the page lists %d incidents (first %v), the API %d (first %s)", len(keys), keys[:min(1, len(keys))], len(inc.Incidents), inc.Incidents[0].Key)
	}
	want := inc.Incidents[0]
	run(t, bctx, chromedp.Click(chromedp.CSS(`#incidents tbody tr.incident`)))
	waitJS(t, bctx, `(r => r && !r.hidden && r.dataset.state === "ready")(document.querySelector('#incidents tr.incident-traces'))`, "the traces of the first incident")
	n := eval[int](t, bctx, `document.querySelectorAll('#incidents tr.incident-traces:not([hidden]) table.inner tbody tr').length`)
	if n == 0 || uint64(n) > want.Traces {
		t.Errorf("the first incident (%s, %d traces) expands to %d rows", want.Key, want.Traces, n)
	}
}

// checkFind: the page's search finds a trace from its merchant, day and
// amount, and lists it among the best matches.
func checkFind(t *testing.T, bctx context.Context, st *store.Store, failed anomaliesResponse, loc *time.Location) {
	t.Helper()
	if len(failed.Anomalies) == 0 {
		t.Fatal("no failed payout to look for")
	}
	trace := failed.Anomalies[0].TraceNo
	lag, err := st.TraceLag(context.Background(), trace)
	if err != nil || lag == nil {
		t.Fatalf("the settlement-lag fact of %s: %v %v", trace, lag, err)
	}
	day := time.UnixMilli(lag.AuthorizedAt).In(loc).Format("2006-01-02")
	run(t, bctx, chromedp.SetValue(chromedp.CSS("#q-merchant"), lag.MerchantID))
	run(t, bctx, chromedp.SetValue(chromedp.CSS("#q-day"), day))
	run(t, bctx, chromedp.SetValue(chromedp.CSS("#q-amount"), fact.Yuan(lag.AuthorizedAmount)))
	run(t, bctx, chromedp.Click(chromedp.CSS("#find-form button[type=submit]")))
	waitJS(t, bctx, `document.querySelector('#found').dataset.state === "ready"`, "the search results")
	type row struct {
		Trace string `json:"trace"`
		Score int    `json:"score"`
	}
	rows := eval[[]row](t, bctx, `[...document.querySelectorAll('#found tbody tr')].map(r => ({trace: r.dataset.trace, score: Number(r.dataset.score)}))`)
	hit := -1
	for i, r := range rows {
		if r.Trace == trace {
			hit = i
		}
	}
	if hit < 0 || rows[hit].Score < 3 || rows[0].Score != rows[hit].Score {
		t.Errorf("searching merchant %s on %s for %s lists %+v; want %s among the best matches", lag.MerchantID, day, fact.Yuan(lag.AuthorizedAmount), rows, trace)
	}
}
