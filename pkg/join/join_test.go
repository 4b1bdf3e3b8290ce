package join

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

type merchants map[string]Profile

func (m merchants) Lookup(id string) (Profile, bool) { p, ok := m[id]; return p, ok }

var testMerchants = merchants{
	"MT1": {Mode: event.T1, FeeRatePPM: 6000, RegisteredMCC: "5411"},
	"MD1": {Mode: event.D1, FeeRatePPM: 3800, RegisteredMCC: "5812"},
	"MD0": {Mode: event.D0, FeeRatePPM: 0, RegisteredMCC: "5311"},
}

func newPartition(tb testing.TB) *Partition {
	tb.Helper()
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(DefaultConfig(), sched, testMerchants)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

var shanghai = time.FixedZone("CST", 8*3600)

// at parses a local (Asia/Shanghai) time "2026-09-28 10:00".
func at(tb testing.TB, s string) int64 {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UnixMilli()
}

// step is one record of a scenario.
type step struct {
	typ      event.Type
	id       string
	trace    string
	merchant string
	at       string
	amount   int64
	fee      int64
	code     string // response code (auth) or reason code (failed)
	mcc      string
	cur      string // currency; "" as an event naming none
	// watermark records: source and time; all partitions of that source
	wmSource event.Source
	wmParts  int32
	wmPart   int32
	// srcWM is the source partition's watermark when the event was read
	srcWM string
}

func ev(typ event.Type, id, trace, merchant, at string, amount int64) step {
	return step{typ: typ, id: id, trace: trace, merchant: merchant, at: at, amount: amount}
}

// wm is a watermark for every partition of src (1 partition).
func wm(src event.Source, at string) step {
	return step{wmSource: src, at: at, wmParts: 1}
}

func (s step) record(tb testing.TB) event.Record {
	if s.wmParts > 0 {
		return event.Record{Kind: event.RecordWatermark, Watermark: event.Watermark{Source: s.wmSource, Partition: s.wmPart, Partitions: s.wmParts, At: at(tb, s.at)}}
	}
	e := event.Event{ID: s.id, Type: s.typ, OccurredAt: at(tb, s.at), TraceNo: s.trace, MerchantID: s.merchant, Amount: s.amount, Fee: s.fee, MCC: s.mcc, Currency: s.cur}
	switch s.typ {
	case event.Authorization:
		e.ResponseCode, e.TerminalID = "00", "TERM1"
		if s.code != "" {
			e.ResponseCode = s.code
		}
		if e.MCC == "" {
			e.MCC = testMerchants[s.merchant].RegisteredMCC
		}
	case event.PayoutFailed:
		e.ReasonCode = s.code
	case event.Cleared:
		if e.MCC == "" {
			e.MCC = testMerchants[s.merchant].RegisteredMCC
		}
	}
	r := event.Record{Kind: event.RecordEvent, Event: e}
	if s.srcWM != "" {
		r.SourceWatermark = at(tb, s.srcWM)
	}
	return r
}

// run applies steps and returns the latest version of every fact, as the
// ReplacingMergeTree views show them.
func run(tb testing.TB, p *Partition, steps []step) ([]fact.Lag, []fact.Anomaly) {
	tb.Helper()
	var lags []fact.Lag
	var anomalies []fact.Anomaly
	for _, s := range steps {
		r := s.record(tb)
		p.Apply(&r)
		f := p.Take()
		lags = append(lags, f.Lags...)
		anomalies = append(anomalies, f.Anomalies...)
	}
	return latestLags(lags), latestAnomalies(anomalies)
}

func latestLags(in []fact.Lag) []fact.Lag {
	m := map[string]fact.Lag{}
	for _, l := range in {
		if cur, ok := m[l.TraceNo]; !ok || l.Version >= cur.Version {
			m[l.TraceNo] = l
		}
	}
	out := make([]fact.Lag, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TraceNo < out[j].TraceNo })
	return out
}

func latestAnomalies(in []fact.Anomaly) []fact.Anomaly {
	m := map[string]fact.Anomaly{}
	for _, a := range in {
		if cur, ok := m[a.ID]; !ok || a.Version >= cur.Version {
			m[a.ID] = a
		}
	}
	out := make([]fact.Anomaly, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// healthyT1 is a Monday T1 sale paid on Tuesday morning, with the feeds'
// watermarks passing the Tuesday 18:00 deadline.
func healthyT1(trace string) []step {
	return []step{
		ev(event.Authorization, "a-"+trace, trace, "MT1", "2026-09-28 10:00", 100000),
		{typ: event.Cleared, id: "c-" + trace, trace: trace, merchant: "MT1", at: "2026-09-29 02:10", amount: 100000, fee: 600},
		ev(event.PayoutInitiated, "i-"+trace, trace, "MT1", "2026-09-29 10:00", 99400),
		ev(event.PayoutPaid, "p-"+trace, trace, "MT1", "2026-09-29 10:05", 99400),
	}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		// expectations on the latest facts
		lagStatus map[string]fact.LagStatus
		anomalies map[string]fact.AnomalyStatus // id → status
		reasons   map[string]string             // id → reason
	}{
		{
			name:      "healthy T1 paid before its deadline",
			steps:     append(healthyT1("T100"), wm(event.Auth, "2026-09-30 00:00"), wm(event.Payouts, "2026-09-30 00:00")),
			lagStatus: map[string]fact.LagStatus{"T100": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "payout failed with the bank's code mapped to a reason",
			steps: []step{
				ev(event.Authorization, "a1", "T200", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T200", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				{typ: event.PayoutFailed, id: "f1", trace: "T200", merchant: "MT1", at: "2026-09-29 10:30", amount: 4970, code: "R02"},
				wm(event.Auth, "2026-09-30 00:00"), wm(event.Payouts, "2026-09-30 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{"T200": fact.StatusFailed},
			anomalies: map[string]fact.AnomalyStatus{"payout_failed:T200": fact.Open},
			reasons:   map[string]string{"payout_failed:T200": "name_mismatch"},
		},
		{
			name: "payout never sent: overdue once the payout watermark passes the deadline",
			steps: []step{
				ev(event.Authorization, "a1", "T300", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T300", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				wm(event.Auth, "2026-09-29 18:01"), wm(event.Payouts, "2026-09-29 18:01"),
			},
			lagStatus: map[string]fact.LagStatus{"T300": fact.StatusOverdue},
			anomalies: map[string]fact.AnomalyStatus{"payout_overdue:T300": fact.Open},
		},
		{
			name: "two-clock rule: a payout feed behind the deadline raises nothing, however far other feeds run",
			steps: []step{
				ev(event.Authorization, "a1", "T301", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T301", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				wm(event.Auth, "2026-10-05 00:00"),
				wm(event.Clearing, "2026-10-05 00:00"),
				wm(event.Auth, "2026-09-29 17:59"), wm(event.Payouts, "2026-09-29 17:59"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "a payout watermark is the minimum over the source's partitions",
			steps: []step{
				ev(event.Authorization, "a1", "T302", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T302", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				{wmSource: event.Payouts, wmParts: 2, wmPart: 0, at: "2026-10-01 00:00"},
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "late payout resolves the overdue anomaly and records the real lag",
			steps: []step{
				ev(event.Authorization, "a1", "T400", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T400", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				wm(event.Auth, "2026-09-29 20:00"), wm(event.Payouts, "2026-09-29 20:00"),
				ev(event.PayoutPaid, "p1", "T400", "MT1", "2026-09-29 21:00", 4970),
			},
			lagStatus: map[string]fact.LagStatus{"T400": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"payout_overdue:T400": fact.Resolved},
		},
		{
			name: "cleared amount differs from the authorization",
			steps: []step{
				ev(event.Authorization, "a1", "T500", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T500", merchant: "MT1", at: "2026-09-29 02:10", amount: 5100, fee: 31},
				ev(event.PayoutPaid, "p1", "T500", "MT1", "2026-09-29 10:05", 5069),
			},
			lagStatus: map[string]fact.LagStatus{"T500": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"amount_mismatch:T500:cleared": fact.Open},
		},
		{
			name: "net paid differs from cleared minus fee",
			steps: []step{
				ev(event.Authorization, "a1", "T501", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T501", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutPaid, "p1", "T501", "MT1", "2026-09-29 10:05", 4900),
			},
			lagStatus: map[string]fact.LagStatus{"T501": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"amount_mismatch:T501:paid": fact.Open},
		},
		{
			name: "a re-delivered event (same id) is ignored; a second authorization is a duplicate",
			steps: []step{
				ev(event.Authorization, "a1", "T600", "MT1", "2026-09-28 10:00", 5000),
				ev(event.Authorization, "a1", "T600", "MT1", "2026-09-28 10:00", 5000),
				ev(event.Authorization, "a2", "T600", "MT1", "2026-09-28 10:01", 5000),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{"duplicate_trace:T600:authorization:a2": fact.Open},
		},
		{
			name: "a declined authorization is not joined",
			steps: []step{
				{typ: event.Authorization, id: "a1", trace: "T700", merchant: "MT1", at: "2026-09-28 10:00", amount: 5000, code: "51"},
				wm(event.Auth, "2026-10-20 00:00"), wm(event.Payouts, "2026-10-20 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "D0 paid before clearing: the lag row gains the clearing stage",
			steps: []step{
				ev(event.Authorization, "a1", "T800", "MD0", "2026-09-28 10:00", 5000),
				ev(event.PayoutPaid, "p1", "T800", "MD0", "2026-09-28 11:05", 5000),
				{typ: event.Cleared, id: "c1", trace: "T800", merchant: "MD0", at: "2026-09-29 02:10", amount: 5000, fee: 0},
				wm(event.Auth, "2026-09-30 00:00"), wm(event.Payouts, "2026-09-30 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{"T800": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "a reversal on a lagging authorization feed still cancels a D0 payout: no overdue before that feed passes the deadline",
			steps: []step{
				ev(event.Authorization, "a1", "T802", "MD0", "2026-09-28 10:00", 5000),
				wm(event.Payouts, "2026-09-28 20:00"),
				wm(event.Auth, "2026-09-28 10:02"),
				ev(event.Reversal, "v1", "T802", "MD0", "2026-09-28 10:05", 5000),
				wm(event.Auth, "2026-09-28 20:00"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "a copy re-sent long after its feed moved on is late, not a duplicate",
			steps: []step{
				ev(event.Authorization, "a1", "T803", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T803", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutPaid, "p1", "T803", "MT1", "2026-09-29 10:05", 4970),
				{typ: event.PayoutPaid, id: "p1-copy", trace: "T803", merchant: "MT1", at: "2026-09-29 10:05", amount: 4970, srcWM: "2026-10-02 09:00"},
			},
			lagStatus: map[string]fact.LagStatus{"T803": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"late_event:T803:p1-copy": fact.Open},
		},
		{
			name: "D0 without a payout is overdue four hours after the sale, before any clearing",
			steps: []step{
				ev(event.Authorization, "a1", "T801", "MD0", "2026-09-28 10:00", 5000),
				wm(event.Auth, "2026-09-28 14:01"), wm(event.Payouts, "2026-09-28 14:01"),
			},
			lagStatus: map[string]fact.LagStatus{"T801": fact.StatusOverdue},
			anomalies: map[string]fact.AnomalyStatus{"payout_overdue:T801": fact.Open},
		},
		{
			name: "failed, then paid after all: the failure is resolved",
			steps: []step{
				ev(event.Authorization, "a1", "T900", "MD1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "T900", merchant: "MD1", at: "2026-09-29 02:10", amount: 5000, fee: 19},
				{typ: event.PayoutFailed, id: "f1", trace: "T900", merchant: "MD1", at: "2026-09-29 10:30", amount: 4981, code: "R05"},
				ev(event.PayoutPaid, "p1", "T900", "MD1", "2026-09-29 15:00", 4981),
				wm(event.Auth, "2026-09-30 00:00"), wm(event.Payouts, "2026-09-30 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{"T900": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"payout_failed:T900": fact.Resolved},
			reasons:   map[string]string{"payout_failed:T900": "limit_exceeded"},
		},
		{
			name: "clearing never came: clearing_missing once the clearing watermark passes D+1 06:00",
			steps: []step{
				ev(event.Authorization, "a1", "C1", "MT1", "2026-09-28 10:00", 5000),
				wm(event.Auth, "2026-09-29 06:01"),
				wm(event.Clearing, "2026-09-29 06:01"),
			},
			lagStatus: map[string]fact.LagStatus{"C1": fact.StatusClearingMissing},
			anomalies: map[string]fact.AnomalyStatus{"clearing_missing:C1": fact.Open},
		},
		{
			name: "two-clock rule for clearing: a clearing feed short of the deadline raises nothing",
			steps: []step{
				ev(event.Authorization, "a1", "C2", "MT1", "2026-09-28 10:00", 5000),
				wm(event.Auth, "2026-10-05 00:00"), wm(event.Auth, "2026-10-05 00:00"), wm(event.Payouts, "2026-10-05 00:00"),
				wm(event.Clearing, "2026-09-29 05:59"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "a late clearing resolves clearing_missing",
			steps: []step{
				ev(event.Authorization, "a1", "C3", "MT1", "2026-09-28 10:00", 5000),
				wm(event.Auth, "2026-09-29 07:00"),
				wm(event.Clearing, "2026-09-29 07:00"),
				{typ: event.Cleared, id: "c1", trace: "C3", merchant: "MT1", at: "2026-09-29 08:00", amount: 5000, fee: 30},
				ev(event.PayoutPaid, "p1", "C3", "MT1", "2026-09-29 10:05", 4970),
			},
			lagStatus: map[string]fact.LagStatus{"C3": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"clearing_missing:C3": fact.Resolved},
		},
		{
			name: "held beyond the review SLA, then released and paid: payout_held resolved, not overdue",
			steps: []step{
				ev(event.Authorization, "a1", "H1", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "H1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutHeld, "h1", "H1", "MT1", "2026-09-29 10:00", 4970),
				wm(event.Auth, "2026-09-30 10:01"), wm(event.Payouts, "2026-09-30 10:01"),
				ev(event.PayoutReleased, "r1", "H1", "MT1", "2026-09-30 20:00", 4970),
				ev(event.PayoutPaid, "p1", "H1", "MT1", "2026-09-30 20:10", 4970),
				wm(event.Auth, "2026-10-01 00:00"), wm(event.Payouts, "2026-10-01 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{"H1": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"payout_held:H1": fact.Resolved},
		},
		{
			name: "a short hold released within the SLA is no anomaly",
			steps: []step{
				ev(event.Authorization, "a1", "H2", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "H2", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutHeld, "h1", "H2", "MT1", "2026-09-29 10:00", 4970),
				ev(event.PayoutReleased, "r1", "H2", "MT1", "2026-09-29 13:00", 4970),
				ev(event.PayoutPaid, "p1", "H2", "MT1", "2026-09-29 13:10", 4970),
				wm(event.Auth, "2026-10-02 00:00"), wm(event.Payouts, "2026-10-02 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{"H2": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "fee above the contracted rate",
			steps: []step{
				ev(event.Authorization, "a1", "F1", "MT1", "2026-09-28 10:00", 100000),
				{typ: event.Cleared, id: "c1", trace: "F1", merchant: "MT1", at: "2026-09-29 02:10", amount: 100000, fee: 900},
			},
			anomalies: map[string]fact.AnomalyStatus{"fee_rate_deviation:F1": fact.Open},
			lagStatus: map[string]fact.LagStatus{},
		},
		{
			name: "a fee within the tolerance is no anomaly",
			steps: []step{
				ev(event.Authorization, "a1", "F2", "MT1", "2026-09-28 10:00", 100000),
				{typ: event.Cleared, id: "c1", trace: "F2", merchant: "MT1", at: "2026-09-29 02:10", amount: 100000, fee: 650},
			},
			anomalies: map[string]fact.AnomalyStatus{},
			lagStatus: map[string]fact.LagStatus{},
		},
		{
			name: "cleared under another MCC than registered",
			steps: []step{
				ev(event.Authorization, "a1", "M1", "MT1", "2026-09-28 10:00", 5000),
				{typ: event.Cleared, id: "c1", trace: "M1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30, mcc: "5999"},
			},
			anomalies: map[string]fact.AnomalyStatus{"mcc_mismatch:M1": fact.Open},
			lagStatus: map[string]fact.LagStatus{},
		},
		{
			name: "reversed but still cleared and paid",
			steps: []step{
				ev(event.Authorization, "a1", "R1", "MT1", "2026-09-28 10:00", 5000),
				ev(event.Reversal, "v1", "R1", "MT1", "2026-09-28 10:03", 5000),
				{typ: event.Cleared, id: "c1", trace: "R1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutPaid, "p1", "R1", "MT1", "2026-09-29 10:05", 4970),
			},
			lagStatus: map[string]fact.LagStatus{"R1": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"reversed_but_settled:R1:cleared": fact.Open, "reversed_but_settled:R1:paid": fact.Open},
		},
		{
			name: "a reversed sale that never settles is no anomaly, not even a missing clearing or payout",
			steps: append([]step{
				ev(event.Authorization, "a1", "R2", "MT1", "2026-09-28 10:00", 5000),
				ev(event.Reversal, "v1", "R2", "MT1", "2026-09-28 10:03", 5000),
			}, allFeeds("2026-10-10 00:00")...),
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "orphan clearing and orphan payout wait for the authorization watermark",
			steps: []step{
				{typ: event.Cleared, id: "c1", trace: "O1", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.PayoutPaid, "p1", "O2", "MT1", "2026-09-29 10:05", 4970),
				wm(event.Auth, "2026-09-29 10:00"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{"orphan_clearing:O1": fact.Open},
		},
		{
			name: "an authorization that does arrive in time prevents the orphan",
			steps: []step{
				{typ: event.Cleared, id: "c1", trace: "O3", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
				ev(event.Authorization, "a1", "O3", "MT1", "2026-09-28 10:00", 5000),
				wm(event.Auth, "2026-09-30 00:00"),
			},
			lagStatus: map[string]fact.LagStatus{},
			anomalies: map[string]fact.AnomalyStatus{},
		},
		{
			name: "an event for a closed trace is late; a copy of one it had is a re-delivery",
			steps: append(append(append(healthyT1("L1"), allFeeds("2026-10-01 00:00")...),
				ev(event.PayoutPaid, "p-L1", "L1", "MT1", "2026-09-29 10:05", 99400)),
				ev(event.PayoutPaid, "p-L1-resent", "L1", "MT1", "2026-09-29 10:05", 99400)),
			lagStatus: map[string]fact.LagStatus{"L1": fact.StatusPaid},
			anomalies: map[string]fact.AnomalyStatus{"late_event:L1:p-L1-resent": fact.Open},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPartition(t)
			lags, anomalies := run(t, p, tc.steps)
			gotLag := map[string]fact.LagStatus{}
			for _, l := range lags {
				gotLag[l.TraceNo] = l.Status
			}
			if fmt.Sprint(gotLag) != fmt.Sprint(tc.lagStatus) {
				t.Errorf("lag statuses = %v, want %v", gotLag, tc.lagStatus)
			}
			gotAn := map[string]fact.AnomalyStatus{}
			for _, a := range anomalies {
				gotAn[a.ID] = a.Status
				if want, ok := tc.reasons[a.ID]; ok && a.Reason != want {
					t.Errorf("%s reason = %q, want %q", a.ID, a.Reason, want)
				}
				if a.Cause == "" || a.Action == "" || a.Severity == "" {
					t.Errorf("%s lacks cause, action or severity: %+v", a.ID, a)
				}
			}
			if fmt.Sprint(gotAn) != fmt.Sprint(tc.anomalies) {
				t.Errorf("anomalies = %v, want %v", gotAn, tc.anomalies)
			}
		})
	}
}

func TestPaidLagValues(t *testing.T) {
	p := newPartition(t)
	lags, _ := run(t, p, healthyT1("T1"))
	if len(lags) != 1 {
		t.Fatalf("got %d lag rows, want 1", len(lags))
	}
	l := lags[0]
	want := fact.Lag{
		TraceNo: "T1", MerchantID: "MT1", TerminalID: "TERM1", MCC: "5411", ClearedMCC: "5411", Mode: event.T1,
		AuthorizedAmount: 100000, ClearedAmount: 100000, Fee: 600, NetPaid: 99400,
		AuthorizedAt: at(t, "2026-09-28 10:00"), ClearedAt: at(t, "2026-09-29 02:10"), PaidAt: at(t, "2026-09-29 10:05"),
		ExpectedPayoutAt: at(t, "2026-09-29 18:00"),
		AuthToClearS:     16*3600 + 600, ClearToPayS: 7*3600 + 55*60, AuthToPayS: 24*3600 + 300, PastDueS: -(7*3600 + 55*60),
		Status: fact.StatusPaid, CalendarVersion: "cn-mainland-2026.1", Version: l.Version,
	}
	if l != want {
		t.Errorf("lag row\n got %+v\nwant %+v", l, want)
	}
}

// TestOrderIndependence checks the property the design rests on: ingest
// consumers run independently, so the events of different sources reach the
// join interleaved in any way (each source's own order is kept: one trace is
// one partition of its topic and of settle.events); the latest facts must not
// depend on the interleaving.
func TestOrderIndependence(t *testing.T) {
	scenarios := map[string][]step{
		"healthy": healthyT1("T1"),
		"failed": {
			ev(event.Authorization, "a1", "T2", "MD1", "2026-09-28 10:00", 5000),
			{typ: event.Cleared, id: "c1", trace: "T2", merchant: "MD1", at: "2026-09-29 02:10", amount: 5000, fee: 19},
			{typ: event.PayoutFailed, id: "f1", trace: "T2", merchant: "MD1", at: "2026-09-29 10:30", amount: 4981, code: "R01"},
		},
		"mismatch": {
			ev(event.Authorization, "a1", "T3", "MT1", "2026-09-28 10:00", 5000),
			{typ: event.Cleared, id: "c1", trace: "T3", merchant: "MT1", at: "2026-09-29 02:10", amount: 5200, fee: 31},
			ev(event.PayoutPaid, "p1", "T3", "MT1", "2026-09-29 10:05", 5169),
		},
		"reversed": {
			ev(event.Authorization, "a1", "T5", "MT1", "2026-09-28 10:00", 5000),
			ev(event.Reversal, "v1", "T5", "MT1", "2026-09-28 10:03", 5000),
			{typ: event.Cleared, id: "c1", trace: "T5", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 90, mcc: "5999"},
			ev(event.PayoutPaid, "p1", "T5", "MT1", "2026-09-29 10:05", 4910),
		},
		"held": {
			ev(event.Authorization, "a1", "T6", "MT1", "2026-09-28 10:00", 5000),
			{typ: event.Cleared, id: "c1", trace: "T6", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
			ev(event.PayoutHeld, "h1", "T6", "MT1", "2026-09-29 10:00", 4970),
			ev(event.PayoutReleased, "r1", "T6", "MT1", "2026-09-30 20:00", 4970),
			ev(event.PayoutPaid, "p1", "T6", "MT1", "2026-09-30 20:10", 4970),
		},
		"orphan": {
			{typ: event.Cleared, id: "c1", trace: "T7", merchant: "MT1", at: "2026-09-29 02:10", amount: 5000, fee: 30},
			ev(event.PayoutInitiated, "i1", "T7", "MT1", "2026-09-29 10:00", 4970),
			ev(event.PayoutPaid, "p1", "T7", "MT1", "2026-09-29 10:05", 4970),
			wm(event.Auth, "2026-09-29 10:02"),
			wm(event.Auth, "2026-09-30 00:00"),
		},
		"d0": {
			ev(event.Authorization, "a1", "T4", "MD0", "2026-09-28 10:00", 5000),
			ev(event.PayoutPaid, "p1", "T4", "MD0", "2026-09-28 11:05", 5000),
			{typ: event.Cleared, id: "c1", trace: "T4", merchant: "MD0", at: "2026-09-29 02:10", amount: 5000},
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			steps = append(steps, wm(event.Auth, "2026-10-01 00:00"), wm(event.Payouts, "2026-10-01 00:00"))
			wantL, wantA := run(t, newPartition(t), steps)
			for i := 0; i < 50; i++ {
				perm := append(interleave(rng, steps[:len(steps)-1]), steps[len(steps)-1])
				gotL, gotA := run(t, newPartition(t), perm)
				if js(gotL) != js(wantL) || js(gotA) != js(wantA) {
					t.Fatalf("order %v changed the facts:\n got %s %s\nwant %s %s", order(perm), js(gotL), js(gotA), js(wantL), js(wantA))
				}
			}
		})
	}
}

// interleave merges the per-source subsequences of steps at random,
// keeping each source's order.
func interleave(rng *rand.Rand, steps []step) []step {
	var bySource [event.NumSources][]step
	for _, s := range steps {
		src := s.wmSource
		if s.wmParts == 0 {
			switch s.typ {
			case event.Authorization, event.Reversal:
				src = event.Auth
			case event.Cleared:
				src = event.Clearing
			default:
				src = event.Payouts
			}
		}
		bySource[src] = append(bySource[src], s)
	}
	var out []step
	for len(out) < len(steps) {
		src := rng.IntN(int(event.NumSources))
		if len(bySource[src]) > 0 {
			out = append(out, bySource[src][0])
			bySource[src] = bySource[src][1:]
		}
	}
	return out
}

func order(s []step) string {
	var b []string
	for _, x := range s {
		b = append(b, x.typ.String())
	}
	return strings.Join(b, ",")
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// allFeeds moves the watermark of every trace feed to at.
func allFeeds(at string) []step {
	return []step{wm(event.Auth, at), wm(event.Clearing, at), wm(event.Payouts, at)}
}

func TestPurge(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		kept  []string // after the steps: open, then not
		purge []string
	}{
		{
			name:  "a paid and cleared trace is kept for the grace period",
			steps: append(healthyT1("T1"), allFeeds("2026-09-30 10:04")...),
			kept:  []string{"T1"},
		},
		{
			name:  "and dropped once every feed has passed it",
			steps: append(healthyT1("T1"), allFeeds("2026-09-30 10:06")...),
			purge: []string{"T1"},
		},
		{
			name: "a lagging clearing feed keeps it: its late events must find the trace",
			steps: append(healthyT1("T1"), wm(event.Auth, "2026-10-30 00:00"), wm(event.Auth, "2026-10-30 00:00"), wm(event.Payouts, "2026-10-30 00:00"),
				wm(event.Clearing, "2026-09-30 09:00")),
			kept: []string{"T1"},
		},
		{
			name: "a D0 trace paid before clearing is not complete",
			steps: append([]step{
				ev(event.Authorization, "a1", "T2", "MD0", "2026-09-28 10:00", 5000),
				ev(event.PayoutPaid, "p1", "T2", "MD0", "2026-09-28 11:05", 5000),
			}, allFeeds("2026-09-30 00:00")...),
			kept: []string{"T2"},
		},
		{
			name:  "an unpaid trace lives until its horizon",
			steps: append([]step{ev(event.Authorization, "a9", "T9", "MT1", "2026-09-28 10:00", 100)}, allFeeds("2026-10-18 09:59")...),
			kept:  []string{"T9"},
		},
		{
			name:  "and no longer",
			steps: append([]step{ev(event.Authorization, "a9", "T9", "MT1", "2026-09-28 10:00", 100)}, allFeeds("2026-10-18 10:01")...),
			purge: []string{"T9"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPartition(t)
			run(t, p, tc.steps)
			for _, tr := range tc.kept {
				if !p.holds(tr) {
					t.Errorf("trace %s was purged, want it kept", tr)
				}
			}
			for _, tr := range tc.purge {
				if p.holds(tr) {
					t.Errorf("trace %s is still held, want it purged", tr)
				}
			}
			if p.Stats().Purged != uint64(len(tc.purge)) {
				t.Errorf("purged = %d, want %d", p.Stats().Purged, len(tc.purge))
			}
		})
	}
}

// holds reports whether the partition holds an open trace.
func (p *Partition) holds(trace string) bool {
	var k traceKey
	copy(k[:], trace)
	s, _ := p.index.find(keyHash(&k), &k, &p.slab)
	return s >= 0
}

// TestGolden pins the complete facts of a mixed scenario, so that any change
// to what the join emits shows up as a diff in testdata/.
func TestGolden(t *testing.T) {
	steps := append(healthyT1("G1"),
		ev(event.Authorization, "a2", "G2", "MD1", "2026-09-28 11:00", 20000),
		step{typ: event.Cleared, id: "c2", trace: "G2", merchant: "MD1", at: "2026-09-29 02:20", amount: 20050, fee: 76},
		ev(event.PayoutPaid, "p2", "G2", "MD1", "2026-09-29 10:10", 19974),
		ev(event.Authorization, "a3", "G3", "MT1", "2026-09-30 23:30", 8800),
		step{typ: event.Cleared, id: "c3", trace: "G3", merchant: "MT1", at: "2026-10-02 02:00", amount: 8800, fee: 53},
		step{typ: event.PayoutFailed, id: "f3", trace: "G3", merchant: "MT1", at: "2026-10-08 10:20", amount: 8747, code: "R03"},
		ev(event.Authorization, "a4", "G4", "MT1", "2026-09-30 12:00", 1200),
		step{typ: event.Cleared, id: "c4", trace: "G4", merchant: "MT1", at: "2026-10-01 02:00", amount: 1200, fee: 7},
		wm(event.Auth, "2026-10-08 18:30"), wm(event.Payouts, "2026-10-08 18:30"),
	)
	lags, anomalies := run(t, newPartition(t), steps)
	got, err := json.MarshalIndent(struct {
		Lags      []fact.Lag
		Anomalies []fact.Anomaly
	}{lags, anomalies}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "mixed.golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
		t.Errorf("facts differ from %s (run go test ./pkg/join -update and review the diff):\n%s", path, got)
	}
}
