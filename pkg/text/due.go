package text

import (
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
)

// Due explains a payout deadline in one sentence for support staff:
// "T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23)",
// "T1 结算：预计 2026年2月24日（周二）18:00 前到账（春节假期 2月15日至2月23日顺延）".
// It names the holidays between the trade date and the due date, and says
// when the calendar lacked a year and weekends alone were used.
func (p *Printer) Due(d calendar.Due) string {
	var notes []string
	if d.Assumed {
		notes = append(notes, p.S("due.note.assumed_t1"))
	}
	switch d.Mode {
	case event.T1:
		if h := p.holidays(d); h != "" {
			notes = append(notes, p.S("due.note.holidays_t1", h))
		}
		if d.AdjustedWorkday {
			notes = append(notes, p.S("due.note.adjusted_workday"))
		}
	case event.D1:
		if h := p.holidays(d); h != "" {
			notes = append(notes, p.S("due.note.holidays_d1", h))
		}
	case event.D0, event.T0:
		notes = append(notes, p.S("due.note.window", p.window(d.Window)))
	}
	if d.Deadline.Fallback {
		years := make([]string, len(d.MissingYears))
		for i, y := range d.MissingYears {
			years[i] = strconv.Itoa(y)
		}
		notes = append(notes, p.S("due.note.fallback", strings.Join(years, p.S("list.sep"))))
	}
	s := p.S("due.sentence", d.Mode.String(), p.Time(d.Deadline.At))
	if len(notes) > 0 {
		s = p.S("due.with_notes", s, strings.Join(notes, p.S("notes.sep")))
	}
	return s
}

// DueAt is the sentence of a deadline known only as an instant (a lag fact
// computed with another calendar): "T1 payout due Tue 2026-02-24 18:00".
func (p *Printer) DueAt(mode event.Mode, ms int64) string {
	return p.S("due.sentence", mode.String(), p.Time(ms))
}

// holidays names the holiday periods of d: "Spring Festival 02-15..02-23",
// "春节假期 2月15日至2月23日".
func (p *Printer) holidays(d calendar.Due) string {
	ref := d.Deadline.Date.Year()
	parts := make([]string, 0, len(d.Holidays))
	for _, h := range d.Holidays {
		withYear := h.First.Year() != ref || h.Last.Year() != ref
		parts = append(parts, p.S("due.holiday", p.HolidayName(h.Name), p.day(h.First, withYear), p.day(h.Last, withYear)))
	}
	return strings.Join(parts, p.S("list.sep"))
}

func (p *Printer) day(d calendar.Date, withYear bool) string {
	y, m, dd := d.YMD()
	return p.MonthDay(time.Date(y, m, dd, 0, 0, 0, 0, time.UTC), withYear)
}

// HolidayName is a holiday's name from the calendar in the printer's
// language; a name the catalogue lacks (an operator's calendar) as it is.
func (p *Printer) HolidayName(name string) string {
	if id := "holiday." + name; p.Has(id) {
		return p.S(id)
	}
	return name
}

// window writes a window as "4h" or "30m" rather than "4h0m0s"; "4小时",
// "30分钟".
func (p *Printer) window(w time.Duration) string {
	if p.Chinese() {
		return p.Duration(w.Milliseconds())
	}
	s := w.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
