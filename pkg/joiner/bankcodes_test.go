package joiner

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"settlemon/pkg/fact"
	"settlemon/pkg/join"
)

func TestBankCodesConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "codes.json")
	if err := os.WriteFile(good, []byte(`{"version":"ops-3","codes":[{"code":"E1","reason":"name_mismatch"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":"ops-4","codes":[{"code":"E1","reason":"bounced"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string
		version string
		err     string
	}{
		{"bundled by default", "", fact.DefaultBankCodes().Version(), ""},
		{"bundled with a join config", "", fact.DefaultBankCodes().Version(), ""},
		{"a file", good, "ops-3", ""},
		{"a bad file", bad, "", "bounced"},
		{"a missing file", filepath.Join(dir, "none.json"), "", "reading bank return codes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.BankCodesFile = tt.file
			if tt.name == "bundled with a join config" {
				cfg.Join = join.DefaultConfig()
			}
			err := cfg.Validate()
			if err == nil {
				cfg, err = cfg.loadBankCodes()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Join.BankCodes == nil || cfg.Join.BankCodes.Version() != tt.version {
				t.Errorf("catalogue %v, want version %s", cfg.Join.BankCodes, tt.version)
			}
		})
	}
}

// TestUnknownCodesCounted: open payout failures with a code the catalogue
// lacks are counted in settlemon_joiner_unknown_bank_codes_total; their
// resolution rows and known codes are not.
func TestUnknownCodesCounted(t *testing.T) {
	j := &Joiner{cfg: DefaultConfig(), health: newHealth(), deps: Deps{Now: time.Now}}
	failed := func(code string, unknown bool, st fact.AnomalyStatus) fact.Anomaly {
		return fact.Anomaly{Kind: fact.PayoutFailed, Status: st, BankCode: code, BankCodeUnknown: unknown, BankCodesVersion: "v1"}
	}
	j.countUnknownCodes(slog.New(slog.DiscardHandler), []fact.Anomaly{
		failed("X1", true, fact.Open), failed("X1", true, fact.Open), failed("X1", true, fact.Resolved),
		failed("R02", false, fact.Open), {Kind: fact.AmountMismatch, Status: fact.Open},
		failed("X2", true, fact.Open),
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(j))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "settlemon_joiner_unknown_bank_codes_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 3 {
				t.Errorf("counter = %v, want 3", got)
			}
			return
		}
	}
	t.Fatal("settlemon_joiner_unknown_bank_codes_total not exposed")
}
