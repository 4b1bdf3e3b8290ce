//go:build integration

package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"settlemon/pkg/alert"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// hook is a real HTTP receiver for both the webhook and the Alertmanager API.
type hook struct {
	srv *httptest.Server
	mu  sync.Mutex
	wh  []alert.WebhookMessage
	am  []alert.PostableAlert
}

func newHook(tb testing.TB) *hook {
	tb.Helper()
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		switch r.URL.Path {
		case "/hook":
			var m alert.WebhookMessage
			if err := json.Unmarshal(b, &m); err != nil {
				tb.Errorf("webhook body %s: %v", b, err)
			}
			h.wh = append(h.wh, m)
		case "/api/v2/alerts":
			var as []alert.PostableAlert
			if err := json.Unmarshal(b, &as); err != nil {
				tb.Errorf("alertmanager body %s: %v", b, err)
			}
			h.am = append(h.am, as...)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	tb.Cleanup(h.srv.Close)
	return h
}

// key names an alert: its name and the label that tells it apart.
func key(labels map[string]string) string {
	for _, l := range []string{alert.LabelAnomalyID, alert.LabelSource} {
		if v := labels[l]; v != "" {
			return labels[alert.LabelAlertName] + "/" + v
		}
	}
	return labels[alert.LabelAlertName]
}

// webhook returns the webhook notifications so far, as "status key", sorted.
func (h *hook) webhook() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.wh {
		out = append(out, string(m.Status)+" "+key(m.Labels))
	}
	sort.Strings(out)
	return out
}

// alertmanager returns the Alertmanager posts so far, as "firing|resolved
// key", sorted; an alert is resolved when its endsAt is not in the future.
func (h *hook) alertmanager(now time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, a := range h.am {
		st := "firing"
		if !a.EndsAt.After(now) {
			st = "resolved"
		}
		out = append(out, st+" "+key(a.Labels))
	}
	sort.Strings(out)
	return out
}

func newAlerter(tb testing.TB, st *store.Store, h *hook) *alert.Alerter {
	tb.Helper()
	cfg := alert.DefaultConfig()
	cfg.WebhookURL = h.srv.URL + "/hook"
	cfg.AlertmanagerURL = h.srv.URL
	cfg.Retry = alert.RetryPolicy{Initial: 10 * time.Millisecond, Budget: 5 * time.Second}
	cfg.For = nil // each evaluation decides at once (the minimum durations have unit tests)
	a, err := alert.New(cfg, alert.Deps{Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

func stall(batch string, n int, detected time.Time) fact.Anomaly {
	tx, _ := fact.Describe(fact.BatchStalled)
	return fact.Anomaly{ID: fmt.Sprintf("batch_stalled:payouts:%s:%d", batch, n), Kind: fact.BatchStalled, Severity: tx.Severity,
		Status: fact.Open, BatchID: batch, DetectedAt: detected.UnixMilli(), Reason: "no_progress", Cause: tx.Cause, Action: tx.Action,
		Details: "payouts batch " + batch + " stopped progressing", Version: fact.Version(detected.UnixMilli(), 0)}
}

func resumed(a fact.Anomaly, at time.Time) fact.Anomaly {
	a.Status, a.ResolvedAt, a.Version = fact.Resolved, at.UnixMilli(), fact.Version(at.UnixMilli(), 1)
	a.Details += " and resumed"
	return a
}

func evaluate(tb testing.TB, a *alert.Alerter) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.EvaluateOnce(ctx); err != nil {
		tb.Fatal(err)
	}
}

func insert(tb testing.TB, st *store.Store, rows ...fact.Anomaly) {
	tb.Helper()
	if err := st.InsertAnomalies(context.Background(), rows); err != nil {
		tb.Fatal(err)
	}
}

func health(tb testing.TB, st *store.Store, source, status string, at time.Time) {
	tb.Helper()
	row := store.SourceHealth{Source: source, Reporter: "joiner", Instance: "j1", ObservedAt: at.UnixMilli(),
		Watermark: at.Add(-2 * time.Hour).UnixMilli(), WatermarkLagS: 7200, ConsumerLag: -1, IdleS: -1, Status: status, ThresholdS: 1800}
	if status == "ok" {
		row.Watermark, row.WatermarkLagS = at.UnixMilli(), 0
	}
	if err := st.InsertSourceHealth(context.Background(), []store.SourceHealth{row}); err != nil {
		tb.Fatal(err)
	}
}

func TestAlerterAgainstClickHouse(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	h := newHook(t)
	day := time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC) // simulated event time

	// Before the first evaluation (a replay): PB-3 stalled and resumed, and
	// ClickHouse merged its open version away; PB-1 stalled and resumed,
	// both versions stored; PB-7 closed incomplete.
	insert(t, st, stall("PB-3", 1, day.Add(16*time.Minute)))
	insert(t, st, resumed(stall("PB-3", 1, day.Add(16*time.Minute)), day.Add(time.Hour)))
	if err := storetest.Conn(t, st).Exec(ctx, "OPTIMIZE TABLE anomalies FINAL"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.AnomalyVersions(ctx, fact.BatchStalled); err != nil || len(v) != 1 || v[0].Status != fact.Resolved {
		t.Fatalf("after OPTIMIZE: %+v, %v; want only the resolved version", v, err)
	}
	insert(t, st, stall("PB-1", 1, day.Add(15*time.Minute)))
	insert(t, st, resumed(stall("PB-1", 1, day.Add(15*time.Minute)), day.Add(2*time.Hour)))
	itx, _ := fact.Describe(fact.BatchIncomplete)
	insert(t, st, fact.Anomaly{ID: "batch_incomplete:payouts:PB-7", Kind: fact.BatchIncomplete, Severity: itx.Severity, Status: fact.Open,
		BatchID: "PB-7", Amount: 9_900_00, ExpectedAmount: 10_000_00, DetectedAt: day.Add(11 * time.Hour).UnixMilli(),
		Action: itx.Action, Details: "closed declaring 100 records; 99 arrived", Version: 1})
	// A payout-feed outage: the feed lags, and 500 traces of 500 merchants
	// are overdue for 1,000 yuan each.
	health(t, st, "payouts", "lagging", day.Add(12*time.Hour))
	health(t, st, "clearing", "ok", day.Add(12*time.Hour))
	var overdue []fact.Anomaly
	otx, _ := fact.Describe(fact.PayoutOverdue)
	for i := range 500 {
		overdue = append(overdue, fact.Anomaly{ID: fmt.Sprintf("payout_overdue:T%06d", i), Kind: fact.PayoutOverdue, Severity: otx.Severity,
			Status: fact.Open, TraceNo: fmt.Sprintf("T%06d", i), MerchantID: fmt.Sprintf("M%04d", i), Amount: 1000_00,
			DetectedAt: day.Add(18 * time.Hour).UnixMilli(), Action: otx.Action, Version: 1})
	}
	insert(t, st, overdue...)

	a := newAlerter(t, st, h)
	evaluate(t, a)
	want := []string{
		"firing BatchIncomplete/batch_incomplete:payouts:PB-7",
		"firing BatchStalled/batch_stalled:payouts:PB-1:1",
		"firing BatchStalled/batch_stalled:payouts:PB-3:1",
		"firing PayoutsOverdue",
		"firing SourceLagging/payouts",
		"resolved BatchStalled/batch_stalled:payouts:PB-1:1",
		"resolved BatchStalled/batch_stalled:payouts:PB-3:1",
	}
	if got := h.webhook(); !slices.Equal(got, want) {
		t.Fatalf("first evaluation, webhook:\n got %q\nwant %q", got, want)
	}
	if got := h.alertmanager(time.Now()); !slices.Equal(got, want) {
		t.Fatalf("first evaluation, alertmanager:\n got %q\nwant %q", got, want)
	}

	// Across evaluations: PB-2 stalls, is seen firing, then resumes; the
	// payout feed recovers and the overdue payouts are paid.
	insert(t, st, stall("PB-2", 1, day.Add(13*time.Hour)))
	evaluate(t, a)
	evaluate(t, a)
	insert(t, st, resumed(stall("PB-2", 1, day.Add(13*time.Hour)), day.Add(14*time.Hour)))
	health(t, st, "payouts", "ok", day.Add(12*time.Hour+5*time.Second))
	for i := range overdue {
		overdue[i].Status, overdue[i].ResolvedAt, overdue[i].Version = fact.Resolved, day.Add(20*time.Hour).UnixMilli(), 2
	}
	insert(t, st, overdue...)
	evaluate(t, a)
	evaluate(t, a)
	want = append(want,
		"firing BatchStalled/batch_stalled:payouts:PB-2:1",
		"resolved BatchStalled/batch_stalled:payouts:PB-2:1",
		"resolved PayoutsOverdue",
		"resolved SourceLagging/payouts",
	)
	sort.Strings(want)
	if got := h.webhook(); !slices.Equal(got, want) {
		t.Fatalf("after four evaluations, webhook:\n got %q\nwant %q", got, want)
	}
	if got := h.alertmanager(time.Now()); !slices.Equal(got, want) {
		t.Fatalf("after four evaluations, alertmanager:\n got %q\nwant %q", got, want)
	}
	if s := a.Stats(); s.Dropped != 0 || s.Failed != 0 || s.Undelivered != 0 || s.RuleErrors != 0 {
		t.Errorf("stats = %+v", s)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// A restarted alerter on the same database sends nothing again.
	b := newAlerter(t, st, h)
	evaluate(t, b)
	evaluate(t, b)
	if got := h.webhook(); !slices.Equal(got, want) {
		t.Fatalf("the restarted alerter notified again:\n got %q\nwant %q", got, want)
	}

	// The history: one row per episode, with what was sent.
	hist, err := st.LatestAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range hist {
		rows = append(rows, fmt.Sprintf("%s %s %s %d", key(r.Labels), r.AlertName, r.State, r.Notifications))
	}
	sort.Strings(rows)
	wantRows := []string{
		"BatchIncomplete/batch_incomplete:payouts:PB-7 BatchIncomplete firing 1",
		"BatchStalled/batch_stalled:payouts:PB-1:1 BatchStalled resolved 2",
		"BatchStalled/batch_stalled:payouts:PB-2:1 BatchStalled resolved 2",
		"BatchStalled/batch_stalled:payouts:PB-3:1 BatchStalled resolved 2",
		"PayoutsOverdue PayoutsOverdue resolved 2",
		"SourceLagging/payouts SourceLagging resolved 2",
	}
	if !slices.Equal(rows, wantRows) {
		t.Errorf("alert history:\n got %q\nwant %q", rows, wantRows)
	}
	for _, r := range hist {
		if r.AlertName == alert.BatchStalled && r.Labels[alert.LabelAnomalyID] == "batch_stalled:payouts:PB-1:1" {
			if r.StartedAt != day.Add(15*time.Minute).UnixMilli() || r.EndedAt != day.Add(2*time.Hour).UnixMilli() {
				t.Errorf("PB-1 episode %v→%v, want the anomaly's detection and resumption",
					time.UnixMilli(r.StartedAt).UTC(), time.UnixMilli(r.EndedAt).UTC())
			}
		}
	}

	// The messages carry the taxonomy's action and the batch labels.
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.wh {
		if m.Annotations[alert.AnnotationAction] == "" || m.Annotations[alert.AnnotationSummary] == "" {
			t.Errorf("%s %s: annotations %v lack summary or action", m.Status, m.AlertName, m.Annotations)
		}
		if m.AlertName == alert.BatchIncomplete && (m.Labels[alert.LabelBatchID] != "PB-7" || m.Annotations[alert.AnnotationAction] != itx.Action ||
			m.Labels[alert.LabelSeverity] != "critical" || m.Labels[alert.LabelSource] != "payouts") {
			t.Errorf("incomplete batch message: %+v", m)
		}
		if m.AlertName == alert.PayoutsOverdue && m.Status == alert.Firing &&
			!strings.HasPrefix(m.Annotations[alert.AnnotationSummary], "500 payouts overdue, 500,000.00 yuan") {
			t.Errorf("overdue summary = %q", m.Annotations[alert.AnnotationSummary])
		}
	}
}

// TestDeadLetterRateAgainstClickHouse: a burst of dead letters in the last
// minutes fires; old ones do not count.
func TestDeadLetterRateAgainstClickHouse(t *testing.T) {
	st := storetest.New(t)
	h := newHook(t)
	now := time.Now()
	var rows []store.DeadLetter
	for i := range 150 {
		at := now.Add(-time.Minute)
		if i < 60 {
			at = now.Add(-time.Hour) // outside the window
		}
		rows = append(rows, store.DeadLetter{Topic: "acq.payouts", Offset: int64(i), KafkaTime: at.UnixMilli(), Reason: "bad_amount"})
	}
	if err := st.InsertDeadLetters(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	a := newAlerter(t, st, h)
	evaluate(t, a) // 90 in the window: below 100
	if got := h.webhook(); len(got) != 0 {
		t.Fatalf("below the threshold: %q", got)
	}
	more := make([]store.DeadLetter, 20)
	for i := range more {
		more[i] = store.DeadLetter{Topic: "acq.clearing", Offset: int64(i), KafkaTime: now.UnixMilli(), Reason: "bad_json"}
	}
	if err := st.InsertDeadLetters(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	evaluate(t, a)
	if got := h.webhook(); !slices.Equal(got, []string{"firing DeadLetterRate"}) {
		t.Fatalf("above the threshold: %q", got)
	}
}
