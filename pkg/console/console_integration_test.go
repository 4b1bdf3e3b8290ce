//go:build integration

package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/console"
	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

func localMs(tb testing.TB, s string) int64 {
	tb.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatal(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UnixMilli()
}

func seed(tb testing.TB, st *store.Store) {
	tb.Helper()
	ctx := context.Background()
	var off int64
	raw := func(src event.Source, e event.Event) {
		off++
		if err := st.InsertRaw(ctx, src, []store.RawRow{{Topic: src.DefaultTopic(), Offset: off, KafkaTime: e.OccurredAt, Event: e, Payload: []byte(`{}`)}}); err != nil {
			tb.Fatal(err)
		}
	}
	raw(event.Merchants, event.Event{ID: "m1", Type: event.Merchant, OccurredAt: localMs(tb, "2026-01-01 00:00"), MerchantID: "M1", Mode: event.T1, RegisteredMCC: "5812"})
	for _, tr := range []string{"FAIL1", "PEND1"} {
		at := "2026-03-02 10:00"
		if tr == "PEND1" {
			at = "2026-02-13 23:30"
		}
		raw(event.Auth, event.Event{ID: "a-" + tr, Type: event.Authorization, OccurredAt: localMs(tb, at), TraceNo: tr,
			MerchantID: "M1", TerminalID: "T01", ResponseCode: "00", CardBIN: "622848", CardLast4: "1234", Currency: "CNY", Amount: 128800, MCC: "5812"})
	}
	raw(event.Payouts, event.Event{ID: "f-FAIL1", Type: event.PayoutFailed, OccurredAt: localMs(tb, "2026-03-03 11:00"), TraceNo: "FAIL1",
		MerchantID: "M1", BatchID: "PAY-1", Amount: 128027, ReasonCode: fact.BankCode(fact.NameMismatch), Reason: "holder name does not match"})
	tx, _ := fact.Describe(fact.PayoutFailed)
	if err := st.InsertAnomalies(ctx, []fact.Anomaly{{ID: "payout_failed:FAIL1", Kind: fact.PayoutFailed, Severity: tx.Severity,
		Status: fact.Open, TraceNo: "FAIL1", MerchantID: "M1", Amount: 128027, DetectedAt: localMs(tb, "2026-03-03 11:00"),
		Reason: string(fact.NameMismatch), Cause: tx.Cause, Action: fact.NameMismatch.Action(), Version: 1}}); err != nil {
		tb.Fatal(err)
	}
}

func TestConsoleEndToEnd(t *testing.T) {
	st := storetest.New(t)
	seed(t, st)
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(st, sched)
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.DefaultConfigOn("127.0.0.1:8080", "t0ken"), console.Deps{Explainer: ex, DB: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	get := func(path, token string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}

	// JSON: the failed payout.
	code, ctype, body := get("/api/v1/traces/FAIL1/explain", "t0ken")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("FAIL1: %d %s\n%s", code, ctype, body)
	}
	var x struct {
		TraceNo          string `json:"trace_no"`
		Status           string `json:"status"`
		Summary          string `json:"summary"`
		ExpectedPayoutAt string `json:"expected_payout_at"`
		Timeline         []struct {
			Stage, At, Amount, Detail, Source string
		} `json:"timeline"`
		Anomalies []struct {
			Kind, Status, Reason, Action string
		} `json:"anomalies"`
	}
	if err := json.Unmarshal([]byte(body), &x); err != nil {
		t.Fatalf("FAIL1: %v\n%s", err, body)
	}
	if x.Status != "failed" || x.Summary != "payout returned: account name mismatch — correct the settlement account" ||
		x.ExpectedPayoutAt != "2026-03-03T18:00:00+08:00" {
		t.Errorf("FAIL1 = %s / %q / %s", x.Status, x.Summary, x.ExpectedPayoutAt)
	}
	if len(x.Timeline) != 2 || x.Timeline[1].Stage != "payout_failed" || x.Timeline[1].Amount != "1280.27" ||
		x.Timeline[1].Source != "acq.payouts" || !strings.Contains(x.Timeline[1].Detail, "R02 name_mismatch") {
		t.Errorf("FAIL1 timeline = %+v", x.Timeline)
	}
	if len(x.Anomalies) != 1 || x.Anomalies[0].Kind != "payout_failed" || x.Anomalies[0].Reason != "name_mismatch" {
		t.Errorf("FAIL1 anomalies = %+v", x.Anomalies)
	}

	// Text: the T1 sale before Spring Festival, judged as of a given time.
	code, ctype, body = get("/api/v1/traces/PEND1/explain?format=text&as_of=2026-02-20T10:00:00%2B08:00", "t0ken")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("PEND1: %d %s\n%s", code, ctype, body)
	}
	for _, w := range []string{
		"status:   pending\n",
		"summary:  T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet\n",
		"Fri 2026-02-13 23:30:00 +08:00  authorization",
	} {
		if !strings.Contains(body, w) {
			t.Errorf("PEND1 text lacks %q:\n%s", w, body)
		}
	}

	// Text: a merchant id no ingest would accept, written by another writer
	// (or an older build), is shown escaped; JSON carries it exactly.
	const evil = "M\x00\x1b[31m\u202E1"
	if err := st.InsertRaw(context.Background(), event.Auth, []store.RawRow{{Topic: event.Auth.DefaultTopic(), Offset: 100,
		KafkaTime: localMs(t, "2026-03-02 10:00"), Payload: []byte(`{}`), Event: event.Event{ID: "a-EVIL1", Type: event.Authorization,
			OccurredAt: localMs(t, "2026-03-02 10:00"), TraceNo: "EVIL1", MerchantID: evil, TerminalID: "T\x1b]0;x\x07",
			ResponseCode: "00", CardBIN: "622848", CardLast4: "1234", Currency: "CNY", Amount: 100, MCC: "5812"}}}); err != nil {
		t.Fatal(err)
	}
	code, _, body = get("/api/v1/traces/EVIL1/explain?format=text", "t0ken")
	if code != 200 || !strings.Contains(body, `merchant M\x00\x1b[31m\u202e1`) || !strings.Contains(body, `terminal T\x1b]0;x\x07`) {
		t.Errorf("EVIL1 text: %d\n%s", code, body)
	}
	if strings.ContainsAny(body, "\x00\x1b\u202e\x07") {
		t.Errorf("EVIL1 text holds a control or bidi character raw: %q", body)
	}
	code, _, body = get("/api/v1/traces/EVIL1/explain", "t0ken")
	var ej struct {
		MerchantID string `json:"merchant_id"`
	}
	if err := json.Unmarshal([]byte(body), &ej); code != 200 || err != nil || ej.MerchantID != evil {
		t.Errorf("EVIL1 JSON: %d %v merchant_id %q, want %q", code, err, ej.MerchantID, evil)
	}

	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/traces/NOPE/explain", "t0ken", 404},
		{"/api/v1/traces/bad%20trace/explain", "t0ken", 400},
		{"/api/v1/traces/FAIL1/explain", "", 401},
		{"/api/v1/traces/FAIL1/explain", "wrong", 401},
		{"/readyz", "", 200},
		{"/healthz", "", 200},
	} {
		if code, _, body := get(tt.path, tt.token); code != tt.want {
			t.Errorf("GET %s: %d, want %d\n%s", tt.path, code, tt.want, body)
		}
	}
}
