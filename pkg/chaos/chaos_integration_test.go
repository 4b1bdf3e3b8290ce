//go:build integration

package chaos_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/chaos"
)

// TestChaosReduced is the reduced form of `settlemon-dev chaos` that CI runs:
// every scenario once for one seed, with a 5-second ClickHouse outage and 4
// kills, against a ClickHouse the test starts itself on free loopback ports
// (never the shared server of the other integration tests, which it would
// stop).
func TestChaosReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes minutes")
	}
	cfg := harnessConfig(t, 7)
	cfg.PublishOver = 12 * time.Second
	cfg.Kills = 4
	cfg.ClickHouseOutage = 5 * time.Second
	cfg.BrokerRestarts = 1
	cfg.CatchUpTimeout = 2 * time.Minute
	results := runHarness(t, cfg, 15*time.Minute, 1+len(chaos.Scenarios()))
	for _, r := range results {
		switch r.Scenario {
		case chaos.Kill:
			if r.Kills < cfg.Kills {
				t.Errorf("kill scenario delivered %d SIGKILLs, want %d", r.Kills, cfg.Kills)
			}
		case chaos.Reference:
		default:
			if r.Recoveries == 0 {
				t.Errorf("%s: no recovery measured", r.Scenario)
			}
		}
	}
}

// harnessConfig is what every chaos test starts from: this repository, a
// temporary work folder (one under $SETTLEMON_CHAOS_KEEP, kept with its
// logs and ClickHouse data, when that is set), one seed and the small
// simulation (2 days, 2,000 traces a day).
func harnessConfig(tb testing.TB, seed int64) chaos.Config {
	tb.Helper()
	root, err := chaos.FindRepoRoot(".")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := chaos.DefaultConfig()
	cfg.RepoRoot = root
	cfg.WorkDir = tb.TempDir()
	if keep := os.Getenv("SETTLEMON_CHAOS_KEEP"); keep != "" {
		if cfg.WorkDir, err = os.MkdirTemp(keep, tb.Name()+"-"); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("work folder kept in %s", cfg.WorkDir)
	}
	cfg.Seeds = []int64{seed}
	cfg.Simulator = chaos.SimulatorConfig(2, 2000)
	return cfg
}

// runHarness runs the harness of cfg within timeout, logs its table and
// fails the test unless it completed with want results, each passing and
// each with facts from source events.
func runHarness(t *testing.T, cfg chaos.Config, timeout time.Duration, want int) chaos.Results {
	t.Helper()
	cal, err := calendar.Default()
	if err != nil {
		t.Fatal(err)
	}
	h, err := chaos.New(cfg, chaos.Deps{Calendar: cal, Logger: testLogger(t), Out: tbWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go guardHeap(t, ctx, cancel, 2<<30)
	results, err := h.Run(ctx)
	var table strings.Builder
	results.WriteTable(&table)
	t.Log("\n" + table.String())
	if err != nil {
		t.Fatalf("the chaos harness did not complete: %v", err)
	}
	if len(results) != want {
		t.Fatalf("%d results, want %d (the reference and each scenario run)", len(results), want)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("seed %d %s failed: %s", r.Seed, r.Scenario, strings.Join(r.Problems, "; "))
			for _, d := range r.Details {
				t.Logf("  %s", d)
			}
		}
		if r.FactsFound == 0 || r.SourceEvents == 0 {
			t.Errorf("seed %d %s: %d facts from %d source events: the run proves nothing", r.Seed, r.Scenario, r.FactsFound, r.SourceEvents)
		}
	}
	return results
}

// assertExact fails unless r's facts equal the reference's: none lost,
// extra, changed or duplicated.
func assertExact(tb testing.TB, r chaos.Result) {
	tb.Helper()
	if r.Lost+r.Extra+r.Changed != 0 || r.FactsFound != r.FactsExpected || r.Duplicates != 0 {
		tb.Errorf("%s: facts %d of %d expected: %d lost, %d extra, %d changed, %d duplicates",
			r.Scenario, r.FactsFound, r.FactsExpected, r.Lost, r.Extra, r.Changed, r.Duplicates)
	}
}

// guardHeap fails the test, with a heap profile and a goroutine dump in the
// temporary directory, and cancels the run when the harness's heap exceeds
// limit: a leak shows as a diagnosis, not as the machine running out of
// memory.
func guardHeap(tb testing.TB, ctx context.Context, cancel context.CancelFunc, limit uint64) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse <= limit {
			continue
		}
		base := filepath.Join(os.TempDir(), fmt.Sprintf("chaos-harness-%d", os.Getpid()))
		for name, debug := range map[string]int{"heap": 0, "goroutine": 1} {
			if f, err := os.Create(base + "-" + name + ".pprof"); err == nil {
				_ = pprof.Lookup(name).WriteTo(f, debug)
				f.Close()
			}
		}
		tb.Errorf("the harness holds %d MiB of heap (limit %d MiB): profiles in %s-{heap,goroutine}.pprof", ms.HeapInuse>>20, limit>>20, base)
		cancel()
		return
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
