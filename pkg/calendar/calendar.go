// Package calendar knows which days are business days and when a sale's
// clearing and payout are due (DESIGN §2, §5).
//
// A Calendar is parsed from a data file (schemas/calendar/*.json, embedded as
// schemas.DefaultCalendar) that lists, per year, the public holidays and the
// adjusted working days (weekend days declared working days). A business day
// is Monday to Friday not listed as a holiday, or any listed adjusted working
// day. For a year the file does not list, holidays are unknown: the calendar
// falls back to weekends only and says so (known=false, fallback=true), so that
// callers can mark the deadline and warn the operator instead of guessing.
//
// A Schedule combines a Calendar with the cut-off times of a ScheduleConfig to
// compute the trade date of a sale and its clearing and payout deadlines.
//
// The package is pure logic: it reads no clock (every instant is passed in as
// Unix milliseconds), does no I/O except LoadFile, and knows nothing of Kafka
// or ClickHouse. Deadline computation is allocation-free.
package calendar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
	_ "time/tzdata" // the calendar's zone must load on hosts without system tzdata

	"settlemon/schemas"
)

// Years a calendar file may list. The bound catches typos and keeps the
// per-day table small.
const (
	minYear = 1900
	maxYear = 2999
)

// Per-day flags of the precomputed table.
const (
	flagBusiness uint8 = 1 << iota
	flagKnown          // the day's year is listed in the file
)

// Calendar is a parsed business-day calendar. It is immutable and safe for
// concurrent use.
type Calendar struct {
	name    string
	version string
	loc     *time.Location
	years   []int // sorted

	// Per-day tables covering [first, first+len(flags)): every day of every
	// listed year and every listed date.
	first   Date
	flags   []uint8
	holiday []uint16 // index+1 into periods; 0 when the day is no holiday

	periods []period
}

type period struct {
	name        string
	first, last Date
}

// file is the JSON form of a calendar.
type file struct {
	Calendar    string              `json:"calendar"`
	Version     string              `json:"version"`
	Timezone    string              `json:"timezone"`
	Description string              `json:"description"`
	Sources     map[string]string   `json:"sources"`
	Years       map[string]yearFile `json:"years"`
}

type yearFile struct {
	Holidays         []holidayFile `json:"holidays"`
	AdjustedWorkdays []string      `json:"adjusted_workdays"`
}

type holidayFile struct {
	Name string   `json:"name"`
	Days []string `json:"days"`
}

// Default returns the bundled calendar, schemas.DefaultCalendar.
func Default() (*Calendar, error) {
	c, err := Parse(schemas.DefaultCalendar)
	if err != nil {
		return nil, fmt.Errorf("bundled calendar: %w", err)
	}
	return c, nil
}

// LoadFile reads and parses a calendar file.
func LoadFile(path string) (*Calendar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading calendar: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("calendar %s: %w", path, err)
	}
	return c, nil
}

// Parse parses and validates a calendar file. It rejects unknown fields, a
// missing version, a time zone that does not load, a year key that is not a
// year, a date that does not parse or lies far from the year it is listed
// under (a listed date may fall in December of the year before or January of
// the year after, as New Year breaks do), a date listed twice, a day listed
// both as a holiday and as an adjusted working day, and an adjusted working day
// that is not a Saturday or Sunday.
func Parse(data []byte) (*Calendar, error) {
	f, err := decodeFile(data)
	if err != nil {
		return nil, err
	}
	c, err := newCalendar(f)
	if err != nil {
		return nil, err
	}
	// Parse every listed date first, so that the table can cover them all.
	var listed []listing
	for _, y := range c.years {
		if listed, err = c.listYear(y, f.Years[strconv.Itoa(y)], listed); err != nil {
			return nil, err
		}
	}
	if len(c.periods) >= 1<<16-1 {
		return nil, errors.New("calendar lists too many holidays")
	}
	c.fillTable(listed)
	if err := c.mark(listed); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeFile decodes a calendar file strictly: no unknown field, nothing
// after the top-level object.
func decodeFile(data []byte) (file, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("decoding calendar: %w", err)
	}
	if dec.More() {
		return f, errors.New("decoding calendar: data after the top-level object")
	}
	return f, nil
}

// newCalendar checks the header of f and its year keys, and returns a
// calendar with no days listed yet.
func newCalendar(f file) (*Calendar, error) {
	if f.Version == "" {
		return nil, errors.New("calendar version is not set")
	}
	if f.Timezone == "" {
		return nil, errors.New("calendar timezone is not set")
	}
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		return nil, fmt.Errorf("calendar timezone: %w", err)
	}
	if len(f.Years) == 0 {
		return nil, errors.New("calendar lists no years")
	}
	c := &Calendar{name: f.Calendar, version: f.Version, loc: loc}
	for key := range f.Years {
		y, err := strconv.Atoi(key)
		if err != nil || len(key) != 4 || y < minYear || y > maxYear {
			return nil, fmt.Errorf("calendar year %q: want a year between %d and %d", key, minYear, maxYear)
		}
		c.years = append(c.years, y)
	}
	slices.Sort(c.years)
	return c, nil
}

// listing is one date a calendar file lists.
type listing struct {
	date    Date
	period  int // index into c.periods, or -1 for an adjusted working day
	yearKey int
}

// yearDates parses the dates listed under year y: they may fall from
// December of the year before to January of the year after.
type yearDates struct {
	y      int
	lo, hi Date
}

func newYearDates(y int) yearDates {
	return yearDates{y: y, lo: DateOf(y-1, time.December, 1), hi: DateOf(y+1, time.January, 31)}
}

func (r yearDates) parse(what, s string) (Date, error) {
	d, err := ParseDate(s)
	if err != nil {
		return 0, fmt.Errorf("calendar year %d: %s: %w", r.y, what, err)
	}
	if d < r.lo || d > r.hi {
		return 0, fmt.Errorf("calendar year %d: %s: date %s is outside the year", r.y, what, d)
	}
	return d, nil
}

// listYear adds the holidays of year y to c.periods and appends the dates
// the year lists to listed.
func (c *Calendar) listYear(y int, yf yearFile, listed []listing) ([]listing, error) {
	r := newYearDates(y)
	for _, h := range yf.Holidays {
		var err error
		if listed, err = c.listHoliday(r, h, listed); err != nil {
			return nil, err
		}
	}
	for _, s := range yf.AdjustedWorkdays {
		d, err := r.parse("adjusted working day", s)
		if err != nil {
			return nil, err
		}
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, fmt.Errorf("calendar year %d: adjusted working day %s is a %s, not a weekend day", y, d, wd)
		}
		listed = append(listed, listing{date: d, period: -1, yearKey: y})
	}
	return listed, nil
}

// listHoliday adds holiday h to c.periods and appends its days to listed.
func (c *Calendar) listHoliday(r yearDates, h holidayFile, listed []listing) ([]listing, error) {
	if h.Name == "" {
		return nil, fmt.Errorf("calendar year %d: a holiday has no name", r.y)
	}
	if len(h.Days) == 0 {
		return nil, fmt.Errorf("calendar year %d: holiday %q lists no days", r.y, h.Name)
	}
	p := period{name: h.Name}
	for i, s := range h.Days {
		d, err := r.parse(fmt.Sprintf("holiday %q", h.Name), s)
		if err != nil {
			return nil, err
		}
		if i == 0 || d < p.first {
			p.first = d
		}
		if i == 0 || d > p.last {
			p.last = d
		}
		listed = append(listed, listing{date: d, period: len(c.periods), yearKey: r.y})
	}
	c.periods = append(c.periods, p)
	return listed, nil
}

// fillTable sizes the per-day tables to cover every day of the listed years
// and every listed date, and marks each day known or not and a business day
// by its weekday.
func (c *Calendar) fillTable(listed []listing) {
	first := DateOf(c.years[0], time.January, 1)
	last := DateOf(c.years[len(c.years)-1], time.December, 31)
	for _, l := range listed {
		first, last = min(first, l.date), max(last, l.date)
	}
	n := int(last-first) + 1
	c.first = first
	c.flags = make([]uint8, n)
	c.holiday = make([]uint16, n)
	for i := range n {
		d := first + Date(i)
		var fl uint8
		if c.Known(d.Year()) {
			fl |= flagKnown
		}
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			fl |= flagBusiness
		}
		c.flags[i] = fl
	}
}

// mark applies the listed dates to the tables: a holiday is no business
// day, an adjusted working day is one. A date listed twice is an error.
func (c *Calendar) mark(listed []listing) error {
	seen := make(map[Date]listing, len(listed))
	for _, l := range listed {
		if prev, dup := seen[l.date]; dup {
			return fmt.Errorf("calendar year %d: %s is listed as %s and again as %s",
				l.yearKey, l.date, c.listingName(prev.period), c.listingName(l.period))
		}
		seen[l.date] = l
		i := l.date - c.first
		if l.period < 0 {
			c.flags[i] |= flagBusiness
		} else {
			c.flags[i] &^= flagBusiness
			c.holiday[i] = uint16(l.period + 1)
		}
	}
	return nil
}

func (c *Calendar) listingName(p int) string {
	if p < 0 {
		return "an adjusted working day"
	}
	return fmt.Sprintf("a day of holiday %q", c.periods[p].name)
}

// Name returns the calendar's name, e.g. "cn-mainland".
func (c *Calendar) Name() string { return c.name }

// Version returns the calendar's version, e.g. "cn-mainland-2026.1". Facts
// record it.
func (c *Calendar) Version() string { return c.version }

// Location returns the calendar's time zone: dates and cut-offs are local
// to it.
func (c *Calendar) Location() *time.Location { return c.loc }

// Years returns the years the calendar lists, in ascending order.
func (c *Calendar) Years() []int { return slices.Clone(c.years) }

// Known reports whether the calendar lists year.
func (c *Calendar) Known(year int) bool {
	_, ok := slices.BinarySearch(c.years, year)
	return ok
}

// IsBusinessDay reports whether d is a business day. known is false when d's
// year is not in the calendar: business then follows the weekends-only rule
// (a date the file lists explicitly, such as the December end of a New Year
// break, still counts as listed).
func (c *Calendar) IsBusinessDay(d Date) (business, known bool) {
	if i := int64(d) - int64(c.first); i >= 0 && i < int64(len(c.flags)) {
		fl := c.flags[i]
		return fl&flagBusiness != 0, fl&flagKnown != 0
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday, false
}

// NextBusinessDay returns the first business day strictly after d. fallback
// is true when any day examined lies in a year the calendar does not list.
func (c *Calendar) NextBusinessDay(d Date) (next Date, fallback bool) {
	for {
		d++
		business, known := c.IsBusinessDay(d)
		fallback = fallback || !known
		if business {
			return d, fallback
		}
	}
}

// Holiday returns the holiday period containing d: its name and its first and
// last day (e.g. "Spring Festival", 2026-02-15, 2026-02-23). ok is false when d
// is not a listed holiday.
func (c *Calendar) Holiday(d Date) (name string, first, last Date, ok bool) {
	i := int64(d) - int64(c.first)
	if i < 0 || i >= int64(len(c.holiday)) || c.holiday[i] == 0 {
		return "", 0, 0, false
	}
	p := c.periods[c.holiday[i]-1]
	return p.name, p.first, p.last, true
}
