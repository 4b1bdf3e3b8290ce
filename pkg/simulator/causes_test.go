package simulator

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// fullTestConfig is FullConfig scaled down for tests: 4,000 traces a day
// over the same five days and outage, with the extra causes at 0.5% (so
// each occurs about 90 times) and the healthy variations at 2%.
func fullTestConfig() Config {
	c := FullConfig()
	c.TracesPerDay = 4000
	c.Merchants = 120
	c.Partitions = 3
	for _, p := range []*float64{
		&c.ClearingMissingRate, &c.PayoutHeldRate, &c.FeeDeviationRate, &c.MCCMismatchRate,
		&c.DuplicateAuthRate, &c.ReversedSettledRate, &c.LateEventRate,
		&c.OrphanClearingRate, &c.OrphanPayoutRate,
	} {
		*p = 0.005
	}
	c.HealthyReversalRate, c.HealthyHoldRate = 0.02, 0.02
	return c
}

var (
	fullOnce   sync.Once
	fullShared *fullResult
)

// fullResult is a run of fullTestConfig with its messages decoded and
// classified.
type fullResult struct {
	*result
	evs     []event.Event
	truths  []Truth
	outages []FeedOutage
	batches []BatchTruth
	byTrace map[string]*traceEvents
	late    []bool // message i is a late re-sent copy
	block   [2]int // the outage's held-back messages: msgs[block[0]:block[1]]
}

// traceEvents is what the messages say about one trace, in stream order.
type traceEvents struct {
	auths, reversals, cleared      []int // message indexes
	initiated, paid, failed        []int
	held, released                 []int
	payoutTopic, heldBackPublished int // payout-topic messages; how many in the outage block
}

func fullRun(tb testing.TB) *fullResult {
	tb.Helper()
	fullOnce.Do(func() {
		res := runSim(tb, fullTestConfig())
		f := &fullResult{result: res, evs: res.decoded(tb), byTrace: map[string]*traceEvents{}}
		rt, err := ReadRunTruth(bytes.NewReader(res.truth))
		if err != nil {
			tb.Fatalf("ReadRunTruth: %v", err)
		}
		f.truths, f.outages, f.batches = rt.Traces, rt.Outages, rt.Batches
		f.classify(tb)
		fullShared = f
	})
	if fullShared == nil {
		tb.Fatal("full run failed")
	}
	return fullShared
}

func (f *fullResult) te(no string) *traceEvents {
	v := f.byTrace[no]
	if v == nil {
		v = &traceEvents{}
		f.byTrace[no] = v
	}
	return v
}

// classify indexes messages by trace, marks the late copies (a second
// payout_paid of a trace) and finds the outage block.
func (f *fullResult) classify(tb testing.TB) {
	tb.Helper()
	f.late = make([]bool, len(f.msgs))
	for i := range f.evs {
		e := &f.evs[i]
		if e.TraceNo == "" {
			continue
		}
		v := f.te(e.TraceNo)
		if f.msgs[i].Topic == f.cfg.Topics.Payouts {
			v.payoutTopic++
		}
		switch e.Type {
		case event.Authorization:
			v.auths = append(v.auths, i)
		case event.Reversal:
			v.reversals = append(v.reversals, i)
		case event.Cleared:
			v.cleared = append(v.cleared, i)
		case event.PayoutInitiated:
			v.initiated = append(v.initiated, i)
		case event.PayoutPaid:
			v.paid = append(v.paid, i)
			f.late[i] = len(v.paid) > 1
		case event.PayoutFailed:
			v.failed = append(v.failed, i)
		case event.PayoutHeld:
			v.held = append(v.held, i)
		case event.PayoutReleased:
			v.released = append(v.released, i)
		}
	}

	if len(f.outages) != 1 {
		tb.Fatalf("truth has %d outage lines, want 1", len(f.outages))
	}
	o := f.outages[0]
	f.block = [2]int{-1, -1}
	for i, m := range f.msgs {
		if m.Topic == f.cfg.Topics.Payouts && !f.late[i] && m.At >= o.From && m.At < o.To {
			f.block[0] = i
			break
		}
	}
	if f.block[0] < 0 {
		tb.Fatal("no payout message in the outage window")
	}
	end := f.block[0]
	for end < len(f.msgs) && f.msgs[end].Topic == f.cfg.Topics.Payouts && f.msgs[end].At < o.To {
		if e := &f.evs[end]; e.TraceNo != "" {
			f.te(e.TraceNo).heldBackPublished++
		}
		end++
	}
	f.block[1] = end
}

func (f *fullResult) inBlock(i int) bool { return i >= f.block[0] && i < f.block[1] }

func TestFullConfig(t *testing.T) {
	c := FullConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("FullConfig does not validate: %v", err)
	}
	loc := testCalendar(t).Location()
	start := c.Start.At(loc, 0)
	if start.Format("2006-01-02") != "2026-09-28" || c.Days != 5 || c.TracesPerDay != 30000 {
		t.Fatalf("FullConfig runs %d days of %d from %s", c.Days, c.TracesPerDay, start)
	}
	if c.PayoutOutage != (Outage{Day: 4, From: 9 * time.Hour, To: 21 * time.Hour}) || c.HoldSLA != 24*time.Hour {
		t.Fatalf("outage %+v, hold SLA %v", c.PayoutOutage, c.HoldSLA)
	}
	// At least 60 of each kind at 30,000 traces a day, allowing 5% declines
	// and four standard deviations of chance.
	approved := 0.95 * float64(c.Days*c.TracesPerDay)
	for _, f := range c.faults() {
		if f.fault == faultHealthyReversal || f.fault == faultHealthyHold {
			continue
		}
		want := approved * f.rate
		if f.fault == faultClearingMissing {
			want *= 0.75 // T1 and D1 sales only
		}
		if want-4*math.Sqrt(want) < 60 {
			t.Errorf("fault %d at rate %v: about %.0f occurrences, want safely over 60", f.fault, f.rate, want)
		}
	}
	if n := c.Days * int(c.OrphanClearingRate*float64(c.TracesPerDay)+0.5); n < 60 {
		t.Errorf("%d orphan clearings, want at least 60", n)
	}
	if n := c.Days * int(c.OrphanPayoutRate*float64(c.TracesPerDay)+0.5); n < 60 {
		t.Errorf("%d orphan payouts, want at least 60", n)
	}

	// The default run keeps every extra cause off.
	d := DefaultConfig()
	for _, f := range d.faults()[3:] {
		if f.rate != 0 {
			t.Errorf("DefaultConfig: fault %d at rate %v, want 0", f.fault, f.rate)
		}
	}
	if d.OrphanClearingRate != 0 || d.OrphanPayoutRate != 0 || d.PayoutOutage.Enabled() {
		t.Errorf("DefaultConfig injects orphans or an outage: %+v", d)
	}
}

func TestFullWireFormat(t *testing.T) {
	f := fullRun(t)
	ids := map[string]bool{}
	for i, m := range f.msgs {
		e := &f.evs[i]
		if ids[e.ID] {
			t.Fatalf("duplicate event_id %q", e.ID)
		}
		ids[e.ID] = true
		if e.OccurredAt != m.At {
			t.Fatalf("message %d: occurred_at %d, Message.At %d", i, e.OccurredAt, m.At)
		}
		switch e.Type {
		case event.Reversal:
			if string(m.Key) != e.TraceNo || e.TerminalID == "" || e.Currency != "CNY" || e.Amount <= 0 || m.Topic != f.cfg.Topics.Authorizations {
				t.Fatalf("reversal %s", m.Value)
			}
		case event.PayoutHeld:
			if string(m.Key) != e.TraceNo || e.ReasonCode != holdReasonCode || e.Reason != holdReason || e.BatchID == "" || e.Amount <= 0 {
				t.Fatalf("payout_held %s", m.Value)
			}
		case event.PayoutReleased:
			if string(m.Key) != e.TraceNo || e.ReasonCode != "" || e.Reason != releaseReason || e.BatchID == "" || e.Amount <= 0 {
				t.Fatalf("payout_released %s", m.Value)
			}
		}
	}
	// The exact field lists of the new events.
	for typ, want := range map[string]string{
		"reversal":        `{"event_id":"","type":"reversal","occurred_at":"","trace_no":"","merchant_id":"","terminal_id":"","amount":"","currency":"CNY"}`,
		"payout_held":     `{"event_id":"","type":"payout_held","occurred_at":"","trace_no":"","merchant_id":"","batch_id":"","amount":"","reason_code":"RISK01","reason":"large amount under review"}`,
		"payout_released": `{"event_id":"","type":"payout_released","occurred_at":"","trace_no":"","merchant_id":"","batch_id":"","amount":"","reason":"review passed"}`,
	} {
		found := false
		for i, m := range f.msgs {
			if f.evs[i].Type.String() != typ {
				continue
			}
			found = true
			if got := blankValues(m.Value, "type", "currency", "reason_code", "reason"); got != want {
				t.Errorf("%s:\n got  %s\n want %s", typ, got, want)
			}
			break
		}
		if !found {
			t.Errorf("no %s event", typ)
		}
	}
	for _, typ := range []string{"reversal", "payout_held", "payout_released", "authorization", "cleared", "payout_paid", "payout_failed"} {
		if f.stats.ByType[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
}

// blankValues returns the flat JSON object b with every string value
// emptied except those of keep.
func blankValues(b []byte, keep ...string) string {
	var out strings.Builder
	s := string(b)
	for len(s) > 0 {
		i := strings.Index(s, `":"`)
		if i < 0 {
			out.WriteString(s)
			break
		}
		key := s[strings.LastIndex(s[:i], `"`)+1 : i]
		out.WriteString(s[:i+3])
		s = s[i+3:]
		j := strings.Index(s, `"`)
		if slicesContains(keep, key) {
			out.WriteString(s[:j])
		}
		s = s[j:]
	}
	return out.String()
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestFullOrder checks the ordering rules with their two exceptions: per
// topic, event time never goes back except at exactly the late copies; the
// whole stream is in event-time order once the late copies and the outage's
// held-back block are set aside; the block is published at the outage's end,
// before anything later.
func TestFullOrder(t *testing.T) {
	f := fullRun(t)
	o := f.outages[0]
	last := map[string]int64{}
	lastHB := map[string]int64{}
	var prev int64
	lateSeen := 0
	for i, m := range f.msgs {
		e := &f.evs[i]
		outOfOrder := m.At < last[m.Topic]
		if outOfOrder != f.late[i] {
			t.Fatalf("message %d (%s on %s at %d, topic at %d): out of order %v, late copy %v", i, e.Type, m.Topic, m.At, last[m.Topic], outOfOrder, f.late[i])
		}
		if f.late[i] {
			lateSeen++
			continue
		}
		last[m.Topic] = m.At
		if e.Type == event.Heartbeat {
			lastHB[m.Topic] = m.At
		} else if hb, ok := lastHB[m.Topic]; ok && m.At <= hb {
			t.Fatalf("%s on %s at %d after a heartbeat at %d", e.Type, m.Topic, m.At, hb)
		}
		if f.inBlock(i) {
			if e.Type == event.Heartbeat || m.At < o.From || m.At >= o.To {
				t.Fatalf("outage block message %d: %s at %d, outage %d..%d", i, e.Type, m.At, o.From, o.To)
			}
			continue
		}
		if m.At < prev {
			t.Fatalf("message %d at %d precedes the previous message at %d", i, m.At, prev)
		}
		prev = m.At
		switch {
		case i < f.block[0] && m.At >= o.To:
			t.Fatalf("message %d at %d (after the outage) precedes the held-back block", i, m.At)
		case i >= f.block[1] && m.At < o.To:
			t.Fatalf("message %d at %d (before the outage ended) follows the held-back block", i, m.At)
		case m.Topic == f.cfg.Topics.Payouts && m.At >= o.From && m.At < o.To:
			t.Fatalf("payout message %d at %d in the outage window outside the held-back block", i, m.At)
		}
	}
	if n := f.block[1] - f.block[0]; n != o.HeldBack || n != f.stats.Outages[0].HeldBack || n == 0 {
		t.Fatalf("held-back block of %d messages, truth says %d, stats %+v", n, o.HeldBack, f.stats.Outages)
	}
	if lateSeen != f.stats.Injected[string(fact.LateEvent)] || lateSeen == 0 {
		t.Fatalf("%d late copies, %d injected", lateSeen, f.stats.Injected[string(fact.LateEvent)])
	}
	var maxAt int64
	for _, m := range f.msgs {
		maxAt = max(maxAt, m.At)
	}
	if f.stats.LastAt != maxAt || f.msgs[len(f.msgs)-1].At != maxAt {
		t.Fatalf("stats.LastAt %d, latest message %d, last message %d", f.stats.LastAt, maxAt, f.msgs[len(f.msgs)-1].At)
	}
}

// TestFullHeartbeats checks that payout heartbeats pause during the outage
// and resume at its end, while the other topics keep beating.
func TestFullHeartbeats(t *testing.T) {
	f := fullRun(t)
	o := f.outages[0]
	loc := testCalendar(t).Location()
	first := f.cfg.Start.At(loc, 0).UnixMilli()
	interval := f.cfg.HeartbeatInterval.Milliseconds()
	if (o.To-first)%interval != 0 || (o.From-first)%interval != 0 {
		t.Fatal("the outage does not start and end on the heartbeat grid; the test assumes it does")
	}
	type tp struct {
		topic string
		part  int
	}
	next := map[tp]int64{}
	inOutage := map[string]int{}
	for i, m := range f.msgs {
		if f.evs[i].Type != event.Heartbeat {
			continue
		}
		k := tp{m.Topic, m.Partition}
		exp, ok := next[k]
		if !ok {
			exp = first
		}
		if m.Topic == f.cfg.Topics.Payouts && exp >= o.From && exp < o.To {
			exp = o.To // silent through the outage
		}
		if m.At != exp {
			t.Fatalf("heartbeat on %s/%d at %d, want %d", m.Topic, m.Partition, m.At, exp)
		}
		next[k] = exp + interval
		if m.At >= o.From && m.At < o.To {
			inOutage[m.Topic]++
		}
		if m.Topic == f.cfg.Topics.Payouts && m.At == o.To && i < f.block[1] {
			t.Fatalf("payout heartbeat at the outage end precedes the held-back messages")
		}
	}
	want := int((o.To - o.From) / interval * int64(f.cfg.Partitions))
	for _, topic := range []string{f.cfg.Topics.Authorizations, f.cfg.Topics.Clearing} {
		if inOutage[topic] != want {
			t.Errorf("%s: %d heartbeats during the outage, want %d", topic, inOutage[topic], want)
		}
	}
	if inOutage[f.cfg.Topics.Payouts] != 0 {
		t.Errorf("%d payout heartbeats during the outage", inOutage[f.cfg.Topics.Payouts])
	}
	var end int64 = -1
	for k, n := range next {
		if end == -1 {
			end = n
		} else if n != end {
			t.Fatalf("%s/%d stops at %d, others at %d", k.topic, k.part, n, end)
		}
	}
}

// batchTally is what the messages say about one batch.
type batchTally struct {
	opened, closed bool
	count, total   int64        // payout_initiated or cleared records, and their amounts
	closeEv        *event.Event // batch_closed
	progress       []int        // message indexes of batch_opened, the records and batch_closed
}

// batchTallies tallies every batch, checking that each opens once, closes
// once and that its records, their confirmations and returns all fall
// between the two (late copies aside).
func (f *fullResult) batchTallies(tb testing.TB) map[string]*batchTally {
	tb.Helper()
	batches := map[string]*batchTally{}
	get := func(id string) *batchTally {
		if batches[id] == nil {
			batches[id] = &batchTally{}
		}
		return batches[id]
	}
	for i := range f.evs {
		e := &f.evs[i]
		switch e.Type {
		case event.BatchOpened:
			b := get(e.BatchID)
			if b.opened {
				tb.Fatalf("batch %s opened twice", e.BatchID)
			}
			b.opened = true
			b.progress = append(b.progress, i)
		case event.BatchClosed:
			b := get(e.BatchID)
			if !b.opened || b.closed {
				tb.Fatalf("batch %s closed without being open", e.BatchID)
			}
			b.closed, b.closeEv = true, e
			b.progress = append(b.progress, i)
		case event.Cleared, event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed:
			if f.late[i] {
				continue // a re-sent copy, outside any batch
			}
			b := get(e.BatchID)
			if !b.opened || b.closed {
				tb.Fatalf("%s %s outside its open batch %s", e.Type, e.TraceNo, e.BatchID)
			}
			if e.Type == event.Cleared || e.Type == event.PayoutInitiated {
				b.count++
				b.total += e.Amount
				b.progress = append(b.progress, i)
			}
		case event.PayoutHeld, event.PayoutReleased:
			if !get(e.BatchID).opened {
				tb.Fatalf("%s %s names batch %s, never opened", e.Type, e.TraceNo, e.BatchID)
			}
		}
	}
	for id, b := range batches {
		if !b.closed {
			tb.Fatalf("batch %s never closed", id)
		}
	}
	return batches
}

// TestFullBatches checks that every batch declares exactly what it carries:
// cleared records for clearing batches, payout_initiated records for payout
// batches, all between its opening and closing in topic order; except the
// batch_incomplete batches of the truth, whose batch_closed declares one
// record more, the one left out.
func TestFullBatches(t *testing.T) {
	f := fullRun(t)
	batches := f.batchTallies(t)
	incomplete := map[string]bool{}
	for _, bt := range f.batches {
		if bt.Kind == fact.BatchIncomplete {
			incomplete[bt.BatchID] = true
		}
	}
	missing := map[string]int64{} // batch: amount of the record left out
	for _, tr := range f.truths {
		if tr.InitiatedMissing {
			missing[tr.PayoutBatchID] += tr.Net
		}
	}
	kinds := map[string]bool{}
	for id, b := range batches {
		kinds[id[:strings.LastIndex(id, "-")]] = true
		wantCount, wantTotal := b.count, b.total
		if incomplete[id] {
			wantCount, wantTotal = b.count+1, b.total+missing[id]
		}
		if b.closeEv.DeclaredCount != wantCount || b.closeEv.DeclaredTotal != wantTotal {
			t.Errorf("batch %s declares %d / %d fen, carried %d / %d fen (incomplete %v)", id, b.closeEv.DeclaredCount, b.closeEv.DeclaredTotal, b.count, b.total, incomplete[id])
		}
	}
	if len(incomplete) != f.cfg.BatchIncompleteCount || len(missing) != len(incomplete) {
		t.Errorf("%d incomplete batches, %d with a record left out, want %d", len(incomplete), len(missing), f.cfg.BatchIncompleteCount)
	}
	for _, k := range []string{"CLR", "PAY-T1", "PAY-D1", "PAY-D0", "PAY-RL"} {
		if !kinds[k] {
			t.Errorf("no %s batch", k)
		}
	}
}

// TestFullTruth checks every trace line against the messages, cause by cause.
func TestFullTruth(t *testing.T) {
	f := fullRun(t)
	cfg := f.cfg
	sched, err := calendar.NewSchedule(cfg.Schedule, testCalendar(t))
	if err != nil {
		t.Fatal(err)
	}
	merchants := map[string]*event.Event{}
	for i := range f.evs {
		if e := &f.evs[i]; e.Type == event.Merchant {
			merchants[e.MerchantID] = e
		}
	}
	ev := func(idx []int, k int) *event.Event { return &f.evs[idx[k]] }
	sla := cfg.HoldSLA.Milliseconds()
	const day = 24 * 3600 * 1000

	counts := map[fact.Kind]int{}
	healthy := map[string]int{}
	approvedT1D1 := 0
	seen := map[string]bool{}
	orphans := 0
	for _, tr := range f.truths {
		if seen[tr.TraceNo] {
			t.Fatalf("trace %s has two truth lines", tr.TraceNo)
		}
		seen[tr.TraceNo] = true
		v := f.byTrace[tr.TraceNo]
		m := merchants[tr.MerchantID]
		if v == nil || m == nil {
			t.Fatalf("truth for %s: no messages or no merchant", tr.TraceNo)
		}
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("trace %s (%v): "+format, append([]any{tr.TraceNo, tr.Anomalies}, a...)...)
		}
		if len(tr.Anomalies) > 1 {
			fail("more than one anomaly")
		}
		kind := fact.Kind("")
		if len(tr.Anomalies) == 1 {
			kind = tr.Anomalies[0].Kind
			counts[kind]++
			if tr.Anomalies[0].Reason == "" {
				fail("anomaly without a reason")
			}
		}
		if tr.OutageDelayed != (v.heldBackPublished > 0) {
			fail("outage_delayed %v, %d messages held back", tr.OutageDelayed, v.heldBackPublished)
		}

		if tr.Orphan != "" {
			orphans++
			if tr.Approved || tr.AuthorizedAt != 0 || tr.Amount != 0 || len(v.auths)+len(v.reversals) != 0 {
				fail("orphan with an authorization")
			}
			switch tr.Orphan {
			case "clearing":
				if kind != fact.OrphanClearing || len(v.cleared) != 1 || v.payoutTopic != 0 {
					fail("orphan clearing: %d cleared, %d payout events", len(v.cleared), v.payoutTopic)
				}
				c := ev(v.cleared, 0)
				if c.Amount != tr.ClearedAmount || c.Fee != tr.Fee || tr.Net != c.Amount-c.Fee || c.OccurredAt != tr.ClearedAt ||
					c.BatchID != tr.ClearingBatchID || c.Fee != Fee(c.Amount, m.FeeRatePPM) || c.MCC != m.RegisteredMCC {
					fail("orphan clearing disagrees with its cleared event %+v", c)
				}
			case "payout":
				if kind != fact.OrphanPayout || len(v.cleared) != 0 || len(v.initiated) != 1 || len(v.paid) != 1 || v.payoutTopic != 2 {
					fail("orphan payout: %d cleared, %d initiated, %d paid", len(v.cleared), len(v.initiated), len(v.paid))
				}
				p := ev(v.paid, 0)
				if p.Amount != tr.Net || ev(v.initiated, 0).Amount != tr.Net || p.OccurredAt != tr.PaidAt || p.BatchID != tr.PayoutBatchID || tr.ClearedAmount != 0 {
					fail("orphan payout disagrees with its payout_paid %+v", p)
				}
			default:
				fail("orphan %q", tr.Orphan)
			}
			continue
		}

		if len(v.auths) == 0 {
			fail("no authorization")
		}
		a := ev(v.auths, 0)
		if a.Amount != tr.Amount || a.OccurredAt != tr.AuthorizedAt || a.Approved() != tr.Approved || a.MCC != m.RegisteredMCC || a.MerchantID != tr.MerchantID {
			fail("authorization disagrees with the truth")
		}
		if !tr.Approved {
			if len(v.auths) != 1 || len(v.cleared)+v.payoutTopic+len(v.reversals) != 0 || kind != "" {
				fail("declined trace settled, reversed or anomalous")
			}
			continue
		}
		if m.Mode != event.D0 {
			approvedT1D1++
		} else if kind == fact.ClearingMissing {
			fail("clearing_missing injected into a D0 sale")
		}
		if dl := sched.PayoutDeadline(m.Mode, tr.AuthorizedAt).At; tr.ExpectedPayoutAt != dl && !(tr.ReversedAt != 0 && kind == "" && tr.ExpectedPayoutAt == 0) {
			fail("expected payout %d, schedule says %d", tr.ExpectedPayoutAt, dl)
		}

		// Authorization side: duplicates and reversals.
		wantAuths, wantReversal := 1, false
		switch {
		case kind == fact.DuplicateTrace:
			wantAuths = 2
		case kind == fact.ReversedButSettled, kind == "" && tr.ReversedAt != 0:
			wantReversal = true
		}
		if len(v.auths) != wantAuths {
			fail("%d authorizations, want %d", len(v.auths), wantAuths)
		}
		if wantAuths == 2 {
			d := ev(v.auths, 1)
			gap := d.OccurredAt - a.OccurredAt
			if d.ID == a.ID || d.Amount != a.Amount || d.TerminalID != a.TerminalID || d.ResponseCode != "00" ||
				d.OccurredAt != tr.DuplicateAt || gap < 5000 || gap > 120000 {
				fail("duplicate authorization %+v, %dms after the first", d, gap)
			}
		} else if tr.DuplicateAt != 0 {
			fail("duplicate_at without a duplicate")
		}
		if wantReversal != (len(v.reversals) == 1) || len(v.reversals) > 1 {
			fail("%d reversals, want one: %v", len(v.reversals), wantReversal)
		}
		if wantReversal {
			r := ev(v.reversals, 0)
			gap := r.OccurredAt - a.OccurredAt
			if r.Amount != a.Amount || r.TerminalID != a.TerminalID || r.OccurredAt != tr.ReversedAt || gap < 60000 || gap > 600000 {
				fail("reversal %+v, %dms after the authorization", r, gap)
			}
		} else if tr.ReversedAt != 0 {
			fail("reversed_at without a reversal")
		}

		// Never cleared: clearing_missing and healthy reversals.
		if kind == fact.ClearingMissing || kind == "" && tr.ReversedAt != 0 {
			if len(v.cleared)+v.payoutTopic != 0 || tr.ClearedAt+tr.PaidAt+tr.ClearedAmount+tr.Net != 0 || tr.ClearingBatchID+tr.PayoutBatchID != "" || tr.AuthToClearS != 0 {
				fail("cleared or paid, or truth says so")
			}
			if kind == "" {
				healthy["reversal"]++
			}
			continue
		}

		// The clearing.
		if len(v.cleared) != 1 {
			fail("%d cleared events", len(v.cleared))
		}
		c := ev(v.cleared, 0)
		if c.Amount != tr.ClearedAmount || c.Fee != tr.Fee || c.OccurredAt != tr.ClearedAt || c.BatchID != tr.ClearingBatchID || tr.Net != c.Amount-c.Fee {
			fail("cleared %+v disagrees with the truth", c)
		}
		if cd := sched.ClearingDeadline(tr.AuthorizedAt).At; c.OccurredAt > cd {
			fail("cleared after its deadline")
		}
		if (kind == fact.AmountMismatch) != (c.Amount != a.Amount) {
			fail("cleared %d, authorized %d", c.Amount, a.Amount)
		}
		if kind == fact.FeeRateDeviation {
			limit := (c.Amount*(m.FeeRatePPM+500)+999_999)/1_000_000 + 1
			if c.Fee != Fee(c.Amount, m.FeeRatePPM+feeExcessPPM)+feeExcessFen || c.Fee <= limit {
				fail("fee %d on %d at %d ppm: not the injected deviation, or within tolerance (%d)", c.Fee, c.Amount, m.FeeRatePPM, limit)
			}
		} else if c.Fee != Fee(c.Amount, m.FeeRatePPM) {
			fail("fee %d on %d at %d ppm", c.Fee, c.Amount, m.FeeRatePPM)
		}
		if kind == fact.MCCMismatch {
			if c.MCC == m.RegisteredMCC || c.MCC != tr.ClearedMCC || a.MCC != m.RegisteredMCC {
				fail("cleared MCC %s, registered %s, truth %s", c.MCC, m.RegisteredMCC, tr.ClearedMCC)
			}
		} else if c.MCC != m.RegisteredMCC || tr.ClearedMCC != "" {
			fail("cleared MCC %s, registered %s", c.MCC, m.RegisteredMCC)
		}

		// The payout.
		switch kind {
		case fact.PayoutOverdue:
			if v.payoutTopic != 0 || tr.PaidAt != 0 {
				fail("payout events on a missing payout")
			}
			continue
		case fact.PayoutFailed:
			if len(v.failed) != 1 || len(v.paid) != 0 || ev(v.failed, 0).OccurredAt != tr.FailedAt ||
				fact.MapPayoutFailure(ev(v.failed, 0).ReasonCode) != fact.PayoutFailure(tr.Anomalies[0].Reason) {
				fail("payout_failed events disagree with the truth")
			}
			continue
		}
		wantPaid, wantInit := 1, 1
		if kind == fact.LateEvent {
			wantPaid = 2
		}
		if tr.InitiatedMissing { // left out of a batch_incomplete batch
			wantInit = 0
			if kind != "" || tr.HeldAt != 0 || tr.Orphan != "" {
				fail("initiated_missing on a trace with a cause")
			}
		}
		if len(v.initiated) != wantInit || len(v.paid) != wantPaid || len(v.failed) != 0 {
			fail("%d initiated, %d paid, %d failed", len(v.initiated), len(v.paid), len(v.failed))
		}
		p := ev(v.paid, 0)
		in := p // a payout without its payout_initiated is checked on payout_paid alone
		if wantInit == 1 {
			in = ev(v.initiated, 0)
		}
		if in.Amount != tr.Net || p.Amount != tr.Net || p.OccurredAt != tr.PaidAt || p.BatchID != tr.PayoutBatchID || in.BatchID != p.BatchID || (in != p && p.OccurredAt <= in.OccurredAt) {
			fail("payout %+v / %+v disagrees with the truth", in, p)
		}
		if tr.PastDueS != (tr.PaidAt-tr.ExpectedPayoutAt)/1000 || tr.AuthToPayS != (tr.PaidAt-tr.AuthorizedAt)/1000 ||
			tr.ClearToPayS != (tr.PaidAt-tr.ClearedAt)/1000 || tr.AuthToClearS != (tr.ClearedAt-tr.AuthorizedAt)/1000 {
			fail("lags %+v", tr)
		}

		// Holds.
		held := kind == fact.PayoutHeld || kind == "" && tr.HeldAt != 0
		if held != (len(v.held) == 1) || held != (len(v.released) == 1) || len(v.held) > 1 || len(v.released) > 1 {
			fail("%d held, %d released", len(v.held), len(v.released))
		}
		if held {
			h, r := ev(v.held, 0), ev(v.released, 0)
			if h.OccurredAt != tr.HeldAt || r.OccurredAt != tr.ReleasedAt || h.BatchID != tr.HoldBatchID || r.BatchID != tr.HoldBatchID ||
				h.BatchID == tr.PayoutBatchID || h.Amount != tr.Net || r.Amount != tr.Net || !strings.HasPrefix(tr.PayoutBatchID, "PAY-RL-") {
				fail("hold events %+v / %+v disagree with the truth", h, r)
			}
			if !(tr.HeldAt < tr.ReleasedAt && tr.ReleasedAt < in.OccurredAt) {
				fail("held %d, released %d, initiated %d", tr.HeldAt, tr.ReleasedAt, in.OccurredAt)
			}
			if kind == fact.PayoutHeld {
				// Released only after the SLA, 30–40h at the default.
				if d := tr.ReleasedAt - tr.HeldAt; d < sla+6*3600*1000 || d > sla+16*3600*1000 {
					fail("released %v after the hold", time.Duration(d)*time.Millisecond)
				}
				if tr.PaidAt <= tr.ExpectedPayoutAt {
					fail("held beyond the SLA yet paid before the deadline")
				}
			} else {
				if d := tr.ReleasedAt - tr.HeldAt; d > 4*3600*1000 || d >= sla {
					fail("healthy hold released %v after the hold", time.Duration(d)*time.Millisecond)
				}
				healthy["short_hold"]++
			}
		} else if tr.HeldAt+tr.ReleasedAt != 0 || tr.HoldBatchID != "" {
			fail("hold times without hold events")
		}
		if kind != fact.PayoutHeld && tr.PaidAt >= tr.ExpectedPayoutAt {
			fail("paid at %d, due %d", tr.PaidAt, tr.ExpectedPayoutAt)
		}

		// The late copy.
		if kind == fact.LateEvent {
			cp := v.paid[1]
			e := &f.evs[cp]
			if e.ID == p.ID || e.OccurredAt != p.OccurredAt || e.Amount != p.Amount || e.BatchID != p.BatchID || !f.late[cp] {
				fail("late copy %+v of %+v", e, p)
			}
			if tr.LateAt < max(tr.PaidAt, tr.ClearedAt)+3*day {
				fail("late copy at %d, completed at %d", tr.LateAt, max(tr.PaidAt, tr.ClearedAt))
			}
			// Published at LateAt (or at the outage's end): after every
			// in-order message before LateAt, before every one after it.
			for j := cp - 1; j >= 0; j-- {
				if !f.late[j] && !f.inBlock(j) {
					if f.msgs[j].At > tr.LateAt {
						fail("late copy published after a message at %d > %d", f.msgs[j].At, tr.LateAt)
					}
					break
				}
			}
			for j := cp + 1; j < len(f.msgs); j++ {
				if !f.late[j] && !f.inBlock(j) {
					if f.msgs[j].At < tr.LateAt {
						fail("late copy published before a message at %d < %d", f.msgs[j].At, tr.LateAt)
					}
					break
				}
			}
		} else if tr.LateAt != 0 {
			fail("late_at without a late copy")
		}
	}

	// Every cause occurs, as often as its rate says, and the stats agree.
	approved := f.stats.Approved
	for _, c := range []struct {
		kind fact.Kind
		rate float64
	}{
		{fact.PayoutFailed, cfg.PayoutFailedRate}, {fact.PayoutOverdue, cfg.PayoutMissingRate},
		{fact.AmountMismatch, cfg.AmountMismatchRate}, {fact.ClearingMissing, cfg.ClearingMissingRate},
		{fact.PayoutHeld, cfg.PayoutHeldRate}, {fact.FeeRateDeviation, cfg.FeeDeviationRate},
		{fact.MCCMismatch, cfg.MCCMismatchRate}, {fact.DuplicateTrace, cfg.DuplicateAuthRate},
		{fact.ReversedButSettled, cfg.ReversedSettledRate}, {fact.LateEvent, cfg.LateEventRate},
	} {
		n := approved
		if c.kind == fact.ClearingMissing {
			n = approvedT1D1
		}
		want := float64(n) * c.rate
		if got := counts[c.kind]; math.Abs(float64(got)-want) > 5*math.Sqrt(want) || got < 20 {
			t.Errorf("%s: %d injected, want about %.0f", c.kind, got, want)
		}
	}
	wantOrphans := cfg.Days * (int(cfg.OrphanClearingRate*float64(cfg.TracesPerDay)+0.5) + int(cfg.OrphanPayoutRate*float64(cfg.TracesPerDay)+0.5))
	if orphans != wantOrphans || counts[fact.OrphanClearing]+counts[fact.OrphanPayout] != orphans || counts[fact.OrphanPayout] == 0 || counts[fact.OrphanClearing] == 0 {
		t.Errorf("%d orphans (%d clearing, %d payout), want %d", orphans, counts[fact.OrphanClearing], counts[fact.OrphanPayout], wantOrphans)
	}
	for k, n := range counts {
		if f.stats.Injected[string(k)] != n {
			t.Errorf("stats.Injected[%s] = %d, truth has %d", k, f.stats.Injected[string(k)], n)
		}
	}
	for k, n := range healthy {
		if f.stats.Healthy[k] != n || n < 20 {
			t.Errorf("healthy %s: %d in the truth, stats %d", k, n, f.stats.Healthy[k])
		}
	}
	if len(healthy) != 2 {
		t.Errorf("healthy variations %v, want reversal and short_hold", healthy)
	}
	if len(f.truths) != f.stats.Traces+orphans || f.stats.Traces != cfg.Days*cfg.TracesPerDay {
		t.Errorf("%d truth lines, %d traces + %d orphans", len(f.truths), f.stats.Traces, orphans)
	}
}

// TestFullOutageTruth checks the run-level line and that ReadTruth, as
// readers before it expect, returns trace lines only.
func TestFullOutageTruth(t *testing.T) {
	f := fullRun(t)
	loc := testCalendar(t).Location()
	day := f.cfg.Start.AddDays(f.cfg.PayoutOutage.Day - 1)
	want := FeedOutage{Source: "payouts", From: day.At(loc, 9*time.Hour).UnixMilli(), To: day.At(loc, 21*time.Hour).UnixMilli(), HeldBack: f.stats.Outages[0].HeldBack}
	if f.outages[0] != want || len(f.stats.Outages) != 1 || f.stats.Outages[0] != want {
		t.Fatalf("outage %+v, stats %+v, want %+v", f.outages, f.stats.Outages, want)
	}
	if got := time.UnixMilli(want.From).In(loc).Format("2006-01-02 15:04"); got != "2026-10-01 09:00" {
		t.Fatalf("outage starts %s", got)
	}
	lines := bytes.Split(bytes.TrimSpace(f.truth), []byte("\n"))
	runLines := 1 + len(f.batches) // the outage, then the batch faults
	if line := string(lines[len(lines)-runLines]); !strings.HasPrefix(line, `{"outage":{"source":"payouts","from":`) {
		t.Fatalf("first run-level truth line %s", line)
	}
	traces, err := ReadTruth(bytes.NewReader(f.truth))
	if err != nil || len(traces) != len(lines)-runLines || len(traces) != len(f.truths) {
		t.Fatalf("ReadTruth: %d traces of %d lines, err %v", len(traces), len(lines), err)
	}
	delayed := 0
	for _, tr := range traces {
		if tr.OutageDelayed {
			delayed++
		}
	}
	if delayed == 0 {
		t.Fatal("no trace delayed by the outage")
	}
}

func TestFullDeterministic(t *testing.T) {
	cfg := fullTestConfig()
	cfg.TracesPerDay = 1500
	a := runSim(t, cfg).serialize()
	b := runSim(t, cfg).serialize()
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	cfg.Seed++
	if bytes.Equal(a, runSim(t, cfg).serialize()) {
		t.Fatal("runs with different seeds are identical")
	}
}

func TestValidateCauses(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"full", func(c *Config) { *c = FullConfig() }, ""},
		{"negative held rate", func(c *Config) { c.PayoutHeldRate = -0.1 }, "payout held rate"},
		{"NaN orphan rate", func(c *Config) { c.OrphanPayoutRate = math.NaN() }, "orphan payout rate"},
		{"causes over 1", func(c *Config) { c.LateEventRate, c.HealthyReversalRate = 0.6, 0.5 }, "add up"},
		{"short hold SLA", func(c *Config) { c.HoldSLA = time.Hour }, "hold SLA"},
		{"outage after traffic", func(c *Config) { c.PayoutOutage.Day = c.Days + 1 }, "payout outage day"},
		{"negative outage day", func(c *Config) { c.PayoutOutage.Day = -1 }, "payout outage day"},
		{"outage ends first", func(c *Config) { c.PayoutOutage = Outage{Day: 1, From: 10 * time.Hour, To: 9 * time.Hour} }, "payout outage"},
		{"outage past midnight", func(c *Config) { c.PayoutOutage = Outage{Day: 1, From: 10 * time.Hour, To: 25 * time.Hour} }, "payout outage"},
		{"outage off, times ignored", func(c *Config) { c.PayoutOutage = Outage{} }, ""},
		{"healthy holds, short D0 window", func(c *Config) { c.HealthyHoldRate, c.Schedule.D0Window = 0.01, 2*time.Hour }, "healthy holds"},
		{"healthy holds, late payouts", func(c *Config) { c.HealthyHoldRate, c.PayoutAt = 0.01, 16*time.Hour }, "healthy holds"},
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
}

// TestReadRunTruth reads run-level lines among trace lines, and keeps
// rejecting garbage.
func TestReadRunTruth(t *testing.T) {
	in := `{"trace_no":"1","approved":true,"anomalies":[]}` + "\n" +
		`{"trace_no":"2","orphan":"payout","anomalies":[{"kind":"orphan_payout","reason":"x"}]}` + "\n\n" +
		`{"outage":{"source":"payouts","from":1,"to":2,"held_back":3}}` + "\n" +
		`{"batch":{"batch_id":"PAY-T1-20260929","source":"payouts","kind":"batch_stalled","stalled_from":4,"resumed_at":5}}` + "\n" +
		`{"batch":{"batch_id":"PAY-D1-20260930","source":"payouts","kind":"batch_incomplete","declared_count":7,"seen_count":6}}` + "\n"
	rt, err := ReadRunTruth(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	wantBatches := []BatchTruth{
		{BatchID: "PAY-T1-20260929", Source: "payouts", Kind: fact.BatchStalled, StalledFrom: 4, ResumedAt: 5},
		{BatchID: "PAY-D1-20260930", Source: "payouts", Kind: fact.BatchIncomplete, DeclaredCount: 7, SeenCount: 6},
	}
	if len(rt.Traces) != 2 || rt.Traces[1].Orphan != "payout" || !rt.Traces[0].Approved ||
		len(rt.Outages) != 1 || rt.Outages[0] != (FeedOutage{Source: "payouts", From: 1, To: 2, HeldBack: 3}) ||
		!slices.Equal(rt.Batches, wantBatches) {
		t.Fatalf("got %+v", rt)
	}
	ts, err := ReadTruth(strings.NewReader(in))
	if err != nil || len(ts) != 2 {
		t.Fatalf("ReadTruth: %d traces, %v", len(ts), err)
	}
	if _, err := ReadRunTruth(strings.NewReader(in + "{]\n")); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Fatalf("got %v, want an error naming line 7", err)
	}
}
