package console

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

	"settlemon/pkg/explain"
	"settlemon/pkg/text"
)

// fakeExplainer answers from a fixed map and records the last as-of.
type fakeExplainer struct {
	traces   map[string]explain.Explanation
	err      error
	lastAsOf time.Time
	lastLang text.Lang
}

func (f *fakeExplainer) ExplainIn(_ context.Context, traceNo string, asOf time.Time, lang text.Lang) (explain.Explanation, error) {
	f.lastAsOf, f.lastLang = asOf, lang
	if f.err != nil {
		return explain.Explanation{}, f.err
	}
	if x, ok := f.traces[traceNo]; ok {
		return x, nil
	}
	return explain.Explanation{TraceNo: traceNo, Status: explain.StatusNotFound, Summary: "nothing archived for trace " + traceNo}, nil
}

type fakeDB struct{ err error }

func (d fakeDB) Ping(context.Context) error { return d.err }

func pendingExplanation() explain.Explanation {
	due := time.Date(2026, 2, 24, 18, 0, 0, 0, time.FixedZone("CST", 8*3600))
	return explain.Explanation{
		TraceNo: "TR1", MerchantID: "M001", Mode: "T1", Status: explain.StatusPending,
		Summary:          "T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet",
		Reply:            "This sale settles T1: the money is expected by Tue 2026-02-24 18:00 (postponed for the Spring Festival holiday) and is not overdue; thank you for your patience.",
		Lang:             "en",
		ExpectedPayoutAt: &due, CalendarVersion: "cn-mainland-2026.1",
		Timeline:  []explain.Stage{{Stage: "authorization", At: due.Add(-260 * time.Hour), Amount: "1288.00", Source: "pos.authorizations"}},
		Anomalies: []explain.Anomaly{},
	}
}

func newConsole(tb testing.TB, cfg Config, ex Explainer, db Pinger) *Console {
	tb.Helper()
	c, err := New(cfg, Deps{Explainer: ex, DB: db})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func do(tb testing.TB, h http.Handler, method, target, token string) (*http.Response, string) {
	tb.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:8080" // a loopback name, as a browser on this machine sends
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		listen, token string
		cert, key     string
		insecure      bool
		ok            bool
	}{
		{listen: "127.0.0.1:8080", ok: true},
		{listen: "[::1]:8080", ok: true},
		{listen: "localhost:8080", ok: true},
		{listen: "127.0.0.1:0", ok: true},
		{listen: "127.0.0.1:8080", token: "s3cret", ok: true},
		{listen: "127.0.0.1:8443", cert: "c.pem", key: "k.pem", ok: true},
		{listen: "0.0.0.0:8080"},
		{listen: ":8080"},
		{listen: "10.1.2.3:8080"},
		{listen: "0.0.0.0:8080", token: "s3cret"}, // the token would travel in clear
		{listen: "0.0.0.0:8443", token: "s3cret", cert: "c.pem", key: "k.pem", ok: true},
		{listen: ":8443", token: "s3cret", cert: "c.pem", key: "k.pem", ok: true},
		{listen: "0.0.0.0:8080", token: "s3cret", insecure: true, ok: true}, // a TLS proxy in front
		{listen: ":8080", token: "s3cret", insecure: true, ok: true},
		{listen: "0.0.0.0:8080", insecure: true},              // still needs the token
		{listen: "0.0.0.0:8443", cert: "c.pem", key: "k.pem"}, // and with TLS too
		{listen: "127.0.0.1:8443", cert: "c.pem"},             // a certificate without its key
		{listen: "127.0.0.1:8443", key: "k.pem"},
		{listen: "127.0.0.1"},
		{listen: "0.0.0.0:8080", token: "with space", insecure: true},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Listen, cfg.Token, cfg.TLSCertFile, cfg.TLSKeyFile, cfg.AllowInsecureHTTP = tt.listen, tt.token, tt.cert, tt.key, tt.insecure
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt, err, tt.ok)
		}
	}
	if _, err := New(DefaultConfigOn("0.0.0.0:8080", ""), Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}}); err == nil {
		t.Error("New accepted a listen address beyond loopback without a token")
	}
	if _, err := New(DefaultConfig(), Deps{DB: fakeDB{}}); err == nil {
		t.Error("New accepted no explainer")
	}
}

func TestExplainEndpoint(t *testing.T) {
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": pendingExplanation()}}
	h := newConsole(t, DefaultConfig(), ex, fakeDB{}).Handler()

	tests := []struct {
		name       string
		target     string
		wantStatus int
		wantType   string
		wantBody   []string
	}{
		{"json", "/api/v1/traces/TR1/explain", 200, "application/json",
			[]string{`"trace_no": "TR1"`, `"status": "pending"`, `"expected_payout_at": "2026-02-24T18:00:00+08:00"`, `"amount": "1288.00"`}},
		{"json explicitly", "/api/v1/traces/TR1/explain?format=json", 200, "application/json", []string{`"status": "pending"`}},
		{"text", "/api/v1/traces/TR1/explain?format=text", 200, "text/plain; charset=utf-8",
			[]string{"status:   pending\n", "summary:  T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet\n"}},
		{"not found", "/api/v1/traces/NOPE/explain", 404, "application/json",
			[]string{`"error": "nothing archived for trace NOPE"`, `"status": 404`}},
		{"trace too long", "/api/v1/traces/" + strings.Repeat("9", 33) + "/explain", 400, "application/json", []string{`"status": 400`}},
		{"trace with a space", "/api/v1/traces/a%20b/explain", 400, "application/json", []string{"invalid trace number"}},
		{"trace with a slash", "/api/v1/traces/a%2Fb/explain", 400, "application/json", []string{"invalid trace number"}},
		{"bad format", "/api/v1/traces/TR1/explain?format=xml", 400, "application/json", []string{"want json or text"}},
		{"bad as_of", "/api/v1/traces/TR1/explain?as_of=yesterday", 400, "application/json", []string{"RFC 3339"}},
		{"unknown endpoint", "/api/v1/nothing", 404, "application/json", []string{"no such API endpoint"}},
		{"healthz", "/healthz", 200, "application/json", []string{`"status": "ok"`}},
		{"readyz", "/readyz", 200, "application/json", []string{`"status": "ready"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, h, http.MethodGet, tt.target, "")
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", res.StatusCode, tt.wantStatus, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing X-Content-Type-Options")
			}
		})
	}

	res, _ := do(t, h, http.MethodGet, "/api/v1/traces/TR1/explain?as_of=2026-02-20T10:00:00%2B08:00", "")
	if res.StatusCode != 200 || !ex.lastAsOf.Equal(time.Date(2026, 2, 20, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("as_of: status %d, explainer got %v", res.StatusCode, ex.lastAsOf)
	}
}

// TestExplainTextEscapes: ?format=text shows a stored merchant id with NUL,
// an ANSI colour and a right-to-left override escaped; JSON keeps it exact.
func TestExplainTextEscapes(t *testing.T) {
	const evil = "M\x00\x1b[31m\u202E1"
	x := pendingExplanation()
	x.MerchantID = evil
	x.Timeline[0].Detail = "approved\x1b[2J\nstatus:   paid"
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": x}}
	h := newConsole(t, DefaultConfig(), ex, fakeDB{}).Handler()

	_, text := do(t, h, http.MethodGet, "/api/v1/traces/TR1/explain?format=text", "")
	for _, want := range []string{`merchant M\x00\x1b[31m\u202e1  mode T1` + "\n", `approved\x1b[2J\nstatus:   paid`} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"\x00", "\x1b", "\u202e"} {
		if strings.Contains(text, bad) {
			t.Errorf("text holds %q raw:\n%q", bad, text)
		}
	}

	_, body := do(t, h, http.MethodGet, "/api/v1/traces/TR1/explain", "")
	var back explain.Explanation
	if err := json.Unmarshal([]byte(body), &back); err != nil {
		t.Fatal(err)
	}
	if back.MerchantID != evil {
		t.Errorf("JSON merchant_id = %q, want the exact %q", back.MerchantID, evil)
	}
}

func TestExplainJSONShape(t *testing.T) {
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": pendingExplanation()}}
	h := newConsole(t, DefaultConfig(), ex, fakeDB{}).Handler()
	_, body := do(t, h, http.MethodGet, "/api/v1/traces/TR1/explain", "")
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	for _, k := range []string{"trace_no", "merchant_id", "mode", "status", "summary", "expected_payout_at",
		"calendar_version", "calendar_fallback", "timeline", "anomalies"} {
		if _, ok := m[k]; !ok {
			t.Errorf("response lacks %q", k)
		}
	}
	var back explain.Explanation
	if err := json.Unmarshal([]byte(body), &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary != pendingExplanation().Summary || len(back.Timeline) != 1 || back.Timeline[0].Stage != "authorization" {
		t.Errorf("round trip = %+v", back)
	}
}

func TestAuthorization(t *testing.T) {
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": pendingExplanation()}}
	h := newConsole(t, DefaultConfigOn("127.0.0.1:8080", "s3cret"), ex, fakeDB{}).Handler()
	tests := []struct {
		name, target, token string
		want                int
	}{
		{"no token", "/api/v1/traces/TR1/explain", "", 401},
		{"wrong token", "/api/v1/traces/TR1/explain", "s3cre", 401},
		{"longer token", "/api/v1/traces/TR1/explain", "s3cret2", 401},
		{"right token", "/api/v1/traces/TR1/explain", "s3cret", 200},
		{"unknown endpoint needs the token too", "/api/v1/nothing", "", 401},
		{"health needs none", "/healthz", "", 200},
		{"readiness needs none", "/readyz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, h, http.MethodGet, tt.target, tt.token)
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d; body %s", res.StatusCode, tt.want, body)
			}
			if tt.want == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Error("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	for header, want := range map[string]int{
		"Basic czNjcmV0": 401, "s3cret": 401, "Bearer": 401, "Bearer ": 401, "bearer s3cret": 200, "BEARER s3cret": 200,
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/TR1/explain", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: status %d, want %d", header, rec.Code, want)
		}
	}
}

func TestFailures(t *testing.T) {
	h := newConsole(t, DefaultConfig(), &fakeExplainer{err: errors.New("connection refused")}, fakeDB{err: errors.New("down")}).Handler()
	res, body := do(t, h, http.MethodGet, "/api/v1/traces/TR1/explain", "")
	if res.StatusCode != 500 || strings.Contains(body, "connection refused") {
		t.Errorf("explainer failure: status %d, body %s (want 500 without internals)", res.StatusCode, body)
	}
	if res, _ := do(t, h, http.MethodGet, "/readyz", ""); res.StatusCode != 503 {
		t.Errorf("readyz with the database down: %d, want 503", res.StatusCode)
	}
	if res, _ := do(t, h, http.MethodGet, "/healthz", ""); res.StatusCode != 200 {
		t.Errorf("healthz with the database down: %d, want 200", res.StatusCode)
	}
	if res, _ := do(t, h, http.MethodPost, "/healthz", ""); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", res.StatusCode)
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": pendingExplanation()}}
	c := newConsole(t, DefaultConfig(), ex, fakeDB{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()

	res, err := http.Get("http://" + ln.Addr().String() + "/api/v1/traces/TR1/explain")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
