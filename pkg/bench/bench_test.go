package bench

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/store"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want int64
		err  bool
	}{
		{"plain", "4242 (settlemon) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 12 0 100 0 0", 175, false},
		{"name with spaces and parens", "77 (clickhouse (srv) x) R 1 77 77 0 -1 0 0 0 0 0 9000 1000 0 0 20 0 1 0 1 0 0", 10000, false},
		{"no parenthesis", "4242 settlemon S 1", 0, true},
		{"too short", "4242 (x) S 1 2 3", 0, true},
		{"not a number", "4242 (x) S 1 4242 4242 0 -1 0 0 0 0 0 abc 25 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ticks = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tsettlemon\nVmPeak:\t 2000000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil || got != 123456<<10 {
		t.Fatalf("VmHWM = %d, %v; want %d", got, err, 123456<<10)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("a missing key gave no error")
	}
}

func TestAuxValue(t *testing.T) {
	var aux []byte
	for _, kv := range [][2]uint64{{6, 4096}, {17, 250}, {0, 0}} {
		aux = binary.NativeEndian.AppendUint64(aux, kv[0])
		aux = binary.NativeEndian.AppendUint64(aux, kv[1])
	}
	if got := auxValue(aux, 17); got != 250 {
		t.Errorf("AT_CLKTCK = %d, want 250", got)
	}
	if got := auxValue(aux, 33); got != 0 {
		t.Errorf("missing key = %d, want 0", got)
	}
}

func TestProcSelf(t *testing.T) {
	p := NewProc(0)
	cpu, err := p.CPU()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if cpu < 0 {
		t.Errorf("CPU = %v", cpu)
	}
	rss, err := p.PeakRSS()
	if err != nil || rss <= 0 {
		t.Errorf("peak RSS = %d, %v", rss, err)
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 100 * time.Millisecond}, {0.99, 198 * time.Millisecond}, {1, 200 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := quantile(d, tt.q); got != tt.want {
			t.Errorf("q%v = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.99); got != 0 {
		t.Errorf("empty = %v", got)
	}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"floor missed", atLeast(50_000, 200_000), "MISSED by 75% (needs 4.00×)"},
		{"floor met", atLeast(250_000, 200_000), "met (+25%)"},
		{"floor unmeasured", atLeast(0, 200_000), "not measured"},
		{"ceiling missed", atMost(400, 250), "MISSED by 60% (1.60× the target)"},
		{"ceiling met", atMost(2, 5), "met (60% under)"},
		{"zero met", atMost(0, 0), "met"},
		{"zero missed", atMost(3.08, 0), "MISSED (3.1 per record, want 0)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 3913545: "3,913,545", -1234567: "-1,234,567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.Simulator.Partitions = base.Pipeline.Partitions
	base.JoinWorkload.Partitions = base.Pipeline.Partitions
	if err := base.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"partitions", func(c *Config) { c.Pipeline.Partitions = 0 }, "partitions"},
		{"state traces", func(c *Config) { c.StateTraces = []int{0} }, "open traces"},
		{"live", func(c *Config) { c.Live.Window = 0 }, "live"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestReportShowsProductOverStripped(t *testing.T) {
	tests := []struct {
		name     string
		stripped *Phase
		want     []string
		not      []string
	}{
		{"measured", &Phase{Messages: 1000, Elapsed: time.Second, CPU: Usage{Pipeline: 5 * time.Millisecond}},
			[]string{"stripped pipeline, source events/s", "1,000/s", "product ÷ stripped, same run", "0.50", "MISSED by 33%", "stripped pipeline  "}, nil},
		{"skipped", nil, nil, []string{"stripped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Pipeline: Pipeline{Phase: Phase{Messages: 1000, Elapsed: 2 * time.Second}}, Stripped: tt.stripped}
			var b strings.Builder
			r.WriteText(&b)
			assertReport(t, b.String(), tt.want, tt.not)
		})
	}
}

func TestReportShowsParts(t *testing.T) {
	tests := []struct {
		name  string
		parts []store.PartActivity
		want  []string
		not   []string
	}{
		{"read", []store.PartActivity{
			{Table: "control_events", Parts: 56, Rows: 75204, Merges: 11, MergedRows: 262523, MergeMillis: 1050},
			{Table: "auth_events", Parts: 14, Rows: 1011453, Merges: 1, MergedRows: 448751, MergeMillis: 973},
		}, []string{"system.part_log", "control_events  56", "75,204", "1.05s", "auth_events", "1,011,453", "\nall 70 12\n"}, nil},
		{"not read", nil, nil, []string{"part_log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Pipeline: Pipeline{Phase: Phase{Messages: 1000, Elapsed: 2 * time.Second}}, Parts: tt.parts}
			var b strings.Builder
			r.WriteText(&b)
			// Followed by its lines with their fields one space apart.
			text := b.String() + "\n"
			for line := range strings.Lines(b.String()) {
				text += strings.Join(strings.Fields(line), " ") + "\n"
			}
			assertReport(t, text, tt.want, tt.not)
		})
	}
}

// assertReport fails unless report holds every string of want and none of not.
func assertReport(tb testing.TB, report string, want, not []string) {
	tb.Helper()
	for _, w := range want {
		if !strings.Contains(report, w) {
			tb.Errorf("the report lacks %q:\n%s", w, report)
		}
	}
	for _, w := range not {
		if strings.Contains(report, w) {
			tb.Errorf("the report has %q:\n%s", w, report)
		}
	}
}
