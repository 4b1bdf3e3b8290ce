//go:build integration

package chaos_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/chaos"
)

// TestMultiInstance runs the multi-instance scenario against the
// single-instance reference of the same seed: a three-node broker whose
// partition leaders and coordinators move during the run, two ingest
// processes per source and two joiner processes splitting the partitions
// (read from each child's /metrics), the second joiner SIGKILLed mid-stream
// and a third taking over exactly its partitions from their checkpoints,
// an auth ingest process stopped cleanly (the other takes everything) and a
// new one joining (the two split again), and the analyst views equal to the
// reference's row for row. The
// ClickHouse is the harness's own, on free loopback ports.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("the multi-instance run takes minutes")
	}
	const partitions = 4
	cfg := harnessConfig(t, 11)
	cfg.Scenarios = []chaos.Scenario{chaos.MultiInstance}
	cfg.Partitions = partitions
	cfg.PublishOver = 30 * time.Second
	cfg.CatchUpTimeout = 3 * time.Minute
	r := runHarness(t, cfg, 15*time.Minute, 2)[1]
	assertExact(t, r)
	own := r.Ownership
	if own == nil {
		t.Fatal("no ownership recorded")
	}
	t.Logf("joiners before the kill %v, after %v; %s took over from %s in %s with %v restores; ingest %v, after a clean stop %v, after a join %v; %d shuffles moved %d leaders; recovery after the kill %s, longest %s",
		own.Before, own.After, own.Successor, own.Killed, own.Takeover, own.Restores, own.Ingest, own.IngestLeft, own.IngestJoined, own.Shuffles, own.LeaderMoves, own.KillRecovery, r.Recovery)
	// Before the kill: two joiners, non-empty, disjoint, covering.
	if len(own.Before) != 2 {
		t.Fatalf("%d joiners owned partitions before the kill, want 2", len(own.Before))
	}
	assertSplit(t, "joiners before the kill", own.Before, partitions)
	killed, ok := own.Before[own.Killed]
	if !ok || own.Successor == "" {
		t.Fatalf("killed %q (owning %v), successor %q", own.Killed, killed, own.Successor)
	}
	// After: the successor owns exactly the killed one's partitions,
	// restored from checkpoints.
	if len(own.After) != 2 {
		t.Fatalf("%d joiners after the takeover, want 2", len(own.After))
	}
	assertSplit(t, "joiners after the takeover", own.After, partitions)
	if got := own.After[own.Successor]; !slices.Equal(got, killed) {
		t.Errorf("%s owns %v after the takeover, want the killed %s's %v", own.Successor, got, own.Killed, killed)
	}
	for _, name := range []string{own.Killed, own.Successor} {
		if own.Logged[name] == "" {
			t.Errorf("%s logged no assignment of the partitions its metrics showed", name)
		}
	}
	t.Logf("assignment logged by %s: %s", own.Successor, own.Logged[own.Successor])
	if own.Restores < 1 {
		t.Errorf("%s restored %v partitions from checkpoints, want at least 1", own.Successor, own.Restores)
	}
	if own.Shuffles < 1 || own.LeaderMoves < 1 {
		t.Errorf("%d shuffles moved %d leaders of the events topic, want at least one each", own.Shuffles, own.LeaderMoves)
	}
	// An auth ingest instance left cleanly: the other owned everything;
	// a new one joined: the two split the topic again.
	if len(own.IngestLeft) != 1 {
		t.Errorf("after the clean stop %d auth ingest instances own partitions, want 1: %v", len(own.IngestLeft), own.IngestLeft)
	}
	assertSplit(t, "auth ingest after the clean stop", own.IngestLeft, partitions)
	if len(own.IngestJoined) != 2 || own.IngestJoined["ingest-auth-3"] == nil {
		t.Errorf("after ingest-auth-3 joined: %v, want it and one other owning partitions", own.IngestJoined)
	}
	assertSplit(t, "auth ingest after the join", own.IngestJoined, partitions)
	if r.Recoveries == 0 || own.KillRecovery <= 0 {
		t.Errorf("no recovery measured after the kill (%d recoveries)", r.Recoveries)
	}
	// Two ingest instances per source, each owning part of its topic.
	bySource := map[string]map[string][]int{}
	for name, parts := range own.Ingest {
		src := strings.TrimPrefix(name[:strings.LastIndex(name, "-")], "ingest-")
		if bySource[src] == nil {
			bySource[src] = map[string][]int{}
		}
		bySource[src][name] = parts
	}
	if len(bySource) != 4 {
		t.Errorf("ingest ownership of %d sources, want 4: %v", len(bySource), own.Ingest)
	}
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		if len(bySource[src]) != 2 {
			t.Errorf("%s: %d ingest instances owned partitions, want 2", src, len(bySource[src]))
		}
		assertSplit(t, src+" ingest", bySource[src], partitions)
	}
}

// assertSplit fails unless every instance owns a non-empty set, no two
// overlap, and together they own 0..partitions-1.
func assertSplit(tb testing.TB, what string, owned map[string][]int, partitions int) {
	tb.Helper()
	seen := map[int]string{}
	for name, parts := range owned {
		if len(parts) == 0 {
			tb.Errorf("%s: %s owns nothing", what, name)
		}
		for _, p := range parts {
			if other, dup := seen[p]; dup {
				tb.Errorf("%s: partition %d owned by %s and %s", what, p, other, name)
			}
			seen[p] = name
		}
	}
	for p := range partitions {
		if _, ok := seen[p]; !ok {
			tb.Errorf("%s: partition %d owned by nobody: %v", what, p, owned)
		}
	}
}
