package join

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

func TestMulDiv(t *testing.T) {
	const maxFen = event.MaxFen
	tests := []struct {
		name               string
		a, b, d            int64
		floor, ceil, round int64
		ok                 bool
	}{
		{"zero", 0, 6500, 1e6, 0, 0, 0, true},
		{"negative counts as zero", -5, 6500, 1e6, 0, 0, 0, true},
		{"exact", 100000, 6500, 1e6, 650, 650, 650, true},
		{"fraction below half", 12345, 6500, 1e6, 80, 81, 80, true},
		{"exactly half rounds up", 100, 5000, 1e6, 0, 1, 1, true},
		{"Decimal(18,2) limit at 0.65%", maxFen, 6500, 1e6, 6499999999999999, 6500000000000000, 6500000000000000, true},
		{"Decimal(18,2) limit at 200%", maxFen, 2e6, 1e6, 1999999999999999998, 1999999999999999998, 1999999999999999998, true},
		{"limit times a million over itself", maxFen, 1e6, maxFen, 1e6, 1e6, 1e6, true},
		{"int64 by int64", math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, true},
		{"quotient beyond int64", math.MaxInt64, 4, 2, math.MaxInt64, math.MaxInt64, math.MaxInt64, false},
		{"quotient beyond 64 bits", math.MaxInt64, math.MaxInt64, 1, math.MaxInt64, math.MaxInt64, math.MaxInt64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				fn   func(a, b, d int64) (int64, bool)
				want int64
				name string
			}{{mulDiv, tt.floor, "floor"}, {mulDivCeil, tt.ceil, "ceil"}, {mulDivRound, tt.round, "round"}} {
				if got, ok := c.fn(tt.a, tt.b, tt.d); got != c.want || ok != tt.ok {
					t.Errorf("%s(%d × %d / %d) = %d, %v; want %d, %v", c.name, tt.a, tt.b, tt.d, got, ok, c.want, tt.ok)
				}
			}
		})
	}
}

func TestAddFen(t *testing.T) {
	for _, tt := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{event.MaxFen, 0, event.MaxFen},
		{event.MaxFen - 1, 1, event.MaxFen},
		{event.MaxFen, 1, event.MaxFen + 1},
		{event.MaxFen, event.MaxFen, event.MaxFen + 1},
		{math.MaxInt64 - 1, math.MaxInt64, event.MaxFen + 1},
	} {
		if got := addFen(tt.a, tt.b, event.MaxFen+1); got != tt.want {
			t.Errorf("addFen(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// clearOne authorizes and clears one trace of merchant with amount and fee,
// under a fee tolerance of tolPPM, and returns the anomalies raised.
func clearOne(tb testing.TB, ms merchants, tolPPM int64, merchant string, amount, fee int64) []fact.Anomaly {
	tb.Helper()
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FeeTolerancePPM = tolPPM
	p, err := New(cfg, sched, ms)
	if err != nil {
		tb.Fatal(err)
	}
	_, as := run(tb, p, []step{
		ev(event.Authorization, "a1", "F1", merchant, "2026-09-28 10:00", amount),
		{typ: event.Cleared, id: "c1", trace: "F1", merchant: merchant, at: "2026-09-29 02:10", amount: amount, fee: fee, mcc: "5411"},
	})
	return as
}

// TestFeeRuleBoundary holds the fee rule to its exact statement: a fee is
// within the contract when fee ≤ ⌈amount × (rate + tolerance) / 10⁶⌉ fen.
// The largest allowed fee passes and one fen more fires, at ordinary amounts
// and at the Decimal(18,2) limit, where amount × rate is far beyond int64.
func TestFeeRuleBoundary(t *testing.T) {
	const maxFen = event.MaxFen
	ms := merchants{
		"M60":  {Mode: event.T1, FeeRatePPM: 6000, RegisteredMCC: "5411"},
		"M0":   {Mode: event.T1, FeeRatePPM: 0, RegisteredMCC: "5411"},
		"MTOP": {Mode: event.T1, FeeRatePPM: 999_999, RegisteredMCC: "5411"},
	}
	tests := []struct {
		name     string
		merchant string
		tol      int64
		amount   int64
		allowed  int64 // the largest fee the rule allows
	}{
		{"0.6% + 0.05% of 1000.00, exact", "M60", 500, 100000, 650},
		{"0.6% + 0.05% of 123.45 rounds up", "M60", 500, 12345, 81},
		{"0.6% of 0.02 rounds up to a whole fen", "M60", 0, 2, 1},
		{"0% + 0.05% of 1000.00", "M0", 500, 100000, 50},
		{"0% without tolerance allows no fee", "M0", 0, 100000, 0},
		{"0.65% at the Decimal(18,2) limit", "M60", 500, maxFen, 6_500_000_000_000_000},
		{"0.6% at the Decimal(18,2) limit", "M60", 0, maxFen, 6_000_000_000_000_000},
		{"99.9999% at the Decimal(18,2) limit", "MTOP", 0, maxFen, 999_999_000_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxFee(tt.amount, ms[tt.merchant].FeeRatePPM+tt.tol); got != tt.allowed {
				t.Errorf("maxFee = %d, want %d", got, tt.allowed)
			}
			if as := clearOne(t, ms, tt.tol, tt.merchant, tt.amount, tt.allowed); len(as) != 0 {
				t.Errorf("the largest allowed fee %d raised %+v", tt.allowed, as)
			}
			as := clearOne(t, ms, tt.tol, tt.merchant, tt.amount, tt.allowed+1)
			if len(as) != 1 || as[0].Kind != fact.FeeRateDeviation || as[0].Reason != "fee_above_contract" {
				t.Fatalf("one fen above the allowed fee: got %+v, want one fee_rate_deviation (fee_above_contract)", as)
			}
			if want := contractFee(tt.amount, ms[tt.merchant].FeeRatePPM); as[0].ExpectedAmount != want || as[0].ExpectedAmount < 0 {
				t.Errorf("expected amount %d, want the contracted fee %d", as[0].ExpectedAmount, want)
			}
			if strings.Contains(as[0].Details, "-") {
				t.Errorf("details show a wrapped figure: %s", as[0].Details)
			}
		})
	}
}

// TestFeeExceedsAmount: a fee larger than the cleared amount is wrong under
// any contract, and is reported even when the merchant has no profile.
func TestFeeExceedsAmount(t *testing.T) {
	tests := []struct {
		name          string
		merchant      string
		amount, fee   int64
		want          string // reason, "" for none
		wantExpected  int64
		detailsPhrase string
	}{
		{"fee one fen above the amount", "MT1", 5000, 5001, "fee_exceeds_amount", 30, "net payout would be -0.01"},
		{"fee equal to the amount is a rate deviation, not this", "MT1", 5000, 5000, "fee_above_contract", 30, "100.00%"},
		{"no profile: still reported", "NOPROFILE", 5000, 9000, "fee_exceeds_amount", 0, "larger than the cleared amount 50.00"},
		{"no profile, fee within the amount: nothing to compare", "NOPROFILE", 5000, 4000, "", 0, ""},
		{"at the Decimal(18,2) limit", "MT1", 1, event.MaxFen, "fee_exceeds_amount", 0, "9999999999999999.99 is larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := clearOne(t, testMerchants, 500, tt.merchant, tt.amount, tt.fee)
			if tt.want == "" {
				if len(as) != 0 {
					t.Fatalf("got %+v, want nothing", as)
				}
				return
			}
			if len(as) != 1 || as[0].Kind != fact.FeeRateDeviation || as[0].Reason != tt.want {
				t.Fatalf("got %+v, want one fee_rate_deviation (%s)", as, tt.want)
			}
			if as[0].Amount != tt.fee || as[0].ExpectedAmount != tt.wantExpected {
				t.Errorf("amount %d expected %d, want %d and %d", as[0].Amount, as[0].ExpectedAmount, tt.fee, tt.wantExpected)
			}
			if !strings.Contains(as[0].Details, tt.detailsPhrase) {
				t.Errorf("details %q lack %q", as[0].Details, tt.detailsPhrase)
			}
		})
	}
}

// TestBatchTotalAtTheLimit: a batch's running total never wraps. Records
// adding up to more than the Decimal(18,2) limit saturate, so the batch is
// incomplete even when it declared the limit itself, and its row holds a
// total the table can store.
func TestBatchTotalAtTheLimit(t *testing.T) {
	const maxFen = event.MaxFen
	opened := bstep{typ: event.BatchOpened, id: "o", at: "2026-09-29 10:00"}
	closed := func(n, total int64) bstep {
		return bstep{typ: event.BatchClosed, id: "c", at: "2026-09-29 10:30", declared: n, total: total}
	}
	tests := []struct {
		name     string
		steps    []bstep
		status   fact.BatchStatus
		seen     int64
		phrasing string
	}{
		{"one record at the limit, declared", []bstep{opened, item("1", "2026-09-29 10:01", maxFen, 0), closed(1, maxFen), pwm("2026-09-29 11:00")},
			fact.BatchIsClosed, maxFen, ""},
		{"records beyond the limit, declared as the limit", []bstep{opened, item("1", "2026-09-29 10:01", maxFen, 0), item("2", "2026-09-29 10:02", maxFen, 0),
			closed(2, maxFen), pwm("2026-09-29 11:00")}, fact.BatchIsIncomplete, maxFen, "2 arrived for more than 9999999999999999.99"},
		{"ten records at the limit (beyond int64)", append(append([]bstep{opened}, func() []bstep {
			var s []bstep
			for i := range 10 {
				s = append(s, item(fmt.Sprint(i), "2026-09-29 10:01", maxFen, 0))
			}
			return s
		}()...), closed(10, maxFen), pwm("2026-09-29 11:00")), fact.BatchIsIncomplete, maxFen, "more than +0.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			an, rows := runBatch(t, tt.steps)
			if len(rows) != 1 || rows[0].Status != tt.status || rows[0].SeenTotal != tt.seen {
				t.Fatalf("rows %+v, want one %s with seen total %d", rows, tt.status, tt.seen)
			}
			if tt.phrasing == "" {
				if len(an) != 0 {
					t.Errorf("anomalies %+v, want none", an)
				}
				return
			}
			if len(an) != 1 || an[0].Amount != maxFen || !strings.Contains(an[0].Details, tt.phrasing) {
				t.Errorf("anomalies %+v, want one batch_incomplete of %d saying %q", an, int64(maxFen), tt.phrasing)
			}
		})
	}
}

func TestCurrencyCodes(t *testing.T) {
	for _, code := range []string{"CNY", "USD", "AAA", "ZZZ", "HKD", "EUR"} {
		if got := currencyOf(code).String(); got != code {
			t.Errorf("currencyOf(%q) renders %q", code, got)
		}
	}
	if currencyOf("") != currencyOf("CNY") || currencyOf("USD") == currencyOf("HKD") {
		t.Error("absent must be CNY, and distinct codes distinct")
	}
}

// TestCurrencyChanges: an amount in another currency than the stage before
// it (clearing against the authorization, payment against the clearing) is
// an amount_mismatch with a reason that names the currencies, in whatever
// order the stages arrive. An event that names no currency is in CNY.
func TestCurrencyChanges(t *testing.T) {
	auth := func(cur string) step {
		s := ev(event.Authorization, "a1", "X1", "MT1", "2026-09-28 10:00", 100000)
		s.cur = cur
		return s
	}
	clear := func(cur string, amount int64) step {
		return step{typ: event.Cleared, id: "c1", trace: "X1", merchant: "MT1", at: "2026-09-29 02:10", amount: amount, fee: 600, cur: cur}
	}
	paid := func(cur string, amount int64) step {
		s := ev(event.PayoutPaid, "p1", "X1", "MT1", "2026-09-29 10:00", amount)
		s.cur = cur
		return s
	}
	tests := []struct {
		name    string
		steps   []step
		reasons map[string]string // anomaly id → reason
		phrase  string
	}{
		{"all CNY, named or not", []step{auth(""), clear("CNY", 100000), paid("", 99400)}, map[string]string{}, ""},
		{"clearing in USD for a CNY authorization", []step{auth("CNY"), clear("USD", 100000), paid("USD", 99400)},
			map[string]string{"amount_mismatch:X1:cleared": "cleared_currency_differs"}, "cleared USD 1000.00 for an authorization of CNY 1000.00"},
		{"the same, clearing first", []step{clear("USD", 100000), paid("USD", 99400), auth("CNY")},
			map[string]string{"amount_mismatch:X1:cleared": "cleared_currency_differs"}, "cleared USD 1000.00 for an authorization of CNY 1000.00"},
		{"a clearing naming no currency for a USD authorization is CNY", []step{auth("USD"), clear("", 100000), paid("", 99400)},
			map[string]string{"amount_mismatch:X1:cleared": "cleared_currency_differs"}, "cleared CNY 1000.00 for an authorization of USD 1000.00"},
		{"paid in HKD for a CNY clearing", []step{auth("CNY"), clear("CNY", 100000), paid("HKD", 99400)},
			map[string]string{"amount_mismatch:X1:paid": "paid_currency_differs"}, "paid HKD 994.00 against a clearing in CNY"},
		{"the same, payment first", []step{paid("HKD", 99400), clear("CNY", 100000), auth("")},
			map[string]string{"amount_mismatch:X1:paid": "paid_currency_differs"}, "paid HKD 994.00 against a clearing in CNY"},
		{"another currency and another amount: the currency is the reason", []step{auth("CNY"), clear("USD", 13900), paid("USD", 13000)},
			map[string]string{"amount_mismatch:X1:cleared": "cleared_currency_differs", "amount_mismatch:X1:paid": "net_differs"}, "cleared USD 139.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, as := run(t, newPartition(t), tt.steps)
			got := map[string]string{}
			var details []string
			for _, a := range as {
				if a.Kind == fact.AmountMismatch {
					got[a.ID] = a.Reason
					details = append(details, a.Details)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.reasons) {
				t.Errorf("amount_mismatch reasons %v, want %v", got, tt.reasons)
			}
			if tt.phrase != "" && !strings.Contains(strings.Join(details, "\n"), tt.phrase) {
				t.Errorf("details %q lack %q", details, tt.phrase)
			}
		})
	}
}
