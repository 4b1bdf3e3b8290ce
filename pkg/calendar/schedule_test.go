package calendar

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/event"
)

func defaultSchedule(tb testing.TB) *Schedule {
	tb.Helper()
	s, err := NewSchedule(DefaultScheduleConfig(), defaultCalendar(tb))
	if err != nil {
		tb.Fatalf("NewSchedule: %v", err)
	}
	return s
}

// localMs returns the Unix ms of a Shanghai wall-clock time "2026-02-13 10:00"
// (seconds and milliseconds optional: "2026-02-13 22:59:59.999").
func localMs(tb testing.TB, s string) int64 {
	tb.Helper()
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatal(err)
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05.999"} {
		if t, err := time.ParseInLocation(layout, s, sh); err == nil {
			return t.UnixMilli()
		}
	}
	tb.Fatalf("bad local time %q", s)
	return 0
}

func TestTradeDate(t *testing.T) {
	s := defaultSchedule(t)
	tests := []struct{ auth, want string }{
		{"2026-02-13 00:00", "2026-02-13"},
		{"2026-02-13 10:00", "2026-02-13"},
		{"2026-02-13 22:59:59.999", "2026-02-13"},
		{"2026-02-13 23:00", "2026-02-14"},
		{"2026-02-13 23:30", "2026-02-14"},
		{"2026-12-31 23:30", "2027-01-01"},
		{"1969-12-31 10:00", "1969-12-31"}, // negative Unix time
		{"1969-12-31 23:10", "1970-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			if got := s.TradeDate(localMs(t, tt.auth)); got.String() != tt.want {
				t.Errorf("TradeDate = %v, want %s", got, tt.want)
			}
		})
	}

	// A zero network cut-off means midnight: no shift.
	cfg := DefaultScheduleConfig()
	cfg.NetworkCutoff = 0
	s0, err := NewSchedule(cfg, defaultCalendar(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := s0.TradeDate(localMs(t, "2026-02-13 23:30")); got.String() != "2026-02-13" {
		t.Errorf("TradeDate with zero cut-off = %v, want 2026-02-13", got)
	}
}

func TestPayoutDeadline(t *testing.T) {
	s := defaultSchedule(t)
	tests := []struct {
		name     string
		mode     event.Mode
		auth     string
		due      string // local wall-clock time
		fallback bool
	}{
		// Spring Festival 2026: holidays 02-15..02-23, adjusted working day Sat 02-14.
		{"T1 Friday before Spring Festival: adjusted Saturday", event.T1, "2026-02-13 10:00", "2026-02-14 18:00", false},
		{"T1 after cut-off Friday: trade date is the adjusted Saturday", event.T1, "2026-02-13 23:30", "2026-02-24 18:00", false},
		{"T1 on adjusted Saturday: across Spring Festival", event.T1, "2026-02-14 10:00", "2026-02-24 18:00", false},
		{"T1 first day of Spring Festival", event.T1, "2026-02-15 10:00", "2026-02-24 18:00", false},
		{"T1 mid Spring Festival", event.T1, "2026-02-19 10:00", "2026-02-24 18:00", false},
		// National Day 2026: holidays 10-01..10-07, adjusted working day Sat 10-10.
		{"T1 eve of National Day", event.T1, "2026-09-30 10:00", "2026-10-08 18:00", false},
		{"T1 Friday before adjusted Saturday", event.T1, "2026-10-09 10:00", "2026-10-10 18:00", false},
		// Ordinary weekends.
		{"T1 Friday across weekend", event.T1, "2026-03-06 10:00", "2026-03-09 18:00", false},
		{"T1 Friday 23:30: trade date Saturday", event.T1, "2026-03-06 23:30", "2026-03-09 18:00", false},
		{"T1 Thursday 22:00", event.T1, "2026-03-05 22:00", "2026-03-06 18:00", false},
		{"T1 Thursday 23:30: trade date Friday", event.T1, "2026-03-05 23:30", "2026-03-09 18:00", false},
		{"T1 Saturday", event.T1, "2026-03-07 10:00", "2026-03-09 18:00", false},
		// New Year 2026: holidays 01-01..01-03, adjusted working day Sun 01-04.
		{"T1 New Year's Eve: adjusted Sunday", event.T1, "2025-12-31 10:00", "2026-01-04 18:00", false},
		{"T1 on adjusted Sunday", event.T1, "2026-01-04 10:00", "2026-01-05 18:00", false},
		// Years missing from the calendar: weekends only.
		{"T1 into unknown 2027", event.T1, "2026-12-31 10:00", "2027-01-01 18:00", true},
		{"T1 in unknown 2027 across weekend", event.T1, "2027-01-08 10:00", "2027-01-11 18:00", true},
		{"T1 from unknown 2024 into known 2025", event.T1, "2024-12-31 10:00", "2025-01-02 18:00", false},
		// Unknown mode is treated as T1.
		{"unknown mode as T1", event.ModeUnknown, "2026-02-13 10:00", "2026-02-14 18:00", false},
		{"invalid mode as T1", event.NumModes, "2026-02-15 10:00", "2026-02-24 18:00", false},
		// D1 is calendar days: holidays and weekends do not apply.
		{"D1 in Spring Festival", event.D1, "2026-02-16 10:00", "2026-02-17 18:00", false},
		{"D1 eve of National Day", event.D1, "2026-09-30 10:00", "2026-10-01 18:00", false},
		{"D1 Friday 23:30", event.D1, "2026-03-06 23:30", "2026-03-08 18:00", false},
		{"D1 in unknown 2027", event.D1, "2027-01-08 10:00", "2027-01-09 18:00", false},
		// D0 and T0 are windows after the authorization.
		{"D0", event.D0, "2026-02-15 10:00", "2026-02-15 14:00", false},
		{"D0 past midnight", event.D0, "2026-02-13 22:00", "2026-02-14 02:00", false},
		{"T0", event.T0, "2026-02-15 10:00", "2026-02-15 10:30", false},
		{"T0 at 23:45", event.T0, "2026-12-31 23:45", "2027-01-01 00:15", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := s.PayoutDeadline(tt.mode, localMs(t, tt.auth))
			want := localMs(t, tt.due)
			if dl.At != want {
				t.Errorf("At = %v, want %s", time.UnixMilli(dl.At).In(s.Calendar().Location()), tt.due)
			}
			if dl.Fallback != tt.fallback {
				t.Errorf("Fallback = %v, want %v", dl.Fallback, tt.fallback)
			}
			if dl.Date.String() != tt.due[:10] {
				t.Errorf("Date = %v, want %s", dl.Date, tt.due[:10])
			}
		})
	}
}

func TestClearingDeadline(t *testing.T) {
	s := defaultSchedule(t)
	tests := []struct{ auth, due string }{
		{"2026-02-13 10:00", "2026-02-14 06:00"},
		{"2026-02-13 23:30", "2026-02-15 06:00"}, // trade date 02-14
		{"2026-02-16 10:00", "2026-02-17 06:00"}, // holidays do not apply
		{"2026-12-31 10:00", "2027-01-01 06:00"},
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			dl := s.ClearingDeadline(localMs(t, tt.auth))
			if dl.At != localMs(t, tt.due) || dl.Date.String() != tt.due[:10] || dl.Fallback {
				t.Errorf("ClearingDeadline = %v (%v, fallback %v), want %s",
					time.UnixMilli(dl.At).In(s.Calendar().Location()), dl.Date, dl.Fallback, tt.due)
			}
		})
	}
}

func TestScheduleConfig(t *testing.T) {
	if err := DefaultScheduleConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	tests := []struct {
		name    string
		mutate  func(*ScheduleConfig)
		wantErr string
	}{
		{"network cut-off 24h", func(c *ScheduleConfig) { c.NetworkCutoff = 24 * time.Hour }, "network cut-off"},
		{"negative clearing cut-off", func(c *ScheduleConfig) { c.ClearingCutoff = -time.Minute }, "clearing cut-off"},
		{"T1 cut-off 25h", func(c *ScheduleConfig) { c.T1PayoutCutoff = 25 * time.Hour }, "T1 payout cut-off"},
		{"D1 cut-off 24h", func(c *ScheduleConfig) { c.D1PayoutCutoff = 24 * time.Hour }, "D1 payout cut-off"},
		{"zero D0 window", func(c *ScheduleConfig) { c.D0Window = 0 }, "D0 window"},
		{"negative T0 window", func(c *ScheduleConfig) { c.T0Window = -time.Second }, "T0 window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultScheduleConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error about %s", err, tt.wantErr)
			}
			if _, err := NewSchedule(cfg, defaultCalendar(t)); err == nil {
				t.Error("NewSchedule accepted an invalid config")
			}
		})
	}
	if _, err := NewSchedule(DefaultScheduleConfig(), nil); err == nil {
		t.Error("NewSchedule accepted a nil calendar")
	}
	if err := (ScheduleConfig{}).Validate(); err == nil {
		t.Error("zero config valid")
	}
}

// TestDue: what explains a deadline (package text pins the sentences).
func TestDue(t *testing.T) {
	s := defaultSchedule(t)
	tests := []struct {
		mode     event.Mode
		auth     string
		want     event.Mode
		assumed  bool
		holidays string
		window   time.Duration
		missing  []int
		adjusted bool
	}{
		{mode: event.T1, auth: "2026-02-15 10:00", want: event.T1, holidays: "Spring Festival 2026-02-15..2026-02-23"},
		{mode: event.T1, auth: "2026-03-06 10:00", want: event.T1},
		{mode: event.T1, auth: "2026-02-13 10:00", want: event.T1, adjusted: true}, // Sat 2026-02-14 is a working day
		{mode: event.D1, auth: "2026-02-13 10:00", want: event.D1},                 // calendar days: no note
		{mode: event.T1, auth: "2027-01-08 10:00", want: event.T1, missing: []int{2027}},
		{mode: event.ModeUnknown, auth: "2026-02-13 10:00", want: event.T1, assumed: true, adjusted: true},
		{mode: event.D1, auth: "2026-02-16 10:00", want: event.D1, holidays: "Spring Festival 2026-02-15..2026-02-23"},
		{mode: event.D0, auth: "2026-02-13 22:00", want: event.D0, window: 4 * time.Hour},
		{mode: event.T0, auth: "2026-02-13 10:00", want: event.T0, window: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+" "+tt.auth, func(t *testing.T) {
			auth := localMs(t, tt.auth)
			d := s.Due(tt.mode, auth)
			var hs []string
			for _, h := range d.Holidays {
				hs = append(hs, h.Name+" "+h.First.String()+".."+h.Last.String())
			}
			if d.Mode != tt.want || d.Assumed != tt.assumed || strings.Join(hs, ", ") != tt.holidays || d.Window != tt.window ||
				fmt.Sprint(d.MissingYears) != fmt.Sprint(tt.missing) || d.AdjustedWorkday != tt.adjusted {
				t.Errorf("Due = %+v (holidays %q), want mode %v assumed %v holidays %q window %v missing %v adjusted %v",
					d, hs, tt.want, tt.assumed, tt.holidays, tt.window, tt.missing, tt.adjusted)
			}
			if dl := s.PayoutDeadline(tt.mode, auth); d.Deadline != dl {
				t.Errorf("deadline %+v, want PayoutDeadline's %+v", d.Deadline, dl)
			}
		})
	}
}

func TestPayoutDeadlineAllocs(t *testing.T) {
	s := defaultSchedule(t)
	auth := localMs(t, "2026-02-13 23:30")
	for _, mode := range []event.Mode{event.T1, event.D1, event.D0, event.T0, event.ModeUnknown} {
		if n := testing.AllocsPerRun(100, func() {
			_ = s.PayoutDeadline(mode, auth)
			_ = s.ClearingDeadline(auth)
		}); n != 0 {
			t.Errorf("%v: %v allocations per call, want 0", mode, n)
		}
	}
}

func BenchmarkPayoutDeadline(b *testing.B) {
	s := defaultSchedule(b)
	// A week of sales every 7 minutes, across the Spring Festival.
	start := localMs(b, "2026-02-10 00:00")
	auths := make([]int64, 0, 1440)
	for i := range cap(auths) {
		auths = append(auths, start+int64(i)*7*60*1000)
	}
	for _, mode := range []event.Mode{event.T1, event.D1, event.D0} {
		b.Run(mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			var sink int64
			i := 0
			for b.Loop() {
				sink += s.PayoutDeadline(mode, auths[i%len(auths)]).At
				i++
			}
			_ = sink
		})
	}
}
