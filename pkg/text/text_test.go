package text

import (
	"strings"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

var shanghai = time.FixedZone("CST", 8*3600)

// ms is a wall time in Shanghai as Unix ms.
func ms(tb testing.TB, s string) int64 {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UnixMilli()
}

// TestAnomalyDetails pins the sentence of every kind and reason the join
// emits, open and resolved.
func TestAnomalyDetails(t *testing.T) {
	resolved := func(a fact.Anomaly, at int64) fact.Anomaly {
		a.Status, a.ResolvedAt = fact.Resolved, at
		return a
	}
	clearingMissing := fact.Anomaly{Kind: fact.ClearingMissing, Reason: "not_cleared", Amount: 5000, DetectedAt: ms(t, "2026-09-29 23:59"),
		Args: fact.Args{AuthorizedAt: ms(t, "2026-09-28 10:00")}}
	overdue := fact.Anomaly{Kind: fact.PayoutOverdue, DetectedAt: ms(t, "2026-10-08 18:00"), Args: fact.Args{Mode: event.T1}}
	orphanClr := fact.Anomaly{Kind: fact.OrphanClearing, Reason: "no_authorization", DetectedAt: ms(t, "2026-09-29 02:10")}
	orphanPay := fact.Anomaly{Kind: fact.OrphanPayout, Reason: "no_authorization", DetectedAt: ms(t, "2026-09-29 10:05")}
	failed := fact.Anomaly{Kind: fact.PayoutFailed, Reason: string(fact.AccountFrozen), Amount: 8747, DetectedAt: ms(t, "2026-10-08 10:20"),
		BankCode: "R03", BankCodesVersion: "bank-2026.1"}
	held := fact.Anomaly{Kind: fact.PayoutHeld, Reason: "review_beyond_sla", Amount: 4970, DetectedAt: ms(t, "2026-09-30 10:00"),
		Args: fact.Args{HeldAt: ms(t, "2026-09-29 10:00"), Window: 24 * time.Hour}}
	stalled := fact.Anomaly{Kind: fact.BatchStalled, Reason: "no_progress", BatchID: "PB-1", DetectedAt: ms(t, "2026-09-29 10:45"),
		Args: fact.Args{Source: event.Payouts, Count: 120, LastProgressAt: ms(t, "2026-09-29 10:00"), Window: 45 * time.Minute}}
	incomplete := fact.Anomaly{Kind: fact.BatchIncomplete, Reason: "count_or_total_differs", BatchID: "CB-7", Amount: 990000, ExpectedAmount: 1000000,
		Args: fact.Args{Source: event.Clearing, Count: 99, DeclaredCount: 100}}
	beyond := incomplete
	beyond.Amount, beyond.ExpectedAmount, beyond.Args.Count, beyond.Args.DeclaredCount, beyond.Args.TotalBeyond = event.MaxFen, event.MaxFen, 2, 2, true

	tests := []struct {
		name string
		a    fact.Anomaly
		want string
	}{
		{"amount_mismatch/cleared_differs", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "cleared_differs", Amount: 20050, ExpectedAmount: 20000},
			"cleared 200.50 but authorized 200.00 (difference +0.50)"},
		{"amount_mismatch/cleared_differs, less", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "cleared_differs", Amount: 19950, ExpectedAmount: 20000},
			"cleared 199.50 but authorized 200.00 (difference -0.50)"},
		{"amount_mismatch/cleared_currency_differs", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "cleared_currency_differs", Amount: 5000, ExpectedAmount: 5000,
			Args: fact.Args{Currency: "USD", ExpectedCurrency: "CNY"}},
			"cleared USD 50.00 for an authorization of CNY 50.00: the currency changed between authorization and clearing"},
		{"amount_mismatch/net_differs", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "net_differs", Amount: 4900, ExpectedAmount: 4970,
			Args: fact.Args{ClearedAmount: 5000, Fee: 30}},
			"paid 49.00 but cleared 50.00 minus fee 0.30 is 49.70"},
		{"amount_mismatch/paid_currency_differs", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "paid_currency_differs", Amount: 4970, ExpectedAmount: 4970,
			Args: fact.Args{ClearedAmount: 5000, Fee: 30, Currency: "HKD", ExpectedCurrency: "CNY"}},
			"paid HKD 49.70 against a clearing in CNY (cleared 50.00 minus fee 0.30 is 49.70): the currency changed between clearing and payout"},
		{"fee_rate_deviation/fee_exceeds_amount", fact.Anomaly{Kind: fact.FeeRateDeviation, Reason: "fee_exceeds_amount", Amount: 6000, ExpectedAmount: 30,
			Args: fact.Args{ClearedAmount: 5000, Fee: 6000}},
			"fee 60.00 is larger than the cleared amount 50.00: the net payout would be -10.00"},
		{"fee_rate_deviation/fee_above_contract", fact.Anomaly{Kind: fact.FeeRateDeviation, Reason: "fee_above_contract", Amount: 100, ExpectedAmount: 60,
			Args: fact.Args{ClearedAmount: 10000, Fee: 100, FeeRatePPM: 10000, ContractRatePPM: 6000}},
			"fee 1.00 on 100.00 is 1.00%; the contracted 0.60% would be 0.60"},
		{"fee_rate_deviation/fee_above_contract, fine rate", fact.Anomaly{Kind: fact.FeeRateDeviation, Reason: "fee_above_contract", Amount: 77, ExpectedAmount: 76,
			Args: fact.Args{ClearedAmount: 20050, Fee: 77, FeeRatePPM: 3840, ContractRatePPM: 3800}},
			"fee 0.77 on 200.50 is 0.38%; the contracted 0.38% would be 0.76"},
		{"mcc_mismatch", fact.Anomaly{Kind: fact.MCCMismatch, Reason: "mcc_5999", Amount: 5000, Args: fact.Args{MCC: "5999", RegisteredMCC: "5411"}},
			"cleared under MCC 5999; the merchant is registered as 5411"},
		{"reversed_but_settled/cleared_after_reversal", fact.Anomaly{Kind: fact.ReversedButSettled, Reason: "cleared_after_reversal", Amount: 5000,
			Args: fact.Args{ReversedAt: ms(t, "2026-09-28 10:03"), SettledAt: ms(t, "2026-09-29 02:10")}},
			"reversed Mon 2026-09-28 10:03 +08:00 but cleared Tue 2026-09-29 02:10 +08:00 for 50.00"},
		{"reversed_but_settled/paid_after_reversal", fact.Anomaly{Kind: fact.ReversedButSettled, Reason: "paid_after_reversal", Amount: 4970,
			Args: fact.Args{ReversedAt: ms(t, "2026-09-28 10:03"), SettledAt: ms(t, "2026-09-29 10:05")}},
			"reversed Mon 2026-09-28 10:03 +08:00 but paid Tue 2026-09-29 10:05 +08:00: 49.70"},
		{"duplicate_trace/authorization", fact.Anomaly{Kind: fact.DuplicateTrace, Reason: "authorization", Args: fact.Args{EventType: event.Authorization, EventID: "a2"}},
			"a second authorization (event a2) for the same trace number"},
		{"duplicate_trace/cleared", fact.Anomaly{Kind: fact.DuplicateTrace, Reason: "cleared", Args: fact.Args{EventType: event.Cleared, EventID: "c2b"}},
			"a second cleared (event c2b) for the same trace number"},
		{"duplicate_trace/payout_paid", fact.Anomaly{Kind: fact.DuplicateTrace, Reason: "payout_paid", Args: fact.Args{EventType: event.PayoutPaid, EventID: "p2b"}},
			"a second payout_paid (event p2b) for the same trace number"},
		{"late_event", fact.Anomaly{Kind: fact.LateEvent, Reason: "payout_paid", DetectedAt: ms(t, "2026-09-29 02:10"), Args: fact.Args{EventType: event.PayoutPaid, EventID: "p9"}},
			"payout_paid (event p9, occurred Tue 2026-09-29 02:10 +08:00) was delivered after its feed had moved past it, or after the trace was closed"},
		{"clearing_missing", clearingMissing, "approved Mon 2026-09-28 10:00 +08:00 for 50.00, not cleared by Tue 2026-09-29 23:59 +08:00"},
		{"clearing_missing resolved", resolved(clearingMissing, ms(t, "2026-09-30 02:00")),
			"approved Mon 2026-09-28 10:00 +08:00 for 50.00, not cleared by Tue 2026-09-29 23:59 +08:00; cleared late on Wed 2026-09-30 02:00 +08:00"},
		{"payout_overdue", overdue, "T1 payout was due by Thu 2026-10-08 18:00 +08:00 and the payout feed has delivered past it with no payout"},
		{"payout_overdue resolved", resolved(overdue, ms(t, "2026-10-09 09:30")),
			"paid Fri 2026-10-09 09:30 +08:00 after the T1 deadline Thu 2026-10-08 18:00 +08:00 (15h30m0s late)"},
		{"orphan_clearing", orphanClr, "clearing on Tue 2026-09-29 02:10 +08:00 with no authorization, although the authorization feed has delivered past it"},
		{"orphan_clearing resolved", resolved(orphanClr, ms(t, "2026-09-28 10:00")),
			"clearing on Tue 2026-09-29 02:10 +08:00 with no authorization, although the authorization feed has delivered past it"},
		{"orphan_payout", orphanPay, "payout on Tue 2026-09-29 10:05 +08:00 with no authorization, although the authorization feed has delivered past it"},
		{"orphan_payout resolved", resolved(orphanPay, ms(t, "2026-09-28 10:00")),
			"payout on Tue 2026-09-29 10:05 +08:00 with no authorization, although the authorization feed has delivered past it"},
		{"payout_failed", failed, "payout of 87.47 returned by the bank on Thu 2026-10-08 10:20 +08:00: account_frozen (bank code R03)"},
		{"payout_failed resolved", resolved(failed, ms(t, "2026-10-09 11:00")),
			"payout of 87.47 returned by the bank on Thu 2026-10-08 10:20 +08:00: account_frozen (bank code R03); paid after all on Fri 2026-10-09 11:00 +08:00"},
		{"payout_failed, unknown code", func() fact.Anomaly {
			a := failed
			a.Reason, a.BankCode, a.BankCodeUnknown = string(fact.OtherFailure), "Z42", true
			return a
		}(), "payout of 87.47 returned by the bank on Thu 2026-10-08 10:20 +08:00: other (bank code Z42 is not in the return-code catalogue bank-2026.1)"},
		{"payout_failed, no code", func() fact.Anomaly {
			a := failed
			a.Reason, a.BankCode, a.BankCodeUnknown = string(fact.OtherFailure), "", true
			return a
		}(), "payout of 87.47 returned by the bank on Thu 2026-10-08 10:20 +08:00: other"},
		{"payout_held", held, "payout held for risk review since Tue 2026-09-29 10:00 +08:00, beyond the 24h0m0s review SLA"},
		{"payout_held resolved", resolved(held, ms(t, "2026-10-01 09:00")),
			"payout held for risk review since Tue 2026-09-29 10:00 +08:00, beyond the 24h0m0s review SLA; released Thu 2026-10-01 09:00 +08:00"},
		{"batch_stalled", stalled,
			"payouts batch PB-1 stopped progressing at Tue 2026-09-29 10:00 +08:00 after 120 records; nothing for 45m0s while its feed delivered past it"},
		{"batch_stalled resolved", resolved(stalled, ms(t, "2026-09-29 11:30")),
			"payouts batch PB-1 stopped progressing at Tue 2026-09-29 10:00 +08:00 after 120 records and resumed at Tue 2026-09-29 11:30 +08:00 (1h30m0s without progress)"},
		{"batch_incomplete", incomplete, "clearing batch CB-7 closed declaring 100 records for 10000.00; 99 arrived for 9900.00 (-1 records, -100.00)"},
		{"batch_incomplete, total beyond the largest amount", beyond,
			"clearing batch CB-7 closed declaring 2 records for 9999999999999999.99; 2 arrived for more than 9999999999999999.99 (+0 records, more than +0.01)"},
	}
	covered := map[fact.Kind]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AnomalyDetails(tt.a, shanghai); got != tt.want {
				t.Errorf("AnomalyDetails =\n  %q\nwant\n  %q", got, tt.want)
			}
			zh := NewPrinter(Chinese, shanghai).AnomalyDetails(tt.a)
			if !hasHan(zh) {
				t.Errorf("zh-CN details have no Chinese: %q", zh)
			}
			if w := englishWords(zh); w != "" {
				t.Errorf("zh-CN details %q keep English %q", zh, w)
			}
		})
		covered[tt.a.Kind] = true
	}
	for _, k := range fact.Kinds() {
		if !covered[k] {
			t.Errorf("kind %s has no pinned sentence", k)
		}
	}
}

// TestEveryKindAndReasonRenders checks that every kind with every reason the
// join gives it, open and resolved, and a kind or reason it does not know,
// renders a sentence.
func TestEveryKindAndReasonRenders(t *testing.T) {
	reasons := map[fact.Kind][]string{
		fact.AmountMismatch:     {"cleared_differs", "cleared_currency_differs", "net_differs", "paid_currency_differs"},
		fact.FeeRateDeviation:   {"fee_exceeds_amount", "fee_above_contract"},
		fact.MCCMismatch:        {"mcc_5999"},
		fact.ReversedButSettled: {"cleared_after_reversal", "paid_after_reversal"},
		fact.DuplicateTrace:     {"authorization", "cleared", "payout_paid"},
		fact.LateEvent:          {"authorization", "reversal", "cleared", "payout_initiated", "payout_paid", "payout_failed", "payout_held", "payout_released"},
		fact.ClearingMissing:    {"not_cleared"},
		fact.PayoutOverdue:      {""},
		fact.OrphanClearing:     {"no_authorization"},
		fact.OrphanPayout:       {"no_authorization"},
		fact.PayoutFailed: {string(fact.AccountInvalid), string(fact.NameMismatch), string(fact.AccountFrozen), string(fact.AccountClosed),
			string(fact.LimitExceeded), string(fact.RiskRestricted), string(fact.OtherFailure)},
		fact.PayoutHeld:      {"review_beyond_sla"},
		fact.BatchStalled:    {"no_progress"},
		fact.BatchIncomplete: {"count_or_total_differs"},
	}
	for _, k := range append(fact.Kinds(), "no_such_kind") {
		rs, ok := reasons[k]
		if !ok && k != "no_such_kind" {
			t.Errorf("kind %s: no reasons listed", k)
		}
		for _, r := range append(rs, "no_such_reason") {
			for _, st := range []fact.AnomalyStatus{fact.Open, fact.Resolved} {
				a := fact.Anomaly{Kind: k, Reason: r, Status: st, Amount: 100, DetectedAt: 1, ResolvedAt: 2}
				if got := AnomalyDetails(a, time.UTC); strings.TrimSpace(got) == "" {
					t.Errorf("%s/%s/%s renders no sentence", k, r, st)
				}
			}
		}
	}
}
