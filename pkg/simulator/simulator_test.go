package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

func testCalendar(tb testing.TB) *calendar.Calendar {
	tb.Helper()
	cal, err := calendar.Default()
	if err != nil {
		tb.Fatalf("loading calendar: %v", err)
	}
	return cal
}

// smallConfig is the default run scaled down: three days from 2026-09-28, so
// T1 payouts cross the National Day holiday.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.TracesPerDay = 3000
	cfg.Merchants = 80
	cfg.Partitions = 3
	return cfg
}

type result struct {
	cfg    Config
	msgs   []Message
	chunks []int
	truth  []byte
	stats  Stats
}

func runSim(tb testing.TB, cfg Config) *result {
	tb.Helper()
	sim, err := New(cfg, testCalendar(tb))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	res := &result{cfg: cfg}
	var truth bytes.Buffer
	res.stats, err = sim.Run(context.Background(), func(ms []Message) error {
		res.msgs = append(res.msgs, ms...)
		res.chunks = append(res.chunks, len(ms))
		return nil
	}, &truth)
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	res.truth = truth.Bytes()
	return res
}

// The default small run is shared by the tests that only read it.
var (
	sharedOnce sync.Once
	shared     *result
)

func sharedRun(tb testing.TB) *result {
	tb.Helper()
	sharedOnce.Do(func() { shared = runSim(tb, smallConfig()) })
	if shared == nil {
		tb.Fatal("shared run failed")
	}
	return shared
}

func (r *result) serialize() []byte {
	var b bytes.Buffer
	for _, m := range r.msgs {
		fmt.Fprintf(&b, "%s|%d|%s|%d|%s\n", m.Topic, m.Partition, m.Key, m.At, m.Value)
	}
	b.WriteString("--truth--\n")
	b.Write(r.truth)
	return b.Bytes()
}

func (r *result) source(tb testing.TB, topic string) event.Source {
	tb.Helper()
	switch topic {
	case r.cfg.Topics.Authorizations:
		return event.Auth
	case r.cfg.Topics.Clearing:
		return event.Clearing
	case r.cfg.Topics.Payouts:
		return event.Payouts
	case r.cfg.Topics.Merchants:
		return event.Merchants
	}
	tb.Fatalf("message on unknown topic %q", topic)
	return 0
}

// decoded decodes every message with the pipeline's own decoder.
func (r *result) decoded(tb testing.TB) []event.Event {
	tb.Helper()
	evs := make([]event.Event, len(r.msgs))
	for i, m := range r.msgs {
		e, err := event.Decode(r.source(tb, m.Topic), m.Value)
		if err != nil {
			tb.Fatalf("message %d on %s does not decode: %v\n%s", i, m.Topic, err, m.Value)
		}
		evs[i] = e
	}
	return evs
}

func (r *result) truths(tb testing.TB) []Truth {
	tb.Helper()
	ts, err := ReadTruth(bytes.NewReader(r.truth))
	if err != nil {
		tb.Fatalf("ReadTruth: %v", err)
	}
	return ts
}

func TestDeterministic(t *testing.T) {
	cfg := smallConfig()
	cfg.TracesPerDay, cfg.Days = 800, 2
	a := runSim(t, cfg).serialize()
	b := runSim(t, cfg).serialize()
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}

	// One Simulator run twice gives the same output too.
	sim, err := New(cfg, testCalendar(t))
	if err != nil {
		t.Fatal(err)
	}
	var n [2]int
	var tr [2]bytes.Buffer
	for i := range 2 {
		if _, err := sim.Run(context.Background(), func(ms []Message) error { n[i] += len(ms); return nil }, &tr[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n[0] != n[1] || !bytes.Equal(tr[0].Bytes(), tr[1].Bytes()) {
		t.Fatal("two Runs of one Simulator differ")
	}

	cfg.Seed = 2
	c := runSim(t, cfg).serialize()
	if bytes.Equal(a, c) {
		t.Fatal("runs with different seeds are identical")
	}
}

func TestChunks(t *testing.T) {
	res := sharedRun(t)
	for i, n := range res.chunks {
		if n < 1 || n > res.cfg.ChunkSize {
			t.Fatalf("chunk %d has %d messages, want 1..%d", i, n, res.cfg.ChunkSize)
		}
		if n < res.cfg.ChunkSize && i != len(res.chunks)-1 {
			t.Fatalf("chunk %d of %d is short (%d messages)", i, len(res.chunks), n)
		}
	}
}

func TestEventTimeOrder(t *testing.T) {
	res := sharedRun(t)
	cfg := res.cfg
	loc := testCalendar(t).Location()
	var prev int64
	for i, m := range res.msgs {
		if m.At < prev {
			t.Fatalf("message %d at %d precedes the previous message at %d", i, m.At, prev)
		}
		prev = m.At
		if m.At%1000 != 0 {
			t.Fatalf("message %d: event time %d is not whole seconds", i, m.At)
		}
	}
	// Merchant profiles come first, at 00:00 local the day before Start.
	profilesAt := cfg.Start.AddDays(-1).At(loc, 0).UnixMilli()
	for i := range cfg.Merchants {
		if m := res.msgs[i]; m.Topic != cfg.Topics.Merchants || m.At != profilesAt {
			t.Fatalf("message %d: want merchant profile at %d, got topic %s at %d", i, profilesAt, m.Topic, m.At)
		}
	}
	if res.stats.Messages[cfg.Topics.Merchants] != cfg.Merchants {
		t.Fatalf("%d merchant profiles, want %d", res.stats.Messages[cfg.Topics.Merchants], cfg.Merchants)
	}
}

func TestHeartbeats(t *testing.T) {
	res := sharedRun(t)
	cfg := res.cfg
	loc := testCalendar(t).Location()
	evs := res.decoded(t)
	interval := cfg.HeartbeatInterval.Milliseconds()
	first := cfg.Start.At(loc, 0).UnixMilli()
	producers := map[string]string{
		cfg.Topics.Authorizations: "pos-switch",
		cfg.Topics.Clearing:       "clearing-loader",
		cfg.Topics.Payouts:        "settlement-system",
	}

	type tp struct {
		topic string
		part  int
	}
	next := map[tp]int64{} // next expected heartbeat time
	lastHB := map[string]int64{}
	var maxDeadline, lastEvent int64
	for _, tr := range res.truths(t) {
		maxDeadline = max(maxDeadline, tr.ExpectedPayoutAt)
	}
	for i, m := range res.msgs {
		e := &evs[i]
		if e.Type != event.Heartbeat {
			if m.Partition != -1 {
				t.Fatalf("message %d (%s): partition %d, want -1 (keyed)", i, e.Type, m.Partition)
			}
			if hb, ok := lastHB[m.Topic]; ok && m.At <= hb {
				t.Fatalf("%s on %s at %d comes after a heartbeat at %d", e.Type, m.Topic, m.At, hb)
			}
			lastEvent = max(lastEvent, m.At)
			continue
		}
		want, ok := producers[m.Topic]
		if !ok {
			t.Fatalf("heartbeat on %s", m.Topic)
		}
		if e.Producer != want || string(m.Key) != want {
			t.Fatalf("heartbeat on %s from %q (key %q), want %q", m.Topic, e.Producer, m.Key, want)
		}
		if m.Partition < 0 || m.Partition >= cfg.Partitions {
			t.Fatalf("heartbeat on partition %d of %d", m.Partition, cfg.Partitions)
		}
		k := tp{m.Topic, m.Partition}
		exp, seen := next[k]
		if !seen {
			exp = first
		}
		if m.At != exp {
			t.Fatalf("heartbeat on %s/%d at %d, want %d (every %v)", m.Topic, m.Partition, m.At, exp, cfg.HeartbeatInterval)
		}
		next[k] = exp + interval
		lastHB[m.Topic] = m.At
	}
	if len(next) != 3*cfg.Partitions {
		t.Fatalf("heartbeats on %d topic partitions, want %d", len(next), 3*cfg.Partitions)
	}
	var end int64 = -1
	for k, n := range next {
		if end == -1 {
			end = n
		} else if n != end {
			t.Fatalf("%s/%d stops at %d, others at %d", k.topic, k.part, n, end)
		}
	}
	lastBeat := end - interval
	if lastBeat < maxDeadline+(2*time.Hour).Milliseconds() {
		t.Fatalf("last heartbeat %d is less than 2h past the latest deadline %d", lastBeat, maxDeadline)
	}
	if lastBeat >= maxDeadline+(2*time.Hour).Milliseconds()+interval {
		t.Fatalf("last heartbeat %d runs more than one interval past deadline+2h (%d)", lastBeat, maxDeadline)
	}
	if lastEvent > lastBeat {
		t.Fatalf("an event at %d follows the last heartbeat at %d", lastEvent, lastBeat)
	}
	if res.stats.LastAt != lastBeat {
		t.Fatalf("stats.LastAt %d, want %d", res.stats.LastAt, lastBeat)
	}
}

// digitRun returns the longest run of consecutive ASCII digits in b.
func digitRun(b []byte) int {
	longest, n := 0, 0
	for _, c := range b {
		if c >= '0' && c <= '9' {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}

func TestWireFormat(t *testing.T) {
	res := sharedRun(t)
	evs := res.decoded(t) // every message passes the pipeline's decoder
	ids := map[string]bool{}
	byType := map[string]int{}
	byTopic := map[string]int{}
	for i, m := range res.msgs {
		e := &evs[i]
		byType[e.Type.String()]++
		byTopic[m.Topic]++
		if ids[e.ID] {
			t.Fatalf("duplicate event_id %q", e.ID)
		}
		ids[e.ID] = true
		if e.OccurredAt != m.At {
			t.Fatalf("message %d: occurred_at %d, Message.At %d", i, e.OccurredAt, m.At)
		}
		if !bytes.Contains(m.Value, []byte(`+08:00"`)) {
			t.Fatalf("message %d: occurred_at without +08:00: %s", i, m.Value)
		}
		if n := digitRun(m.Value); n >= 13 {
			t.Fatalf("message %d carries a run of %d digits: %s", i, n, m.Value)
		}
		if n := digitRun(m.Key); n >= 13 {
			t.Fatalf("message %d key %q carries a run of %d digits", i, m.Key, n)
		}
		var wantKey string
		switch e.Type {
		case event.Authorization, event.Cleared, event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed:
			wantKey = e.TraceNo
			if len(e.TraceNo) != 12 || digitRun([]byte(e.TraceNo)) != 12 {
				t.Fatalf("trace_no %q: want 12 digits", e.TraceNo)
			}
		case event.BatchOpened, event.BatchClosed:
			wantKey = e.BatchID
		case event.Merchant:
			wantKey = e.MerchantID
			if e.AccountRef != "ACC-"+e.MerchantID {
				t.Fatalf("account_ref %q for %s", e.AccountRef, e.MerchantID)
			}
		case event.Heartbeat:
			wantKey = e.Producer
		default:
			t.Fatalf("unexpected event type %s", e.Type)
		}
		if string(m.Key) != wantKey {
			t.Fatalf("%s keyed %q, want %q", e.Type, m.Key, wantKey)
		}
		if e.Type == event.Authorization && e.Currency != "CNY" {
			t.Fatalf("currency %q", e.Currency)
		}
	}
	for k, v := range byType {
		if res.stats.ByType[k] != v {
			t.Errorf("stats.ByType[%s] = %d, counted %d", k, res.stats.ByType[k], v)
		}
	}
	for k, v := range byTopic {
		if res.stats.Messages[k] != v {
			t.Errorf("stats.Messages[%s] = %d, counted %d", k, res.stats.Messages[k], v)
		}
	}
	for _, typ := range []string{"merchant", "authorization", "cleared", "batch_opened", "batch_closed", "payout_initiated", "payout_paid", "payout_failed", "heartbeat"} {
		if byType[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
}

func TestMerchantMix(t *testing.T) {
	cfg := smallConfig()
	cfg.Merchants, cfg.TracesPerDay, cfg.Days = 4000, 1, 1
	res := runSim(t, cfg)
	evs := res.decoded(t)
	modes := map[event.Mode]int{}
	rates := map[int64]int{}
	for _, e := range evs {
		if e.Type != event.Merchant {
			continue
		}
		modes[e.Mode]++
		rates[e.FeeRatePPM]++
	}
	n := float64(cfg.Merchants)
	for _, c := range []struct {
		name string
		got  int
		p    float64
	}{
		{"T1", modes[event.T1], 0.60}, {"D1", modes[event.D1], 0.25}, {"D0", modes[event.D0], 0.15},
		{"0.60%", rates[6000], 0.70}, {"0.38%", rates[3800], 0.25}, {"0%", rates[0], 0.05},
	} {
		sd := math.Sqrt(n * c.p * (1 - c.p))
		if d := math.Abs(float64(c.got) - n*c.p); d > 5*sd {
			t.Errorf("%s: %d of %d merchants, want about %.0f", c.name, c.got, cfg.Merchants, n*c.p)
		}
	}
	if len(modes) != 3 || len(rates) != 3 {
		t.Errorf("modes %v, rates %v", modes, rates)
	}
}

// traceView is what the messages say about one trace.
type traceView struct {
	auth                    *event.Event
	cleared                 *event.Event
	initiated, paid, failed *event.Event
	payouts                 int
}

// TestTruthMatchesMessages checks every trace against the messages: fee
// arithmetic, net amounts, injected faults, deadlines and batch totals.
func TestTruthMatchesMessages(t *testing.T) {
	res := sharedRun(t)
	cfg := res.cfg
	cal := testCalendar(t)
	sched, err := calendar.NewSchedule(cfg.Schedule, cal)
	if err != nil {
		t.Fatal(err)
	}
	evs := res.decoded(t)

	merchants := map[string]*event.Event{}
	traces := map[string]*traceView{}
	type batchView struct {
		opened, closed *event.Event
		count, total   int64
	}
	batches := map[string]*batchView{}
	bv := func(id string) *batchView {
		if batches[id] == nil {
			batches[id] = &batchView{}
		}
		return batches[id]
	}
	tv := func(no string) *traceView {
		if traces[no] == nil {
			traces[no] = &traceView{}
		}
		return traces[no]
	}
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case event.Merchant:
			merchants[e.MerchantID] = e
		case event.Authorization:
			if tv(e.TraceNo).auth != nil {
				t.Fatalf("trace %s authorized twice", e.TraceNo)
			}
			tv(e.TraceNo).auth = e
		case event.Cleared:
			v := tv(e.TraceNo)
			if v.auth == nil || v.cleared != nil {
				t.Fatalf("trace %s: cleared without authorization, or twice", e.TraceNo)
			}
			v.cleared = e
			b := bv(e.BatchID)
			if b.opened == nil || b.closed != nil {
				t.Fatalf("cleared %s outside its open batch %s", e.TraceNo, e.BatchID)
			}
			b.count++
			b.total += e.Amount
		case event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed:
			v := tv(e.TraceNo)
			v.payouts++
			b := bv(e.BatchID)
			if b.opened == nil || b.closed != nil {
				t.Fatalf("%s %s outside its open batch %s", e.Type, e.TraceNo, e.BatchID)
			}
			switch e.Type {
			case event.PayoutInitiated:
				v.initiated = e
				b.count++
				b.total += e.Amount
			case event.PayoutPaid:
				v.paid = e
			default:
				v.failed = e
			}
			if e.Type != event.PayoutInitiated && v.initiated == nil {
				t.Fatalf("trace %s: %s before payout_initiated", e.TraceNo, e.Type)
			}
		case event.BatchOpened:
			if batches[e.BatchID] != nil {
				t.Fatalf("batch %s opened twice", e.BatchID)
			}
			bv(e.BatchID).opened = e
		case event.BatchClosed:
			b := bv(e.BatchID)
			if b.opened == nil || b.closed != nil {
				t.Fatalf("batch %s closed without being open", e.BatchID)
			}
			b.closed = e
		}
	}
	for id, b := range batches {
		if b.closed == nil {
			t.Fatalf("batch %s never closed", id)
		}
		if b.closed.DeclaredCount != b.count || b.closed.DeclaredTotal != b.total {
			t.Errorf("batch %s declares %d / %d fen, carried %d / %d fen", id,
				b.closed.DeclaredCount, b.closed.DeclaredTotal, b.count, b.total)
		}
	}

	truths := res.truths(t)
	if len(truths) != len(traces) || len(truths) != cfg.Days*cfg.TracesPerDay || res.stats.Traces != len(truths) {
		t.Fatalf("%d truth lines, %d traces in messages, stats %d, want %d", len(truths), len(traces), res.stats.Traces, cfg.Days*cfg.TracesPerDay)
	}
	injected := map[string]int{}
	approved, healthy := 0, 0
	for _, tr := range truths {
		v := traces[tr.TraceNo]
		if v == nil || v.auth == nil {
			t.Fatalf("truth for %s, which has no authorization", tr.TraceNo)
		}
		m := merchants[tr.MerchantID]
		if m == nil || v.auth.MerchantID != tr.MerchantID || v.auth.MCC != m.RegisteredMCC || tr.Mode != m.Mode.String() {
			t.Fatalf("trace %s: merchant mismatch between truth, authorization and profile", tr.TraceNo)
		}
		if v.auth.Amount != tr.Amount || v.auth.OccurredAt != tr.AuthorizedAt || v.auth.ResponseCode != tr.ResponseCode ||
			v.auth.Approved() != tr.Approved || v.auth.TerminalID != tr.TerminalID {
			t.Fatalf("trace %s: authorization %+v disagrees with truth %+v", tr.TraceNo, v.auth, tr)
		}
		if tr.Amount < 500 || tr.Amount > 2_000_000 {
			t.Fatalf("trace %s: amount %d fen outside 5.00..20000.00", tr.TraceNo, tr.Amount)
		}
		if !tr.Approved {
			if v.cleared != nil || v.payouts != 0 || tr.ResponseCode == "00" || len(tr.Anomalies) != 0 {
				t.Fatalf("declined trace %s was cleared or paid, or says approved", tr.TraceNo)
			}
			continue
		}
		approved++
		if v.cleared == nil {
			t.Fatalf("approved trace %s never cleared", tr.TraceNo)
		}
		c := v.cleared
		if c.Amount != tr.ClearedAmount || c.Fee != tr.Fee || c.OccurredAt != tr.ClearedAt || c.MCC != m.RegisteredMCC {
			t.Fatalf("trace %s: cleared %+v disagrees with truth", tr.TraceNo, c)
		}
		if c.Fee != Fee(c.Amount, m.FeeRatePPM) || tr.Net != c.Amount-c.Fee {
			t.Fatalf("trace %s: fee %d / net %d on %d fen at %d ppm", tr.TraceNo, c.Fee, tr.Net, c.Amount, m.FeeRatePPM)
		}
		if cd := sched.ClearingDeadline(tr.AuthorizedAt).At; c.OccurredAt > cd {
			t.Fatalf("trace %s cleared at %d after its clearing deadline %d", tr.TraceNo, c.OccurredAt, cd)
		}
		if tr.ExpectedPayoutAt != sched.PayoutDeadline(m.Mode, tr.AuthorizedAt).At {
			t.Fatalf("trace %s: expected payout %d, schedule says otherwise", tr.TraceNo, tr.ExpectedPayoutAt)
		}
		if len(tr.Anomalies) > 1 {
			t.Fatalf("trace %s has %d anomalies", tr.TraceNo, len(tr.Anomalies))
		}
		kind := fact.Kind("")
		if len(tr.Anomalies) == 1 {
			kind = tr.Anomalies[0].Kind
			injected[string(kind)]++
		}
		if kind != fact.AmountMismatch && c.Amount != tr.Amount {
			t.Fatalf("trace %s cleared %d, authorized %d, without an injected mismatch", tr.TraceNo, c.Amount, tr.Amount)
		}
		switch kind {
		case fact.PayoutOverdue:
			if v.payouts != 0 || tr.PaidAt != 0 || tr.PastDueS != 0 {
				t.Fatalf("missing-payout trace %s has payout events", tr.TraceNo)
			}
			continue
		case fact.PayoutFailed:
			reason := fact.PayoutFailure(tr.Anomalies[0].Reason)
			if v.failed == nil || v.paid != nil || tr.PaidAt != 0 || tr.FailedAt != v.failed.OccurredAt {
				t.Fatalf("failed-payout trace %s: want payout_failed and no payout_paid", tr.TraceNo)
			}
			if v.failed.ReasonCode != fact.BankCode(reason) || fact.MapPayoutFailure(v.failed.ReasonCode) != reason || v.failed.Reason == "" {
				t.Fatalf("trace %s: reason code %q for %q", tr.TraceNo, v.failed.ReasonCode, reason)
			}
			if v.failed.Amount != tr.Net || v.failed.OccurredAt >= tr.ExpectedPayoutAt {
				t.Fatalf("trace %s: payout_failed amount %d / time %d", tr.TraceNo, v.failed.Amount, v.failed.OccurredAt)
			}
			continue
		case fact.AmountMismatch:
			d := c.Amount - tr.Amount
			if d == 0 || d < -500 || d > 500 {
				t.Fatalf("trace %s: cleared %d vs authorized %d is not a small mismatch", tr.TraceNo, c.Amount, tr.Amount)
			}
		case "":
			healthy++
		default:
			t.Fatalf("trace %s: unexpected anomaly kind %q", tr.TraceNo, kind)
		}
		// Paid, before the deadline, with the net of the cleared amount.
		if v.initiated == nil || v.paid == nil || v.failed != nil || v.payouts != 2 {
			t.Fatalf("trace %s: want payout_initiated and payout_paid, got %d payout events", tr.TraceNo, v.payouts)
		}
		if v.initiated.Amount != tr.Net || v.paid.Amount != tr.Net || v.paid.OccurredAt != tr.PaidAt {
			t.Fatalf("trace %s: payout amounts %d/%d, net %d", tr.TraceNo, v.initiated.Amount, v.paid.Amount, tr.Net)
		}
		if v.initiated.BatchID != v.paid.BatchID || v.paid.BatchID != tr.PayoutBatchID || c.BatchID != tr.ClearingBatchID {
			t.Fatalf("trace %s: batch ids disagree", tr.TraceNo)
		}
		if !(tr.PaidAt > v.initiated.OccurredAt && tr.PaidAt < tr.ExpectedPayoutAt) {
			t.Fatalf("trace %s (%s) paid at %d, due %d", tr.TraceNo, tr.Mode, tr.PaidAt, tr.ExpectedPayoutAt)
		}
		if tr.PastDueS != (tr.PaidAt-tr.ExpectedPayoutAt)/1000 || tr.PastDueS >= 0 ||
			tr.AuthToPayS != (tr.PaidAt-tr.AuthorizedAt)/1000 || tr.ClearToPayS != (tr.PaidAt-tr.ClearedAt)/1000 ||
			tr.AuthToClearS != (tr.ClearedAt-tr.AuthorizedAt)/1000 {
			t.Fatalf("trace %s: lags %+v", tr.TraceNo, tr)
		}
	}
	if approved != res.stats.Approved || len(truths)-approved != res.stats.Declined {
		t.Fatalf("approved %d, stats %+v", approved, res.stats)
	}
	for k, n := range injected {
		if res.stats.Injected[k] != n {
			t.Errorf("stats.Injected[%s] = %d, truth has %d", k, res.stats.Injected[k], n)
		}
	}
	if healthy == 0 {
		t.Fatal("no healthy traces")
	}
}

func TestInjectedRates(t *testing.T) {
	cfg := smallConfig()
	cfg.TracesPerDay = 10000
	cfg.Merchants = 300
	cfg.DeclineRate = 0.08
	cfg.PayoutFailedRate, cfg.PayoutMissingRate, cfg.AmountMismatchRate = 0.02, 0.01, 0.03
	res := runSim(t, cfg)
	truths := res.truths(t)

	kinds := map[fact.Kind]int{}
	reasons := map[string]int{}
	declined := 0
	for _, tr := range truths {
		if !tr.Approved {
			declined++
		}
		for _, a := range tr.Anomalies {
			kinds[a.Kind]++
			if a.Kind == fact.PayoutFailed {
				reasons[a.Reason]++
			}
		}
	}
	approved := len(truths) - declined
	near := func(name string, got, n int, p float64) {
		t.Helper()
		want := float64(n) * p
		sd := math.Sqrt(want * (1 - p))
		if math.Abs(float64(got)-want) > 5*sd {
			t.Errorf("%s: %d of %d, want about %.0f (rate %v)", name, got, n, want, p)
		}
	}
	near("declined", declined, len(truths), cfg.DeclineRate)
	near("payout_failed", kinds[fact.PayoutFailed], approved, cfg.PayoutFailedRate)
	near("payout_overdue", kinds[fact.PayoutOverdue], approved, cfg.PayoutMissingRate)
	near("amount_mismatch", kinds[fact.AmountMismatch], approved, cfg.AmountMismatchRate)
	for _, r := range failureReasons {
		if reasons[string(r)] == 0 {
			t.Errorf("no payout failure with reason %s", r)
		}
	}
	for k, n := range kinds {
		if res.stats.Injected[string(k)] != n {
			t.Errorf("stats.Injected[%s] = %d, truth has %d", k, res.stats.Injected[string(k)], n)
		}
	}

	// Zero rates inject nothing.
	cfg.TracesPerDay, cfg.Days = 2000, 1
	cfg.PayoutFailedRate, cfg.PayoutMissingRate, cfg.AmountMismatchRate = 0, 0, 0
	res = runSim(t, cfg)
	for _, tr := range res.truths(t) {
		if len(tr.Anomalies) != 0 {
			t.Fatalf("trace %s has anomalies with all rates zero", tr.TraceNo)
		}
	}
}

// TestNationalDay checks payout dates around the 2026 National Day holiday
// (October 1–7): a T1 sale on September 30 is paid on October 8, a D1 sale on
// October 1, and the network cut-off moves late sales to the next trade date.
func TestNationalDay(t *testing.T) {
	res := sharedRun(t)
	loc := testCalendar(t).Location()
	date := func(ms int64) string { return time.UnixMilli(ms).In(loc).Format("2006-01-02") }

	type key struct{ mode, sale, trade string }
	want := map[key]string{
		{"T1", "2026-09-28", "2026-09-28"}: "2026-09-29",
		{"T1", "2026-09-28", "2026-09-29"}: "2026-09-30", // sold after 23:00
		{"T1", "2026-09-29", "2026-09-29"}: "2026-09-30",
		{"T1", "2026-09-30", "2026-09-30"}: "2026-10-08",
		{"T1", "2026-09-30", "2026-10-01"}: "2026-10-08",
		{"D1", "2026-09-28", "2026-09-28"}: "2026-09-29",
		{"D1", "2026-09-30", "2026-09-30"}: "2026-10-01",
		{"D1", "2026-09-30", "2026-10-01"}: "2026-10-02",
	}
	seen := map[key]int{}
	for _, tr := range res.truths(t) {
		if tr.PaidAt == 0 {
			continue
		}
		k := key{tr.Mode, date(tr.AuthorizedAt), tr.TradeDate}
		switch tr.Mode {
		case "D0":
			if tr.PaidAt-tr.AuthorizedAt > (2 * time.Hour).Milliseconds() {
				t.Fatalf("D0 trace %s paid %ds after the sale", tr.TraceNo, tr.AuthToPayS)
			}
			continue
		}
		w, ok := want[k]
		if !ok {
			continue
		}
		seen[k]++
		if got := date(tr.PaidAt); got != w {
			t.Fatalf("%s sale on %s (trade date %s) paid on %s, want %s", k.mode, k.sale, k.trade, got, w)
		}
		if hour := time.UnixMilli(tr.PaidAt).In(loc).Hour(); hour != 10 {
			t.Errorf("%s trace %s paid at %02d:xx, want the 10:00 batch", k.mode, tr.TraceNo, hour)
		}
	}
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("no paid %s trace sold %s with trade date %s", k.mode, k.sale, k.trade)
		}
	}
}

func TestTraceNumbersUnique(t *testing.T) {
	res := sharedRun(t)
	loc := testCalendar(t).Location()
	seen := map[string]bool{}
	for _, tr := range res.truths(t) {
		if seen[tr.TraceNo] {
			t.Fatalf("trace_no %s repeats", tr.TraceNo)
		}
		seen[tr.TraceNo] = true
		lt := time.UnixMilli(tr.AuthorizedAt).In(loc)
		if want := fmt.Sprintf("%d%03d%02d", lt.Year()%10, lt.YearDay(), lt.Hour()); !strings.HasPrefix(tr.TraceNo, want) {
			t.Fatalf("trace_no %s authorized %v: want prefix %s", tr.TraceNo, lt, want)
		}
	}
}

func TestDailyCurve(t *testing.T) {
	res := sharedRun(t)
	loc := testCalendar(t).Location()
	var hours [24]int
	for _, tr := range res.truths(t) {
		hours[time.UnixMilli(tr.AuthorizedAt).In(loc).Hour()]++
	}
	night := hours[2] + hours[3] + hours[4]
	lunch := hours[12] + hours[13]
	evening := hours[19] + hours[20]
	if !(lunch > 5*night && evening > 5*night && lunch > hours[15]+hours[16]/2) {
		t.Fatalf("no daily curve: %v", hours)
	}
}

func TestFee(t *testing.T) {
	for _, c := range []struct{ amount, ppm, want int64 }{
		{100000, 6000, 600},  // 1000.00 at 0.6% = 6.00
		{128800, 6000, 773},  // 7.728 → 7.73
		{128800, 3800, 489},  // 4.8944 → 4.89
		{25, 6000 * 100, 15}, // 0.15 exactly
		{125, 4000, 1},       // 0.5 fen rounds half up
		{124, 4000, 0},       // 0.496 fen rounds down
		{2000000, 6000, 12000},
		{99999, 0, 0},
		{1, 500000, 1}, // 0.5 → 1
	} {
		if got := Fee(c.amount, c.ppm); got != c.want {
			t.Errorf("Fee(%d, %d) = %d, want %d", c.amount, c.ppm, got, c.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		fen  int64
		want string
	}{{0, "0.00"}, {5, "0.05"}, {50, "0.50"}, {128800, "1288.00"}, {123456789, "1234567.89"}, {-1205, "-12.05"}} {
		if got := FormatMoney(c.fen); got != c.want {
			t.Errorf("FormatMoney(%d) = %q, want %q", c.fen, got, c.want)
		}
	}
	for _, c := range []struct {
		ppm  int64
		want string
	}{{6000, "0.0060"}, {3800, "0.0038"}, {0, "0.0000"}} {
		if got := formatRate(c.ppm); got != c.want {
			t.Errorf("formatRate(%d) = %q, want %q", c.ppm, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`plain`, `"plain"`}, {`a"b\c`, `"a\"b\\c"`}, {"tab\there\n", `"tab\u0009here\u000a"`}, {"华联超市", `"华联超市"`},
	} {
		if got := string(appendString(nil, c.in)); got != c.want {
			t.Errorf("appendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"no days", func(c *Config) { c.Days = 0 }, "days"},
		{"no traces", func(c *Config) { c.TracesPerDay = 0 }, "traces per day"},
		{"too many traces", func(c *Config) { c.TracesPerDay = 1_000_001 }, "traces per day"},
		{"no merchants", func(c *Config) { c.Merchants = 0 }, "merchants"},
		{"no partitions", func(c *Config) { c.Partitions = 0 }, "partitions"},
		{"sub-second heartbeat", func(c *Config) { c.HeartbeatInterval = 1500 * time.Millisecond }, "heartbeat"},
		{"negative rate", func(c *Config) { c.DeclineRate = -0.1 }, "decline rate"},
		{"NaN rate", func(c *Config) { c.PayoutFailedRate = math.NaN() }, "payout failed rate"},
		{"faults over 1", func(c *Config) { c.PayoutFailedRate, c.PayoutMissingRate, c.AmountMismatchRate = 0.5, 0.4, 0.2 }, "add up"},
		{"empty topic", func(c *Config) { c.Topics.Payouts = "" }, "payouts topic"},
		{"same topic", func(c *Config) { c.Topics.Clearing = c.Topics.Authorizations }, "same name"},
		{"clearing too late", func(c *Config) { c.ClearingAt = 5*time.Hour + 30*time.Minute }, "clearing cut-off"},
		{"payout before clearing", func(c *Config) { c.PayoutAt = c.ClearingAt }, "payout time"},
		{"payout after cut-off", func(c *Config) { c.PayoutAt = 17 * time.Hour }, "payout cut-off"},
		{"D0 window too short", func(c *Config) { c.Schedule.D0Window = time.Hour }, "D0 window"},
		{"bad schedule", func(c *Config) { c.Schedule.T0Window = 0 }, "schedule"},
		{"no chunk", func(c *Config) { c.ChunkSize = 0 }, "chunk"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("no error, want one about %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if _, err := New(DefaultConfig(), nil); err == nil {
		t.Fatal("New without a calendar: no error")
	}
}

func TestRunStops(t *testing.T) {
	cfg := smallConfig()
	cfg.TracesPerDay, cfg.Days = 500, 1
	sim, err := New(cfg, testCalendar(t))
	if err != nil {
		t.Fatal(err)
	}

	boom := errors.New("broker down")
	calls := 0
	_, err = sim.Run(context.Background(), func([]Message) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	}, nil)
	if !errors.Is(err, boom) || calls != 2 {
		t.Fatalf("emit error: got %v after %d calls, want %v after 2", err, calls, boom)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = sim.Run(ctx, func([]Message) error { calls++; cancel(); return nil }, nil)
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled: got %v after %d calls", err, calls)
	}
}

func TestReadTruthRejectsGarbage(t *testing.T) {
	if _, err := ReadTruth(strings.NewReader("{\"trace_no\":\"1\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want an error naming line 2", err)
	}
}

// BenchmarkRun measures generation speed of one default-sized day.
func BenchmarkRun(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Days = 1
	sim, err := New(cfg, testCalendar(b))
	if err != nil {
		b.Fatal(err)
	}
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sim.Run(context.Background(), func(ms []Message) error { n += len(ms); return nil }, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
