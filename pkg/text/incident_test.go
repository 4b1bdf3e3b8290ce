package text

import (
	"strings"
	"testing"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

func TestIncidentSentences(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	from := time.Date(2026, time.October, 1, 8, 55, 0, 0, loc).UnixMilli()
	to := time.Date(2026, time.October, 1, 21, 0, 0, 0, loc).UnixMilli()
	tests := []struct {
		name          string
		s             incident.Summary
		title, action string
	}{
		{"outage over", incident.Summary{Key: incident.OutageKey("payouts", from), Status: fact.Resolved, FirstAt: from, LastAt: to},
			"the payouts feed sent nothing from Thu 2026-10-01 08:55 +08:00 to Thu 2026-10-01 21:00 +08:00 (12h5m0s)", "check the payouts feed's producer"},
		{"outage going on", incident.Summary{Key: incident.OutageKey("payouts", from), Status: fact.Open, FirstAt: from, LastAt: to},
			"the payouts feed has sent nothing since Thu 2026-10-01 08:55 +08:00", "check the payouts feed's producer"},
		{"stalled batch", incident.Summary{Key: incident.Key{Class: incident.Batch, Source: "payouts", BatchID: "PAY-1"}, Kinds: []fact.Kind{fact.BatchStalled}},
			"payouts batch PAY-1 stalled", "batch PAY-1: check the batch job and the bank link; restart the batch"},
		{"stalled then incomplete", incident.Summary{Key: incident.Key{Class: incident.Batch, Source: "payouts", BatchID: "PAY-1"}, Kinds: []fact.Kind{fact.BatchIncomplete, fact.BatchStalled}},
			"payouts batch PAY-1 stalled and closed incomplete", "batch PAY-1: request the missing records"},
		{"bank code", incident.Summary{Key: incident.Key{Class: incident.BankReturn, Day: "2026-10-08", Code: "R05"}, Traces: 47},
			"payouts returned by the bank with code R05 on 2026-10-08", "limit exceeded — raise the account or terminal limit, then re-pay; once for all 47 payouts with code R05"},
		{"account", incident.Summary{Key: incident.Key{Class: incident.Account, MerchantID: "M7"}, Traces: 3},
			"payouts to merchant M7 returned: its settlement account", "have merchant M7 correct its settlement account once, then re-pay its 3 returned payouts"},
		{"clearing file", incident.Summary{Key: incident.Key{Class: incident.ClearingFile, Day: "2026-10-01"}, Traces: 30},
			"approved sales missing from the clearing due on 2026-10-01", "the 30 missing records of the clearing due on 2026-10-01"},
		{"payout run", incident.Summary{Key: incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2026-10-08"}, Traces: 256, Merchants: 141},
			"T1 payouts due on 2026-10-08 not confirmed by the bank", "with the list of 256 traces; tell the 141 merchants"},
		{"merchant", incident.Summary{Key: incident.Key{Class: incident.Merchant, Kind: fact.MCCMismatch, MerchantID: "M3"}, Kinds: []fact.Kind{fact.MCCMismatch}},
			"merchant M3 cleared under another merchant category than registered (跳码)", "report the acquirer or agent"},
		{"daily", incident.Summary{Key: incident.Key{Class: incident.Daily, Kind: fact.AmountMismatch, Reason: "cleared_differs", Day: "2026-10-02"}, Kinds: []fact.Kind{fact.AmountMismatch}},
			"amounts differ between stages (cleared_differs) on 2026-10-02", "reconcile the trace"},
	}
	en, zh := NewPrinter(English, loc), NewPrinter(Chinese, loc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := en.IncidentTitle(tt.s); !strings.HasPrefix(got, tt.title) {
				t.Errorf("title %q, want it to start %q", got, tt.title)
			}
			if got := en.IncidentAction(tt.s); !strings.Contains(got, tt.action) {
				t.Errorf("action %q, want it to contain %q", got, tt.action)
			}
			// Every Chinese title and action reads in Chinese: identifiers
			// (payouts, T1, R05, cleared_differs) stay, no English sentence.
			for _, s := range []string{zh.IncidentTitle(tt.s), zh.IncidentAction(tt.s)} {
				if !hasHan(s) || englishWords(s) != "" || strings.Contains(s, "%!") {
					t.Errorf("zh-CN %q is not Chinese", s)
				}
			}
		})
	}
}

func TestIncidentSentencesInChinese(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	from := time.Date(2026, time.February, 24, 18, 0, 0, 0, loc).UnixMilli()
	zh := NewPrinter(Chinese, loc)
	tests := []struct {
		name      string
		got, want string
	}{
		{"payout run", zh.IncidentTitle(incident.Summary{Key: incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2026-02-24"}}),
			"应于2026年2月24日（周二）到账的 T1 出款未获银行确认"},
		{"outage", zh.IncidentTitle(incident.Summary{Key: incident.OutageKey("payouts", from), Status: fact.Open, FirstAt: from, LastAt: from}),
			"payouts 数据源自 2026年2月24日（周二）18:00 起未发送任何数据"},
		{"bank code", zh.IncidentTitle(incident.Summary{Key: incident.Key{Class: incident.BankReturn, Day: "2026-02-24", Code: "R05"}}),
			"2026年2月24日（周二），银行以退票码 R05 退回出款（退票）"},
		{"account", zh.IncidentAction(incident.Summary{Key: incident.Key{Class: incident.Account, MerchantID: "M7"}, Traces: 3}),
			"请商户 M7 一次性更正结算账户，然后对其 3 笔被退回的出款重新出款"},
		{"held", zh.IncidentTitle(incident.Summary{Key: incident.Key{Class: incident.Merchant, Kind: fact.PayoutHeld, MerchantID: "M3"}}),
			"商户 M3 的出款风控审核超过时限"},
		{"status", zh.IncidentStatus(fact.Open) + zh.SeverityName(fact.Critical), "未处理严重"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
