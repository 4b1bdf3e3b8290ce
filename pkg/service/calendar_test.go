package service

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCalendarLoadWarnsOnceWhereItMatters(t *testing.T) {
	tests := []struct {
		name  string
		years []int
		want  string // the one warning's years; "" for none
	}{
		{"explain and the console pass no year", nil, ""},
		{"a simulation in a known year", Years(time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)), ""},
		{"a live joiner in December reaches next year", Years(time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC)), "years=[2027]"},
		{"each missing year named once", []int{2027, 2028, 2027}, "years=\"[2027 2028]\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			cc := CalendarFlags(NewFlags("test", ""))
			if _, err := cc.Load(log, tt.years...); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if tt.want == "" {
				if out != "" {
					t.Errorf("logged %q, want nothing", out)
				}
				return
			}
			if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("logged %q, want one warning with %s", out, tt.want)
			}
		})
	}
}
