package calendar

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func defaultCalendar(tb testing.TB) *Calendar {
	tb.Helper()
	c, err := Default()
	if err != nil {
		tb.Fatalf("Default: %v", err)
	}
	return c
}

func date(tb testing.TB, s string) Date {
	tb.Helper()
	d, err := ParseDate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestDate(t *testing.T) {
	tests := []struct {
		s       string
		days    Date
		weekday time.Weekday
	}{
		{"1970-01-01", 0, time.Thursday},
		{"1969-12-31", -1, time.Wednesday},
		{"1969-12-28", -4, time.Sunday},
		{"2000-02-29", 11016, time.Tuesday},
		{"2026-02-14", 20498, time.Saturday},
		{"2026-02-24", 20508, time.Tuesday},
		{"2026-10-08", 20734, time.Thursday},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			d, err := ParseDate(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.days {
				t.Errorf("ParseDate = %d, want %d", d, tt.days)
			}
			if got := d.String(); got != tt.s {
				t.Errorf("String = %q", got)
			}
			if got := d.Weekday(); got != tt.weekday {
				t.Errorf("Weekday = %v, want %v", got, tt.weekday)
			}
			y, m, dd := d.YMD()
			if DateOf(y, m, dd) != d {
				t.Errorf("DateOf(YMD()) = %v, want %v", DateOf(y, m, dd), d)
			}
			var back Date
			text, _ := d.MarshalText()
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Errorf("text round trip = %v, %v", back, err)
			}
		})
	}
	if got := DateOf(2026, time.February, 29); got.String() != "2026-03-01" {
		t.Errorf("DateOf normalizes to %v, want 2026-03-01", got)
	}
	if got := date(t, "2026-02-27").AddDays(3); got.String() != "2026-03-02" {
		t.Errorf("AddDays = %v", got)
	}
	if got := date(t, "2026-01-01").AddDays(-1); got.String() != "2025-12-31" {
		t.Errorf("AddDays(-1) = %v", got)
	}
	for _, bad := range []string{"", "2026-2-24", "2026-02-30", "2026/02/24", "2026-02-24T00:00:00Z", "24-02-2026"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) succeeded", bad)
		}
	}
}

func TestDateAt(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	got := date(t, "2026-02-24").At(sh, 18*time.Hour+30*time.Minute+15*time.Second)
	want := time.Date(2026, 2, 24, 18, 30, 15, 0, sh)
	if !got.Equal(want) {
		t.Errorf("At = %v, want %v", got, want)
	}
	if got.UnixMilli() != time.Date(2026, 2, 24, 10, 30, 15, 0, time.UTC).UnixMilli() {
		t.Errorf("At is not UTC+8: %v", got.UTC())
	}
}

func TestDefaultCalendar(t *testing.T) {
	c := defaultCalendar(t)
	if c.Version() != "cn-mainland-2026.1" {
		t.Errorf("Version = %q", c.Version())
	}
	if c.Name() != "cn-mainland" {
		t.Errorf("Name = %q", c.Name())
	}
	if c.Location().String() != "Asia/Shanghai" {
		t.Errorf("Location = %v", c.Location())
	}
	if got := c.Years(); !slices.Equal(got, []int{2025, 2026}) {
		t.Errorf("Years = %v", got)
	}
	c.Years()[0] = 1999 // must not alias the calendar's state
	if !c.Known(2025) || !c.Known(2026) || c.Known(2027) || c.Known(2024) {
		t.Errorf("Known wrong: 2024 %v 2025 %v 2026 %v 2027 %v", c.Known(2024), c.Known(2025), c.Known(2026), c.Known(2027))
	}
}

func TestIsBusinessDay(t *testing.T) {
	c := defaultCalendar(t)
	tests := []struct {
		day             string
		business, known bool
	}{
		{"2026-02-13", true, true},  // Friday
		{"2026-02-14", true, true},  // Saturday, adjusted working day
		{"2026-02-15", false, true}, // Sunday, Spring Festival
		{"2026-02-16", false, true}, // Monday, Spring Festival
		{"2026-02-23", false, true}, // Monday, last day of Spring Festival
		{"2026-02-24", true, true},  // Tuesday
		{"2026-02-28", true, true},  // Saturday, adjusted working day
		{"2026-03-07", false, true}, // ordinary Saturday
		{"2026-01-04", true, true},  // Sunday, adjusted working day
		{"2026-01-02", false, true}, // Friday, New Year
		{"2026-10-07", false, true}, // Wednesday, National Day
		{"2026-10-10", true, true},  // Saturday, adjusted working day
		{"2025-10-08", false, true}, // Wednesday, National Day and Mid-Autumn 2025
		{"2025-09-28", true, true},  // Sunday, adjusted working day 2025
		{"2027-01-01", true, false}, // unknown year, Friday: weekends only
		{"2027-01-02", false, false},
		{"2024-12-31", true, false},
		{"1999-02-16", true, false}, // far outside the table
		{"2100-01-02", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			business, known := c.IsBusinessDay(date(t, tt.day))
			if business != tt.business || known != tt.known {
				t.Errorf("IsBusinessDay = %v, %v; want %v, %v", business, known, tt.business, tt.known)
			}
		})
	}
}

func TestNextBusinessDay(t *testing.T) {
	c := defaultCalendar(t)
	tests := []struct {
		from, want string
		fallback   bool
	}{
		{"2026-02-13", "2026-02-14", false}, // Fri → adjusted Saturday
		{"2026-02-14", "2026-02-24", false}, // across Spring Festival
		{"2026-02-15", "2026-02-24", false},
		{"2026-02-27", "2026-02-28", false}, // Fri → adjusted Saturday
		{"2026-03-06", "2026-03-09", false}, // ordinary weekend
		{"2026-03-07", "2026-03-09", false},
		{"2025-12-31", "2026-01-04", false}, // New Year → adjusted Sunday
		{"2026-01-04", "2026-01-05", false},
		{"2026-09-30", "2026-10-08", false}, // National Day
		{"2026-10-09", "2026-10-10", false}, // adjusted Saturday
		{"2026-12-31", "2027-01-01", true},  // first day examined is unknown
		{"2027-01-08", "2027-01-11", true},
		{"2024-12-31", "2025-01-02", false}, // start in an unknown year, but every day examined is known
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			next, fallback := c.NextBusinessDay(date(t, tt.from))
			if next.String() != tt.want || fallback != tt.fallback {
				t.Errorf("NextBusinessDay = %v, %v; want %v, %v", next, fallback, tt.want, tt.fallback)
			}
		})
	}
}

func TestHoliday(t *testing.T) {
	c := defaultCalendar(t)
	tests := []struct {
		day, name, first, last string
	}{
		{"2026-02-15", "Spring Festival", "2026-02-15", "2026-02-23"},
		{"2026-02-19", "Spring Festival", "2026-02-15", "2026-02-23"},
		{"2026-10-01", "National Day", "2026-10-01", "2026-10-07"},
		{"2026-09-26", "Mid-Autumn", "2026-09-25", "2026-09-27"},
		{"2025-10-08", "National Day and Mid-Autumn", "2025-10-01", "2025-10-08"},
		{"2026-02-14", "", "", ""}, // adjusted working day
		{"2026-03-07", "", "", ""}, // ordinary weekend
		{"2027-01-01", "", "", ""}, // unknown year
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			name, first, last, ok := c.Holiday(date(t, tt.day))
			if ok != (tt.name != "") {
				t.Fatalf("Holiday ok = %v", ok)
			}
			if !ok {
				return
			}
			if name != tt.name || first.String() != tt.first || last.String() != tt.last {
				t.Errorf("Holiday = %q %v..%v; want %q %s..%s", name, first, last, tt.name, tt.first, tt.last)
			}
		})
	}
}

// TestDataFileConsistency checks the bundled data against the rules every
// notice follows, so that an edit that breaks them is caught here.
func TestDataFileConsistency(t *testing.T) {
	c := defaultCalendar(t)
	for _, p := range c.periods {
		for d := p.first; d <= p.last; d++ {
			if name, _, _, ok := c.Holiday(d); !ok || name != p.name {
				t.Errorf("holiday %q %v..%v has a gap or overlap at %v", p.name, p.first, p.last, d)
			}
		}
	}
}

const validFile = `{
 "calendar": "test",
 "version": "test-1",
 "timezone": "Asia/Shanghai",
 "years": {
  "2026": {
   "holidays": [{"name": "Spring Festival", "days": ["2026-02-15", "2026-02-16"]}],
   "adjusted_workdays": ["2026-02-14"]
  }
 }
}`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(validFile))
	if err != nil {
		t.Fatalf("Parse(valid): %v", err)
	}
	if b, _ := c.IsBusinessDay(date(t, "2026-02-14")); !b {
		t.Error("adjusted working day not a business day")
	}
	if b, _ := c.IsBusinessDay(date(t, "2026-02-16")); b {
		t.Error("holiday is a business day")
	}

	// A New Year break listed under the year it ends in.
	c, err = Parse([]byte(strings.Replace(validFile, `"2026-02-15", "2026-02-16"`, `"2025-12-31", "2026-01-01"`, 1)))
	if err != nil {
		t.Fatalf("Parse(break across the year): %v", err)
	}
	if b, known := c.IsBusinessDay(date(t, "2025-12-31")); b || known {
		t.Errorf("listed day in an unlisted year: business %v known %v, want false, false", b, known)
	}
	if next, fallback := c.NextBusinessDay(date(t, "2025-12-30")); next.String() != "2026-01-02" || !fallback {
		t.Errorf("NextBusinessDay = %v, %v; want 2026-01-02, true", next, fallback)
	}

	tests := []struct {
		name, old, new, wantErr string
	}{
		{"bad date", `"2026-02-16"`, `"2026-02-30"`, `parsing date "2026-02-30"`},
		{"date far from its year", `"2026-02-16"`, `"2062-02-16"`, "outside the year"},
		{"holiday and workday", `["2026-02-14"]`, `["2026-02-15"]`, "2026-02-15 is listed as"},
		{"listed twice", `"2026-02-16"]`, `"2026-02-15"]`, "2026-02-15 is listed as"},
		{"workday on a weekday", `["2026-02-14"]`, `["2026-02-13"]`, "not a weekend day"},
		{"missing version", `"version": "test-1",`, ``, "version is not set"},
		{"empty version", `"test-1"`, `""`, "version is not set"},
		{"bad timezone", `"Asia/Shanghai"`, `"Asia/Nowhere"`, "timezone"},
		{"missing timezone", `"timezone": "Asia/Shanghai",`, ``, "timezone is not set"},
		{"bad year key", `"2026": {`, `"26": {`, `calendar year "26"`},
		{"unknown field", `"adjusted_workdays"`, `"adjusted_work_days"`, "unknown field"},
		{"holiday without name", `"name": "Spring Festival"`, `"name": ""`, "has no name"},
		{"holiday without days", `"days": ["2026-02-15", "2026-02-16"]`, `"days": []`, "lists no days"},
		{"no years", `"2026": {`, `"x": {`, `calendar year "x"`},
		{"not JSON", `{`, `[`, "decoding calendar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(validFile, tt.old, tt.new, 1)
			if data == validFile {
				t.Fatalf("replacement %q not found", tt.old)
			}
			_, err := Parse([]byte(data))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Parse([]byte(`{"version": "v", "timezone": "UTC", "years": {}}`)); err == nil || !strings.Contains(err.Error(), "no years") {
		t.Errorf("Parse(no years) error = %v", err)
	}
	if _, err := Parse([]byte(validFile + `{}`)); err == nil {
		t.Error("Parse accepted trailing data")
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cal.json")
	if err := os.WriteFile(path, []byte(validFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != "test-1" {
		t.Errorf("Version = %q", c.Version())
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadFile(missing) succeeded")
	}
}
