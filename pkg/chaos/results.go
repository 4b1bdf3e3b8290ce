package chaos

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one run of one scenario for one seed.
type Result struct {
	Seed     int64
	Scenario Scenario

	SourceEvents  int64 // messages in the source topics
	FactsExpected int   // rows of the fact views in the reference run
	FactsFound    int   // rows of the fact views in this run
	Duplicates    int64 // rows read with FINAL beyond one per key, over every table
	Lost          int   // reference rows missing here
	Extra         int   // rows here the reference does not have
	Changed       int   // rows (or figures) with other values than the reference's

	Recovery   time.Duration // longest catch-up after a disturbance
	Recoveries int           // disturbances measured
	PeakLag    int64         // most messages the groups were behind at once

	PeakRSS      int64  // bytes, the largest of the ingest and joiner children
	PeakRSSChild string // which child
	BrokerRSS    int64  // bytes, the dev broker (holds every topic in memory)

	Kills       int    // SIGKILLs delivered to pipeline children
	Unplanned   int    // pipeline children that exited on their own (restarted)
	Disturbance string // what was done, in words
	Elapsed     time.Duration

	// Ownership is what the multi-instance scenario saw of the instances'
	// partitions; nil for the other scenarios.
	Ownership *Ownership
	// Cluster is what the cluster scenario measured; nil for the others.
	Cluster *ClusterFigures

	Problems []string // why the run failed; empty: passed
	Details  []string // the first differing rows and unplanned exits
}

// Passed reports whether the run met every guarantee.
func (r Result) Passed() bool { return len(r.Problems) == 0 }

func (r Result) line() string {
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL: " + strings.Join(r.Problems, "; ")
	}
	return fmt.Sprintf("%s %s — facts %d/%d, duplicates %d, lost %d, recovery %s, peak lag %d, peak RSS %s (%s) in %s",
		r.Scenario, verdict, r.FactsFound, r.FactsExpected, r.Duplicates, r.Lost, r.Recovery.Round(100*time.Millisecond),
		r.PeakLag, mib(r.PeakRSS), r.PeakRSSChild, r.Elapsed.Round(time.Second))
}

// Results are every run of a chaos invocation.
type Results []Result

// Passed reports whether every run passed.
func (rs Results) Passed() bool {
	for _, r := range rs {
		if !r.Passed() {
			return false
		}
	}
	return len(rs) > 0
}

// WriteTable prints one line per run, then the problems of the failed ones.
func (rs Results) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "seed\tscenario\tsource events\tfacts expected\tfacts found\tduplicates\tlost\textra/changed\trecovery (max)\tpeak lag\tpeak RSS\tbroker RSS\tdisturbance\tresult")
	for _, r := range rs {
		verdict := "pass"
		if !r.Passed() {
			verdict = "FAIL"
		}
		rec := "-"
		if r.Recoveries > 0 {
			rec = fmt.Sprintf("%s (%d)", r.Recovery.Round(100*time.Millisecond), r.Recoveries)
		}
		dist := r.Disturbance
		if dist == "" {
			dist = "none"
		}
		if r.Unplanned > 0 {
			dist += fmt.Sprintf("; %d unplanned exits", r.Unplanned)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%s\t%d\t%s %s\t%s\t%s\t%s\n",
			r.Seed, r.Scenario, r.SourceEvents, r.FactsExpected, r.FactsFound, r.Duplicates, r.Lost, r.Extra, r.Changed,
			rec, r.PeakLag, mib(r.PeakRSS), r.PeakRSSChild, mib(r.BrokerRSS), dist, verdict)
	}
	_ = tw.Flush()
	for _, r := range rs {
		if r.Passed() {
			continue
		}
		fmt.Fprintf(w, "\nseed %d %s failed:\n", r.Seed, r.Scenario)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
		for _, d := range r.Details {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
}

func mib(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20))
}
