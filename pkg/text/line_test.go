package text

import (
	"math"
	"strconv"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// TestTemplatesRenderAsPrinter checks that every message the templates
// parse renders through line exactly as the printer's S renders it, in
// every language.
func TestTemplatesRenderAsPrinter(t *testing.T) {
	for _, lang := range Langs() {
		p := NewPrinter(lang, shanghai)
		if len(p.tmpls) == 0 {
			t.Fatalf("%s: no templates", lang)
		}
		for id, tm := range p.tmpls {
			args := make([]string, tm.nargs)
			var l line
			l.reset(p)
			for i := range args {
				args[i] = "<" + strconv.Itoa(i+1) + "%>"
				l.str(args[i])
			}
			l.msg(id, tm.nargs)
			if got, want := string(l.result()), p.S(id, args...); got != want {
				t.Errorf("%s %s: line renders\n  %q\nS renders\n  %q", lang, id, got, want)
			}
		}
		for id := range p.msgs {
			if p.tmpls[id] == nil {
				t.Errorf("%s %s: no template: the join's sentences would go through fmt", lang, id)
			}
		}
	}
}

// TestAppendDuration checks appendDuration against Duration.String.
func TestAppendDuration(t *testing.T) {
	ds := []time.Duration{0, 1, 999, time.Microsecond, 1500 * time.Nanosecond, time.Millisecond, 1234567, time.Second,
		time.Second + time.Millisecond, 45 * time.Minute, 24 * time.Hour, 26*time.Hour + 3*time.Minute + 7*time.Second,
		math.MaxInt64, math.MinInt64, -1, -time.Hour}
	for v := time.Duration(1); v < math.MaxInt64/7; v = v*7 + 3 {
		ds = append(ds, v, -v)
	}
	for _, d := range ds {
		if got := string(appendDuration(nil, d)); got != d.String() {
			t.Errorf("appendDuration(%d) = %q, want %q", int64(d), got, d.String())
		}
	}
}

// detailsCases is an anomaly of every kind and reason the renderers tell
// apart, open and resolved, with arguments of every shape.
func detailsCases() []fact.Anomaly {
	reasons := map[fact.Kind][]string{
		fact.AmountMismatch:     {"cleared_differs", "cleared_currency_differs", "net_differs", "paid_currency_differs", "x"},
		fact.FeeRateDeviation:   {"fee_exceeds_amount", "fee_above_contract", "x"},
		fact.ReversedButSettled: {"cleared_after_reversal", "paid_after_reversal", "x"},
		fact.PayoutFailed:       {string(fact.AccountFrozen), "", "x"},
	}
	var out []fact.Anomaly
	for _, k := range append(fact.Kinds(), "no_such_kind") {
		rs := reasons[k]
		if rs == nil {
			rs = []string{"r"}
		}
		for _, r := range rs {
			for _, st := range []fact.AnomalyStatus{fact.Open, fact.Resolved} {
				for _, beyond := range []bool{false, true} {
					a := fact.Anomaly{Kind: k, Reason: r, Status: st, Amount: -123456, ExpectedAmount: 99, BatchID: "B-1",
						DetectedAt: 1790000000123, ResolvedAt: 1790003700000, BankCode: "r03", BankCodesVersion: "v1", BankCodeUnknown: beyond,
						Args: fact.Args{Currency: "USD", ExpectedCurrency: "CNY", ClearedAmount: 5000, Fee: 31, FeeRatePPM: 6123, ContractRatePPM: -3840,
							MCC: "5999", RegisteredMCC: "5411", EventType: event.PayoutPaid, EventID: "ev-1", AuthorizedAt: 1789990000000,
							Mode: event.T1, HeldAt: 1789000000000, Window: 45 * time.Minute, Source: event.Payouts, Count: 7, DeclaredCount: 9,
							LastProgressAt: 1789999999999, ReversedAt: 1789000000001, SettledAt: 1789000000002, TotalBeyond: beyond}}
					if beyond {
						a.BankCode = ""
					}
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// TestDetailsAsAnomalyDetails checks that Details appends the sentence
// AnomalyDetails renders, and that it allocates nothing once warm.
func TestDetailsAsAnomalyDetails(t *testing.T) {
	cases := detailsCases()
	var d DetailsRenderer
	var buf []byte
	for _, loc := range []*time.Location{shanghai, time.UTC} {
		for _, a := range cases {
			buf = d.Append(buf[:0], &a, loc)
			if want := AnomalyDetails(a, loc); string(buf) != want {
				t.Errorf("%s/%s/%s: DetailsRenderer.Append =\n  %q\nwant\n  %q", a.Kind, a.Reason, a.Status, buf, want)
			}
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		for i := range cases {
			buf = d.Append(buf[:0], &cases[i], shanghai)
		}
	})
	if allocs != 0 {
		t.Errorf("DetailsRenderer.Append allocates %.1f times per %d anomalies, want 0", allocs, len(cases))
	}
}
