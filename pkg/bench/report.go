package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"settlemon/pkg/event"
)

// Performance targets on this machine class (2 cores, broker and ClickHouse
// on the same box).
const (
	TargetEndToEnd      = 200_000   // source events/s, with the repartition hop
	TargetJoin          = 1_000_000 // records/s on one core
	TargetAllocs        = 0         // allocations per record in steady state
	TargetBytesPerTrace = 250       // bytes per open trace at 10M open traces
	TargetStateTraces   = 10_000_000
	TargetLiveP99       = 5 * time.Second
	// TargetStrippedRatio is the product's end-to-end rate over the
	// stripped pipeline's, measured in the same run.
	TargetStrippedRatio = 0.75
)

// atLeast says how a measured value compares with a floor target.
func atLeast(measured, target float64) string {
	if measured <= 0 {
		return "not measured"
	}
	if measured >= target {
		return fmt.Sprintf("met (+%.0f%%)", (measured/target-1)*100)
	}
	return fmt.Sprintf("MISSED by %.0f%% (needs %.2f×)", (1-measured/target)*100, target/measured)
}

// atMost says how a measured value compares with a ceiling target.
func atMost(measured, target float64) string {
	if measured <= target {
		if target == 0 {
			return "met"
		}
		return fmt.Sprintf("met (%.0f%% under)", (1-measured/target)*100)
	}
	if target == 0 {
		return fmt.Sprintf("MISSED (%.2g per record, want 0)", measured)
	}
	return fmt.Sprintf("MISSED by %.0f%% (%.2f× the target)", (measured/target-1)*100, measured/target)
}

func perSec(n float64) string { return group(int64(n+0.5)) + "/s" }

// group formats n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mib(b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func micros(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1e3 / float64(n)
}

// WriteText prints the figures with their targets.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nsettlemon bench — %s · %d cores · load %s at start, %s at end · took %s\n",
		r.Started.Format(time.RFC3339), r.Cores, r.LoadBefore, r.LoadAfter, r.Total.Round(time.Second))
	in := r.Input
	fmt.Fprintf(w, "input: %s source messages (%s traces over the simulated days: %s authorizations, %s clearing, %s payouts, %s merchant profiles), prefilled in %s (%s)\n\n",
		group(r.SourceMessages), group(int64(in.Traces)), group(int64(in.Messages[r.Topics.Authorizations])), group(int64(in.Messages[r.Topics.Clearing])),
		group(int64(in.Messages[r.Topics.Payouts])), group(int64(in.Messages[r.Topics.Merchants])), r.Prefill.Round(time.Millisecond),
		perSec(float64(r.SourceMessages)/r.Prefill.Seconds()))

	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\ttarget\tverdict")
	p := r.Pipeline
	fmt.Fprintf(tw, "end to end, source events/s (first ingest read → last joiner commit, %s)\t%s\t≥ %s\t%s\n",
		p.Elapsed.Round(time.Millisecond), perSec(p.Rate()), perSec(TargetEndToEnd), atLeast(p.Rate(), TargetEndToEnd))
	fmt.Fprintf(tw, "facts/s (%s lag, %s anomalies, %s batch rows)\t%s\t\t\n",
		group(int64(p.LagFacts)), group(int64(p.Anomalies)), group(int64(p.BatchRows)), perSec(float64(p.Facts())/p.Elapsed.Seconds()))
	if r.Baseline != nil {
		fmt.Fprintf(tw, "raw kafka-go consume of the same topics, messages/s (no decoding)\t%s\t\t\n", perSec(r.Baseline.Rate()))
		fmt.Fprintf(tw, "pipeline ÷ raw consume\t%.2f\t\t\n", p.Rate()/r.Baseline.Rate())
	}
	if st := r.Stripped; st != nil && st.Rate() > 0 {
		fmt.Fprintf(tw, "stripped pipeline, source events/s (decode → re-key by trace → minimal join → settlement_lag, %s)\t%s\t\t\n",
			st.Elapsed.Round(time.Millisecond), perSec(st.Rate()))
		ratio := p.Rate() / st.Rate()
		fmt.Fprintf(tw, "product ÷ stripped, same run\t%.2f\t≥ %.2f\t%s\n", ratio, TargetStrippedRatio, atLeast(ratio, TargetStrippedRatio))
	}
	if j := r.Join; j != nil {
		wall := float64(j.Records) / j.Elapsed.Seconds()
		cpu := float64(j.Records) / j.CPU.Seconds()
		fmt.Fprintf(tw, "join alone, one goroutine, records/s (%s records; by CPU time %s)\t%s\t≥ %s\t%s\n",
			group(int64(j.Records)), perSec(cpu), perSec(wall), perSec(TargetJoin), atLeast(wall, TargetJoin))
		steady := float64(j.SteadyAllocs) / float64(j.SteadyRecords)
		fmt.Fprintf(tw, "join allocations per record, steady state (whole run %.2f)\t%.2f\t%d\t%s\n",
			float64(j.Allocs)/float64(j.Records), steady, TargetAllocs, atMost(steady, TargetAllocs))
	} else {
		fmt.Fprintf(tw, "join alone, one goroutine\tnot measured\t≥ %s\t\n", perSec(TargetJoin))
	}
	atTarget := false
	for _, s := range r.State {
		verdict := atMost(s.HeapPerTrace, TargetBytesPerTrace)
		if s.Traces != TargetStateTraces {
			verdict += fmt.Sprintf(" — target is stated at %s traces", group(TargetStateTraces))
		} else {
			atTarget = true
		}
		fmt.Fprintf(tw, "bytes per open trace at %s traces (live heap; partition's estimate %.0f)\t%.0f B\t≤ %d B\t%s\n",
			group(int64(s.Traces)), s.EstimPerTrace, s.HeapPerTrace, TargetBytesPerTrace, verdict)
	}
	if !atTarget {
		fmt.Fprintf(tw, "bytes per open trace at %s traces\tnot measured (--state-traces %d)\t≤ %d B\t\n", group(TargetStateTraces), TargetStateTraces, TargetBytesPerTrace)
	}
	if l := r.Live; l != nil && len(l.Latencies) > 0 {
		p99 := l.Quantile(0.99)
		verdict := atMost(p99.Seconds(), TargetLiveP99.Seconds())
		if l.Missing > 0 {
			verdict = fmt.Sprintf("MISSED: %d of %d rows never appeared", l.Missing, l.Missing+len(l.Latencies))
		}
		fmt.Fprintf(tw, "live: deadline passed → anomaly queryable, p99 (p50 %s, p90 %s, max %s, %d samples)\t%s\t≤ %s\t%s\n",
			l.Quantile(0.5).Round(time.Millisecond), l.Quantile(0.9).Round(time.Millisecond), l.Quantile(1).Round(time.Millisecond), len(l.Latencies),
			p99.Round(time.Millisecond), TargetLiveP99, verdict)
	} else {
		fmt.Fprintf(tw, "live: deadline passed → anomaly queryable, p99\tnot measured\t≤ %s\t\n", TargetLiveP99)
	}
	if m := r.Restore; m != nil {
		verdict := "met"
		if m.Total() > 30*time.Second {
			verdict = fmt.Sprintf("MISSED by %s", (m.Total() - 30*time.Second).Round(time.Millisecond))
		}
		fmt.Fprintf(tw, "restart: restore %d open traces from a checkpoint (load %s + decode %s; %.0f MB checkpoint)\t%s\t< 30s\t%s\n",
			m.OpenTraces, m.Load.Round(time.Millisecond), m.Restore.Round(time.Millisecond), float64(m.Bytes)/1e6, m.Total().Round(time.Millisecond), verdict)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nCPU µs per source event")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	pipeName := "pipeline"
	if r.BrokerInline {
		pipeName = "pipeline + broker (broker inline)"
	}
	fmt.Fprintf(tw, "phase\t%s\tbroker\tClickHouse\ttotal\n", pipeName)
	row := func(name string, ph Phase) {
		n := ph.Messages
		u := ph.CPU
		broker, ch := fmt.Sprintf("%.2f", micros(u.Broker, n)), fmt.Sprintf("%.2f", micros(u.ClickHouse, n))
		if r.BrokerInline {
			broker = "(inline)"
		}
		if !r.CHMeasured {
			ch = "not measured"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%.2f\n", name, micros(u.Pipeline, n), broker, ch, micros(u.Pipeline+u.Broker+u.ClickHouse, n))
	}
	row("end to end", p.Phase)
	if r.CHMeasured && p.Messages > 0 {
		// Merges of what the phase inserted that ClickHouse finished after
		// it: a fast run leaves more of them outside its window.
		fmt.Fprintf(tw, "ClickHouse after the phase (%s to idle)\t\t\t%.2f\t\n", r.CHSettle.Round(100*time.Millisecond), micros(r.CHAfter, p.Messages))
		with := p.Phase
		with.CPU.ClickHouse += r.CHAfter
		row("end to end with ClickHouse's later merges", with)
	}
	if r.Baseline != nil {
		row("raw consume", *r.Baseline)
	}
	if r.Stripped != nil {
		row("stripped pipeline", *r.Stripped)
	}
	tw.Flush()
	elapsedCPU := p.CPU.Pipeline + p.CPU.Broker + p.CPU.ClickHouse
	if p.Elapsed > 0 {
		fmt.Fprintf(w, "cores busy during the end-to-end phase: %.2f of %d (CPU time over the phase, start-up included ÷ first read → last commit)\n",
			elapsedCPU.Seconds()/(p.Elapsed+p.Startup).Seconds(), r.Cores)
	}
	if r.CHMeasured {
		fmt.Fprintf(w, "ClickHouse was busy at %.2f cores before the phase with nothing from this bench (other clients, merges); that load is inside its figure above\n", r.CHBackground)
	}
	fmt.Fprintf(w, "peak RSS during the end-to-end phase: pipeline %s · broker %s · ClickHouse %s\n",
		mib(p.PeakRSS.Pipeline), mib(p.PeakRSS.Broker), mib(p.PeakRSS.ClickHouse))
	fmt.Fprintf(w, "%s: %s events forwarded by ingest, %s records read by the joiner (batch digests and watermarks included); start-up before the first read %s\n",
		event.EventsTopic, group(int64(p.Forwarded)), group(int64(p.Records)), p.Startup.Round(time.Millisecond))
	if p.Batches > 0 {
		fmt.Fprintf(w, "ingest: %s batches of %.0f messages on average (one Kafka write each), %s archive inserts of %.0f (one insert per table and one commit each); joiner: %s commits\n",
			group(int64(p.Batches)), float64(p.Messages)/float64(p.Batches),
			group(int64(p.ArchiveInserts)), float64(p.Messages)/float64(max(p.ArchiveInserts, 1)), group(int64(p.Commits)))
	}
	if l := r.Live; l != nil {
		fmt.Fprintf(w, "live phase: T0 window %s, heartbeats every %s on every source partition (standing for continuous traffic), ClickHouse polled every %s (the resolution)\n",
			l.Config.Window, l.Config.Heartbeat, l.Config.Poll)
	}
	if len(r.Parts) > 0 {
		fmt.Fprintln(w, "\nClickHouse parts of the end-to-end phase and the merges until idle (system.part_log)")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "table\tparts written\trows\tmerges\trows merged\tmerging (wall)")
		var parts, merges uint64
		for _, a := range r.Parts {
			parts, merges = parts+a.Parts, merges+a.Merges
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", a.Table, a.Parts, group(int64(a.Rows)), a.Merges, group(int64(a.MergedRows)),
				(time.Duration(a.MergeMillis) * time.Millisecond).Round(10*time.Millisecond))
		}
		fmt.Fprintf(tw, "all\t%d\t\t%d\t\t\n", parts, merges)
		tw.Flush()
	}
}
