package simflags

import (
	"bytes"
	"strings"
	"testing"

	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
)

func TestSimulatorOutageFollowsDays(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantDay  int
		wantNote string
		wantErr  string
	}{
		{"full run keeps day 4", nil, nil, 4, "", ""},
		{"three days: the last", []string{"--days", "3"}, nil, 3, "outage is on day 3 (2026-09-30), the last of --days 3", ""},
		{"explicit day kept", []string{"--days", "3", "--payout-outage-day", "2"}, nil, 2, "", ""},
		{"explicit day after the run is kept for validation", []string{"--days", "3", "--payout-outage-day", "4"}, nil, 4, "", ""},
		{"explicit by environment", []string{"--days", "2"}, map[string]string{"SETTLEMON_PAYOUT_OUTAGE_DAY": "0"}, 0, "", ""},
		{"zero days", []string{"--days", "0"}, nil, 0, "", "--days 0: want at least 1 simulated day"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := service.NewFlags("sim", "sim — test")
			cfg := simulator.FullConfig()
			apply := Register(f, &cfg)
			var notes bytes.Buffer
			f.SetOutputs(&notes, &notes)
			if err := f.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := apply()
			if tc.wantErr != "" {
				if !service.IsUsage(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PayoutOutage.Day != tc.wantDay {
				t.Errorf("outage day %d, want %d", cfg.PayoutOutage.Day, tc.wantDay)
			}
			if tc.wantNote == "" && notes.Len() > 0 || !strings.Contains(notes.String(), tc.wantNote) {
				t.Errorf("notes %q, want %q", notes.String(), tc.wantNote)
			}
		})
	}
}
