package store

import (
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

func TestAnomalyArgsRoundTrip(t *testing.T) {
	for _, a := range []fact.Args{
		{},
		{Source: event.Auth, Count: 1}, // the zero source is auth
		{Mode: event.T1},
		{Source: event.Payouts, Count: 37, LastProgressAt: 1_760_000_000_000, Window: 30 * time.Minute},
		{Source: event.Clearing, Count: 99, DeclaredCount: 100, TotalBeyond: true},
		{EventType: event.PayoutPaid, EventID: "e-1"},
		{ClearedAmount: 128_800, Fee: 773, Currency: "USD", ExpectedCurrency: "CNY", FeeRatePPM: 6000, ContractRatePPM: 3800},
		{MCC: "5812", RegisteredMCC: "5411", AuthorizedAt: 1, ReversedAt: 2, SettledAt: 3, HeldAt: 4},
	} {
		s := encodeArgs(a)
		if (s == "") != (a == fact.Args{}) {
			t.Errorf("encodeArgs(%+v) = %q", a, s)
		}
		got, err := decodeArgs(s)
		if err != nil || got != a {
			t.Errorf("decodeArgs(%q) = %+v, %v; want %+v", s, got, err, a)
		}
	}
	for _, bad := range []string{"{", `{"source":"nowhere"}`, `{"source":"auth","mode":"T9"}`} {
		if _, err := decodeArgs(bad); err == nil {
			t.Errorf("decodeArgs(%q): no error", bad)
		}
	}
}
