package console

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// traceReader is an explain.Reader holding one pending trace across the
// Spring Festival.
type traceReader struct{}

func (traceReader) PayoutFeedProgress(context.Context) (int64, error) {
	return time.Date(2026, 2, 20, 10, 0, 0, 0, cst).UnixMilli(), nil
}
func (traceReader) TraceLag(context.Context, string) (*fact.Lag, error) { return nil, nil }
func (traceReader) TraceEvents(_ context.Context, traceNo string) ([]store.ArchivedEvent, error) {
	if traceNo != "TR1" {
		return nil, nil
	}
	return []store.ArchivedEvent{{Source: event.Auth, Topic: event.Auth.DefaultTopic(), Event: event.Event{
		ID: "a1", Type: event.Authorization, TraceNo: "TR1", MerchantID: "M001", Amount: 128800, ResponseCode: "00",
		OccurredAt: time.Date(2026, 2, 13, 23, 30, 0, 0, cst).UnixMilli(),
	}}}, nil
}
func (traceReader) TraceAnomalies(context.Context, string) ([]fact.Anomaly, error) { return nil, nil }
func (traceReader) LatestProfile(context.Context, string) (*store.MerchantProfile, error) {
	return &store.MerchantProfile{Mode: event.T1}, nil
}

var cst = time.FixedZone("CST", 8*3600)

// TestExplainLanguage: ?lang= decides the language of the sentences, else
// Accept-Language, else English — today's English, unchanged.
func TestExplainLanguage(t *testing.T) {
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(traceReader{}, sched)
	if err != nil {
		t.Fatal(err)
	}
	h := newConsole(t, DefaultConfig(), ex, fakeDB{}).Handler()
	const (
		zhSummary = `"summary": "T1 结算：预计 2026年2月24日（周二）18:00 前到账（春节假期 2月15日至2月23日顺延），目前未逾期。"`
		enSummary = `"summary": "T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet"`
	)
	tests := []struct {
		name, target, accept string
		status               int
		lang                 string
		want                 []string
	}{
		{"default English", "/api/v1/traces/TR1/explain", "", 200, "en", []string{enSummary, `"lang": "en"`, `"reply": "This sale settles T1`}},
		{"?lang=en", "/api/v1/traces/TR1/explain?lang=en", "zh-CN", 200, "en", []string{enSummary}},
		{"?lang=zh-CN", "/api/v1/traces/TR1/explain?lang=zh-CN", "", 200, "zh-CN",
			[]string{zhSummary, `"lang": "zh-CN"`, `"reply": "该笔交易按 T1 结算，预计 2026年2月24日（周二）18:00 前到账（春节假期顺延）`, `"status": "pending"`}},
		{"?lang=zh", "/api/v1/traces/TR1/explain?lang=zh", "", 200, "zh-CN", []string{zhSummary}},
		{"Accept-Language", "/api/v1/traces/TR1/explain", "zh-CN,zh;q=0.9,en;q=0.8", 200, "zh-CN", []string{zhSummary}},
		{"Accept-Language, text", "/api/v1/traces/TR1/explain?format=text", "zh", 200, "zh-CN",
			[]string{"状态：    pending（结算中）\n", "回复商户：该笔交易按 T1 结算"}},
		{"Accept-Language without Chinese", "/api/v1/traces/TR1/explain", "fr-FR,de;q=0.5", 200, "en", []string{enSummary}},
		{"not found in Chinese", "/api/v1/traces/NOPE/explain?lang=zh-CN", "", 404, "zh-CN", []string{`"error": "未查到流水号 NOPE 的任何记录`}},
		{"bad lang", "/api/v1/traces/TR1/explain?lang=fr", "", 400, "", []string{`"error": "lang \"fr\": want en or zh-CN"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			req.Host = "127.0.0.1:8080"
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, body)
			}
			if tt.lang != "" && rec.Header().Get("Content-Language") != tt.lang {
				t.Errorf("Content-Language = %q, want %q", rec.Header().Get("Content-Language"), tt.lang)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %s:\n%s", w, body)
				}
			}
		})
	}
}

// TestPageLanguage: the page is rendered in the language asked for (?lang=,
// else Accept-Language, else English), every label from the catalogues,
// and carries the script's messages in that language.
func TestPageLanguage(t *testing.T) {
	h := newPageConsole(t, DefaultConfig(), newFakeFacts()).Handler()
	tests := []struct {
		name, target, accept string
		want                 text.Lang
		heading              string
	}{
		{"default", "/", "", text.English, "<h2>Incidents <small>"},
		{"browser asks Chinese", "/", "zh-CN,zh;q=0.9,en;q=0.8", text.Chinese, "<h2>事件 <small>"},
		{"switch to English", "/?lang=en", "zh-CN", text.English, "<h2>Incidents <small>"},
		{"switch to Chinese", "/?lang=zh-CN", "en-US", text.Chinese, "<h2>事件 <small>"},
		{"unknown language: the browser's", "/?lang=fr", "zh", text.Chinese, "<h2>事件 <small>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := get(tt.target, "")
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Language") != tt.want.String() {
				t.Fatalf("status %d, Content-Language %q; want 200 and %s", rec.Code, rec.Header().Get("Content-Language"), tt.want)
			}
			if !strings.Contains(body, `<html lang="`+tt.want.String()+`">`) || !strings.Contains(body, tt.heading) {
				t.Errorf("the page in %s lacks its lang or the heading %q", tt.want, tt.heading)
			}
			i := strings.Index(body, `data-messages="`)
			j := strings.Index(body[i+15:], `"`)
			if i < 0 || j < 0 {
				t.Fatal("no data-messages on the body")
			}
			raw := html.UnescapeString(body[i+15 : i+15+j])
			var msgs map[string]string
			if err := json.Unmarshal([]byte(raw), &msgs); err != nil {
				t.Fatalf("data-messages: %v", err)
			}
			if msgs["page.js.loading"] != text.Messages(tt.want)["page.js.loading"] {
				t.Errorf("the script's messages are not the %s catalogue's: %q", tt.want, msgs["page.js.loading"])
			}
			// Every label resolved: no message id left in the page, no
			// template action, no format error.
			rest := body[:i] + body[i+15+j:]
			for _, bad := range []string{"page.", "{{", "%!"} {
				if strings.Contains(rest, bad) {
					t.Errorf("the page holds %q", bad)
				}
			}
			if tt.want == text.Chinese {
				for _, label := range []string{"查找交易", "回复商户", "复制", "结算时长", "正在触发的告警"} {
					if !strings.Contains(body, label) {
						t.Errorf("the Chinese page lacks %q", label)
					}
				}
			}
		})
	}
}

// TestAlertsInTheReadersLanguage: /api/v1/alerts renders the annotations
// the alerter stored as messages in the language asked for (?lang=, else
// Accept-Language), whatever the alerter's; an alert stored without
// messages shows its annotations as stored.
func TestAlertsInTheReadersLanguage(t *testing.T) {
	msgs := map[string]text.Msg{
		"summary": text.M("alert.payouts_overdue.summary", text.T("150"), text.Yuan(123_456_789)),
		"action":  text.Just(text.Arg{Action: string(fact.PayoutOverdue)}),
	}
	f := newFakeFacts()
	f.alerts = []store.AlertRecord{
		{Fingerprint: "new", AlertName: "PayoutsOverdue", State: "firing", StartedAt: at("2026-10-01 09:30"), LastSentAt: at("2026-10-01 09:30"),
			Annotations: text.NewPrinter(text.English, time.UTC).RenderAll(msgs), Messages: msgs},
		{Fingerprint: "old", AlertName: "SourceLagging", State: "firing", StartedAt: at("2026-10-01 09:00"), LastSentAt: at("2026-10-01 09:00"),
			Annotations: map[string]string{"summary": "payouts feed is 6h behind"}},
	}
	h := newPageConsole(t, DefaultConfig(), f).Handler()
	zh := text.NewPrinter(text.Chinese, time.UTC)
	for _, tc := range []struct {
		target, accept string
		summary        string
		action         string
	}{
		{"/api/v1/alerts", "", "150 payouts overdue, 1,234,567.89 yuan in total", "contact the paying bank; tell the merchant the payout is being chased"},
		{"/api/v1/alerts?lang=zh-CN", "", "150 笔出款逾期，合计 ¥1,234,567.89", zh.Action(fact.PayoutOverdue)},
		{"/api/v1/alerts", "zh-CN,zh;q=0.9", "150 笔出款逾期，合计 ¥1,234,567.89", zh.Action(fact.PayoutOverdue)},
		{"/api/v1/alerts?lang=en", "zh-CN", "150 payouts overdue, 1,234,567.89 yuan in total", "contact the paying bank; tell the merchant the payout is being chased"},
	} {
		t.Run(tc.target+" "+tc.accept, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.Host = "127.0.0.1:8080"
			if tc.accept != "" {
				req.Header.Set("Accept-Language", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var res alertsResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 {
				t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
			}
			byFP := map[string]alertView{}
			for _, a := range res.Alerts {
				byFP[a.Fingerprint] = a
			}
			if a := byFP["new"]; a.Annotations["summary"] != tc.summary || a.Annotations["action"] != tc.action {
				t.Errorf("annotations %v, want summary %q, action %q", a.Annotations, tc.summary, tc.action)
			}
			if s := byFP["old"].Annotations["summary"]; s != "payouts feed is 6h behind" {
				t.Errorf("an alert without messages: summary %q", s)
			}
		})
	}
	if res, _ := do(t, h, http.MethodGet, "/api/v1/alerts?lang=fr", ""); res.StatusCode != http.StatusBadRequest {
		t.Errorf("?lang=fr: %d, want 400", res.StatusCode)
	}
}
