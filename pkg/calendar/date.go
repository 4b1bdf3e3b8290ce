package calendar

import (
	"fmt"
	"time"
)

// Date is a civil date without a time zone: the number of days since
// 1970-01-01. Its arithmetic is plain integer arithmetic, so a Date is cheap to
// store in join state and to compare.
type Date int32

const dateLayout = "2006-01-02"

// DateOf returns the date y-m-d. Out-of-range values are normalized the way
// time.Date normalizes them (October 32 is November 1).
func DateOf(y int, m time.Month, d int) Date {
	return Date(floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400))
}

// ParseDate parses a date written as "2026-02-24".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return 0, fmt.Errorf("parsing date %q: want YYYY-MM-DD", s)
	}
	return Date(floorDiv(t.Unix(), 86400)), nil
}

// utc is the start of d in UTC; only its date fields are meaningful.
func (d Date) utc() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String returns d as "2026-02-24".
func (d Date) String() string { return d.utc().Format(dateLayout) }

// AppendText appends the "2026-02-24" form of d to b.
func (d Date) AppendText(b []byte) ([]byte, error) { return d.utc().AppendFormat(b, dateLayout), nil }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return d.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// YMD returns the year, month and day of d.
func (d Date) YMD() (int, time.Month, int) { return d.utc().Date() }

// Year returns the year of d.
func (d Date) Year() int { return d.utc().Year() }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(floorMod(int64(d)+int64(time.Thursday), 7))
}

// AddDays returns d plus n days (n may be negative).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// At returns the instant at which the wall clock in loc shows d plus offset:
// At(loc, 18*time.Hour) is 18:00 local time on d. In a zone without daylight
// saving time (Asia/Shanghai) that is simply local midnight plus offset.
func (d Date) At(loc *time.Location, offset time.Duration) time.Time {
	y, m, day := d.YMD()
	h := offset / time.Hour
	offset -= h * time.Hour
	mi := offset / time.Minute
	offset -= mi * time.Minute
	s := offset / time.Second
	offset -= s * time.Second
	return time.Date(y, m, day, int(h), int(mi), int(s), int(offset), loc)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
