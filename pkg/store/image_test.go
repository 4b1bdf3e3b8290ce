package store

import "testing"

func TestCompare(t *testing.T) {
	ref := Image{
		Facts: map[string]map[string]string{
			"settlement_lag_latest": {"t1/a": "trace_no=t1 net=100", "t2/a": "trace_no=t2 net=200"},
			"anomalies_latest":      {"x": "id=x kind=payout_failed"},
		},
		Figures: map[string][]string{"lag sums": {"2 | 300"}},
	}
	tests := []struct {
		name                 string
		change               func(*Image)
		lost, extra, changed int
	}{
		{"identical", func(*Image) {}, 0, 0, 0},
		{"a lag row lost", func(im *Image) { delete(im.Facts["settlement_lag_latest"], "t2/a") }, 1, 0, 0},
		{"an anomaly more", func(im *Image) { im.Facts["anomalies_latest"]["y"] = "id=y" }, 0, 1, 0},
		{"a value changed", func(im *Image) { im.Facts["settlement_lag_latest"]["t1/a"] = "trace_no=t1 net=101" }, 0, 0, 1},
		{"a sum changed", func(im *Image) { im.Figures["lag sums"] = []string{"2 | 400"} }, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clone(ref)
			tt.change(&got)
			d := Compare(ref, got)
			if d.Lost != tt.lost || d.Extra != tt.extra || d.Changed != tt.changed {
				t.Fatalf("lost/extra/changed = %d/%d/%d, want %d/%d/%d (%v)", d.Lost, d.Extra, d.Changed, tt.lost, tt.extra, tt.changed, d.Details)
			}
			if (tt.lost+tt.extra+tt.changed > 0) != (len(d.Details) > 0) {
				t.Fatalf("details %v do not match the differences", d.Details)
			}
		})
	}
}

func clone(im Image) Image {
	out := Image{Facts: map[string]map[string]string{}, Figures: map[string][]string{}}
	for v, rows := range im.Facts {
		out.Facts[v] = map[string]string{}
		for k, r := range rows {
			out.Facts[v][k] = r
		}
	}
	for k, r := range im.Figures {
		out.Figures[k] = append([]string(nil), r...)
	}
	return out
}
