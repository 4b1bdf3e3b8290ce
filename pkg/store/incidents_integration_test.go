//go:build integration

package store_test

import (
	"context"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestIncidents: anomalies sharing a key form one incident, counted once
// however often a version is re-inserted, open until its last anomaly
// resolves; a silence in a feed's heartbeats is a source outage with the
// traces the feed delivered from inside it.
func TestIncidents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := storetest.New(t)
	loc := time.FixedZone("CST", 8*3600)
	t0 := time.Date(2026, time.October, 8, 18, 0, 0, 0, loc).UnixMilli()
	overdue := func(trace, merchant string, amount int64) fact.Anomaly {
		a := fact.Anomaly{ID: "payout_overdue:" + trace, Kind: fact.PayoutOverdue, Severity: fact.Critical, Status: fact.Open,
			TraceNo: trace, MerchantID: merchant, Amount: amount, DetectedAt: t0, Args: fact.Args{Mode: event.T1}, Version: fact.Version(t0, 0)}
		a.IncidentKey = incident.Of(&a, loc).String()
		return a
	}
	a, b, c := overdue("T1", "M1", 100_00), overdue("T2", "M2", 50_00), overdue("T3", "M1", 25_00)
	stalled := fact.Anomaly{ID: "batch_stalled:B1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Open,
		BatchID: "B1", DetectedAt: t0, Args: fact.Args{Source: event.Payouts}, Version: fact.Version(t0, 0)}
	stalled.IncidentKey = incident.Of(&stalled, loc).String()
	// Every row twice: a retried insert.
	for range 2 {
		if err := s.InsertAnomalies(ctx, []fact.Anomaly{a, b, c, stalled}); err != nil {
			t.Fatal(err)
		}
	}
	run := incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2026-10-08"}
	get := func(k incident.Key) incident.Summary {
		t.Helper()
		all, err := s.Incidents(ctx, store.IncidentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range all {
			if sm.Key == k {
				return sm
			}
		}
		t.Fatalf("no incident %s in %+v", k, all)
		return incident.Summary{}
	}
	sm := get(run)
	if sm.Anomalies != 3 || sm.Traces != 3 || sm.Amount != 175_00 || sm.Merchants != 2 || sm.Status != fact.Open || sm.Open != 3 {
		t.Fatalf("payout run incident %+v, want 3 anomalies on 3 traces, ¥175.00, 2 merchants, open", sm)
	}
	if len(sm.SomeMerchants) != 2 || sm.SomeMerchants[0] != "M1" || sm.Severity != fact.Critical || sm.FirstAt != t0 {
		t.Fatalf("payout run incident %+v", sm)
	}
	traces, total, err := s.IncidentTraces(ctx, run, 2)
	if err != nil || total != 3 || len(traces) != 2 || traces[0].Kind != fact.PayoutOverdue {
		t.Fatalf("IncidentTraces: %+v, %d, %v", traces, total, err)
	}
	// Each trace carries its anomaly as stored, with its args, for a reader
	// to render in its own language.
	if x := traces[0].Anomaly; x == nil || x.ID != "payout_overdue:"+traces[0].TraceNo || x.Args.Mode != event.T1 {
		t.Errorf("IncidentTraces: the anomaly of %s is %+v", traces[0].TraceNo, x)
	}

	resolve := func(x fact.Anomaly, at int64) fact.Anomaly {
		x.Status, x.ResolvedAt, x.Version = fact.Resolved, at, fact.Version(at, 1)
		return x
	}
	if err := s.InsertAnomalies(ctx, []fact.Anomaly{resolve(a, t0+1000), resolve(b, t0+2000)}); err != nil {
		t.Fatal(err)
	}
	if sm := get(run); sm.Status != fact.Open || sm.Open != 1 || sm.ResolvedAt != 0 {
		t.Fatalf("one anomaly still open: %+v, want open", sm)
	}
	if err := s.InsertAnomalies(ctx, []fact.Anomaly{resolve(c, t0+3000)}); err != nil {
		t.Fatal(err)
	}
	if sm := get(run); sm.Status != fact.Resolved || sm.Open != 0 || sm.ResolvedAt != t0+3000 || sm.Anomalies != 3 {
		t.Fatalf("every anomaly resolved: %+v, want resolved at the last resolution", sm)
	}
	open, err := s.Incidents(ctx, store.IncidentQuery{Status: fact.Open})
	if err != nil || len(open) != 1 || open[0].Key.Class != incident.Batch {
		t.Fatalf("open incidents: %+v, %v; want the stalled batch only", open, err)
	}

	// The payouts feed: heartbeats every 5 minutes on two partitions, none
	// for 2 hours, payouts delivered from inside the silence.
	five := (5 * time.Minute).Milliseconds()
	var beats []store.ControlRow
	off := int64(0)
	for i := int64(0); i <= 48; i++ {
		if i > 12 && i < 36 {
			continue
		}
		for p := int32(0); p < 2; p++ {
			off++
			beats = append(beats, store.ControlRow{Topic: "acq.payouts", Partition: p, Offset: off, KafkaTime: t0, Type: "heartbeat", OccurredAt: t0 + i*five})
		}
	}
	for range 2 {
		if err := s.InsertControl(ctx, beats); err != nil {
			t.Fatal(err)
		}
	}
	raw := func(off int64, trace string, typ event.Type, at, amount int64) store.RawRow {
		return store.RawRow{Topic: "acq.payouts", Partition: 0, Offset: 1000 + off, KafkaTime: at,
			Event: event.Event{ID: trace + typ.String(), Type: typ, OccurredAt: at, TraceNo: trace, MerchantID: "M9", Amount: amount, BatchID: "B2"}}
	}
	in := t0 + 20*five
	rows := []store.RawRow{
		raw(1, "P1", event.PayoutInitiated, in, 10_00), raw(2, "P1", event.PayoutPaid, in+1000, 10_00),
		raw(3, "P2", event.PayoutPaid, in+2000, 20_00),
		raw(4, "P3", event.PayoutPaid, t0+5*five, 40_00), // before the silence
	}
	if err := s.InsertRaw(ctx, event.Payouts, rows); err != nil {
		t.Fatal(err)
	}
	outages, err := s.FeedOutages(ctx, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := incident.OutageKey("payouts", t0+12*five)
	if len(outages) != 1 || outages[0].Key != want || outages[0].LastAt != t0+36*five || outages[0].Status != fact.Resolved {
		t.Fatalf("outages %+v, want one from the heartbeat at +60m to +180m, resolved", outages)
	}
	if o := outages[0]; o.Traces != 2 || o.Amount != 30_00 || o.Merchants != 1 {
		t.Fatalf("outage %+v, want 2 traces, ¥30.00, 1 merchant", o)
	}
	traces, total, err = s.IncidentTraces(ctx, want, 10)
	if err != nil || total != 2 || len(traces) != 2 || traces[0].TraceNo != "P1" || traces[1].TraceNo != "P2" {
		t.Fatalf("outage traces %+v, %d, %v", traces, total, err)
	}
}
