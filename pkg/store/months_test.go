package store

import (
	"slices"
	"testing"
	"time"
)

func TestByMonth(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	ms := func(s string, tz *time.Location) int64 {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, tz)
		if err != nil {
			t.Fatal(err)
		}
		return v.UnixMilli()
	}
	sep, oct, nov := ms("2026-09-30 23:59", time.UTC), ms("2026-10-01 00:00", time.UTC), ms("2026-11-02 08:00", time.UTC)
	tests := []struct {
		name   string
		times  []int64
		order  []int32
		tz     *time.Location
		want   []int32 // nil: the rows as they are
		groups []int
	}{
		{name: "one month: no reordering", times: []int64{oct, oct + 1, oct + 2}, tz: time.UTC, groups: []int{3}},
		{name: "one month keeps the given order", times: []int64{oct, oct, oct}, order: []int32{2, 0, 1}, tz: time.UTC,
			want: []int32{2, 0, 1}, groups: []int{3}},
		{name: "interleaved months are grouped, in order within each", times: []int64{sep, oct, sep, nov, oct, sep}, tz: time.UTC,
			want: []int32{0, 2, 5, 1, 4, 3}, groups: []int{3, 5, 6}},
		{name: "the given order within the groups", times: []int64{sep, oct, sep, oct}, order: []int32{3, 2, 1, 0}, tz: time.UTC,
			want: []int32{3, 1, 2, 0}, groups: []int{2, 4}},
		{name: "months of the server's zone", times: []int64{ms("2026-09-30 16:30", time.UTC), ms("2026-09-30 15:30", time.UTC)}, tz: shanghai,
			want: []int32{0, 1}, groups: []int{1, 2}},
		{name: "before 1970 is the zero DateTime's month", times: []int64{-5000, 0, 1000}, tz: time.UTC, groups: []int{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			order, groups := byMonth(tc.times, tc.order, func(v *int64) int64 { return *v }, tc.tz)
			if !slices.Equal(order, tc.want) || !slices.Equal(groups, tc.groups) {
				t.Errorf("byMonth = %v %v, want %v %v", order, groups, tc.want, tc.groups)
			}
		})
	}
}
