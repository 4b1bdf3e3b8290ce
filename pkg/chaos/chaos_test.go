package chaos

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseScenarios(t *testing.T) {
	tests := []struct {
		in      string
		want    []Scenario
		wantErr bool
	}{
		{"", Scenarios(), false},
		{"all", Scenarios(), false},
		{"kill", []Scenario{Kill}, false},
		{" kill , insert-reply-drop,kill", []Scenario{Kill, InsertReplyDrop}, false},
		{"reference", nil, true},
		{"kill,meteor", nil, true},
		{"cluster,multi-instance", []Scenario{Cluster, MultiInstance}, false},
	}
	for _, tt := range tests {
		got, err := ParseScenarios(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseScenarios(%q) error %v, want error %v", tt.in, err, tt.wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseScenarios(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	valid := DefaultConfig()
	valid.RepoRoot, valid.WorkDir = "/src", "/work"
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"default is valid", func(*Config) {}, ""},
		{"no work dir", func(c *Config) { c.WorkDir = "" }, "WorkDir"},
		{"no seeds", func(c *Config) { c.Seeds = nil }, "no seeds"},
		{"unknown scenario", func(c *Config) { c.Scenarios = []Scenario{"meteor"} }, "meteor"},
		{"same ports", func(c *Config) { c.ClickHousePort, c.ClickHouseHTTPPort = 19700, 19700 }, "ports"},
		{"negative port", func(c *Config) { c.ClickHousePort = -1 }, "ports"},
		{"rate above 1", func(c *Config) { c.ReplyDropRate = 2 }, "reply drop rate"},
		{"negative kills", func(c *Config) { c.Kills = -1 }, "kills"},
		{"negative ZooKeeper outage", func(c *Config) { c.ZooKeeperOutage = -time.Second }, "outage"},
		{"bad simulation", func(c *Config) { c.Simulator.Days = 0 }, "simulator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestResultsTable(t *testing.T) {
	rs := Results{
		{Seed: 1, Scenario: Reference, SourceEvents: 100, FactsExpected: 10, FactsFound: 10, PeakRSS: 40 << 20, PeakRSSChild: "joiner"},
		{Seed: 1, Scenario: Kill, SourceEvents: 100, FactsExpected: 10, FactsFound: 9, Lost: 1, Recovery: 3 * time.Second, Recoveries: 10,
			Disturbance: "10 SIGKILLs", Problems: []string{"rows lost"}, Details: []string{"settlement_lag_latest: lost t9"}},
	}
	if rs.Passed() {
		t.Fatal("results with a failed run passed")
	}
	if !rs[:1].Passed() || (Results{}).Passed() {
		t.Fatal("Passed: want true for all passed, false for none")
	}
	var b strings.Builder
	rs.WriteTable(&b)
	out := b.String()
	for _, want := range []string{"source events", "facts expected", "duplicates", "recovery (max)", "peak RSS",
		"reference", "pass", "FAIL", "3s (10)", "40MiB joiner", "seed 1 kill failed", "rows lost", "lost t9"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulatorConfigInjectsEveryCause(t *testing.T) {
	c := SimulatorConfig(3, 3000)
	c.Partitions = 3
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PayoutOutage.Day != 2 || c.BatchStallCount == 0 || c.BatchIncompleteCount == 0 {
		t.Errorf("outage day %d, stalled %d, incomplete %d: want the feed outage on day 2 and both batch faults", c.PayoutOutage.Day, c.BatchStallCount, c.BatchIncompleteCount)
	}
	if c1 := SimulatorConfig(1, 100); c1.PayoutOutage.Day != 1 {
		t.Errorf("one-day run: outage on day %d, want 1", c1.PayoutOutage.Day)
	}
}

func TestFindRepoRoot(t *testing.T) {
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "clickhouse", "local.sh")); err != nil {
		t.Fatalf("root %s has no deploy/clickhouse/local.sh: %v", root, err)
	}
	if _, err := FindRepoRoot(t.TempDir()); err == nil {
		t.Fatal("found a source tree in an empty temporary folder")
	}
}

// TestChildSupervision: a killed child is restarted, an unplanned exit is
// recorded and restarted too, stop ends it for good, and its peak memory is
// read from /proc.
func TestChildSupervision(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran-once")
	// The first process exits on its own; later ones run until killed.
	script := "if [ ! -e " + marker + " ]; then touch " + marker + "; exit 3; fi; echo running; exec sleep 60"
	c := newChild("sleeper", sh, []string{"-c", script}, os.Environ(), filepath.Join(dir, "sleeper.log"), true, testLog(t))
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restart after the unplanned exit", func() bool { return c.stats().Starts >= 2 })
	waitFor(t, "a running process", func() bool { c.sample(); return c.stats().PeakRSS > 0 })
	if !c.kill() {
		t.Fatal("kill found no process")
	}
	waitFor(t, "the restart after the kill", func() bool { return c.stats().Starts >= 3 })
	if err := c.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	st := c.stats()
	if st.Kills != 1 || len(st.Crashes) != 1 || !strings.Contains(st.Crashes[0], "exit status 3") {
		t.Fatalf("stats %+v: want 1 kill and 1 unplanned exit (status 3)", st)
	}
	time.Sleep(700 * time.Millisecond)
	if n := c.stats().Starts; n != 3 {
		t.Fatalf("%d starts after stop, want 3 (no restart after stop)", n)
	}
	if c.kill() {
		t.Fatal("kill after stop found a process")
	}
	log, err := os.ReadFile(filepath.Join(dir, "sleeper.log"))
	if err != nil || strings.Count(string(log), "--- chaos: starting sleeper") != 3 {
		t.Fatalf("log across restarts: %q, %v", log, err)
	}
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChildEnvDropsSettlemonVariables(t *testing.T) {
	t.Setenv("SETTLEMON_CLICKHOUSE_ADDR", "127.0.0.1:19000")
	t.Setenv("GOMEMLIMIT", "1GiB")
	env := childEnv("GOMEMLIMIT=512MiB")
	for _, kv := range env {
		if strings.HasPrefix(kv, "SETTLEMON_") || kv == "GOMEMLIMIT=1GiB" {
			t.Errorf("child environment keeps %s", kv)
		}
	}
	if env[len(env)-1] != "GOMEMLIMIT=512MiB" {
		t.Errorf("child environment lacks the memory limit: %v", env[len(env)-1])
	}
}

func testLog(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
