package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/alert"
	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

var shanghai = time.FixedZone("CST", 8*3600)

func at(s string) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// fakeFacts answers from fixed rows and records what it was asked.
type fakeFacts struct {
	err         error
	hourly      []store.HourLag
	health      []store.SourceHealth
	alerts      []store.AlertRecord
	lastAnomaly store.AnomalyQuery
	lastBatch   store.BatchQuery
	// lastIncident and lastIncidentKey: the latest incident queries.
	lastIncident    store.IncidentQuery
	lastIncidentKey incident.Key
	lastFind        store.TraceQuery
	lagFrom         time.Time
	lagTo           time.Time
	deadlines       int // calls whose context had a deadline
}

func newFakeFacts() *fakeFacts {
	return &fakeFacts{
		hourly: []store.HourLag{
			{Hour: at("2026-09-28 10:00"), Mode: "D0", Paid: 40, P50: 3600, P95: 7200, P99: 9000, Max: 9100},
			{Hour: at("2026-09-28 10:00"), Mode: "T1", Paid: 120, P50: 100000, P95: 110000, P99: 120000, Max: 130000},
			{Hour: at("2026-09-28 11:00"), Mode: "T1", Paid: 90, P50: 98000, P95: 108000, P99: 119000, Max: 125000},
		},
		health: []store.SourceHealth{
			{Source: "payouts", Reporter: "joiner", Instance: "old", ObservedAt: at("2026-10-01 09:00"), Watermark: at("2026-10-01 08:59"),
				WatermarkLagS: 60, ConsumerLag: -1, IdleS: -1, Status: "ok", ThresholdS: 1800},
			{Source: "payouts", Reporter: "joiner", Instance: "new", ObservedAt: at("2026-10-01 12:00"), Watermark: at("2026-10-01 06:00"),
				WatermarkLagS: 21600, ConsumerLag: -1, IdleS: -1, Withheld: 42, Status: "lagging", ThresholdS: 1800},
			{Source: "payouts", Reporter: "ingest", Instance: "a", ObservedAt: at("2026-10-01 12:00"), ConsumerLag: 10, IdleS: 30, WatermarkLagS: -1, ThresholdS: -1, Status: "ok"},
			{Source: "payouts", Reporter: "ingest", Instance: "b", ObservedAt: at("2026-10-01 11:58"), ConsumerLag: 5, IdleS: 12, WatermarkLagS: -1, ThresholdS: -1, Status: "ok"},
			{Source: "payouts", Reporter: "ingest", Instance: "gone", ObservedAt: at("2026-10-01 08:00"), ConsumerLag: 9999, IdleS: 1, WatermarkLagS: -1, ThresholdS: -1, Status: "ok"},
			{Source: "auth", Reporter: "joiner", Instance: "new", ObservedAt: at("2026-10-01 12:00"), WatermarkLagS: -1, ConsumerLag: -1, IdleS: -1, Status: "unknown", ThresholdS: 1800},
		},
		alerts: []store.AlertRecord{
			{Fingerprint: "f1", AlertName: "BatchStalled", State: "resolved", StartedAt: at("2026-09-30 10:00"), EndedAt: at("2026-09-30 11:00"),
				LastSentAt: at("2026-09-30 11:00"), Notifications: 2, Labels: map[string]string{"alertname": "BatchStalled", "batch_id": "PAY-1", "anomaly_id": "batch_stalled:PAY-1"}},
			{Fingerprint: "f2", AlertName: "SourceLagging", State: "firing", StartedAt: at("2026-10-01 09:30"), LastSentAt: at("2026-10-01 09:30"),
				Notifications: 1, Labels: map[string]string{"alertname": "SourceLagging", "source": "payouts"},
				Annotations: map[string]string{"summary": "payouts feed is 6h behind"}},
		},
	}
}

func (f *fakeFacts) check(ctx context.Context) error {
	if _, ok := ctx.Deadline(); ok {
		f.deadlines++
	}
	return f.err
}

func (f *fakeFacts) LagSpan(ctx context.Context) (int64, int64, error) {
	return at("2026-09-28 00:05"), at("2026-09-28 11:30"), f.check(ctx)
}

func (f *fakeFacts) LagByHour(ctx context.Context, from, to time.Time) ([]store.HourLag, error) {
	f.lagFrom, f.lagTo = from, to
	return f.hourly, f.check(ctx)
}

func (f *fakeFacts) LagByMode(ctx context.Context) ([]store.ModeLag, error) {
	return []store.ModeLag{{Mode: "D0", Paid: 40, P50: 3600, P95: 7200, P99: 9000}, {Mode: "T1", Paid: 210, P50: 99000, P95: 109000, P99: 119500}}, f.check(ctx)
}

func (f *fakeFacts) OpenAnomalyTotals(ctx context.Context) ([]store.KindTotal, error) {
	return []store.KindTotal{
		{Kind: fact.LateEvent, Count: 5, Traces: 5},
		{Kind: fact.PayoutFailed, Count: 2, Traces: 2, Amount: 256054},
		{Kind: fact.PayoutOverdue, Count: 3, Traces: 3, Amount: 384000},
		{Kind: fact.ReversedButSettled, Count: 4, Traces: 2, Amount: 10000},
	}, f.check(ctx)
}

func (f *fakeFacts) QueryAnomalies(ctx context.Context, q store.AnomalyQuery) (store.AnomalyPage, error) {
	f.lastAnomaly = q
	tx, _ := fact.Describe(fact.PayoutFailed)
	bx, _ := fact.Describe(fact.BatchStalled)
	return store.AnomalyPage{Total: 7, Anomalies: []fact.Anomaly{
		{ID: "payout_failed:TR1", Kind: fact.PayoutFailed, Severity: tx.Severity, Status: fact.Open, TraceNo: "TR1", MerchantID: "M1",
			Amount: 128027, DetectedAt: at("2026-10-01 11:00"), Reason: "name_mismatch", Cause: tx.Cause, Action: tx.Action},
		{ID: "batch_stalled:PAY-1", Kind: fact.BatchStalled, Severity: bx.Severity, Status: fact.Resolved, BatchID: "PAY-1",
			Amount: -5, DetectedAt: at("2026-09-30 10:00"), ResolvedAt: at("2026-09-30 11:00"), Cause: bx.Cause, Action: bx.Action, Details: "no progress for 45m"},
	}}, f.check(ctx)
}

func (f *fakeFacts) QueryBatches(ctx context.Context, q store.BatchQuery) ([]fact.Batch, error) {
	f.lastBatch = q
	all := []fact.Batch{
		{BatchID: "PAY-2", Source: "payouts", Status: fact.BatchIsStalled, OpenedAt: at("2026-10-01 08:00"), FirstProgress: at("2026-10-01 08:01"),
			LastProgress: at("2026-10-01 08:30"), DeclaredCount: 100, DeclaredTotal: 1000000, SeenCount: 37, SeenTotal: 370000, Stalls: 1, AsOf: at("2026-10-01 12:00")},
		{BatchID: "CLR-9", Source: "clearing", Status: fact.BatchIsOpen, OpenedAt: at("2026-10-01 02:00"), SeenCount: 5, SeenTotal: 5000, AsOf: at("2026-10-01 12:00")},
		{BatchID: "PAY-1", Source: "payouts", Status: fact.BatchIsClosed, OpenedAt: at("2026-09-30 08:00"), ClosedAt: at("2026-09-30 12:00"),
			DeclaredCount: 10, DeclaredTotal: 1000, SeenCount: 10, SeenTotal: 1000, AsOf: at("2026-09-30 12:00")},
	}
	var out []fact.Batch
	for _, b := range all {
		if q.Status == "" || b.Status == q.Status {
			out = append(out, b)
		}
	}
	return out, f.check(ctx)
}

func (f *fakeFacts) LatestSourceHealth(ctx context.Context) ([]store.SourceHealth, error) {
	return f.health, f.check(ctx)
}

func (f *fakeFacts) LatestAlerts(ctx context.Context) ([]store.AlertRecord, error) {
	return f.alerts, f.check(ctx)
}

func (f *fakeFacts) DeadLetterReasons(ctx context.Context) (map[string]uint64, error) {
	return map[string]uint64{"bad_amount": 3, "card_number": 1}, f.check(ctx)
}

func (f *fakeFacts) Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Summary, error) {
	f.lastIncident = q
	all := []incident.Summary{
		{Key: incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2026-10-08"}, Kinds: []fact.Kind{fact.PayoutOverdue}, Severity: fact.Critical,
			Status: fact.Open, Anomalies: 256, Open: 256, Traces: 256, Amount: 10897915, Merchants: 141, SomeMerchants: []string{"M1", "M2"},
			FirstAt: at("2026-10-08 18:00"), LastAt: at("2026-10-08 18:00")},
		{Key: incident.OutageKey("payouts", at("2026-10-01 08:55")), Severity: fact.Critical, Status: fact.Resolved, Traces: 9489,
			Amount: 427463272, Merchants: 203, FirstAt: at("2026-10-01 08:55"), LastAt: at("2026-10-01 21:00"), ResolvedAt: at("2026-10-01 21:00")},
	}
	var out []incident.Summary
	for _, s := range all {
		if q.Status == "" || s.Status == q.Status {
			out = append(out, s)
		}
	}
	return out, f.check(ctx)
}

func (f *fakeFacts) IncidentTraces(ctx context.Context, key incident.Key, limit int) ([]store.IncidentTrace, uint64, error) {
	f.lastIncidentKey = key
	a := fact.Anomaly{ID: "payout_overdue:TR1", Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: "TR1", MerchantID: "M1",
		Amount: 12800, DetectedAt: at("2026-10-08 18:00"), Details: "T1 payout was due", Args: fact.Args{Mode: event.T1}}
	return []store.IncidentTrace{
		{TraceNo: "TR1", MerchantID: "M1", Kind: fact.PayoutOverdue, Status: fact.Open, Amount: 12800, At: at("2026-10-08 18:00"), Details: "T1 payout was due",
			Anomaly: &a},
		{TraceNo: "TR2", MerchantID: "M2", Amount: 100, At: at("2026-10-01 09:30")},
	}, 256, f.check(ctx)
}

func (f *fakeFacts) FindTraces(ctx context.Context, q store.TraceQuery) ([]store.TraceMatch, error) {
	f.lastFind = q
	return []store.TraceMatch{
		{TraceNo: "TR1", MerchantID: q.MerchantID, TerminalID: "T1", CardLast4: "0427", Amount: 12800, AuthorizedAt: at("2026-10-01 11:00"),
			Approved: true, Status: "paid", Mode: "T1", ClearedAmount: 12800, NetPaid: 12723, ExpectedPayoutAt: at("2026-10-08 18:00"),
			PaidAt: at("2026-10-08 10:00"), AmountMatches: true, Last4Matches: true, Score: 6},
		{TraceNo: "TR2", MerchantID: q.MerchantID, Amount: 12900, AuthorizedAt: at("2026-10-01 12:00")},
	}, f.check(ctx)
}

func newPageConsole(tb testing.TB, cfg Config, facts Facts) *Console {
	tb.Helper()
	ex := &fakeExplainer{traces: map[string]explain.Explanation{"TR1": pendingExplanation()}}
	c, err := New(cfg, Deps{Explainer: ex, DB: fakeDB{}, Facts: facts, Location: shanghai,
		Now: func() time.Time { return time.Date(2026, 10, 1, 4, 0, 0, 0, time.UTC) }})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func get(target, token string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Host = "127.0.0.1:8080" // a loopback name, as a browser on this machine sends
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// TestAPIConformsToOpenAPI serves every endpoint, answers and errors alike,
// and validates each response against schemas/openapi.yaml.
func TestAPIConformsToOpenAPI(t *testing.T) {
	h := newPageConsole(t, DefaultConfig(), newFakeFacts()).Handler()
	tests := []struct {
		target string
		want   int
	}{
		{"/api/v1/overview", 200},
		{"/api/v1/lag/hourly", 200},
		{"/api/v1/lag/hourly?mode=T1&from=2026-09-28T00:00:00%2B08:00&to=2026-09-29T00:00:00%2B08:00", 200},
		{"/api/v1/anomalies", 200},
		{"/api/v1/anomalies?kind=payout_failed&merchant=M1&date=2026-10-01&status=all&limit=10&offset=20", 200},
		{"/api/v1/incidents", 200},
		{"/api/v1/incidents?status=all&limit=1", 200},
		{"/api/v1/incidents?lang=zh-CN", 200},
		{"/api/v1/anomalies?lang=zh-CN&status=all", 200},
		{"/api/v1/incidents/traces?key=payout_run%7CT1%7C2026-10-08&limit=10", 200},
		{"/api/v1/traces?merchant=M1&day=2026-10-01&amount=128&last4=0427", 200},
		{"/api/v1/traces?merchant=M1&day=2026-10-01&amount=128.00&terminal=T1&limit=5", 200},
		{"/api/v1/batches", 200},
		{"/api/v1/batches?status=stalled&source=payouts&limit=5", 200},
		{"/api/v1/sources", 200},
		{"/api/v1/alerts", 200},
		{"/api/v1/alerts?state=all", 200},
		{"/api/v1/traces/TR1/explain", 200},
		{"/api/v1/traces/TR1/explain?format=text", 200},
		{"/api/v1/traces/TR1/explain?lang=zh-CN", 200},
		{"/api/v1/traces/TR1/explain?lang=en&format=text", 200},
		{"/api/v1/traces/NOPE/explain", 404},
		{"/healthz", 200},
		{"/readyz", 200},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, body := serveAndCheck(t, h, get(tt.target, ""), true)
			if res.StatusCode != tt.want {
				t.Errorf("status %d, want %d\n%s", res.StatusCode, tt.want, body)
			}
		})
	}

	bad := []struct {
		target, wantErr string
	}{
		{"/api/v1/anomalies?kind=nope", "not an anomaly kind"},
		{"/api/v1/anomalies?date=01/10/2026", "want YYYY-MM-DD"},
		{"/api/v1/anomalies?limit=0", "from 1 to 1000"},
		{"/api/v1/anomalies?limit=abc", "whole number"},
		{"/api/v1/anomalies?merchant=a%20b", "merchant"},
		{"/api/v1/anomalies?status=closed", "open, resolved or all"},
		{"/api/v1/anomalies?kinds=payout_failed", "unknown query parameter"},
		{"/api/v1/incidents?status=closed", "open, resolved or all"},
		{"/api/v1/incidents?limit=0", "from 1 to 2000"},
		{"/api/v1/incidents?lang=fr", "want en or zh-CN"},
		{"/api/v1/anomalies?lang=fr", "want en or zh-CN"},
		{"/api/v1/incidents/traces", "want the key of an incident"},
		{"/api/v1/incidents/traces?key=nope", "not an incident key"},
		{"/api/v1/traces?day=2026-10-01&amount=1", "merchant"},
		{"/api/v1/traces?merchant=M1&day=1.10.2026&amount=1", "want YYYY-MM-DD"},
		{"/api/v1/traces?merchant=M1&day=2026-10-01&amount=1.234", "at most two decimals"},
		{"/api/v1/traces?merchant=M1&day=2026-10-01&amount=1&last4=12", "last four digits"},
		{"/api/v1/batches?status=done", "open, stalled, closed or incomplete"},
		{"/api/v1/batches?source=auth", "clearing or payouts"},
		{"/api/v1/lag/hourly?from=yesterday", "RFC 3339"},
		{"/api/v1/lag/hourly?from=2026-09-29T00:00:00Z&to=2026-09-28T00:00:00Z", "before"},
		{"/api/v1/lag/hourly?from=2026-01-01T00:00:00Z&to=2026-09-28T00:00:00Z", "93 days"},
		{"/api/v1/alerts?state=pending", "firing, resolved or all"},
		{"/api/v1/overview?x=1", "unknown query parameter"},
		{"/api/v1/traces/TR1/explain?lang=fr", "want en or zh-CN"},
	}
	for _, tt := range bad {
		t.Run(tt.target, func(t *testing.T) {
			res, body := serveAndCheck(t, h, get(tt.target, ""), false)
			if res.StatusCode != 400 || !strings.Contains(body, tt.wantErr) {
				t.Errorf("status %d, body %s; want 400 mentioning %q", res.StatusCode, body, tt.wantErr)
			}
		})
	}

	// With a token: 401 without it, 200 with it, both as documented.
	ht := newPageConsole(t, DefaultConfigOn("127.0.0.1:8080", "s3cret"), newFakeFacts()).Handler()
	if res, _ := serveAndCheck(t, ht, get("/api/v1/overview", ""), true); res.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", res.StatusCode)
	}
	if res, _ := serveAndCheck(t, ht, get("/api/v1/overview", "s3cret"), true); res.StatusCode != 200 {
		t.Errorf("token: %d, want 200", res.StatusCode)
	}

	// ClickHouse failing: 500 without internals; no fact reader: 503.
	failing := newFakeFacts()
	failing.err = errors.New("dial tcp 10.0.0.1:9000: connection refused")
	hf := newPageConsole(t, DefaultConfig(), failing).Handler()
	for _, target := range []string{"/api/v1/overview", "/api/v1/incidents", "/api/v1/lag/hourly", "/api/v1/anomalies", "/api/v1/batches", "/api/v1/sources", "/api/v1/alerts"} {
		res, body := serveAndCheck(t, hf, get(target, ""), true)
		if res.StatusCode != 500 || strings.Contains(body, "10.0.0.1") {
			t.Errorf("%s with ClickHouse down: %d %s; want 500 without internals", target, res.StatusCode, body)
		}
	}
	hn := newConsole(t, DefaultConfig(), &fakeExplainer{}, fakeDB{}).Handler()
	if res, _ := serveAndCheck(t, hn, get("/api/v1/overview", ""), true); res.StatusCode != 503 {
		t.Errorf("no fact reader: %d, want 503", res.StatusCode)
	}
}

func decode[T any](tb testing.TB, h http.Handler, target string) T {
	tb.Helper()
	res, body := do(tb, h, http.MethodGet, target, "")
	if res.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %s", target, res.StatusCode, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		tb.Fatalf("GET %s: %v\n%s", target, err, body)
	}
	return v
}

// TestIncidents: the incident list carries each incident's sentence and
// action, open first by default; the drill-down takes the key as listed.
func TestIncidents(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	open := decode[incidentsResponse](t, h, "/api/v1/incidents")
	if f.lastIncident.Status != fact.Open || open.Total != 1 || len(open.Incidents) != 1 {
		t.Fatalf("default list: %+v (query %+v), want the open incident only", open, f.lastIncident)
	}
	v := open.Incidents[0]
	if v.Key != "payout_run|T1|2026-10-08" || v.Title != "T1 payouts due on 2026-10-08 not confirmed by the bank" ||
		!strings.Contains(v.Action, "chase the paying bank") || v.Amount != "108979.15" || v.Traces != 256 || v.Merchants != 141 {
		t.Errorf("incident %+v", v)
	}
	all := decode[incidentsResponse](t, h, "/api/v1/incidents?status=all&limit=1")
	if all.Total != 2 || len(all.Incidents) != 1 {
		t.Errorf("status=all limit=1: total %d, %d shown; want 2 and 1", all.Total, len(all.Incidents))
	}
	zh := decode[incidentsResponse](t, h, "/api/v1/incidents?lang=zh-CN")
	if len(zh.Incidents) != 1 || zh.Incidents[0].Title != "应于2026年10月8日（周四）到账的 T1 出款未获银行确认" ||
		!strings.Contains(zh.Incidents[0].Action, "向出款银行催办") || zh.Incidents[0].Key != v.Key || zh.Incidents[0].Status != "open" {
		t.Errorf("incident in Chinese %+v", zh.Incidents)
	}
	tr := decode[incidentTracesResponse](t, h, "/api/v1/incidents/traces?key="+url.QueryEscape(v.Key))
	if f.lastIncidentKey.String() != v.Key || tr.Total != 256 || len(tr.Traces) != 2 || tr.Traces[0].TraceNo != "TR1" ||
		tr.Traces[0].Details != "T1 payout was due" {
		t.Errorf("traces of %s: %+v (asked %v)", v.Key, tr, f.lastIncidentKey)
	}
	// In Chinese the details are rendered from the stored fields and args.
	zt := decode[incidentTracesResponse](t, h, "/api/v1/incidents/traces?lang=zh-CN&key="+url.QueryEscape(v.Key))
	if len(zt.Traces) != 2 || zt.Traces[0].Details != "T1 出款应于 2026年10月8日（周四）18:00 前完成，出款数据已越过该时间，仍无出款" {
		t.Errorf("traces in Chinese: %+v", zt.Traces)
	}
}

// TestFindTraces: the merchant's words become the store's query (the day in
// the console's zone, the amount in fen); declined and pending sales are
// named so.
func TestFindTraces(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	res := decode[findResponse](t, h, "/api/v1/traces?merchant=M1&day=2026-10-01&amount=128&terminal=T1&last4=0427")
	q := f.lastFind
	if q.MerchantID != "M1" || q.Amount != 12800 || q.TerminalID != "T1" || q.CardLast4 != "0427" || q.Limit != 10 ||
		q.From.UnixMilli() != at("2026-10-01 00:00") || q.To.UnixMilli() != at("2026-10-02 00:00") {
		t.Errorf("query %+v", q)
	}
	if len(res.Traces) != 2 || res.Traces[0].TraceNo != "TR1" || res.Traces[0].Status != "paid" ||
		strings.Join(res.Traces[0].Matched, "+") != "amount+last4" || res.Traces[1].Status != "declined" || res.Amount != "128.00" {
		t.Errorf("answer %+v", res)
	}
}

func TestOverview(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	o := decode[overviewResponse](t, h, "/api/v1/overview")
	if o.Payouts.Overdue != (tally{3, "3840.00"}) || o.Payouts.Failed != (tally{2, "2560.54"}) || o.Payouts.Held != (tally{0, "0.00"}) {
		t.Errorf("payouts = %+v", o.Payouts)
	}
	if o.OpenAnomalies != 14 || len(o.AnomaliesByKind) != 4 || o.AnomaliesByKind[1].Severity != "critical" {
		t.Errorf("anomalies = %d %+v", o.OpenAnomalies, o.AnomaliesByKind)
	}
	// Rows and traces apart: a reversed sale cleared and paid is two rows on one trace.
	if k := o.AnomaliesByKind[3]; k.Kind != string(fact.ReversedButSettled) || k.Count != 4 || k.Traces != 2 {
		t.Errorf("reversed_but_settled = %+v, want 4 open rows on 2 traces", k)
	}
	if o.SourcesLagging != 1 || o.BatchesStalled != 1 || o.AlertsFiring != 1 || o.DeadLetters != 4 {
		t.Errorf("counts: lagging %d stalled %d firing %d dead %d", o.SourcesLagging, o.BatchesStalled, o.AlertsFiring, o.DeadLetters)
	}
	if o.AsOf == nil || o.AsOf.Format(time.RFC3339) != "2026-10-01T12:00:00+08:00" {
		t.Errorf("as_of = %v, want the joiner's newest report in the console's zone", o.AsOf)
	}
	if got := o.GeneratedAt.Format(time.RFC3339); got != "2026-10-01T12:00:00+08:00" {
		t.Errorf("generated_at = %s", got)
	}
	if f.deadlines != 0 {
		t.Errorf("%d queries ran with a context deadline: clickhouse-go would send max_execution_time, which the read-only analyst may not set", f.deadlines)
	}
}

func TestLagWindow(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	res := decode[lagResponse](t, h, "/api/v1/lag/hourly")
	// The window ends after the hour of the last authorization (11:30 →
	// 12:00) and starts at the hour of the first, less than 7 days before.
	if res.To == nil || res.To.Format(time.RFC3339) != "2026-09-28T12:00:00+08:00" ||
		res.From == nil || res.From.Format(time.RFC3339) != "2026-09-28T00:00:00+08:00" {
		t.Errorf("window = %v .. %v", res.From, res.To)
	}
	if !f.lagTo.Equal(*res.To) || !f.lagFrom.Equal(*res.From) {
		t.Errorf("asked the store for %v .. %v", f.lagFrom, f.lagTo)
	}
	if len(res.Points) != 3 || res.Points[1].Mode != "T1" || res.Points[1].Hour.Format(time.RFC3339) != "2026-09-28T10:00:00+08:00" {
		t.Errorf("points = %+v", res.Points)
	}
	// Given to, the week before it, bounded by the first authorization.
	week := decode[lagResponse](t, h, "/api/v1/lag/hourly?to=2026-10-10T00:00:00%2B08:00")
	if week.From.Format(time.RFC3339) != "2026-10-03T00:00:00+08:00" {
		t.Errorf("to=10-10: from = %v, want 7 days before", week.From)
	}
	one := decode[lagResponse](t, h, "/api/v1/lag/hourly?mode=D0")
	if len(one.Points) != 1 || len(one.Modes) != 1 || one.Modes[0].Mode != "D0" {
		t.Errorf("mode=D0: %+v", one)
	}
}

func TestAnomalyFilters(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	res := decode[anomaliesResponse](t, h, "/api/v1/anomalies?kind=payout_failed&merchant=M1&trace=TR1&date=2026-10-01&limit=10&offset=20")
	q := f.lastAnomaly
	wantFrom := time.Date(2026, 10, 1, 0, 0, 0, 0, shanghai)
	if q.Kind != fact.PayoutFailed || q.MerchantID != "M1" || q.TraceNo != "TR1" || q.Status != fact.Open ||
		!q.From.Equal(wantFrom) || !q.To.Equal(wantFrom.AddDate(0, 0, 1)) || q.Limit != 10 || q.Offset != 20 {
		t.Errorf("store asked %+v", q)
	}
	if res.Total != 7 || res.Limit != 10 || res.Offset != 20 || len(res.Anomalies) != 2 {
		t.Fatalf("response %+v", res)
	}
	a, b := res.Anomalies[0], res.Anomalies[1]
	if a.Amount != "1280.27" || a.ExpectedAmount != "0.00" || a.TraceNo != "TR1" || a.DetectedAt.Format(time.RFC3339) != "2026-10-01T11:00:00+08:00" || a.ResolvedAt != nil {
		t.Errorf("first = %+v", a)
	}
	if b.Amount != "-0.05" || b.BatchID != "PAY-1" || b.ResolvedAt == nil {
		t.Errorf("second = %+v", b)
	}
	decode[anomaliesResponse](t, h, "/api/v1/anomalies?status=all")
	if f.lastAnomaly.Status != "" || f.lastAnomaly.Limit != defaultAnomalyLimit {
		t.Errorf("status=all asked %+v", f.lastAnomaly)
	}
	// In Chinese the cause, action and details come from the catalogues;
	// the kind, reason and status stay.
	zh := decode[anomaliesResponse](t, h, "/api/v1/anomalies?lang=zh-CN")
	p := text.NewPrinter(text.Chinese, shanghai)
	if len(zh.Anomalies) != 2 || zh.Anomalies[0].Cause != p.Cause(fact.PayoutFailed) ||
		zh.Anomalies[0].Action != p.FailureAction(fact.NameMismatch) || zh.Anomalies[0].Reason != "name_mismatch" ||
		zh.Anomalies[1].Action != p.Action(fact.BatchStalled) || zh.Anomalies[1].Status != "resolved" || zh.Anomalies[1].Details == "no progress for 45m" {
		t.Errorf("anomalies in Chinese: %+v", zh.Anomalies)
	}
	if tx, _ := fact.Describe(fact.PayoutFailed); a.Cause != tx.Cause || a.Action != tx.Action || b.Details != "no progress for 45m" {
		t.Errorf("English keeps the stored sentences: %+v", res.Anomalies)
	}
}

func TestBatchesAndAlerts(t *testing.T) {
	f := newFakeFacts()
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	bs := decode[batchesResponse](t, h, "/api/v1/batches")
	if len(bs.Batches) != 3 || f.lastBatch.Limit != defaultBatchLimit {
		t.Fatalf("batches %+v (asked %+v)", bs, f.lastBatch)
	}
	if p := bs.Batches[0].Progress; p == nil || *p != 0.37 || bs.Batches[0].SeenTotal != "3700.00" {
		t.Errorf("stalled batch progress %v, seen %s", p, bs.Batches[0].SeenTotal)
	}
	if bs.Batches[1].Progress != nil || bs.Batches[1].ClosedAt != nil {
		t.Errorf("open batch without a declared count: %+v", bs.Batches[1])
	}
	as := decode[alertsResponse](t, h, "/api/v1/alerts")
	if len(as.Alerts) != 1 || as.Alerts[0].AlertName != "SourceLagging" || as.Alerts[0].Annotations["summary"] == "" {
		t.Errorf("firing alerts = %+v", as.Alerts)
	}
	all := decode[alertsResponse](t, h, "/api/v1/alerts?state=all")
	if len(all.Alerts) != 2 || all.Alerts[0].State != "firing" || all.Alerts[1].Annotations == nil {
		t.Errorf("all alerts = %+v", all.Alerts)
	}
	// Each alert names the clock of its start: the batch alert began when the
	// joiner detected the stall (event time), SourceLagging when the alerter saw it.
	clocks := map[string]string{}
	for _, a := range all.Alerts {
		clocks[a.AlertName] = a.StartedClock
	}
	if clocks["BatchStalled"] != clockEvent || clocks["SourceLagging"] != clockWall {
		t.Errorf("started_clock = %v, want BatchStalled event, SourceLagging wall", clocks)
	}
}

// TestStartedClockLabel: the console tells an alert raised by an anomaly
// fact by the label the alerter gives it.
func TestStartedClockLabel(t *testing.T) {
	if labelAnomalyID != alert.LabelAnomalyID {
		t.Fatalf("the console looks for label %q, the alerter sets %q", labelAnomalyID, alert.LabelAnomalyID)
	}
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{alert.LabelAnomalyID: "batch_incomplete:CLR-1", "batch_id": "CLR-1"}, clockEvent},
		{map[string]string{"source": "payouts"}, clockWall},
		{nil, clockWall},
	}
	for _, tt := range tests {
		if got := startedClock(tt.labels); got != tt.want {
			t.Errorf("startedClock(%v) = %s, want %s", tt.labels, got, tt.want)
		}
	}
}

func TestSourcesFold(t *testing.T) {
	h := newPageConsole(t, DefaultConfig(), newFakeFacts()).Handler()
	res := decode[sourcesResponse](t, h, "/api/v1/sources")
	if len(res.Sources) != 2 || res.Sources[0].Source != "auth" || res.Sources[1].Source != "payouts" {
		t.Fatalf("sources = %+v", res.Sources)
	}
	auth, pay := res.Sources[0], res.Sources[1]
	if auth.Status != "unknown" || auth.WatermarkLagS != nil || auth.Watermark != nil || auth.ConsumerLag != nil {
		t.Errorf("auth = %+v", auth)
	}
	// The joiner's newest report wins; the ingest instance that stopped
	// reporting long ago does not count.
	if pay.Status != "lagging" || deref(pay.WatermarkLagS) != 21600 || pay.Withheld != 42 || deref(pay.ThresholdS) != 1800 {
		t.Errorf("payouts joiner side = %+v", pay)
	}
	if deref(pay.ConsumerLag) != 15 || deref(pay.IdleS) != 12 {
		t.Errorf("payouts ingest side: lag %v idle %v, want 15 and 12", deref(pay.ConsumerLag), deref(pay.IdleS))
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", -5: "-0.05", 100: "1.00", 128027: "1280.27", -123456: "-1234.56", 9223372036854775807: "92233720368547758.07"} {
		if got := yuan(fen); got != want {
			t.Errorf("yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestPage(t *testing.T) {
	h := newPageConsole(t, DefaultConfigOn("127.0.0.1:8080", "s3cret"), newFakeFacts()).Handler()
	tests := []struct {
		target, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/assets/app.js" defer></script>`},
		{"/assets/app.js", "text/javascript; charset=utf-8", "/api/v1/overview"},
		{"/assets/style.css", "text/css; charset=utf-8", ".series.p99"},
		{"/assets/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		// The page holds no data: it needs no token.
		res, body := do(t, h, http.MethodGet, tt.target, "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != tt.ctype || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s: %d %q, body lacks %q", tt.target, res.StatusCode, res.Header.Get("Content-Type"), tt.contains)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.target, csp)
		}
	}
	if res, _ := do(t, h, http.MethodGet, "/nothing", ""); res.StatusCode != 404 {
		t.Errorf("GET /nothing: %d, want 404", res.StatusCode)
	}
	if res, _ := do(t, h, http.MethodGet, "/assets/missing.js", ""); res.StatusCode != 404 {
		t.Errorf("GET /assets/missing.js: %d, want 404", res.StatusCode)
	}
}

// external matches a URL to another host, or a protocol-relative one.
var external = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?(https?:)?//`)

// TestAssetsAreSelfContained checks that nothing the page loads comes from
// elsewhere: no CDN, no external font, no inline script or style (the
// Content-Security-Policy would block them).
func TestAssetsAreSelfContained(t *testing.T) {
	entries, err := web.ReadDir("web")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := web.ReadFile("web/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		// The SVG namespace is a name, not a fetch.
		s = strings.ReplaceAll(s, "http://www.w3.org/2000/svg", "")
		if m := external.FindString(s); m != "" {
			t.Errorf("%s refers to %q: assets must be embedded", e.Name(), m)
		}
		if strings.HasSuffix(e.Name(), ".html") {
			if regexp.MustCompile(`<script(\s[^>]*)?>[^<]`).MatchString(s) || strings.Contains(s, " style=") || strings.Contains(s, "<style") || regexp.MustCompile(`\son[a-z]+=`).MatchString(s) {
				t.Errorf("%s has inline script, style or event handler attributes", e.Name())
			}
		}
	}
}

// TestKindFilterOffersEveryKind keeps the page's kind filter in step with
// the anomaly taxonomy.
func TestKindFilterOffersEveryKind(t *testing.T) {
	b, err := os.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	sel := regexp.MustCompile(`(?s)<select id="f-kind"[^>]*>(.*?)</select>`).FindSubmatch(b)
	if sel == nil {
		t.Fatal("index.html has no <select id=\"f-kind\">")
	}
	var got []string
	for _, m := range regexp.MustCompile(`<option value="([a-z_]+)">`).FindAllSubmatch(sel[1], -1) {
		got = append(got, string(m[1]))
	}
	var want []string
	for _, k := range fact.Kinds() {
		want = append(want, string(k))
	}
	if !slices.Equal(got, want) {
		t.Errorf("kind filter offers %v, want fact.Kinds() %v", got, want)
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/",
		":8080":          "http://127.0.0.1:8080/",
		"[::1]:9000":     "http://[::1]:9000/",
		"localhost:80":   "http://localhost:80/",
	} {
		if got := URL(addr); got != want {
			t.Errorf("URL(%q) = %q, want %q", addr, got, want)
		}
	}
}
