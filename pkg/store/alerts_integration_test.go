//go:build integration

package store_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
	"settlemon/pkg/text"
)

func TestAlertHistoryLatestEpisode(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const t0 = int64(1_760_000_000_000)
	labels := map[string]string{"alertname": "SourceLagging", "severity": "critical", "source": "payouts"}
	ann := map[string]string{"summary": `payouts "lagging"`}
	rows := []store.AlertRecord{
		// episode 1: fired, repeated, resolved
		{Fingerprint: "fp1", AlertName: "SourceLagging", Labels: labels, Annotations: ann, State: "firing", StartedAt: t0, LastSentAt: t0, Notifications: 1, Version: 1},
		{Fingerprint: "fp1", AlertName: "SourceLagging", Labels: labels, Annotations: ann, State: "firing", StartedAt: t0, LastSentAt: t0 + 3600_000, Notifications: 2, Version: 2},
		{Fingerprint: "fp1", AlertName: "SourceLagging", Labels: labels, Annotations: ann, State: "resolved", StartedAt: t0, EndedAt: t0 + 7200_000, LastSentAt: t0 + 7200_000, Notifications: 3, Version: 3},
		// episode 2 of the same alert, firing
		{Fingerprint: "fp1", AlertName: "SourceLagging", Labels: labels, Annotations: ann, State: "firing", StartedAt: t0 + 9000_000, LastSentAt: t0 + 9000_000, Notifications: 1, Version: 4},
		// another alert, no labels
		{Fingerprint: "fp2", AlertName: "DeadLetterRate", State: "firing", StartedAt: t0 + 1500, LastSentAt: t0 + 1500, Notifications: 1, Version: 7},
	}
	if err := s.InsertAlerts(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// a retried insert of the same version changes nothing
	if err := s.InsertAlerts(ctx, rows[3:4]); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AlertRecord{rows[3], rows[4]}
	want[1].StartedAt, want[1].LastSentAt = sec(t0+1500), sec(t0+1500)
	want[1].Labels, want[1].Annotations = map[string]string{}, map[string]string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LatestAlerts =\n%+v\nwant\n%+v", got, want)
	}
}

func TestAnomalyVersionsKeepsEveryVersion(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const t0 = int64(1_760_000_000_000)
	open := fact.Anomaly{ID: "batch_stalled:payouts:PB-1:1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Open,
		BatchID: "PB-1", DetectedAt: t0, Details: "stopped", Version: fact.Version(t0, 0)}
	resolved := open
	resolved.Status, resolved.ResolvedAt, resolved.Details, resolved.Version = fact.Resolved, t0+3600_000, "resumed", fact.Version(t0+3600_000, 1)
	incomplete := fact.Anomaly{ID: "batch_incomplete:payouts:PB-2", Kind: fact.BatchIncomplete, Severity: fact.Critical, Status: fact.Open,
		BatchID: "PB-2", Amount: 1000, ExpectedAmount: 1234, DetectedAt: t0, Version: 5}
	other := fact.Anomaly{ID: "payout_overdue:T1", Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: "T1", DetectedAt: t0, Version: 1}
	for _, batch := range [][]fact.Anomaly{{open, incomplete, other}, {resolved}, {resolved}} {
		if err := s.InsertAnomalies(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AnomalyVersions(ctx, fact.BatchStalled, fact.BatchIncomplete)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, string(a.Status)+" "+a.ID)
	}
	want := []string{"open batch_incomplete:payouts:PB-2", "open batch_stalled:payouts:PB-1:1", "resolved batch_stalled:payouts:PB-1:1"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("versions = %v, want %v", ids, want)
	}
	if g := got[2]; g.ResolvedAt != sec(resolved.ResolvedAt) || g.DetectedAt != sec(t0) || g.Details != "resumed" || g.BatchID != "PB-1" {
		t.Errorf("resolved version read back as %+v", g)
	}
	if g := got[0]; g.Amount != 1000 || g.ExpectedAmount != 1234 || g.ResolvedAt != 0 {
		t.Errorf("incomplete read back as %+v", g)
	}
	if none, err := s.AnomalyVersions(ctx); err != nil || none != nil {
		t.Errorf("AnomalyVersions() = %v, %v; want nothing", none, err)
	}
}

func TestOpenAnomalyTotal(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	n, amount, err := s.OpenAnomalyTotal(ctx, fact.PayoutOverdue)
	if err != nil || n != 0 || amount != 0 {
		t.Fatalf("empty: %d, %d, %v", n, amount, err)
	}
	const t0 = int64(1_760_000_000_000)
	var rows []fact.Anomaly
	for i, tr := range []string{"A", "B", "C"} {
		rows = append(rows, fact.Anomaly{ID: "payout_overdue:" + tr, Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: tr,
			Amount: int64(10001 * (i + 1)), DetectedAt: t0, Version: 1})
	}
	// C was paid later: its resolved version wins
	rows = append(rows, fact.Anomaly{ID: "payout_overdue:C", Kind: fact.PayoutOverdue, Status: fact.Resolved, TraceNo: "C",
		Amount: 30003, DetectedAt: t0, ResolvedAt: t0 + 1000, Version: 2})
	rows = append(rows, fact.Anomaly{ID: "payout_failed:D", Kind: fact.PayoutFailed, Status: fact.Open, TraceNo: "D", Amount: 99, DetectedAt: t0, Version: 1})
	if err := s.InsertAnomalies(ctx, rows); err != nil {
		t.Fatal(err)
	}
	n, amount, err = s.OpenAnomalyTotal(ctx, fact.PayoutOverdue)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || amount != 10001+20002 {
		t.Errorf("open overdue = %d for %d fen, want 2 for %d", n, amount, 10001+20002)
	}
}

func TestDeadLettersSince(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	now := time.Unix(1_760_000_000, 0)
	var rows []store.DeadLetter
	for i, age := range []time.Duration{10 * time.Minute, 4 * time.Minute, time.Minute, 0} {
		rows = append(rows, store.DeadLetter{Topic: "acq.payouts", Offset: int64(i), KafkaTime: now.Add(-age).UnixMilli(), Reason: "bad_amount"})
	}
	if err := s.InsertDeadLetters(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertDeadLetters(ctx, rows[3:]); err != nil { // a retried insert counts once
		t.Fatal(err)
	}
	for _, tc := range []struct {
		since time.Time
		want  uint64
	}{
		{now.Add(-5 * time.Minute), 3},
		{now.Add(-time.Minute), 2},
		{now.Add(time.Second), 0},
		{time.Unix(0, 0), 4},
	} {
		got, err := s.DeadLettersSince(ctx, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("DeadLettersSince(%v) = %d, want %d", tc.since.UTC(), got, tc.want)
		}
	}
}

func TestJoinerSourceStatus(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const t0 = int64(1_760_000_000_000)
	h := func(src, reporter, inst string, at int64, status string) store.SourceHealth {
		return store.SourceHealth{Source: src, Reporter: reporter, Instance: inst, ObservedAt: at, Watermark: at - 3600_000,
			WatermarkLagS: 3600, ConsumerLag: -1, IdleS: -1, Status: status, ThresholdS: 1800}
	}
	rows := []store.SourceHealth{
		h("payouts", "joiner", "a", t0, "ok"),
		h("payouts", "joiner", "a", t0+5000, "lagging"),
		h("payouts", "joiner", "old", t0-60_000, "ok"), // a stopped instance
		h("payouts", "ingest", "i", t0+9000, "ok"),     // not the joiner
		h("clearing", "joiner", "a", t0+5000, "ok"),
	}
	if err := s.InsertSourceHealth(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.JoinerSourceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SourceStatus{
		{Source: "clearing", Status: "ok", ObservedAt: t0 + 5000, Watermark: t0 + 5000 - 3600_000, WatermarkLagS: 3600, ThresholdS: 1800},
		{Source: "payouts", Status: "lagging", ObservedAt: t0 + 5000, Watermark: t0 + 5000 - 3600_000, WatermarkLagS: 3600, ThresholdS: 1800},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JoinerSourceStatus =\n%+v\nwant\n%+v", got, want)
	}
}

// TestAlertMessagesRoundTrip: the annotations' messages come back as
// stored and render in either language, whatever the alerter's; a row
// without messages (written before 0010) reads with none, its annotations
// as stored.
func TestAlertMessagesRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const t0 = int64(1_760_000_000_000)
	msgs := map[string]text.Msg{
		"summary": text.M("alert.payouts_overdue.summary", text.T("150"), text.Yuan(123_456_789)),
		"action":  text.Just(text.Arg{Action: string(fact.PayoutOverdue)}),
	}
	zh := text.NewPrinter(text.Chinese, time.UTC)
	rows := []store.AlertRecord{
		{Fingerprint: "zh", AlertName: "PayoutsOverdue", Annotations: zh.RenderAll(msgs), Messages: msgs,
			State: "firing", StartedAt: t0, LastSentAt: t0, Notifications: 1, Version: 1},
		{Fingerprint: "old", AlertName: "PayoutsOverdue", Annotations: map[string]string{"summary": "150 payouts overdue"},
			State: "firing", StartedAt: t0, LastSentAt: t0, Notifications: 1, Version: 1},
	}
	if err := s.InsertAlerts(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Fingerprint != "old" || got[1].Fingerprint != "zh" {
		t.Fatalf("LatestAlerts = %+v", got)
	}
	if got[0].Messages != nil || got[0].Annotations["summary"] != "150 payouts overdue" {
		t.Errorf("a row without messages: %+v", got[0])
	}
	if !reflect.DeepEqual(got[1].Messages, msgs) {
		t.Errorf("messages = %+v, want %+v", got[1].Messages, msgs)
	}
	for _, tc := range []struct {
		lang            text.Lang
		summary, action string
	}{
		{text.English, "150 payouts overdue, 1,234,567.89 yuan in total", "contact the paying bank; tell the merchant the payout is being chased"},
		{text.Chinese, "150 笔出款逾期，合计 ¥1,234,567.89", zh.Action(fact.PayoutOverdue)},
	} {
		ann := text.NewPrinter(tc.lang, time.UTC).RenderAll(got[1].Messages)
		if ann["summary"] != tc.summary || ann["action"] != tc.action {
			t.Errorf("%s: %v", tc.lang, ann)
		}
	}
}

// TestAnomalyArgsStored: an anomaly's Args come back from the store, so a
// reader renders its details in full in either language from them; a row
// stored without them (written before 0011) reads as its stored sentence in
// English and briefly in Chinese.
func TestAnomalyArgsStored(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	loc := time.FixedZone("CST", 8*3600)
	const t0 = int64(1_760_000_000_000)
	overdue := fact.Anomaly{ID: "payout_overdue:TR1", Kind: fact.PayoutOverdue, Severity: fact.Critical, Status: fact.Open,
		TraceNo: "TR1", MerchantID: "M1", Amount: 128_800, DetectedAt: t0, Args: fact.Args{Mode: event.T1}, Version: 1}
	stalled := fact.Anomaly{ID: "batch_stalled:payouts:PB-1:1", Kind: fact.BatchStalled, Severity: fact.Critical, Status: fact.Open,
		BatchID: "PB-1", DetectedAt: t0 + 3600_000, Version: 2,
		Args: fact.Args{Source: event.Payouts, Count: 37, LastProgressAt: t0, Window: 30 * time.Minute}}
	old := fact.Anomaly{ID: "payout_overdue:TR2", Kind: fact.PayoutOverdue, Severity: fact.Critical, Status: fact.Open,
		TraceNo: "TR2", Amount: 500, DetectedAt: t0, Version: 1}
	for _, a := range []*fact.Anomaly{&overdue, &stalled, &old} {
		a.Details = text.AnomalyDetails(*a, loc)
	}
	old.Args = fact.Args{} // as the rows before 0011: the sentence only
	if err := s.InsertAnomalies(ctx, []fact.Anomaly{overdue, stalled, old}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AnomalyVersions(ctx, fact.PayoutOverdue, fact.BatchStalled)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]fact.Anomaly{}
	for _, a := range got {
		byID[a.ID] = a
	}
	en, zh := text.NewPrinter(text.English, loc), text.NewPrinter(text.Chinese, loc)
	for _, want := range []fact.Anomaly{overdue, stalled} {
		a := byID[want.ID]
		if a.Args != want.Args {
			t.Errorf("%s: Args %+v, want %+v", want.ID, a.Args, want.Args)
		}
		if _, _, d := en.Stored(a); d != want.Details {
			t.Errorf("%s in English: %q, want the stored %q", want.ID, d, want.Details)
		}
		if _, _, d := zh.Stored(a); d != zh.AnomalyDetails(want) || !strings.Contains(d, "出款") && !strings.Contains(d, "批次") {
			t.Errorf("%s in Chinese: %q, want %q", want.ID, d, zh.AnomalyDetails(want))
		}
	}
	a := byID[old.ID]
	if a.Args != (fact.Args{}) {
		t.Errorf("a row without args: %+v", a.Args)
	}
	if _, _, d := zh.Stored(a); d != zh.Brief(a) {
		t.Errorf("a row without args in Chinese: %q, want the brief %q", d, zh.Brief(a))
	}
}
