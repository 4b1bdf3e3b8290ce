package calendar

import (
	"errors"
	"fmt"
	"time"

	"settlemon/pkg/event"
)

// ScheduleConfig holds the cut-off times and windows of the settlement
// schedule. Cut-offs are local times of day in the calendar's time zone.
type ScheduleConfig struct {
	// NetworkCutoff is the local time of day at or after which a sale belongs
	// to the next trade date. Zero means midnight: the trade date is the local
	// calendar date of the sale.
	NetworkCutoff time.Duration
	// ClearingCutoff: clearing of trade date D is due by D+1 at this local time.
	ClearingCutoff time.Duration
	// T1PayoutCutoff: a T1 payout is due on the next business day after the
	// trade date by this local time.
	T1PayoutCutoff time.Duration
	// D1PayoutCutoff: a D1 payout is due on the trade date plus one calendar
	// day by this local time.
	D1PayoutCutoff time.Duration
	// D0Window: a D0 payout is due within this long after the authorization.
	D0Window time.Duration
	// T0Window: a T0 payout is due within this long after the authorization.
	T0Window time.Duration
}

// DefaultScheduleConfig returns the default schedule: network cut-off 23:00,
// clearing by 06:00 the next day, T1 and D1 payouts by 18:00, D0 within 4
// hours and T0 within 30 minutes.
func DefaultScheduleConfig() ScheduleConfig {
	return ScheduleConfig{
		NetworkCutoff:  23 * time.Hour,
		ClearingCutoff: 6 * time.Hour,
		T1PayoutCutoff: 18 * time.Hour,
		D1PayoutCutoff: 18 * time.Hour,
		D0Window:       4 * time.Hour,
		T0Window:       30 * time.Minute,
	}
}

// Validate checks that every cut-off is a time of day in [0, 24h) and every
// window is positive.
func (c ScheduleConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"network cut-off", c.NetworkCutoff},
		{"clearing cut-off", c.ClearingCutoff},
		{"T1 payout cut-off", c.T1PayoutCutoff},
		{"D1 payout cut-off", c.D1PayoutCutoff},
	} {
		if f.v < 0 || f.v >= 24*time.Hour {
			errs = append(errs, fmt.Errorf("%s %v is not a time of day in [0, 24h)", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"D0 window", c.D0Window},
		{"T0 window", c.T0Window},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v must be positive", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Schedule computes trade dates and deadlines. It is immutable and safe for
// concurrent use.
type Schedule struct {
	cfg ScheduleConfig
	cal *Calendar
	loc *time.Location
}

// DefaultSchedule is the bundled calendar (Default) under the default rules
// (DefaultScheduleConfig).
func DefaultSchedule() (*Schedule, error) {
	cal, err := Default()
	if err != nil {
		return nil, err
	}
	return NewSchedule(DefaultScheduleConfig(), cal)
}

// NewSchedule returns a schedule for cfg over cal.
func NewSchedule(cfg ScheduleConfig, cal *Calendar) (*Schedule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("schedule config: %w", err)
	}
	if cal == nil {
		return nil, errors.New("schedule: no calendar")
	}
	return &Schedule{cfg: cfg, cal: cal, loc: cal.Location()}, nil
}

// Calendar returns the schedule's calendar.
func (s *Schedule) Calendar() *Calendar { return s.cal }

// Config returns the schedule's configuration.
func (s *Schedule) Config() ScheduleConfig { return s.cfg }

const msPerDay = 24 * 60 * 60 * 1000

// localDate returns the local date and the local time of day, in
// milliseconds, of the instant ms.
func (s *Schedule) localDate(ms int64) (Date, int64) {
	_, off := time.UnixMilli(ms).In(s.loc).Zone()
	local := ms + int64(off)*1000
	day := floorDiv(local, msPerDay)
	return Date(day), local - day*msPerDay
}

// TradeDate returns the trade date of a sale authorized at authAtMs (Unix ms):
// its local date in the calendar's time zone, or the next date when the sale
// was at or after the network cut-off.
func (s *Schedule) TradeDate(authAtMs int64) Date {
	d, tod := s.localDate(authAtMs)
	if s.cfg.NetworkCutoff > 0 && tod >= s.cfg.NetworkCutoff.Milliseconds() {
		d++
	}
	return d
}

// Deadline is when a stage is due.
type Deadline struct {
	At       int64 // Unix ms
	Fallback bool  // computed on weekends only because the calendar lacks a year
	Date     Date  // local date of At
}

func (s *Schedule) at(d Date, offset time.Duration) int64 {
	return d.At(s.loc, offset).UnixMilli()
}

// PayoutDeadline returns when the payout of a sale authorized at authAtMs is
// due under settlement mode mode:
//
//   - T1: the next business day after the trade date, at T1PayoutCutoff;
//   - D1: the trade date plus one calendar day, at D1PayoutCutoff (holidays
//     do not apply);
//   - D0: authAtMs + D0Window;
//   - T0: authAtMs + T0Window.
//
// ModeUnknown (and any other value) is treated as T1, the slowest mode.
func (s *Schedule) PayoutDeadline(mode event.Mode, authAtMs int64) Deadline {
	switch mode {
	case event.D1:
		d := s.TradeDate(authAtMs) + 1
		return Deadline{At: s.at(d, s.cfg.D1PayoutCutoff), Date: d}
	case event.D0:
		return s.window(authAtMs, s.cfg.D0Window)
	case event.T0:
		return s.window(authAtMs, s.cfg.T0Window)
	default:
		d, fallback := s.cal.NextBusinessDay(s.TradeDate(authAtMs))
		return Deadline{At: s.at(d, s.cfg.T1PayoutCutoff), Fallback: fallback, Date: d}
	}
}

func (s *Schedule) window(authAtMs int64, w time.Duration) Deadline {
	at := authAtMs + w.Milliseconds()
	d, _ := s.localDate(at)
	return Deadline{At: at, Date: d}
}

// ClearingDeadline returns when the clearing of a sale authorized at authAtMs
// is due: the trade date plus one calendar day, at ClearingCutoff.
func (s *Schedule) ClearingDeadline(authAtMs int64) Deadline {
	d := s.TradeDate(authAtMs) + 1
	return Deadline{At: s.at(d, s.cfg.ClearingCutoff), Date: d}
}

// Due is what explains the payout deadline of a sale: the mode it was
// computed for, the deadline, and what moved it. package text renders it
// as a sentence.
type Due struct {
	Mode     event.Mode // T1, D1, D0 or T0: the mode the deadline was computed for
	Assumed  bool       // the sale's mode was unknown: T1 was assumed
	Deadline Deadline
	// Holidays are the holiday periods between the trade date and the due
	// date: they delay a T1 payout and do not delay a D1 one.
	Holidays []Period
	Window   time.Duration // D0 and T0: the window after the sale
	// AdjustedWorkday: a T1 deadline falls on a weekend day the calendar
	// declares a working day (调休), which surprises a merchant.
	AdjustedWorkday bool
	// MissingYears are the years the calendar lacks between the trade
	// date and the due date (Deadline.Fallback): weekends alone were used.
	MissingYears []int
}

// Period is a named holiday period, e.g. "Spring Festival" 2026-02-15 to
// 2026-02-23.
type Period struct {
	Name        string
	First, Last Date
}

// Due returns what explains the payout deadline of a sale authorized at
// authAtMs under mode (ModeUnknown is treated as T1).
func (s *Schedule) Due(mode event.Mode, authAtMs int64) Due {
	dl := s.PayoutDeadline(mode, authAtMs)
	trade := s.TradeDate(authAtMs)
	d := Due{Mode: mode, Deadline: dl}
	switch mode {
	case event.T1, event.D1:
	case event.D0:
		d.Window = s.cfg.D0Window
	case event.T0:
		d.Window = s.cfg.T0Window
	default:
		d.Mode, d.Assumed = event.T1, true
	}
	if d.Mode == event.T1 || d.Mode == event.D1 {
		for day := trade; day < dl.Date; day++ {
			name, first, last, ok := s.cal.Holiday(day)
			if !ok {
				continue
			}
			d.Holidays = append(d.Holidays, Period{Name: name, First: first, Last: last})
			day = last // skip the rest of the period
		}
	}
	if d.Mode == event.T1 {
		if wd := dl.Date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			d.AdjustedWorkday, _ = s.cal.IsBusinessDay(dl.Date)
		}
	}
	if dl.Fallback {
		d.MissingYears = s.missingYears(trade, dl.Date)
	}
	return d
}

// missingYears lists the years of (trade, due] the calendar lacks.
func (s *Schedule) missingYears(trade, due Date) []int {
	var missing []int
	for d := trade + 1; d <= due; d++ {
		if _, known := s.cal.IsBusinessDay(d); !known {
			if y := d.Year(); len(missing) == 0 || missing[len(missing)-1] != y {
				missing = append(missing, y)
			}
		}
	}
	return missing
}
