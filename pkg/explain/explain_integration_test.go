//go:build integration

package explain_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
	"settlemon/pkg/text"
)

// fixture archives events and facts in a fresh database.
type fixture struct {
	tb     testing.TB
	st     *store.Store
	offset int64
}

func (fx *fixture) ms(s string) int64 {
	fx.tb.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		fx.tb.Fatal(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		fx.tb.Fatalf("bad time %q: %v", s, err)
	}
	return t.UnixMilli()
}

// raw archives events of one source; every call gets new offsets.
func (fx *fixture) raw(src event.Source, evs ...event.Event) {
	fx.tb.Helper()
	rows := make([]store.RawRow, 0, len(evs))
	for _, e := range evs {
		fx.offset++
		rows = append(rows, store.RawRow{Topic: src.DefaultTopic(), Partition: 0, Offset: fx.offset,
			KafkaTime: e.OccurredAt, Event: e, Payload: []byte(`{}`)})
	}
	if err := fx.st.InsertRaw(context.Background(), src, rows); err != nil {
		fx.tb.Fatal(err)
	}
}

func (fx *fixture) auth(trace, at string, amount int64) event.Event {
	return event.Event{ID: "auth-" + trace + "-" + at, Type: event.Authorization, OccurredAt: fx.ms(at), TraceNo: trace,
		MerchantID: "M_T1", TerminalID: "TERM01", ResponseCode: "00", CardBIN: "622848", CardLast4: "1234",
		Currency: "CNY", Amount: amount, MCC: "5812"}
}

func (fx *fixture) clear(trace, at string, amount int64) event.Event {
	return event.Event{ID: "clr-" + trace, Type: event.Cleared, OccurredAt: fx.ms(at), TraceNo: trace,
		MerchantID: "M_T1", BatchID: "CLR-1", Amount: amount, Fee: amount * 6 / 1000, MCC: "5812"}
}

func (fx *fixture) payout(typ event.Type, trace, at string, amount int64, code string) event.Event {
	return event.Event{ID: typ.String() + "-" + trace, Type: typ, OccurredAt: fx.ms(at), TraceNo: trace,
		MerchantID: "M_T1", BatchID: "PAY-1", Amount: amount, ReasonCode: code}
}

func (fx *fixture) anomaly(k fact.Kind, trace, at, reason string) fact.Anomaly {
	t, _ := fact.Describe(k)
	a := fact.Anomaly{ID: string(k) + ":" + trace, Kind: k, Severity: t.Severity, Status: fact.Open, TraceNo: trace,
		MerchantID: "M_T1", DetectedAt: fx.ms(at), Reason: reason, Cause: t.Cause, Action: t.Action,
		CalendarVersion: "cn-mainland-2026.1", Version: fact.Version(fx.ms(at), 0)}
	if k == fact.PayoutFailed {
		a.Action = fact.PayoutFailure(reason).Action()
	}
	return a
}

func schedule(tb testing.TB) *calendar.Schedule {
	tb.Helper()
	s, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// seed archives one trace of every status.
func seed(tb testing.TB, st *store.Store) *fixture {
	tb.Helper()
	ctx := context.Background()
	fx := &fixture{tb: tb, st: st}

	// The merchant's profile changed from D1 to T1: the latest one counts.
	fx.raw(event.Merchants,
		event.Event{ID: "m1", Type: event.Merchant, OccurredAt: fx.ms("2026-01-01 00:00"), MerchantID: "M_T1", Mode: event.D1, RegisteredMCC: "5812", FeeRatePPM: 6000},
		event.Event{ID: "m2", Type: event.Merchant, OccurredAt: fx.ms("2026-01-05 00:00"), MerchantID: "M_T1", Mode: event.T1, RegisteredMCC: "5812", FeeRatePPM: 6000},
	)

	// PAID1: paid after National Day, with a lag fact.
	fx.raw(event.Auth, fx.auth("PAID1", "2026-10-07 19:12", 128800))
	fx.raw(event.Clearing, fx.clear("PAID1", "2026-10-08 01:00", 128800))
	paid := fx.payout(event.PayoutPaid, "PAID1", "2026-10-08 10:12", 128027, "")
	fx.raw(event.Payouts, paid)
	fx.raw(event.Payouts, paid) // delivered twice
	// FAIL1: returned for a name mismatch.
	fx.raw(event.Auth, fx.auth("FAIL1", "2026-03-02 10:00", 5000))
	fx.raw(event.Clearing, fx.clear("FAIL1", "2026-03-03 01:00", 5000))
	fx.raw(event.Payouts, fx.payout(event.PayoutFailed, "FAIL1", "2026-03-03 11:00", 4970, "ACCOUNT_NAME_MISMATCH"))
	// OVER1: cleared, never paid.
	fx.raw(event.Auth, fx.auth("OVER1", "2026-03-02 10:00", 7000))
	fx.raw(event.Clearing, fx.clear("OVER1", "2026-03-03 01:00", 7000))
	// PEND1: T1 sale after the cut-off on the Friday before Spring Festival; no lag fact yet.
	fx.raw(event.Auth, fx.auth("PEND1", "2026-02-13 23:30", 128800))
	// HELD1: held for risk review beyond the SLA.
	fx.raw(event.Auth, fx.auth("HELD1", "2026-03-02 10:00", 900000))
	fx.raw(event.Clearing, fx.clear("HELD1", "2026-03-03 01:00", 900000))
	fx.raw(event.Payouts, fx.payout(event.PayoutHeld, "HELD1", "2026-03-03 09:00", 0, "RISK01"))
	// REV1: a healthy reversal.
	fx.raw(event.Auth, fx.auth("REV1", "2026-03-02 10:00", 5000),
		event.Event{ID: "rev-REV1", Type: event.Reversal, OccurredAt: fx.ms("2026-03-02 10:03"), TraceNo: "REV1",
			MerchantID: "M_T1", Amount: 5000})
	// ORPH1: cleared, never authorized.
	fx.raw(event.Clearing, fx.clear("ORPH1", "2026-03-03 01:00", 3000))

	// The payout feed's heartbeat is the latest thing it delivered.
	if err := st.InsertControl(ctx, []store.ControlRow{
		{Topic: "acq.payouts", Partition: 0, Offset: 999, KafkaTime: fx.ms("2026-10-09 12:00"), Type: "heartbeat", OccurredAt: fx.ms("2026-10-09 12:00"), Producer: "sim"},
		{Topic: "acq.clearing", Partition: 0, Offset: 999, KafkaTime: fx.ms("2026-12-01 12:00"), Type: "heartbeat", OccurredAt: fx.ms("2026-12-01 12:00"), Producer: "sim"},
	}); err != nil {
		tb.Fatal(err)
	}

	lag := func(trace, authAt, expAt string, s fact.LagStatus, paidAt string) fact.Lag {
		l := fact.Lag{TraceNo: trace, MerchantID: "M_T1", Mode: event.T1, MCC: "5812", AuthorizedAt: fx.ms(authAt),
			ExpectedPayoutAt: fx.ms(expAt), Status: s, CalendarVersion: "cn-mainland-2026.1", Version: 1}
		if paidAt != "" {
			l.PaidAt = fx.ms(paidAt)
		}
		return l
	}
	pendingPaid := lag("PAID1", "2026-10-07 19:12", "2026-10-08 18:00", fact.StatusPending, "")
	paidLag := lag("PAID1", "2026-10-07 19:12", "2026-10-08 18:00", fact.StatusPaid, "2026-10-08 10:12")
	paidLag.Version = 2
	if err := st.InsertLags(ctx, []fact.Lag{
		pendingPaid, paidLag, // the later version wins
		lag("FAIL1", "2026-03-02 10:00", "2026-03-03 18:00", fact.StatusFailed, ""),
		lag("OVER1", "2026-03-02 10:00", "2026-03-03 18:00", fact.StatusOverdue, ""),
	}); err != nil {
		tb.Fatal(err)
	}
	if err := st.InsertAnomalies(ctx, []fact.Anomaly{
		fx.anomaly(fact.PayoutFailed, "FAIL1", "2026-03-03 11:00", string(fact.NameMismatch)),
		fx.anomaly(fact.PayoutOverdue, "OVER1", "2026-03-03 18:00", ""),
		fx.anomaly(fact.PayoutHeld, "HELD1", "2026-03-04 09:00", ""),
		fx.anomaly(fact.OrphanClearing, "ORPH1", "2026-03-03 01:00", ""),
	}); err != nil {
		tb.Fatal(err)
	}
	return fx
}

// englishRun finds two English words in a row: an untranslated sentence.
var englishRun = regexp.MustCompile(`(?i)\b[a-z]{2,}\b[ ,;:]+\b[a-z]{2,}\b`)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestExplainIntegration(t *testing.T) {
	st := storetest.New(t)
	fx := seed(t, st)
	x, err := explain.New(st, schedule(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	asOf := func(s string) time.Time { return time.UnixMilli(fx.ms(s)) }

	tests := []struct {
		trace        string
		asOf         time.Time
		wantStatus   string
		wantSummary  string
		wantExpected string
		wantStages   int
		wantOpen     []string
	}{
		{"PAID1", time.Time{}, explain.StatusPaid, "paid Thu 2026-10-08 10:12, 15h after authorization", "2026-10-08 18:00", 3, nil},
		{"FAIL1", asOf("2026-03-04 10:00"), explain.StatusFailed, "payout returned: account name mismatch — correct the settlement account", "2026-03-03 18:00", 3, []string{"payout_failed"}},
		{"OVER1", asOf("2026-03-04 20:00"), explain.StatusOverdue,
			"T1 payout due Tue 2026-03-03 18:00; overdue by 1d 2h with nothing paid — contact the paying bank; tell the merchant the payout is being chased",
			"2026-03-03 18:00", 2, []string{"payout_overdue"}},
		{"PEND1", asOf("2026-02-20 10:00"), explain.StatusPending,
			"T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet", "2026-02-24 18:00", 1, nil},
		{"HELD1", asOf("2026-03-04 12:00"), explain.StatusHeld,
			"payout held for risk review since Tue 2026-03-03 09:00 (RISK01), beyond the review SLA — chase the risk review; ask the merchant for supporting documents",
			"2026-03-03 18:00", 3, []string{"payout_held"}},
		{"REV1", asOf("2026-03-04 12:00"), explain.StatusReversed, "reversed Mon 2026-03-02 10:03: a reversed sale is not paid out", "2026-03-03 18:00", 2, nil},
		{"ORPH1", asOf("2026-03-04 12:00"), explain.StatusOrphan,
			"cleared Tue 2026-03-03 01:00 with no authorization on record — check the POS switch feed for the missing authorization", "", 1, []string{"orphan_clearing"}},
		{"NOPE", time.Time{}, explain.StatusNotFound,
			"nothing archived for trace NOPE: the trace number is unknown, or its events have not arrived yet", "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.trace, func(t *testing.T) {
			got, err := x.Explain(ctx, tt.trace, tt.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", got.Status, tt.wantStatus)
			}
			if got.Summary != tt.wantSummary {
				t.Errorf("summary:\n got %q\nwant %q", got.Summary, tt.wantSummary)
			}
			var exp string
			if got.ExpectedPayoutAt != nil {
				exp = got.ExpectedPayoutAt.Format("2006-01-02 15:04")
			}
			if exp != tt.wantExpected {
				t.Errorf("expected payout = %q, want %q", exp, tt.wantExpected)
			}
			if len(got.Timeline) != tt.wantStages {
				t.Errorf("timeline = %+v, want %d stages", got.Timeline, tt.wantStages)
			}
			var open []string
			for _, a := range got.Anomalies {
				if a.Status == "open" {
					open = append(open, a.Kind)
					if a.Cause == "" || a.Action == "" {
						t.Errorf("anomaly %s without cause or action", a.Kind)
					}
				}
			}
			if strings.Join(open, ",") != strings.Join(tt.wantOpen, ",") {
				t.Errorf("open anomalies = %v, want %v", open, tt.wantOpen)
			}
			if got.Found() && got.Mode != "T1" {
				t.Errorf("mode = %q, want T1 (the merchant's latest profile)", got.Mode)
			}

			// --lang en is today's English; zh-CN the same facts in Chinese,
			// the anomalies' sentences rendered from what the store keeps.
			en, err := x.ExplainIn(ctx, tt.trace, tt.asOf, text.English)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := mustJSON(t, en), mustJSON(t, got); a != b {
				t.Errorf("ExplainIn(en) differs from Explain:\n%s\n%s", a, b)
			}
			zh, err := x.ExplainIn(ctx, tt.trace, tt.asOf, text.Chinese)
			if err != nil {
				t.Fatal(err)
			}
			if zh.Status != got.Status || zh.Lang != "zh-CN" {
				t.Errorf("zh-CN: status %q lang %q, want %q zh-CN", zh.Status, zh.Lang, got.Status)
			}
			sentences := []string{zh.Summary, zh.Reply}
			for _, a := range zh.Anomalies {
				sentences = append(sentences, a.Cause, a.Action, a.Details)
			}
			for _, s := range sentences {
				if s != "" && (!hasHan(s) || englishRun.MatchString(s)) {
					t.Errorf("zh-CN sentence not Chinese: %q", s)
				}
			}
		})
	}

	t.Run("as of the payout feed's progress", func(t *testing.T) {
		want := fx.ms("2026-10-09 12:00")
		p, err := x.PayoutFeedProgress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.UnixMilli() != want {
			t.Errorf("PayoutFeedProgress = %v, want the payout heartbeat 2026-10-09 12:00 (not the clearing one)", p)
		}
		got, err := x.Explain(ctx, "PAID1", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if got.AsOf.UnixMilli() != want || got.AsOf.Location().String() != "Asia/Shanghai" {
			t.Errorf("AsOf = %v, want 2026-10-09 12:00 in Asia/Shanghai", got.AsOf)
		}
		// Judged against the feed's progress, the Spring Festival sale is long past due.
		pend, err := x.Explain(ctx, "PEND1", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(pend.Summary, "past due with no payout on record") {
			t.Errorf("PEND1 as of the feed: %q", pend.Summary)
		}
	})

	t.Run("invalid trace number", func(t *testing.T) {
		if _, err := x.Explain(ctx, "x' OR 1=1 --", time.Time{}); err != explain.ErrInvalidTraceNo {
			t.Errorf("err = %v, want ErrInvalidTraceNo", err)
		}
	})
}
