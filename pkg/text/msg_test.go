package text

import (
	"encoding/json"
	"testing"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// TestRenderMessages renders stored messages, after a JSON round trip, in
// both languages: every kind of argument is formatted in the reader's
// language, identifiers as they are.
func TestRenderMessages(t *testing.T) {
	at := time.Date(2026, 2, 24, 10, 0, 0, 0, time.UTC).UnixMilli()
	sum := incident.Summary{Key: incident.Key{Class: incident.Account, MerchantID: "M9"}, Kinds: []fact.Kind{fact.PayoutFailed},
		Severity: fact.Critical, Status: fact.Open, Traces: 3}
	tests := []struct {
		name   string
		msg    Msg
		en, zh string
	}{
		{"text and money", M("alert.payouts_overdue.summary", T("150"), Yuan(123_456_789)),
			"150 payouts overdue, 1,234,567.89 yuan in total", "150 笔出款逾期，合计 ¥1,234,567.89"},
		{"span", M("alert.dead_letter_rate.summary", T("101"), SpanArg(5*time.Minute)),
			"101 messages dead-lettered in the last 5m0s", "最近 5分钟 内有 101 条消息进入死信"},
		{"an empty identifier", M("alert.batch", T("")), "batch ", "批次 "},
		{"nested", M("alert.batch_stalled.summary", Sub(M("alert.batch.source", T("payouts"), T("PB-1")))),
			"payouts batch PB-1 stalled", "payouts 批次 PB-1 停滞"},
		{"cause, capitalized", Just(Arg{Cause: string(fact.BatchStalled), Upper: true}),
			"A batch stopped progressing before it closed: system or bank outage", "批次在关闭前停止推进：系统或银行故障"},
		{"action", Just(Arg{Action: string(fact.BatchStalled)}),
			"check the batch job and the bank link; restart the batch", "检查批处理任务与银行链路；重新执行该批次"},
		{"kinds", Just(Arg{Kinds: []string{"payout_overdue", "payout_failed"}}), "payout_overdue, payout_failed", "到账逾期、出款失败"},
		{"instant", Just(InstantArg(at)), "2026-02-24T10:00:00Z", "2026年2月24日（周二）10:00:00 +00:00"},
		{"incident title", Just(Arg{Incident: &sum, Part: "title"}), "payouts to merchant M9 returned: its settlement account", "商户 M9 的出款被退回：结算账户有误"},
		{"stored details", Just(DetailsOf(fact.Anomaly{Kind: fact.BatchStalled, Details: "payouts batch PB-1 stopped"}, time.UTC)),
			"payouts batch PB-1 stopped", "批次在关闭前停止推进：系统或银行故障"},
		{"a message the catalogue lacks", M("no.such.message"), "no.such.message", "no.such.message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var m Msg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if got := NewPrinter(English, nil).Render(m); got != tc.en {
				t.Errorf("en = %q, want %q (stored %s)", got, tc.en, b)
			}
			if got := NewPrinter(Chinese, nil).Render(m); got != tc.zh {
				t.Errorf("zh-CN = %q, want %q (stored %s)", got, tc.zh, b)
			}
		})
	}
}
