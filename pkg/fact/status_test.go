package fact

import "testing"

func TestStagesStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stages Stages
		status LagStatus
		rank   uint8
	}{
		{"nothing known", Stages{}, "", 0},
		{"paid", Stages{Paid: true}, StatusPaid, 4},
		{"paid wins over failed", Stages{Paid: true, Failed: true}, StatusPaid, 4},
		{"paid wins over open anomalies", Stages{Paid: true, OverdueOpen: true, ClearingMissingOpen: true}, StatusPaid, 4},
		{"failed", Stages{Failed: true}, StatusFailed, 3},
		{"failed wins over overdue", Stages{Failed: true, OverdueOpen: true, ClearingMissingOpen: true}, StatusFailed, 3},
		{"overdue", Stages{OverdueOpen: true}, StatusOverdue, 2},
		{"overdue wins over clearing missing", Stages{OverdueOpen: true, ClearingMissingOpen: true}, StatusOverdue, 2},
		{"clearing missing", Stages{ClearingMissingOpen: true}, StatusClearingMissing, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, rank := tc.stages.Status()
			if status != tc.status || rank != tc.rank {
				t.Errorf("Status() = %q, %d; want %q, %d", status, rank, tc.status, tc.rank)
			}
		})
	}
}

// TestStagesRankOrder checks that a later stage's version beats an earlier
// one's at the same instant, which is what the ranks are for.
func TestStagesRankOrder(t *testing.T) {
	order := []Stages{{ClearingMissingOpen: true}, {OverdueOpen: true}, {Failed: true}, {Paid: true}}
	prev := Version(1_000, 0)
	for _, s := range order {
		st, rank := s.Status()
		v := Version(1_000, rank)
		if v <= prev {
			t.Errorf("%s: version %d not above the earlier stage's %d", st, v, prev)
		}
		prev = v
	}
}
