//go:build integration

package allinone_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/allinone"
	"settlemon/pkg/explain"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/score"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestFullScenario is the acceptance run on the default simulation: five
// days across National Day, every cause injected at least 50 times and a
// payout-feed outage. Scored against the truth, every kind must reach
// precision and recall 0.99, with no payout_overdue raised during the
// outage; explain must answer for one trace of each kind; and feeding the
// same input again must leave every anomaly identical, ids and content.
func TestFullScenario(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	st := storetest.New(t)
	truthFile := filepath.Join(t.TempDir(), "truth.jsonl")
	cfg := runConfig(t, st.Database(), truthFile, 1)
	cfg.Simulator = simulator.FullConfig()
	cfg.Pipeline.Partitions = 6
	cfg.Progress = 2 * time.Second
	res, err := allinone.Run(ctx, cfg, runDeps(t))
	if err != nil {
		t.Fatalf("allinone.Run: %v", err)
	}
	if !res.Report.Balanced() {
		t.Fatalf("the reconciliation does not balance: %+v", res.Report.Topics)
	}

	f, err := os.Open(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := simulator.ReadRunTruth(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	outage, err := score.PayoutOutage(truth.Outages)
	if err != nil || outage == nil {
		t.Fatalf("the full scenario must record a payout-feed outage: %v %v", outage, err)
	}
	anomalies, err := st.LatestAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	result := score.Score(truth, score.FromAnomalies(anomalies), outage)
	var b strings.Builder
	result.WriteText(&b)
	t.Logf("score:\n%s", b.String())
	for _, k := range fact.Kinds() {
		ks := result.Kind(k)
		switch {
		case score.IsBatchKind(k) && ks.Expected < 1:
			t.Errorf("%s injected %d times, want at least one batch", k, ks.Expected)
		case !score.IsBatchKind(k) && ks.Expected < 50:
			t.Errorf("%s injected %d times, want at least 50", k, ks.Expected)
		}
		if ks.Precision < 0.99 || ks.Recall < 0.99 {
			t.Errorf("%s: precision %.4f recall %.4f, want both ≥ 0.99", k, ks.Precision, ks.Recall)
		}
	}
	if result.OverdueDuringOutage != 0 {
		t.Errorf("%d payout_overdue raised during the payout-feed outage, want 0", result.OverdueDuringOutage)
	}

	t.Run("explain one trace of each kind", func(t *testing.T) {
		x, err := explain.New(st, testSchedule(t))
		if err != nil {
			t.Fatal(err)
		}
		want := map[fact.Kind]string{
			fact.ClearingMissing: explain.StatusClearingMissing, fact.PayoutOverdue: explain.StatusOverdue,
			fact.PayoutFailed: explain.StatusFailed, fact.PayoutHeld: explain.StatusPaid,
			fact.AmountMismatch: explain.StatusPaid, fact.FeeRateDeviation: explain.StatusPaid,
			fact.MCCMismatch: explain.StatusPaid, fact.DuplicateTrace: explain.StatusPaid,
			fact.ReversedButSettled: explain.StatusPaid, fact.OrphanClearing: explain.StatusOrphan,
			fact.OrphanPayout: explain.StatusOrphan, fact.LateEvent: explain.StatusPaid,
		}
		picked := map[fact.Kind]simulator.Truth{}
		for _, tr := range truth.Traces {
			for _, a := range tr.Anomalies {
				if _, ok := picked[a.Kind]; !ok {
					picked[a.Kind] = tr
				}
			}
		}
		for kind, status := range want {
			tr, ok := picked[kind]
			if !ok {
				t.Errorf("no trace of kind %s in the truth", kind)
				continue
			}
			e, err := x.Explain(ctx, tr.TraceNo, time.Time{})
			if err != nil {
				t.Errorf("%s %s: %v", kind, tr.TraceNo, err)
				continue
			}
			if e.Status != status {
				t.Errorf("%s %s: status %q, want %q (summary %q)", kind, tr.TraceNo, e.Status, status, e.Summary)
			}
			if tr.ExpectedPayoutAt != 0 && (e.ExpectedPayoutAt == nil || e.ExpectedPayoutAt.UnixMilli() != tr.ExpectedPayoutAt) {
				t.Errorf("%s %s: expected payout %v, want %v", kind, tr.TraceNo, e.ExpectedPayoutAt, time.UnixMilli(tr.ExpectedPayoutAt))
			}
			var hit *explain.Anomaly
			for i := range e.Anomalies {
				if e.Anomalies[i].Kind == string(kind) {
					hit = &e.Anomalies[i]
				}
			}
			switch {
			case hit == nil:
				t.Errorf("%s %s: explain lists no %s anomaly: %+v", kind, tr.TraceNo, kind, e.Anomalies)
			case hit.Cause == "" || hit.Action == "":
				t.Errorf("%s %s: anomaly without cause or action: %+v", kind, tr.TraceNo, hit)
			case kind == fact.PayoutFailed && hit.Reason != tr.Anomalies[0].Reason:
				t.Errorf("%s %s: reason %q, want %q", kind, tr.TraceNo, hit.Reason, tr.Anomalies[0].Reason)
			}
			if kind == fact.PayoutFailed && !strings.Contains(e.Summary, strings.ReplaceAll(tr.Anomalies[0].Reason, "_", " ")) {
				t.Errorf("failed %s: the summary %q does not name the reason %q", tr.TraceNo, e.Summary, tr.Anomalies[0].Reason)
			}
		}
	})

	incidents, err := st.Incidents(ctx, store.IncidentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("incidents", func(t *testing.T) {
		checkIncidents(t, truth, anomalies, incidents)
	})

	t.Run("the same input again gives identical anomalies", func(t *testing.T) {
		again := runConfig(t, st.Database(), filepath.Join(t.TempDir(), "truth.jsonl"), 1)
		again.Simulator, again.Pipeline.Partitions, again.Progress = simulator.FullConfig(), 6, 2*time.Second
		if _, err := allinone.Run(ctx, again, runDeps(t)); err != nil {
			t.Fatalf("second run: %v", err)
		}
		after, err := st.LatestAnomalies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(anomalies) {
			t.Fatalf("%d anomalies after feeding the input again, %d before", len(after), len(anomalies))
		}
		for i := range after {
			if after[i] != anomalies[i] {
				t.Errorf("anomaly changed:\nbefore %+v\nafter  %+v", anomalies[i], after[i])
				break
			}
		}
		replayed, err := st.Incidents(ctx, store.IncidentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(replayed, incidents) {
			t.Errorf("incidents changed after feeding the input again: %d before, %d after", len(incidents), len(replayed))
		}
	})
}

// checkIncidents: the payout-feed outage is one incident covering exactly
// the traces it delayed; each injected batch fault is one incident of its
// batch; every anomaly belongs to an incident, and the payout_overdue rows
// collapse into a few payout runs.
func checkIncidents(t *testing.T, truth simulator.RunTruth, anomalies []fact.Anomaly, incidents []incident.Summary) {
	t.Helper()
	var delayed int
	for _, tr := range truth.Traces {
		if tr.OutageDelayed {
			delayed++
		}
	}
	out := truth.Outages[0]
	var outages []incident.Summary
	byKey := map[incident.Key]incident.Summary{}
	var inIncidents uint64
	for _, sm := range incidents {
		byKey[sm.Key] = sm
		inIncidents += sm.Anomalies
		if sm.Key.Class == incident.SourceOutage {
			outages = append(outages, sm)
		}
	}
	if len(outages) != 1 {
		t.Fatalf("%d source outages, want the one payout-feed outage: %+v", len(outages), outages)
	}
	o := outages[0]
	t.Logf("outage incident: %d traces, %s, %d merchants, %s .. %s", o.Traces, fact.YuanGrouped(o.Amount), o.Merchants,
		time.UnixMilli(o.FirstAt).UTC(), time.UnixMilli(o.LastAt).UTC())
	switch {
	case o.Key.Source != "payouts" || o.Status != fact.Resolved:
		t.Errorf("outage %+v, want the payouts feed, resolved", o)
	case o.FirstAt > out.From || o.FirstAt < out.From-(10*time.Minute).Milliseconds() || o.LastAt < out.To || o.LastAt > out.To+(10*time.Minute).Milliseconds():
		t.Errorf("outage from %d to %d, want the silence around the truth's %d..%d", o.FirstAt, o.LastAt, out.From, out.To)
	case o.Traces != uint64(delayed) || o.Amount <= 0:
		t.Errorf("outage covers %d traces (%d fen), want the %d the truth says it delayed", o.Traces, o.Amount, delayed)
	}
	for _, b := range truth.Batches {
		k := incident.Key{Class: incident.Batch, Source: b.Source, BatchID: b.BatchID}
		sm, ok := byKey[k]
		if !ok || sm.Anomalies != 1 || sm.Traces != 1 || !slices.Contains(sm.Kinds, b.Kind) {
			t.Errorf("batch fault %+v: incident %+v (found %v), want one incident of its one anomaly", b, sm, ok)
		}
	}
	if inIncidents != uint64(len(anomalies)) {
		t.Errorf("%d anomalies in incidents, %d anomalies", inIncidents, len(anomalies))
	}
	var overdue, runs uint64
	for _, a := range anomalies {
		if a.Kind == fact.PayoutOverdue {
			overdue++
		}
	}
	var overdueInRuns uint64
	for _, sm := range incidents {
		if sm.Key.Class == incident.PayoutRun {
			runs++
			overdueInRuns += sm.Anomalies
		}
	}
	t.Logf("%d incidents from %d anomalies; %d payout_overdue in %d payout runs", len(incidents), len(anomalies), overdue, runs)
	if overdueInRuns != overdue || runs == 0 || runs > 20 {
		t.Errorf("%d payout_overdue, %d of them in %d payout-run incidents; want all of them in at most 20", overdue, overdueInRuns, runs)
	}
}
