//go:build integration

package store_test

import (
	"context"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestConsoleQueries checks the console's queries on real ClickHouse: they
// read the latest version of each row, and the status filter sees only it.
func TestConsoleQueries(t *testing.T) {
	s := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms := func(v string) int64 {
		tm, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}

	anoms := []fact.Anomaly{
		{ID: "payout_failed:A", Kind: fact.PayoutFailed, Status: fact.Open, TraceNo: "A", MerchantID: "M1", Amount: 1000, DetectedAt: ms("2026-10-01T03:00:00Z"), Version: 1},
		{ID: "payout_failed:B", Kind: fact.PayoutFailed, Status: fact.Open, TraceNo: "B", MerchantID: "M2", Amount: 250, DetectedAt: ms("2026-10-01T17:00:00Z"), Version: 1},
		// C opened, then resolved by a later version.
		{ID: "payout_overdue:C", Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: "C", MerchantID: "M1", Amount: 77, DetectedAt: ms("2026-09-30T10:00:00Z"), Version: 1},
		{ID: "payout_overdue:C", Kind: fact.PayoutOverdue, Status: fact.Resolved, TraceNo: "C", MerchantID: "M1", Amount: 77, DetectedAt: ms("2026-09-30T10:00:00Z"), ResolvedAt: ms("2026-10-02T10:00:00Z"), Version: 2},
		{ID: "late_event:D", Kind: fact.LateEvent, Status: fact.Open, TraceNo: "D", MerchantID: "M1", DetectedAt: ms("2026-10-02T01:00:00Z"), Version: 1},
	}
	if err := s.InsertAnomalies(ctx, anoms); err != nil {
		t.Fatal(err)
	}

	totals, err := s.OpenAnomalyTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.KindTotal{{Kind: fact.LateEvent, Count: 1, Traces: 1}, {Kind: fact.PayoutFailed, Count: 2, Traces: 2, Amount: 1250}}
	if len(totals) != len(want) || totals[0] != want[0] || totals[1] != want[1] {
		t.Errorf("OpenAnomalyTotals = %+v, want %+v (the resolved overdue is not open)", totals, want)
	}

	tests := []struct {
		name  string
		q     store.AnomalyQuery
		total uint64
		ids   []string
	}{
		{"open, newest first", store.AnomalyQuery{Status: fact.Open}, 3, []string{"late_event:D", "payout_failed:B", "payout_failed:A"}},
		{"all statuses", store.AnomalyQuery{}, 4, []string{"late_event:D", "payout_failed:B", "payout_failed:A", "payout_overdue:C"}},
		{"resolved", store.AnomalyQuery{Status: fact.Resolved}, 1, []string{"payout_overdue:C"}},
		{"kind", store.AnomalyQuery{Kind: fact.PayoutFailed, Status: fact.Open}, 2, []string{"payout_failed:B", "payout_failed:A"}},
		{"merchant", store.AnomalyQuery{MerchantID: "M1"}, 3, []string{"late_event:D", "payout_failed:A", "payout_overdue:C"}},
		{"trace", store.AnomalyQuery{TraceNo: "B"}, 1, []string{"payout_failed:B"}},
		// 2026-10-01 in Asia/Shanghai is [09-30 16:00Z, 10-01 16:00Z).
		{"date", store.AnomalyQuery{From: time.Date(2026, 9, 30, 16, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 1, 16, 0, 0, 0, time.UTC)}, 1, []string{"payout_failed:A"}},
		{"page", store.AnomalyQuery{Status: fact.Open, Limit: 1, Offset: 1}, 3, []string{"payout_failed:B"}},
	}
	for _, tt := range tests {
		page, err := s.QueryAnomalies(ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var ids []string
		for _, a := range page.Anomalies {
			ids = append(ids, a.ID)
		}
		if page.Total != tt.total || len(ids) != len(tt.ids) {
			t.Errorf("%s: total %d ids %v, want %d %v", tt.name, page.Total, ids, tt.total, tt.ids)
			continue
		}
		for i := range ids {
			if ids[i] != tt.ids[i] {
				t.Errorf("%s: ids %v, want %v", tt.name, ids, tt.ids)
				break
			}
		}
	}

	// Batches: the latest version decides the status.
	batches := []fact.Batch{
		{BatchID: "P1", Source: "payouts", Status: fact.BatchIsOpen, OpenedAt: ms("2026-10-01T00:00:00Z"), SeenCount: 3, SeenTotal: 300, AsOf: ms("2026-10-01T01:00:00Z"), Version: 1},
		{BatchID: "P1", Source: "payouts", Status: fact.BatchIsStalled, OpenedAt: ms("2026-10-01T00:00:00Z"), SeenCount: 3, SeenTotal: 300, Stalls: 1, AsOf: ms("2026-10-01T02:00:00Z"), Version: 2},
		{BatchID: "C1", Source: "clearing", Status: fact.BatchIsClosed, OpenedAt: ms("2026-10-02T00:00:00Z"), ClosedAt: ms("2026-10-02T01:00:00Z"), DeclaredCount: 2, DeclaredTotal: 99, SeenCount: 2, SeenTotal: 99, AsOf: ms("2026-10-02T02:00:00Z"), Version: 1},
		{BatchID: "P2", Source: "payouts", Status: fact.BatchIsStalled, OpenedAt: ms("2026-10-03T00:00:00Z"), AsOf: ms("2026-10-03T01:00:00Z"), Version: 1},
		{BatchID: "P2", Source: "payouts", Status: fact.BatchIsClosed, OpenedAt: ms("2026-10-03T00:00:00Z"), AsOf: ms("2026-10-03T02:00:00Z"), Version: 2},
	}
	if err := s.InsertBatches(ctx, batches); err != nil {
		t.Fatal(err)
	}
	all, err := s.QueryBatches(ctx, store.BatchQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].BatchID != "P1" || all[0].Status != fact.BatchIsStalled || all[0].Stalls != 1 || all[1].BatchID != "P2" || all[2].DeclaredTotal != 99 || all[2].ClosedAt == 0 {
		t.Errorf("QueryBatches = %+v, want P1 (stalled) first, then the newest", all)
	}
	stalled, err := s.QueryBatches(ctx, store.BatchQuery{Status: fact.BatchIsStalled})
	if err != nil {
		t.Fatal(err)
	}
	if len(stalled) != 1 || stalled[0].BatchID != "P1" {
		t.Errorf("stalled batches = %+v, want P1 only (P2 closed in its latest version)", stalled)
	}
	if clearing, err := s.QueryBatches(ctx, store.BatchQuery{Source: "clearing"}); err != nil || len(clearing) != 1 {
		t.Errorf("clearing batches = %+v, %v", clearing, err)
	}

	// Lag facts: span and hourly stats of the paid traces.
	lags := []fact.Lag{
		{TraceNo: "L1", Mode: event.T1, Status: fact.StatusPaid, AuthorizedAt: ms("2026-10-01T02:10:00Z"), PaidAt: ms("2026-10-02T02:10:00Z"), AuthToPayS: 86400, Version: 1},
		{TraceNo: "L2", Mode: event.T1, Status: fact.StatusPaid, AuthorizedAt: ms("2026-10-01T02:50:00Z"), PaidAt: ms("2026-10-02T03:50:00Z"), AuthToPayS: 90000, Version: 1},
		{TraceNo: "L3", Mode: event.T1, Status: fact.StatusPending, AuthorizedAt: ms("2026-10-01T05:00:00Z"), Version: 1},
	}
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	first, last, err := s.LagSpan(ctx)
	if err != nil || first != ms("2026-10-01T02:10:00Z") || last != ms("2026-10-01T05:00:00Z") {
		t.Errorf("LagSpan = %d %d %v", first, last, err)
	}
	hours, err := s.LagByHour(ctx, time.UnixMilli(first).Truncate(time.Hour), time.UnixMilli(last).Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 1 || hours[0].Hour != ms("2026-10-01T02:00:00Z") || hours[0].Paid != 2 || hours[0].Max != 90000 || hours[0].P50 < 86400 || hours[0].P50 > 90000 {
		t.Errorf("LagByHour = %+v, want the two paid traces of 02:00", hours)
	}
	if none, err := s.LagByHour(ctx, time.UnixMilli(ms("2026-10-01T03:00:00Z")), time.UnixMilli(last)); err != nil || len(none) != 0 {
		t.Errorf("LagByHour after 03:00 = %+v, %v; want none", none, err)
	}

	// Source health: the latest report of each reporter instance.
	health := []store.SourceHealth{
		{Source: "payouts", Reporter: "joiner", Instance: "j1", ObservedAt: ms("2026-10-01T01:00:00Z"), Watermark: ms("2026-10-01T00:59:00Z"), WatermarkLagS: 60, Status: "ok", ThresholdS: 1800, ConsumerLag: -1, IdleS: -1},
		{Source: "payouts", Reporter: "joiner", Instance: "j1", ObservedAt: ms("2026-10-01T02:00:00Z"), Watermark: ms("2026-10-01T01:00:00Z"), WatermarkLagS: 3600, Withheld: 5, Status: "lagging", ThresholdS: 1800, ConsumerLag: -1, IdleS: -1},
		{Source: "payouts", Reporter: "ingest", Instance: "i1", ObservedAt: ms("2026-10-01T02:00:00Z"), ConsumerLag: 12, IdleS: 3, WatermarkLagS: -1, ThresholdS: -1, Status: "ok"},
	}
	if err := s.InsertSourceHealth(ctx, health); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestSourceHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Reporter != "ingest" || got[0].ConsumerLag != 12 || got[1].Status != "lagging" || got[1].Withheld != 5 ||
		got[1].ObservedAt != ms("2026-10-01T02:00:00Z") || got[1].Watermark != ms("2026-10-01T01:00:00Z") {
		t.Errorf("LatestSourceHealth = %+v", got)
	}
}
