//go:build integration

package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/segmentio/kafka-go"

	"settlemon/pkg/alert"
	"settlemon/pkg/calendar"
	"settlemon/pkg/console"
	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
	"settlemon/pkg/telemetry"
)

const (
	authTopic      = "pos.authorizations"
	eventsTopic    = "settle.events"
	dlqTopic       = "settle.dlq"
	merchantsTopic = "acq.merchants"
	rulesFile      = "../../deploy/prometheus/rules.yml"
)

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// authJSON is an approved authorization of trace at occurredAt.
func authJSON(id, trace, occurredAt string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":"M000123",`+
		`"terminal_id":"T00871203","response_code":"00","amount":"1288.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
		id, occurredAt, trace)
}

// service is one component with its own registry and ops endpoint, as in its
// own process.
type service struct {
	name string
	addr string
}

func startOps(tb testing.TB, ctx context.Context, name string, deps telemetry.Deps, run func(context.Context) error) service {
	tb.Helper()
	addr := freeAddr(tb)
	srv, err := telemetry.New(telemetry.DefaultConfigOn(addr), deps)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.RunWith(ctx, run) }()
	tb.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("%s: %v", name, err)
			}
		case <-time.After(time.Minute):
			tb.Errorf("%s did not stop", name)
		}
	})
	// RunWith listens before it returns control to run: wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: the ops endpoint does not listen: %v", name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return service{name: name, addr: addr}
}

func (s service) get(tb testing.TB, path string) (int, string) {
	tb.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		tb.Fatalf("%s: GET %s: %v", s.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape GETs /metrics and parses it with the Prometheus text parser.
func (s service) scrape(tb testing.TB) map[string]*dto.MetricFamily {
	tb.Helper()
	code, body := s.get(tb, "/metrics")
	if code != http.StatusOK {
		tb.Fatalf("%s: GET /metrics = %d: %s", s.name, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("%s: parsing /metrics: %v", s.name, err)
	}
	return fams
}

// value returns the value of the series of name whose labels include want,
// and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// expectation is one series that must be present with a plausible value.
type expectation struct {
	name   string
	labels map[string]string
	ok     func(float64) bool
	what   string
}

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
func exactly(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
func between(lo, hi float64) func(float64) bool {
	return func(v float64) bool { return v >= lo && v <= hi }
}

// missing lists the expectations fams does not meet.
func missing(fams map[string]*dto.MetricFamily, want []expectation) []string {
	var out []string
	for _, e := range want {
		v, ok := value(fams, e.name, e.labels)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s%v: no series", e.name, e.labels))
		case !e.ok(v):
			out = append(out, fmt.Sprintf("%s%v = %v, want %s", e.name, e.labels, v, e.what))
		}
	}
	return out
}

// waitFor scrapes s until every expectation holds, then returns the scrape.
func waitFor(tb testing.TB, ctx context.Context, s service, want []expectation) map[string]*dto.MetricFamily {
	tb.Helper()
	for {
		fams := s.scrape(tb)
		miss := missing(fams, want)
		if len(miss) == 0 {
			return fams
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%s /metrics never showed:\n  %s", s.name, strings.Join(miss, "\n  "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestEveryServiceExposesItsMetrics runs the real ingest, joiner and console
// against an in-process broker and ClickHouse, each with its own registry and
// ops endpoint as in its own process; pushes valid, duplicate and invalid
// authorizations through; scrapes every /metrics over HTTP, parses it with the
// Prometheus text parser and requires every listed series with a plausible
// value; checks /healthz and /readyz; and requires every metric the alerting
// rules read to be one of the scraped series.
func TestEveryServiceExposesItsMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// One store per "process": the joiner's and ingest's sink metrics are
	// their own, on the same database.
	ingestStore := storetest.New(t)
	openStore := func() *store.Store {
		st, err := store.New(ctx, storetest.Config(t, ingestStore.Database()), logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	joinerStore, consoleStore := openStore(), openStore()

	b, err := devbroker.New(devbroker.Config{Port: 0, Partitions: 1}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	if err := kafkaio.EnsureTopics(ctx, k, []kafkaio.TopicSpec{
		{Name: authTopic, Partitions: 1}, {Name: eventsTopic, Partitions: 2}, {Name: dlqTopic, Partitions: 1}, {Name: merchantsTopic, Partitions: 1},
		{Name: event.ProfilesTopic, Partitions: 1, Compacted: true},
	}); err != nil {
		t.Fatal(err)
	}
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	checks := func(st *store.Store) []telemetry.Check {
		return []telemetry.Check{telemetry.PingCheck("clickhouse", st), telemetry.BrokerCheck(k)}
	}
	runCtx := ctx

	// ingest
	ic := ingest.DefaultConfig().ForSource(event.Auth)
	ic.Group, ic.MaxWait, ic.HealthInterval, ic.RetryMaxElapsed = "telemetry-test-ingest", 100*time.Millisecond, time.Second, 10*time.Second
	in, err := ingest.New(ic, ingest.Deps{Kafka: k, Store: ingestStore, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ingestReg := telemetry.NewRegistry()
	if err := ingestStore.Instrument(ingestReg); err != nil {
		t.Fatal(err)
	}
	ingestReg.MustRegister(ingest.NewCollector(in))
	ingestSvc := startOps(t, runCtx, "ingest", telemetry.Deps{Gatherer: ingestReg, Checks: checks(ingestStore), Logger: logger}, in.Run)

	// joiner
	jc := joiner.DefaultConfig()
	jc.Group, jc.Clock, jc.FlushInterval, jc.HealthInterval = "telemetry-test-joiner", joiner.ClockReplay, 200*time.Millisecond, 200*time.Millisecond
	jn, err := joiner.New(jc, joiner.Deps{Kafka: k, Store: joinerStore, Schedule: sched, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	joinerReg := telemetry.NewRegistry()
	if err := joinerStore.Instrument(joinerReg); err != nil {
		t.Fatal(err)
	}
	joinerReg.MustRegister(joiner.NewCollector(jn))
	joinerSvc := startOps(t, runCtx, "joiner", telemetry.Deps{Gatherer: joinerReg, Checks: checks(joinerStore), Logger: logger}, jn.Run)

	// console
	ex, err := explain.New(consoleStore, sched)
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := freeAddr(t)
	cons, err := console.New(console.DefaultConfigOn(apiAddr, ""), console.Deps{Explainer: ex, DB: consoleStore, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	consoleReg := telemetry.NewRegistry()
	if err := cons.Instrument(consoleReg); err != nil {
		t.Fatal(err)
	}
	consoleSvc := startOps(t, runCtx, "console", telemetry.Deps{Gatherer: consoleReg,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", consoleStore)}, Logger: logger}, cons.Run)

	// Input: three approved sales, a second authorization of the first trace
	// (duplicate_trace), and two bad messages.
	const at = "2026-09-28T10:15:32+08:00"
	msgs := []kafka.Message{
		{Key: []byte("627100000001"), Value: authJSON("a-1", "627100000001", at)},
		{Key: []byte("627100000002"), Value: authJSON("a-2", "627100000002", at)},
		{Value: []byte(`{"event_id":"bad-1","type":"authorization","amount":`)}, // malformed JSON
		{Key: []byte("627100000003"), Value: authJSON("a-3", "627100000003", "2026-09-28T10:20:00+08:00")},
		{Value: []byte(`{"event_id":"bad-2","type":"authorization","occurred_at":"2026-09-28T10:15:32+08:00"}`)}, // fields missing
		{Key: []byte("627100000001"), Value: authJSON("a-1-again", "627100000001", "2026-09-28T10:21:00+08:00")},
	}
	var wantBytes int
	for _, m := range msgs {
		wantBytes += len(m.Key) + len(m.Value)
	}
	w, err := kafkaio.NewWriter(k, authTopic, kafkaio.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	ingestLabels := map[string]string{"source": "auth", "topic": authTopic}
	ingestWant := []expectation{
		{"settlemon_ingest_consumed_messages_total", ingestLabels, exactly(6), "6"},
		{"settlemon_ingest_consumed_bytes_total", ingestLabels, exactly(float64(wantBytes)), fmt.Sprint(wantBytes)},
		{"settlemon_ingest_archived_events_total", ingestLabels, exactly(4), "4"},
		{"settlemon_ingest_forwarded_events_total", ingestLabels, exactly(4), "4"},
		{"settlemon_ingest_batches_total", ingestLabels, atLeast(1), ">= 1"},
		{"settlemon_dead_letters_total", map[string]string{"source": "auth", "reason": string(event.ReasonMalformedJSON)}, exactly(1), "1"},
		{"settlemon_dead_letters_total", map[string]string{"source": "auth", "reason": string(event.ReasonMissingField)}, exactly(1), "1"},
		{"settlemon_consumer_lag_messages", map[string]string{"consumer": "ingest", "group": "telemetry-test-ingest", "topic": authTopic, "partition": "0"}, exactly(0), "0 (caught up)"},
		{"settlemon_ingest_last_batch_timestamp_seconds", ingestLabels, between(float64(time.Now().Add(-time.Hour).Unix()), float64(time.Now().Add(time.Hour).Unix())), "about now"},
		{"settlemon_ingest_watermark_timestamp_seconds", ingestLabels, exactly(float64(mustTime(t, "2026-09-28T10:21:00+08:00").Unix())), "the highest occurred_at read"},
		{"settlemon_facts_written_total", map[string]string{"table": "auth_events"}, exactly(4), "4"},
		{"settlemon_facts_written_total", map[string]string{"table": "dead_letters"}, exactly(2), "2"},
		{"settlemon_sink_batch_rows", map[string]string{"table": "auth_events"}, atLeast(1), ">= 1 observation"},
		{"settlemon_sink_insert_duration_seconds", map[string]string{"table": "auth_events"}, atLeast(1), ">= 1 observation"},
		{"settlemon_sink_insert_retries_total", map[string]string{"table": "auth_events"}, exactly(0), "0"},
		{"settlemon_sink_insert_failures_total", map[string]string{"table": "auth_events"}, exactly(0), "0"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
		{"process_resident_memory_bytes", nil, atLeast(1), "> 0"},
	}
	ingestFams := waitFor(t, ctx, ingestSvc, ingestWant)

	joinerWant := []expectation{
		{"settlemon_joiner_records_total", nil, atLeast(4), ">= 4 (the events and watermarks)"},
		{"settlemon_joiner_commits_total", nil, atLeast(1), ">= 1"},
		{"settlemon_joiner_open_traces", nil, exactly(3), "3 traces"},
		{"settlemon_joiner_state_bytes", nil, atLeast(1), "> 0"},
		{"settlemon_consumer_lag_messages", map[string]string{"consumer": "joiner", "group": "telemetry-test-joiner", "topic": eventsTopic, "partition": "0"}, exactly(0), "0 (caught up)"},
		{"settlemon_consumer_lag_messages", map[string]string{"consumer": "joiner", "group": "telemetry-test-joiner", "topic": eventsTopic, "partition": "1"}, exactly(0), "0 (caught up)"},
		{"settlemon_watermark_timestamp_seconds", map[string]string{"source": "auth"}, exactly(float64(mustTime(t, "2026-09-28T10:21:00+08:00").Unix())),
			"the highest auth event time broadcast by ingest"},
		{"settlemon_source_watermark_lag_seconds", map[string]string{"source": "auth"}, atLeast(0), ">= 0"},
		{"settlemon_source_lagging", map[string]string{"source": "auth"}, exactly(0), "0"},
		{"settlemon_source_withheld_checks", map[string]string{"source": "auth"}, atLeast(0), ">= 0"},
		{"settlemon_anomalies_emitted_total", map[string]string{"kind": "duplicate_trace", "status": "open"}, exactly(1), "1"},
		{"settlemon_anomalies_emitted_total", map[string]string{"kind": "batch_stalled", "status": "open"}, exactly(0), "0 (initialised)"},
		{"settlemon_facts_written_total", map[string]string{"table": "anomalies"}, atLeast(1), ">= 1"},
		{"settlemon_sink_batch_rows", map[string]string{"table": "anomalies"}, atLeast(1), ">= 1 observation"},
		{"settlemon_sink_insert_duration_seconds", map[string]string{"table": "anomalies"}, atLeast(1), ">= 1 observation"},
		{"settlemon_sink_insert_retries_total", map[string]string{"table": "anomalies"}, exactly(0), "0"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	}
	joinerFams := waitFor(t, ctx, joinerSvc, joinerWant)

	// The console: one explained trace, one unknown, one bad request.
	for _, path := range []string{"/api/v1/traces/627100000001/explain", "/api/v1/traces/999999999999/explain", "/api/v1/traces/not.a.trace/explain"} {
		resp, err := http.Get("http://" + apiAddr + path)
		if err != nil {
			t.Fatalf("console: GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	explainRoute := "GET /api/v1/traces/{trace_no}/explain"
	consoleWant := []expectation{
		{"settlemon_http_requests_total", map[string]string{"server": "console", "handler": explainRoute, "method": "GET", "code": "200"}, exactly(1), "1"},
		{"settlemon_http_requests_total", map[string]string{"server": "console", "handler": explainRoute, "method": "GET", "code": "404"}, exactly(1), "1"},
		{"settlemon_http_requests_total", map[string]string{"server": "console", "handler": explainRoute, "method": "GET", "code": "400"}, exactly(1), "1"},
		{"settlemon_http_request_duration_seconds", map[string]string{"server": "console", "handler": explainRoute, "method": "GET"}, exactly(3), "3 observations"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	}
	consoleFams := waitFor(t, ctx, consoleSvc, consoleWant)

	// The alerter: its own registry with the alert metrics, evaluating
	// against the same database (one duplicate_trace anomaly, no alert).
	alertStore := openStore()
	alertReg := telemetry.NewRegistry()
	alertMetrics, err := telemetry.NewAlertMetrics(alertReg)
	if err != nil {
		t.Fatal(err)
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer sink.Close()
	acfg := alert.DefaultConfig()
	acfg.Interval, acfg.WebhookURL = 100*time.Millisecond, sink.URL
	alerter, err := alert.New(acfg, alert.Deps{Store: alertStore, Logger: logger, Metrics: alertMetrics})
	if err != nil {
		t.Fatal(err)
	}
	alerterSvc := startOps(t, runCtx, "alerter", telemetry.Deps{Gatherer: alertReg,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", alertStore)}, Logger: logger}, alerter.Run)
	alerterWant := []expectation{
		{"settlemon_alerts_firing", map[string]string{"alertname": "PayoutsOverdue"}, exactly(0), "0 (nothing overdue)"},
		{"settlemon_alerts_firing", map[string]string{"alertname": "BatchStalled"}, exactly(0), "0"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	}
	alerterFams := waitFor(t, ctx, alerterSvc, alerterWant)

	// Health and readiness of every service.
	for _, s := range []service{ingestSvc, joinerSvc, consoleSvc, alerterSvc} {
		if code, body := s.get(t, "/healthz"); code != http.StatusOK {
			t.Errorf("%s: GET /healthz = %d %s", s.name, code, body)
		}
		if code, body := s.get(t, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
			t.Errorf("%s: GET /readyz = %d %s", s.name, code, body)
		}
	}
	// Readiness names the failing dependency: a broker that is not there.
	dead := kafkaio.DefaultConfig()
	dead.Brokers = []string{freeAddr(t)}
	notReady := startOps(t, runCtx, "unready", telemetry.Deps{Gatherer: telemetry.NewRegistry(),
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", consoleStore), telemetry.BrokerCheck(dead)}},
		func(ctx context.Context) error { <-ctx.Done(); return nil })
	if code, body := notReady.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"check":"kafka"`) {
		t.Errorf("GET /readyz with the broker down = %d %s, want 503 naming the kafka check", code, body)
	}

	// Every metric an alerting rule reads is exposed by a service.
	scraped := map[string]bool{"up": true} // Prometheus' own
	for _, fams := range []map[string]*dto.MetricFamily{ingestFams, joinerFams, consoleFams, alerterFams} {
		for name, f := range fams {
			scraped[name] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					scraped[name+s] = true
				}
			}
		}
	}
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, p, logger)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", rulesFile, errors.Join(errs...))
	}
	rules := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			rules++
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %s: %v", rulesFile, r.Alert, err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && !scraped[vs.Name] {
					t.Errorf("%s: alert %s reads %s, which no service exposes", rulesFile, r.Alert, vs.Name)
				}
				return nil
			})
		}
	}
	if rules == 0 {
		t.Errorf("%s has no rules", rulesFile)
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return at
}
