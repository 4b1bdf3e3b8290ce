package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver is an httptest server that records request bodies and answers
// with the queued status codes (200 once they run out).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	paths  []string
	bodies [][]byte
	codes  []int
}

func newReceiver(tb testing.TB, codes ...int) *receiver {
	tb.Helper()
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.paths = append(r.paths, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type"))
		r.bodies = append(r.bodies, b)
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	tb.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() ([]string, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...), append([][]byte(nil), r.bodies...)
}

var fastRetry = RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 5 * time.Second}

func firingNote() Notification {
	labels := map[string]string{LabelAlertName: BatchStalled, LabelSeverity: "critical", LabelBatchID: "PB-1"}
	return Notification{Status: Firing, Fingerprint: Fingerprint(labels), Labels: labels,
		Annotations: map[string]string{AnnotationSummary: "payouts batch PB-1 stalled", AnnotationAction: "restart the batch"},
		StartsAt:    t0.Add(-time.Hour)}
}

func TestAlertmanagerPayload(t *testing.T) {
	rcv := newReceiver(t)
	now := func() time.Time { return t0.Add(500 * time.Millisecond) }
	am, err := NewAlertmanager(AlertmanagerConfig{URL: rcv.URL + "/", GeneratorURL: "http://127.0.0.1:8080/", FiringFor: 5 * time.Hour},
		rcv.Client(), now)
	if err != nil {
		t.Fatal(err)
	}
	fire := firingNote()
	res := fire
	res.Status, res.EndsAt = Resolved, t0.Add(-30*time.Minute)
	for _, n := range []Notification{fire, res} {
		if err := am.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	paths, bodies := rcv.requests()
	if len(paths) != 2 || paths[0] != "POST /api/v2/alerts application/json" {
		t.Fatalf("requests = %v", paths)
	}
	want := []string{
		`[{"labels":{"alertname":"BatchStalled","batch_id":"PB-1","severity":"critical"},"annotations":{"action":"restart the batch","summary":"payouts batch PB-1 stalled"},"startsAt":"2025-10-01T01:00:00Z","endsAt":"2025-10-01T07:00:00Z","generatorURL":"http://127.0.0.1:8080/"}]`,
		`[{"labels":{"alertname":"BatchStalled","batch_id":"PB-1","severity":"critical"},"annotations":{"action":"restart the batch","summary":"payouts batch PB-1 stalled"},"startsAt":"2025-10-01T01:00:00Z","endsAt":"2025-10-01T01:30:00Z","generatorURL":"http://127.0.0.1:8080/"}]`,
	}
	for i, b := range bodies {
		if string(b) != want[i] {
			t.Errorf("body %d:\n got %s\nwant %s", i, b, want[i])
		}
	}
}

func TestAlertmanagerClampsTimes(t *testing.T) {
	am, err := NewAlertmanager(AlertmanagerConfig{URL: "http://127.0.0.1:9093", FiringFor: time.Hour}, http.DefaultClient, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	tests := []struct {
		name               string
		n                  Notification
		wantStart, wantEnd time.Time
	}{
		{"firing: ends after the firing time", Notification{Status: Firing, StartsAt: t0.Add(-time.Hour)}, t0.Add(-time.Hour), t0.Add(time.Hour)},
		{"firing from the future starts now", Notification{Status: Firing, StartsAt: t0.Add(24 * time.Hour)}, t0, t0.Add(time.Hour)},
		{"resolved in the future ends now", Notification{Status: Resolved, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)}, t0.Add(-time.Hour), t0},
		{"resolved both in the future", Notification{Status: Resolved, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}, t0, t0},
		{"resolved without an end ends now", Notification{Status: Resolved, StartsAt: t0.Add(-time.Hour)}, t0.Add(-time.Hour), t0},
	}
	for _, tc := range tests {
		p := am.Postable(tc.n, now)
		if !p.StartsAt.Equal(tc.wantStart) || !p.EndsAt.Equal(tc.wantEnd) {
			t.Errorf("%s: %v→%v, want %v→%v", tc.name, p.StartsAt, p.EndsAt, tc.wantStart, tc.wantEnd)
		}
	}
}

func TestWebhookPayload(t *testing.T) {
	rcv := newReceiver(t)
	wh, err := NewWebhook(rcv.URL+"/hook", rcv.Client())
	if err != nil {
		t.Fatal(err)
	}
	fire := firingNote()
	res := fire
	res.Status, res.EndsAt = Resolved, t0.Add(-30*time.Minute)
	for _, n := range []Notification{fire, res} {
		if err := wh.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	paths, bodies := rcv.requests()
	if len(paths) != 2 || paths[1] != "POST /hook application/json" {
		t.Fatalf("requests = %v", paths)
	}
	var got []WebhookMessage
	for _, b := range bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		for _, k := range []string{"status", "alertname", "labels", "annotations", "startsAt", "endsAt"} {
			if _, ok := m[k]; !ok {
				t.Errorf("body %s lacks %q", b, k)
			}
		}
		var w WebhookMessage
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		got = append(got, w)
	}
	if got[0].Status != Firing || got[0].AlertName != BatchStalled || !got[0].EndsAt.IsZero() || !got[0].StartsAt.Equal(t0.Add(-time.Hour)) ||
		got[0].Labels[LabelBatchID] != "PB-1" || got[0].Annotations[AnnotationAction] != "restart the batch" || got[0].Fingerprint != fire.Fingerprint {
		t.Errorf("firing message = %+v", got[0])
	}
	if got[1].Status != Resolved || !got[1].EndsAt.Equal(t0.Add(-30*time.Minute)) {
		t.Errorf("resolved message = %+v", got[1])
	}
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name         string
		codes        []int
		wantAttempts int
		wantErr      bool
	}{
		{"500 twice, then success", []int{500, 503}, 3, false},
		{"429 is retried", []int{429}, 2, false},
		{"400 is permanent", []int{400}, 1, true},
		{"404 is permanent", []int{404, 200}, 1, true},
		{"500 until the budget is spent", []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500,
			500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, tc.codes...)
			wh, err := NewWebhook(rcv.URL, rcv.Client())
			if err != nil {
				t.Fatal(err)
			}
			policy := fastRetry
			if tc.wantAttempts == 0 {
				policy.Budget = 30 * time.Millisecond
			}
			waits := 0
			attempts, err := Retry(context.Background(), wh, firingNote(), policy, func(error, time.Duration) { waits++ })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var se *StatusError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("err %v: want a *StatusError", err)
			}
			paths, _ := rcv.requests()
			if len(paths) != attempts {
				t.Errorf("%d requests for %d attempts", len(paths), attempts)
			}
			if tc.wantAttempts > 0 && attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tc.wantAttempts)
			}
			if tc.wantAttempts == 0 && (attempts < 2 || attempts >= len(tc.codes)) {
				t.Errorf("attempts = %d: want a few, bounded by the budget", attempts)
			}
			if waits != attempts-1 {
				t.Errorf("%d waits for %d attempts", waits, attempts)
			}
		})
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	rcv := newReceiver(t, 500, 500, 500, 500, 500, 500)
	wh, err := NewWebhook(rcv.URL, rcv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := Retry(ctx, wh, firingNote(), RetryPolicy{Initial: time.Second, Budget: time.Minute}, nil); err == nil {
		t.Fatal("want an error")
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("a cancelled retry waited %v", time.Since(start))
	}
}

func TestNewSinkRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9093", "ftp://host/x", "http://", "://x"} {
		if _, err := NewWebhook(u, http.DefaultClient); err == nil {
			t.Errorf("NewWebhook(%q): want an error", u)
		}
		if _, err := NewAlertmanager(AlertmanagerConfig{URL: u, FiringFor: time.Hour}, http.DefaultClient, time.Now); err == nil {
			t.Errorf("NewAlertmanager(%q): want an error", u)
		}
	}
}
