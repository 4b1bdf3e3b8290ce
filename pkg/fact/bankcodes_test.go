package fact

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"settlemon/schemas"
)

// TestBankCodes holds the bundled catalogue to the codes it must know: the
// contract's own payout_failed example, every code the simulator sends, and
// the descriptive codes of mainland banks.
func TestBankCodes(t *testing.T) {
	c := DefaultBankCodes()
	if c.Version() == "" || c.Len() < 30 {
		t.Fatalf("bundled catalogue %q lists %d codes", c.Version(), c.Len())
	}
	raw, err := fs.ReadFile(schemas.Events, "events/examples/payout_failed.json")
	if err != nil {
		t.Fatal(err)
	}
	var example struct {
		ReasonCode string `json:"reason_code"`
	}
	if err := json.Unmarshal(raw, &example); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code  string
		want  PayoutFailure
		known bool
	}{
		{example.ReasonCode, NameMismatch, true},
		{"ACCOUNT_NAME_MISMATCH", NameMismatch, true},
		{"account_name_mismatch", NameMismatch, true},
		{"ACCOUNT_NOT_EXIST", AccountInvalid, true},
		{"ACCOUNT_FROZEN", AccountFrozen, true},
		{"ACCOUNT_CLOSED", AccountClosed, true},
		{"AMOUNT_LIMIT_EXCEEDED", LimitExceeded, true},
		{"RISK_CONTROL", RiskRestricted, true},
		{"BANK_SYSTEM_ERROR", OtherFailure, true},
		{"R99", OtherFailure, true},
		{"XYZ_NEW_CODE", OtherFailure, false},
		{"", OtherFailure, false},
	}
	for _, r := range failureReasons {
		tests = append(tests, struct {
			code  string
			want  PayoutFailure
			known bool
		}{BankCode(r), r, true})
	}
	for _, tt := range tests {
		got, known := c.Map(tt.code)
		if got != tt.want || known != tt.known {
			t.Errorf("Map(%q) = %s, %v; want %s, %v", tt.code, got, known, tt.want, tt.known)
		}
		if MapPayoutFailure(tt.code) != tt.want {
			t.Errorf("MapPayoutFailure(%q) = %s, want %s", tt.code, MapPayoutFailure(tt.code), tt.want)
		}
	}
	if !strings.Contains(NameMismatch.Action(), "correct the settlement account") {
		t.Errorf("name_mismatch action %q does not say to correct the settlement account", NameMismatch.Action())
	}
}

func TestParseBankCodesRejects(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"no version", `{"codes":[{"code":"R01","reason":"account_invalid"}]}`, "version"},
		{"unknown reason", `{"version":"v","codes":[{"code":"R01","reason":"bounced"}]}`, "not one of"},
		{"duplicate ignoring case", `{"version":"v","codes":[{"code":"R01","reason":"other"},{"code":"r01","reason":"other"}]}`, "twice"},
		{"empty code", `{"version":"v","codes":[{"code":"","reason":"other"}]}`, "code"},
		{"code with a space", `{"version":"v","codes":[{"code":"R 01","reason":"other"}]}`, "code"},
		{"unknown field", `{"version":"v","codez":[]}`, "unknown field"},
		{"no codes", `{"version":"v","codes":[]}`, "no code"},
		{"trailing data", `{"version":"v","codes":[{"code":"R01","reason":"other"}]} {}`, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBankCodes([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	c, err := ParseBankCodes([]byte(`{"version":"ops-1","codes":[{"code":"X1","reason":"name_mismatch"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, known := c.Map("X1"); r != NameMismatch || !known || c.Version() != "ops-1" {
		t.Errorf("operator catalogue: Map(X1) = %s, %v, version %s", r, known, c.Version())
	}
	if r, known := c.Map("R01"); r != OtherFailure || known {
		t.Errorf("a code only the bundled catalogue knows: Map(R01) = %s, %v", r, known)
	}
}
