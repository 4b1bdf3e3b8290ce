package join

import (
	"bytes"
	"strings"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

func failedTrace(code string) []step {
	return []step{
		ev(event.Authorization, "a1", "B1", "MT1", "2026-09-28 10:00", 5000),
		{typ: event.Cleared, id: "c1", trace: "B1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
		{typ: event.PayoutFailed, id: "f1", trace: "B1", merchant: "MT1", at: "2026-09-29 10:00", amount: 4970, code: code},
	}
}

// TestBankCodeMapping: a payout failure's bank code is mapped by the
// catalogue in force, whose version the anomaly records; a code it lacks
// maps to other, is marked unknown and counted.
func TestBankCodeMapping(t *testing.T) {
	ops, err := fact.ParseBankCodes([]byte(`{"version":"ops-7","codes":[{"code":"E42","reason":"account_closed"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		codes   *fact.BankCodes
		code    string
		reason  fact.PayoutFailure
		unknown bool
		version string
		action  string
	}{
		{"the contract's example", nil, "ACCOUNT_NAME_MISMATCH", fact.NameMismatch, false, fact.DefaultBankCodes().Version(), "correct the settlement account"},
		{"a simulator code", nil, "R03", fact.AccountFrozen, false, fact.DefaultBankCodes().Version(), "contact the bank"},
		{"a known other", nil, "BANK_TIMEOUT", fact.OtherFailure, false, fact.DefaultBankCodes().Version(), "contact the bank"},
		{"an unknown code", nil, "Z_UNLISTED", fact.OtherFailure, true, fact.DefaultBankCodes().Version(), "contact the bank"},
		{"an operator's catalogue", ops, "E42", fact.AccountClosed, false, "ops-7", "register a new settlement account"},
		{"a code only the bundled catalogue knows", ops, "R03", fact.OtherFailure, true, "ops-7", "contact the bank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, err := calendar.DefaultSchedule()
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.BankCodes = tt.codes
			p, err := New(cfg, sched, testMerchants)
			if err != nil {
				t.Fatal(err)
			}
			_, as := run(t, p, failedTrace(tt.code))
			var a *fact.Anomaly
			for i := range as {
				if as[i].Kind == fact.PayoutFailed {
					a = &as[i]
				}
			}
			if a == nil {
				t.Fatalf("no payout_failed in %+v", as)
			}
			if fact.PayoutFailure(a.Reason) != tt.reason || a.BankCode != tt.code || a.BankCodeUnknown != tt.unknown || a.BankCodesVersion != tt.version {
				t.Errorf("got reason %s code %q unknown %v version %q; want %s %q %v %q", a.Reason, a.BankCode, a.BankCodeUnknown, a.BankCodesVersion, tt.reason, tt.code, tt.unknown, tt.version)
			}
			if !strings.Contains(a.Action, tt.action) {
				t.Errorf("action %q lacks %q", a.Action, tt.action)
			}
			if got := strings.Contains(a.Details, "not in the return-code catalogue "+tt.version); got != tt.unknown {
				t.Errorf("details %q: say unknown = %v, want %v", a.Details, got, tt.unknown)
			}
			wantCount := uint64(0)
			if tt.unknown {
				wantCount = 1
			}
			if n := p.Stats().UnknownCodes; n != wantCount {
				t.Errorf("UnknownCodes = %d, want %d", n, wantCount)
			}
		})
	}
}

// TestBankCodeSurvivesSnapshot: the failure's code is part of the state, so
// the resolution row written after a restore still names it, mapped by the
// catalogue the restored partition runs with.
func TestBankCodeSurvivesSnapshot(t *testing.T) {
	p := newPartition(t)
	run(t, p, failedTrace("ACCOUNT_NAME_MISMATCH"))
	var snap bytes.Buffer
	if err := p.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	ops, err := fact.ParseBankCodes([]byte(`{"version":"ops-8","codes":[{"code":"ACCOUNT_NAME_MISMATCH","reason":"name_mismatch"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.BankCodes = ops
	q, err := Restore(cfg, p.sched, testMerchants, &snap)
	if err != nil {
		t.Fatal(err)
	}
	_, as := run(t, q, []step{ev(event.PayoutPaid, "p1", "B1", "MT1", "2026-09-30 10:00", 4970)})
	for _, a := range as {
		if a.Kind == fact.PayoutFailed {
			if a.Status != fact.Resolved || a.BankCode != "ACCOUNT_NAME_MISMATCH" || a.Reason != string(fact.NameMismatch) || a.BankCodesVersion != "ops-8" {
				t.Errorf("resolution row after restore: %+v", a)
			}
			return
		}
	}
	t.Fatalf("no payout_failed resolution in %+v", as)
}
