//go:build integration

package allinone_test

import (
	"path/filepath"
	"testing"
	"time"

	"settlemon/pkg/allinone"
	"settlemon/pkg/store/storetest"
)

// TestPipelineMatchesTruth runs the whole pipeline (kfake over TCP, real
// ClickHouse) on a fixed seed and checks every fact against the simulator's
// ground truth.
func TestPipelineMatchesTruth(t *testing.T) {
	ctx := testCtx(t, 10*time.Minute)
	st := storetest.New(t)
	truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
	cfg := runConfig(t, st.Database(), truthFile, 7)

	res, err := allinone.Run(ctx, cfg, runDeps(t))
	if err != nil {
		t.Fatalf("allinone.Run: %v", err)
	}
	t.Logf("simulated %d traces (%d approved), %v messages; run took %s", res.Simulated.Traces, res.Simulated.Approved, res.Simulated.Messages, res.Elapsed)

	checkReport(t, res.Report, res.Simulated)
	truth := readTruth(t, truthFile)
	if len(truth) != res.Simulated.Traces {
		t.Fatalf("truth has %d traces, the simulator reports %d", len(truth), res.Simulated.Traces)
	}
	conn := storetest.Conn(t, st)
	injected := checkAgainstTruth(t, truth, readLags(t, ctx, conn), readAnomalies(t, ctx, conn))
	checkInjected(t, injected, res.Simulated)
	t.Logf("injected faults checked: %v", injected)
}
