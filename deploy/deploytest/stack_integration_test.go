//go:build integration

package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/segmentio/kafka-go"
	"go.yaml.in/yaml/v3"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/logtest"
	"settlemon/pkg/store/storetest"
)

// timeScale shrinks every duration of the project's alerting rules (range
// windows and `for`) for the stack test, which cannot wait half an hour for
// a window to pass; the expressions are otherwise the project's own.
const timeScale = 60

// opsTool finds one of Debian's observability binaries, or skips (fails
// when CI=true, where deploy/local/test.sh installs them).
func opsTool(tb testing.TB, names ...string) string {
	tb.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not installed (Debian: apt-get install prometheus prometheus-alertmanager)", names[0])
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// child starts a process; it is stopped by pid when the test ends, and its
// output shown if the test failed. The channel closes when it exits.
func child(tb testing.TB, name, bin string, args ...string) <-chan struct{} {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		select {
		case <-done:
			tb.Logf("%s had exited", name)
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if tb.Failed() {
			tb.Logf("--- output of %s:\n%s", name, out.String())
		}
	})
	return done
}

// waitHTTP waits until url answers 200, failing if the process serving it
// exits first.
func waitHTTP(tb testing.TB, ctx context.Context, url string, exited <-chan struct{}) {
	tb.Helper()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%s never answered 200 (last error %v)", url, err)
		case <-exited:
			tb.Fatalf("the process serving %s exited", url)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// scaledRules writes the project's rules with every duration divided by
// timeScale.
func scaledRules(tb testing.TB, path string) {
	tb.Helper()
	groups := loadRules(tb)
	scale := func(d model.Duration) model.Duration { return max(model.Duration(time.Second), d/timeScale) }
	for gi := range groups.Groups {
		g := &groups.Groups[gi]
		for ri := range g.Rules {
			r := &g.Rules[ri]
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				tb.Fatal(err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.MatrixSelector:
					n.Range = time.Duration(scale(model.Duration(n.Range)))
				case *parser.SubqueryExpr:
					n.Range = time.Duration(scale(model.Duration(n.Range)))
				}
				return nil
			})
			r.Expr = expr.String()
			if r.For != 0 {
				r.For = scale(r.For)
			}
		}
	}
	writeYAML(tb, path, groups)
}

func writeYAML(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// amAlert is an alert as Alertmanager's API lists it.
type amAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

// watcher polls Alertmanager's alert list and keeps every episode it saw:
// one per alert name and identifying labels and start time.
type watcher struct {
	url  string
	diag func() string // what to show when a wait fails

	mu       sync.Mutex
	episodes map[string]time.Time // key → first seen
	active   map[string]bool      // alertname → listed at the last poll
	seen     map[string]bool      // alertname → ever listed
}

func (w *watcher) poll(tb testing.TB) {
	resp, err := http.Get(w.url + "/api/v2/alerts")
	if err != nil {
		tb.Logf("polling Alertmanager: %v", err)
		return
	}
	defer resp.Body.Close()
	var alerts []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		tb.Logf("decoding Alertmanager's alerts: %v", err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	active := map[string]bool{}
	for _, a := range alerts {
		name := a.Labels["alertname"]
		active[name] = true
		w.seen[name] = true
		key := fmt.Sprintf("%s{source=%q,batch_id=%q} from %s", name, a.Labels["source"], a.Labels["batch_id"], a.StartsAt.Format(time.RFC3339))
		if _, ok := w.episodes[key]; !ok {
			w.episodes[key] = time.Now()
			tb.Logf("Alertmanager lists %s", key)
		}
	}
	for name := range w.active {
		if !active[name] {
			tb.Logf("Alertmanager no longer lists %s", name)
		}
	}
	w.active = active
}

func (w *watcher) run(tb testing.TB, ctx context.Context) {
	for {
		w.poll(tb)
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// until waits for cond over the watcher's state.
func (w *watcher) until(tb testing.TB, ctx context.Context, what string, cond func(active, seen map[string]bool) bool) {
	tb.Helper()
	for {
		w.mu.Lock()
		ok := cond(w.active, w.seen)
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			w.mu.Lock()
			defer w.mu.Unlock()
			tb.Fatalf("waiting for %s: %v (active %v, seen %v)\n%s", what, ctx.Err(), w.active, w.seen, w.diag())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// TestStackAgainstPrometheusAndAlertmanager runs the services as separate
// processes, as the compose stack does, with Debian's Prometheus scraping
// every ops endpoint and evaluating the project's rules (time-scaled), and
// Debian's Alertmanager receiving both those and the alerter's alerts. It
// drives a stalled clearing batch and a burst of dead letters and asserts on
// Alertmanager's API that each expected alert arrives once and resolves, and
// that no other alert fires.
func TestStackAgainstPrometheusAndAlertmanager(t *testing.T) {
	promBin := opsTool(t, "prometheus")
	amBin := opsTool(t, "prometheus-alertmanager", "alertmanager")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// The services, built.
	bin := filepath.Join(dir, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(os.PathSeparator),
		"settlemon/services/ingest", "settlemon/services/joiner", "settlemon/services/alerter")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Broker, topics and a migrated database.
	st := storetest.New(t)
	brokerAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(brokerAddr)
	var brokerPort int
	fmt.Sscan(port, &brokerPort)
	b, err := devbroker.New(devbroker.Config{Port: brokerPort, Partitions: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	specs := []kafkaio.TopicSpec{{Name: "settle.events", Partitions: 2}, {Name: "settle.dlq", Partitions: 1},
		{Name: event.ProfilesTopic, Partitions: 1, Compacted: true}}
	for s := event.Auth; s < event.NumSources; s++ {
		specs = append(specs, kafkaio.TopicSpec{Name: s.DefaultTopic(), Partitions: 1, Compacted: s == event.Merchants})
	}
	if err := kafkaio.EnsureTopics(ctx, k, specs); err != nil {
		t.Fatal(err)
	}

	// Alertmanager: the project's routing and inhibition, delivering
	// nowhere (the test reads its API), without clustering.
	amAddr := freeAddr(t)
	amConfig := filepath.Join(dir, "alertmanager.yml")
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), alertmanagerPath))
	if err != nil {
		t.Fatal(err)
	}
	var am map[string]any
	if err := yaml.Unmarshal(raw, &am); err != nil {
		t.Fatal(err)
	}
	am["receivers"] = []any{map[string]any{"name": "ops-webhook"}}
	writeYAML(t, amConfig, am)
	amDone := child(t, "alertmanager", amBin, "--config.file="+amConfig, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	amURL := "http://" + amAddr
	waitHTTP(t, ctx, amURL+"/-/ready", amDone)

	// The services, each with its ops endpoint on a free port.
	db := []string{"--clickhouse-addr", os.Getenv(storetest.AddrEnv), "--clickhouse-database", st.Database(), "--log-format", "text"}
	common := append([]string{"--kafka-brokers", b.Addr()}, db...)
	targets := map[string]string{}
	exited := map[string]<-chan struct{}{}
	for s := event.Auth; s < event.NumSources; s++ {
		name := "ingest-" + s.String()
		targets[name] = freeAddr(t)
		exited[name] = child(t, name, filepath.Join(bin, "ingest"), append([]string{"--source", s.String(), "--batch", "200", "--ops-listen", targets[name]}, common...)...)
	}
	targets["joiner"] = freeAddr(t)
	exited["joiner"] = child(t, "joiner", filepath.Join(bin, "joiner"), append([]string{"--clock", "live", "--flush-interval", "200ms",
		"--health-interval", "500ms", "--ops-listen", targets["joiner"]}, common...)...)
	targets["alerter"] = freeAddr(t)
	// The alerter's minimum durations and window scaled like the rules'
	// (defaults SourceLagging 2m, PayoutsOverdue 1m, dead-letter window 5m).
	exited["alerter"] = child(t, "alerter", filepath.Join(bin, "alerter"), append([]string{"--alertmanager-url", amURL, "--interval", "500ms",
		"--for", "SourceLagging=2s,PayoutsOverdue=1s", "--dead-letter-window", "5s", "--ops-listen", targets["alerter"]}, db...)...)
	for name, addr := range targets {
		waitHTTP(t, ctx, "http://"+addr+"/healthz", exited[name])
		t.Logf("%s ops endpoint on %s", name, addr)
	}

	// Prometheus: every ops endpoint, the project's rules scaled in time.
	promAddr := freeAddr(t)
	rules := filepath.Join(dir, "rules.yml")
	scaledRules(t, rules)
	var scrapes []any
	names := make([]string, 0, len(targets))
	for name := range targets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		job := strings.SplitN(name, "-", 2)[0]
		scrapes = append(scrapes, map[string]any{"job_name": name, "static_configs": []any{
			map[string]any{"targets": []string{targets[name]}, "labels": map[string]string{"service": name, "job": job}}}})
	}
	writeYAML(t, filepath.Join(dir, "prometheus.yml"), map[string]any{
		"global":         map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files":     []string{"rules.yml"},
		"alerting":       map[string]any{"alertmanagers": []any{map[string]any{"static_configs": []any{map[string]any{"targets": []string{amAddr}}}}}},
		"scrape_configs": scrapes,
	})
	check := exec.CommandContext(ctx, filepath.Join(filepath.Dir(promBin), "promtool"), "check", "config", filepath.Join(dir, "prometheus.yml"))
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check config on the test's configuration: %v\n%s", err, out)
	}
	promDone := child(t, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr)
	waitHTTP(t, ctx, "http://"+promAddr+"/-/ready", promDone)

	promGet := func(path string) string {
		resp, err := http.Get("http://" + promAddr + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return b.String()
	}
	diag := func() string {
		return "Prometheus alerts: " + promGet("/api/v1/alerts") + "\nanomaly counters: " +
			promGet("/api/v1/query?query=settlemon_anomalies_emitted_total") + "\ntargets: " + promGet("/api/v1/targets?state=active")
	}
	w := &watcher{url: amURL, diag: diag, episodes: map[string]time.Time{}, active: map[string]bool{}, seen: map[string]bool{}}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.run(t, wctx)

	// Prometheus has scraped every service twice before any input, so
	// that the counters' zeros are on record and increase() sees the first
	// anomaly as an increase.
	for scraped := ""; scraped != fmt.Sprint(len(targets)); {
		var r struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		_ = json.Unmarshal([]byte(promGet("/api/v1/query?query=count(min_over_time(up%5B1m%5D)%20%3D%3D%201%20and%20count_over_time(up%5B1m%5D)%20%3E%3D%202)")), &r)
		if len(r.Data.Result) == 1 && len(r.Data.Result[0].Value) == 2 {
			scraped, _ = r.Data.Result[0].Value[1].(string)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus did not scrape every service: %s", diag())
		case <-time.After(300 * time.Millisecond):
		}
	}

	// Input: a merchant, heartbeats on every source every 500ms, and a
	// clearing batch whose last progress was two hours ago.
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	publish := func(msgs ...kafka.Message) {
		t.Helper()
		if err := pub.Publish(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	publish(kafka.Message{Topic: event.Merchants.DefaultTopic(), Key: []byte("M1"), Value: fmt.Appendf(nil,
		`{"event_id":"p1","type":"merchant","occurred_at":%q,"merchant_id":"M1","merchant_name":"一号店","registered_mcc":"5812","settlement_mode":"T1","fee_rate":"0.0060","account_ref":"ACCT-1"}`, ts(now.AddDate(0, -1, 0)))})
	hctx, stopHeartbeats := context.WithCancel(ctx)
	defer stopHeartbeats()
	go func() {
		for n := 0; hctx.Err() == nil; n++ {
			var msgs []kafka.Message
			for s := event.Auth; s < event.Merchants; s++ {
				msgs = append(msgs, kafka.Message{Topic: s.DefaultTopic(), Key: []byte("hb-" + s.String()),
					Value: fmt.Appendf(nil, `{"event_id":"hb-%s-%d","type":"heartbeat","occurred_at":%q,"producer":"hb-%s"}`, s, n, ts(time.Now()), s)})
			}
			_ = pub.Publish(hctx, msgs)
			select {
			case <-hctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	stalledAt := now.Add(-2 * time.Hour)
	clearing := func(id, trace string, at time.Time) kafka.Message {
		return kafka.Message{Topic: event.Clearing.DefaultTopic(), Key: []byte(trace), Value: fmt.Appendf(nil,
			`{"event_id":%q,"type":"cleared","occurred_at":%q,"trace_no":%q,"merchant_id":"M1","batch_id":"CLR-STALL","amount":"100.00","fee":"0.60","mcc":"5812","terminal_id":"T1","card_bin":"622848","card_last4":"0427","currency":"CNY"}`,
			id, ts(at), trace)}
	}
	var batch []kafka.Message
	batch = append(batch, kafka.Message{Topic: event.Clearing.DefaultTopic(), Key: []byte("CLR-STALL"),
		Value: fmt.Appendf(nil, `{"event_id":"bo-1","type":"batch_opened","occurred_at":%q,"batch_id":"CLR-STALL"}`, ts(stalledAt))})
	for i := range 3 {
		tr := fmt.Sprintf("T%03d", i)
		publish(kafka.Message{Topic: event.Auth.DefaultTopic(), Key: []byte(tr), Value: fmt.Appendf(nil,
			`{"event_id":"a%d","type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":"M1","terminal_id":"T1","response_code":"00","amount":"100.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
			i, ts(stalledAt.Add(-time.Minute)), tr)})
		batch = append(batch, clearing(fmt.Sprintf("c%d", i), tr, stalledAt))
	}
	publish(batch...)

	// 1. The batch stalls: the alerter's and the rules' alert arrive.
	w.until(t, ctx, "the stalled batch's alerts", func(active, _ map[string]bool) bool {
		return active["BatchStalled"] && active["SettlemonBatchStalled"]
	})

	// 2. A burst of 150 dead letters.
	var bad []kafka.Message
	for i := range 150 {
		bad = append(bad, kafka.Message{Topic: event.Auth.DefaultTopic(), Key: []byte(fmt.Sprint("bad", i)), Value: []byte(`{"event_id":"bad","type":`)})
	}
	publish(bad...)
	w.until(t, ctx, "the dead-letter alerts", func(active, _ map[string]bool) bool {
		return active["DeadLetterRate"] && active["SettlemonDeadLetterRate"]
	})

	// 3. The batch resumes and closes complete.
	for i := 3; i < 5; i++ {
		tr := fmt.Sprintf("T%03d", i)
		at := time.Now()
		publish(kafka.Message{Topic: event.Auth.DefaultTopic(), Key: []byte(tr), Value: fmt.Appendf(nil,
			`{"event_id":"a%d","type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":"M1","terminal_id":"T1","response_code":"00","amount":"100.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
			i, ts(at.Add(-time.Minute)), tr)}, clearing(fmt.Sprintf("c%d", i), tr, at))
	}
	publish(kafka.Message{Topic: event.Clearing.DefaultTopic(), Key: []byte("CLR-STALL"), Value: fmt.Appendf(nil,
		`{"event_id":"bc-1","type":"batch_closed","occurred_at":%q,"batch_id":"CLR-STALL","declared_count":5,"declared_total":"500.00"}`, ts(time.Now()))})

	// 4. Everything resolves.
	w.until(t, ctx, "every alert to resolve", func(active, _ map[string]bool) bool { return len(active) == 0 })
	stopHeartbeats()
	stopWatch()

	want := []string{"BatchStalled", "DeadLetterRate", "SettlemonBatchStalled", "SettlemonDeadLetterRate"}
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []string
	for name := range w.seen {
		seen = append(seen, name)
	}
	sort.Strings(seen)
	if !slices.Equal(seen, want) {
		t.Errorf("Alertmanager listed %v, want exactly %v", seen, want)
	}
	per := map[string]int{}
	for key := range w.episodes {
		per[strings.SplitN(key, "{", 2)[0]]++
	}
	for _, name := range want {
		if per[name] != 1 {
			t.Errorf("%s arrived %d times, want once", name, per[name])
		}
	}
	var keys []string
	for key := range w.episodes {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	t.Logf("episodes:\n  %s", strings.Join(keys, "\n  "))
}
