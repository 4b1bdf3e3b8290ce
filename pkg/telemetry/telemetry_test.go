package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func newServer(tb testing.TB, deps Deps) *Server {
	tb.Helper()
	if deps.Gatherer == nil {
		deps.Gatherer = prometheus.NewRegistry()
	}
	s, err := New(DefaultConfigOn("127.0.0.1:0"), deps)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func get(tb testing.TB, h http.Handler, path string) (int, status) {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var st status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		tb.Fatalf("GET %s: body %q is not JSON: %v", path, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return rec.Code, st
}

func check(name string, err error, calls *[]string) Check {
	return Check{Name: name, Func: func(ctx context.Context) error {
		*calls = append(*calls, name)
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("check called without a deadline")
		}
		return err
	}}
}

func TestHealthzIsAlwaysOK(t *testing.T) {
	var calls []string
	s := newServer(t, Deps{Checks: []Check{check("clickhouse", errors.New("down"), &calls)}})
	code, st := get(t, s.Handler(), "/healthz")
	if code != http.StatusOK || st.Status != "ok" {
		t.Errorf("GET /healthz = %d %+v, want 200 ok", code, st)
	}
	if len(calls) != 0 {
		t.Errorf("/healthz ran readiness checks %v; it must only say the process is alive", calls)
	}
}

func TestReadyz(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:19000: connection refused")
	tests := []struct {
		name      string
		checks    []error // one check per entry, named c0, c1, ...
		wantCode  int
		wantCheck string
		wantCalls int
	}{
		{"no checks", nil, http.StatusOK, "", 0},
		{"all pass", []error{nil, nil}, http.StatusOK, "", 2},
		{"first fails", []error{down, nil}, http.StatusServiceUnavailable, "c0", 1},
		{"second fails", []error{nil, down}, http.StatusServiceUnavailable, "c1", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			var checks []Check
			for i, err := range tt.checks {
				checks = append(checks, check("c"+string(rune('0'+i)), err, &calls))
			}
			s := newServer(t, Deps{Checks: checks})
			code, st := get(t, s.Handler(), "/readyz")
			if code != tt.wantCode {
				t.Errorf("code %d, want %d (%+v)", code, tt.wantCode, st)
			}
			if st.Check != tt.wantCheck {
				t.Errorf("failing check %q, want %q", st.Check, tt.wantCheck)
			}
			if tt.wantCheck != "" && st.Error != down.Error() {
				t.Errorf("error %q, want the check's error %q", st.Error, down.Error())
			}
			if tt.wantCheck == "" && st.Status != "ready" {
				t.Errorf("status %q, want ready", st.Status)
			}
			if len(calls) != tt.wantCalls {
				t.Errorf("checks called %v, want %d calls", calls, tt.wantCalls)
			}
		})
	}
}

func TestReadyzCheckTimesOut(t *testing.T) {
	slow := Check{Name: "kafka", Func: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	s, err := New(Config{Listen: "127.0.0.1:0", CheckTimeout: 50 * time.Millisecond, ShutdownTimeout: DefaultConfig().ShutdownTimeout}, Deps{Gatherer: prometheus.NewRegistry(), Checks: []Check{slow}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, st := get(t, s.Handler(), "/readyz")
	if code != http.StatusServiceUnavailable || st.Check != "kafka" || !strings.Contains(st.Error, "deadline") {
		t.Errorf("GET /readyz = %d %+v, want 503 naming kafka with a deadline error", code, st)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging check held /readyz for %v", d)
	}
}

func TestMetricsServesTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settlemon_test_things_total", Help: "Things."}, []string{"kind"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(3)
	s := newServer(t, Deps{Gatherer: reg})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	f, ok := fams["settlemon_test_things_total"]
	if !ok || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter().GetValue() != 3 {
		t.Errorf("settlemon_test_things_total not served as 3: %v", f)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{DefaultConfigOn("127.0.0.1:9101"), ""},
		{DefaultConfigOn("0.0.0.0:9101"), ""},
		{DefaultConfigOn("127.0.0.1"), "want host:port"},
		{DefaultConfigOn(""), "want host:port"},
		{Config{Listen: "127.0.0.1:1", CheckTimeout: -1}, "must be positive"},
		{Config{Listen: "127.0.0.1:1", CheckTimeout: time.Second, ShutdownTimeout: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want one containing %q", tt.cfg, err, tt.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name string
		deps Deps
	}{
		{"no registry", Deps{}},
		{"unnamed check", Deps{Gatherer: reg, Checks: []Check{{Func: ok}}}},
		{"check without function", Deps{Gatherer: reg, Checks: []Check{{Name: "x"}}}},
		{"duplicate check", Deps{Gatherer: reg, Checks: []Check{{Name: "x", Func: ok}, {Name: "x", Func: ok}}}},
	}
	for _, tt := range tests {
		if _, err := New(Config{}, tt.deps); err == nil {
			t.Errorf("%s: New accepted it", tt.name)
		}
	}
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

func TestRunWithServesWhileRunRuns(t *testing.T) {
	addr := freeAddr(t)
	s, err := New(DefaultConfigOn(addr), Deps{Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := errors.New("the service's own error")
	err = s.RunWith(ctx, func(context.Context) error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Errorf("GET /healthz while running: %v", err)
			return runErr
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz while running = %d", resp.StatusCode)
		}
		return runErr
	})
	if !errors.Is(err, runErr) {
		t.Errorf("RunWith returned %v, want the run's error", err)
	}
	// Once run returned, the endpoint is gone.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the ops endpoint still answers after run returned")
	}
}

func TestRunWithFailsFastOnATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := New(DefaultConfigOn(l.Addr().String()), Deps{Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	err = s.RunWith(context.Background(), func(context.Context) error { ran = true; return nil })
	if err == nil || ran {
		t.Errorf("RunWith on a taken port: err %v, run called %v; want an error before run", err, ran)
	}
}

func TestRunWithStopsOnCancel(t *testing.T) {
	s, err := New(DefaultConfigOn(freeAddr(t)), Deps{Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.RunWith(ctx, func(ctx context.Context) error { <-ctx.Done(); return nil })
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunWith after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWith did not return after its context was cancelled")
	}
}

func TestAlertMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewAlertMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Receivers("alertmanager", "webhook")
	var o AlertObserver = m
	o.SetFiring("SettlemonBatchStalled", "critical", 2)
	o.SetFiring("SettlemonBatchStalled", "critical", 1)
	o.Notified("alertmanager", nil)
	o.Notified("alertmanager", errors.New("503"))
	o.Notified("alertmanager", nil)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += "," + l.GetValue()
			}
			got[key] = mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"settlemon_alerts_firing,SettlemonBatchStalled,critical":  1,
		"settlemon_alert_notifications_total,failed,alertmanager": 1,
		"settlemon_alert_notifications_total,sent,alertmanager":   2,
		"settlemon_alert_notifications_total,failed,webhook":      0, // from the start: rate() sees the first failure
		"settlemon_alert_notifications_total,sent,webhook":        0,
	}
	for k, v := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("no series %s (all: %v)", k, got)
		}
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, err := NewAlertMetrics(reg); err == nil {
		t.Error("registering the alert metrics twice on one registry succeeded")
	}
}
