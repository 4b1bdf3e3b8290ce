package explain

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/text"
)

// englishRun finds two English words in a row: an untranslated sentence.
// Identifiers (payout_paid, T1, MCC 5812) are single tokens and pass.
var englishRun = regexp.MustCompile(`(?i)\b[a-z]{2,}\b[ ,;:]+\b[a-z]{2,}\b`)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// checkChinese fails when a sentence of x is not Chinese or keeps an
// English sentence. The feeds' own words (a bank's reason text, the data
// strings) are quoted as they came and are not checked.
func checkChinese(t *testing.T, x Explanation, data ...string) {
	t.Helper()
	check := func(what, s string, required bool) {
		t.Helper()
		for _, d := range data {
			if d != "" {
				s = strings.ReplaceAll(s, d, "")
			}
		}
		s = strings.Trim(s, "：: ")
		if s == "" && !required {
			return
		}
		if required && !hasHan(s) {
			t.Errorf("%s has no Chinese: %q", what, s)
		}
		if w := englishRun.FindString(s); w != "" {
			t.Errorf("%s keeps English %q: %q", what, w, s)
		}
	}
	check("summary", x.Summary, true)
	check("reply", x.Reply, true)
	for _, s := range x.Timeline {
		check(s.Stage+" detail", s.Detail, false)
	}
	for _, a := range x.Anomalies {
		check(a.Kind+" cause", a.Cause, true)
		check(a.Kind+" action", a.Action, true)
		if a.Details != "" {
			check(a.Kind+" details", a.Details, true)
		}
	}
	var buf bytes.Buffer
	x.WriteText(&buf)
	out := buf.String()
	for _, label := range []string{"状态：", "摘要：", "回复商户："} {
		if !strings.Contains(out, label) {
			t.Errorf("text lacks %q:\n%s", label, out)
		}
	}
	for _, label := range []string{"status:", "summary:", "reply:", "timeline:", "anomalies:", "expected:", "as of:"} {
		if strings.Contains(out, label) {
			t.Errorf("text keeps the English label %q:\n%s", label, out)
		}
	}
}

// TestDecideChinese explains every trace of TestDecide in Chinese: the same
// status, and every sentence Chinese.
func TestDecideChinese(t *testing.T) {
	sched := testSchedule(t)
	statuses := map[string]bool{}
	for _, tt := range decideCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			tt.facts.traceNo = "TR1"
			got := decideIn(tt.facts, sched, tt.asOf, text.Chinese)
			if got.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", got.Status, tt.wantStatus)
			}
			if got.Lang != "zh-CN" {
				t.Errorf("lang = %q", got.Lang)
			}
			var data []string
			for _, a := range tt.facts.events {
				data = append(data, a.ev.Reason)
			}
			checkChinese(t, got, data...)
			en := decideIn(tt.facts, sched, tt.asOf, text.English)
			if en.Summary != tt.wantSummary || en.Lang != "en" {
				t.Errorf("English summary = %q (lang %q), want %q", en.Summary, en.Lang, tt.wantSummary)
			}
			if en.Reply == "" || hasHan(en.Reply) {
				t.Errorf("English reply = %q", en.Reply)
			}
		})
		statuses[tt.wantStatus] = true
	}
	for _, s := range []string{StatusPaid, StatusFailed, StatusOverdue, StatusHeld, StatusReversed, StatusClearingMissing,
		StatusOrphan, StatusDeclined, StatusPending, StatusNotFound} {
		if !statuses[s] {
			t.Errorf("no trace of status %s explained in Chinese", s)
		}
	}
}

// TestChinesePinned pins the sentences support reads most.
func TestChinesePinned(t *testing.T) {
	sched := testSchedule(t)
	asOf := time.UnixMilli(local(t, "2026-02-20 10:00"))
	pending := facts{traceNo: "TR1", merchant: &profile{mode: event.T1}, events: []archived{
		ev(t, event.Authorization, "a1", "2026-02-13 23:30", 128800),
		ev(t, event.Cleared, "c1", "2026-02-14 02:00", 128800),
	}}
	failed := facts{traceNo: "TR1", merchant: &profile{mode: event.T1}, events: []archived{
		ev(t, event.Authorization, "a1", "2026-02-13 23:30", 128800),
		ev(t, event.Cleared, "c1", "2026-02-14 02:00", 128800),
		ev(t, event.PayoutFailed, "f1", "2026-02-24 11:00", 128027, code("R02", "name")),
	}}
	for _, c := range []struct {
		name           string
		f              facts
		summary, reply string
	}{
		{"pending across Spring Festival", pending,
			"T1 结算：预计 2026年2月24日（周二）18:00 前到账（春节假期 2月15日至2月23日顺延），目前未逾期。",
			"该笔交易按 T1 结算，预计 2026年2月24日（周二）18:00 前到账（春节假期顺延），目前在正常结算周期内，请耐心等待。"},
		{"returned for a name mismatch", failed,
			"出款被退回（退票）：结算账户户名不符——请更正结算账户。",
			"结算账户户名不符，出款被银行退回：请核对并更正结算账户后联系客服重新出款。"},
	} {
		x := decideIn(c.f, sched, asOf, text.Chinese)
		if x.Summary != c.summary {
			t.Errorf("%s: summary\n got %q\nwant %q", c.name, x.Summary, c.summary)
		}
		if x.Reply != c.reply {
			t.Errorf("%s: reply\n got %q\nwant %q", c.name, x.Reply, c.reply)
		}
	}
	x := decideIn(pending, sched, asOf, text.Chinese)
	if got := x.Timeline[0].Detail; got != "授权成功，终端 TERM01，MCC 5812，卡号 622848…1234" {
		t.Errorf("authorization detail = %q", got)
	}
	var buf bytes.Buffer
	x.WriteText(&buf)
	for _, want := range []string{
		"流水号 TR1  商户 M001  结算周期 T1\n",
		"状态：    pending（结算中）\n",
		"预计到账：2026年2月24日（周二）18:00:00 +08:00  （日历 cn-mainland-2026.1）\n",
		"2026年2月13日（周五）23:30:00 +08:00  authorization  1288.00",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestAnomaliesInChinese: an anomaly of every kind, as the store gives it
// back (English details, no Args), and as the joiner builds it (with Args),
// reads in Chinese.
func TestAnomaliesInChinese(t *testing.T) {
	sched := testSchedule(t)
	for _, k := range fact.Kinds() {
		for _, withArgs := range []bool{false, true} {
			a := openAnomaly(t, k, "2026-03-03 18:00")
			a.Amount, a.Details = 4970, "stored English details of the anomaly"
			if k == fact.PayoutFailed {
				a.Reason, a.BankCode, a.BankCodesVersion = string(fact.NameMismatch), "R02", "bank-2026.1"
			}
			if withArgs {
				a.Args = fact.Args{Mode: event.T1, AuthorizedAt: local(t, "2026-03-02 10:00"), Window: time.Hour, Source: event.Payouts, Count: 3}
			}
			f := facts{traceNo: "TR1", merchant: &profile{mode: event.T1}, anomalies: []fact.Anomaly{a}, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
			}}
			x := decideIn(f, sched, time.UnixMilli(local(t, "2026-03-04 10:00")), text.Chinese)
			t.Run(string(k), func(t *testing.T) { checkChinese(t, x) })
			if x.Anomalies[0].Details == "" {
				t.Errorf("%s: no details", k)
			}
			en := decideIn(f, sched, time.UnixMilli(local(t, "2026-03-04 10:00")), text.English)
			if d := en.Anomalies[0]; d.Details != a.Details || d.Cause != a.Cause || d.Action != a.Action {
				t.Errorf("%s: English anomaly %+v, want the stored sentences", k, d)
			}
		}
	}
}
