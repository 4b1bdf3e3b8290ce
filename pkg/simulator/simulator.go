package simulator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Message is one message for the caller to produce.
type Message struct {
	Topic string
	// Partition is -1 to route by a hash of Key, or the explicit partition
	// (heartbeats go to every partition).
	Partition int
	Key       []byte
	Value     []byte
	At        int64 // event time (occurred_at), Unix ms
}

// Stats counts what a run produced.
type Stats struct {
	Messages map[string]int // per topic
	ByType   map[string]int // per event type
	Traces   int
	Approved int
	Declined int
	Injected map[string]int // per anomaly kind (pkg/fact kind names)
	LastAt   int64          // event time of the last message, Unix ms
}

// Simulator generates runs. It holds no run state: every Run starts afresh
// from the seed, so two Runs of one Simulator give the same output.
type Simulator struct {
	cfg   Config
	cal   *calendar.Calendar
	sched *calendar.Schedule
	loc   *time.Location
}

// New returns a simulator for cfg over the business-day calendar cal.
func New(cfg Config, cal *calendar.Calendar) (*Simulator, error) {
	if cal == nil {
		return nil, errors.New("simulator: no calendar")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	sched, err := calendar.NewSchedule(cfg.Schedule, cal)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	return &Simulator{cfg: cfg, cal: cal, sched: sched, loc: cal.Location()}, nil
}

// Run generates the whole run in event-time order (ties: events before
// heartbeats, then a fixed order) and calls emit with chunks of at most
// Config.ChunkSize messages. The simulator does not reuse a chunk or its
// messages after emit returns, so emit may keep them. Run writes one JSON
// line per trace to truth, unless truth is nil. It stops at the first error
// of emit, of truth or of ctx; the stats then cover what was generated.
func (s *Simulator) Run(ctx context.Context, emit func([]Message) error, truth io.Writer) (Stats, error) {
	r := &run{
		Simulator: s,
		ctx:       ctx,
		emit:      emit,
		rng:       rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x5e771e)),
		hours:     newWeighted(hourWeights),
		declines:  newWeighted(declineWeights),
		amounts:   newAmountPicker(),
		batchIdx:  map[batchKey]int32{},
		stats: Stats{
			Messages: map[string]int{},
			ByType:   map[string]int{},
			Injected: map[string]int{},
		},
	}
	if truth != nil {
		r.truth = bufio.NewWriterSize(truth, 64<<10)
	}
	// Merchants come from their own stream, so that they do not change
	// with the traffic settings.
	r.merchants, r.popularity = profiles(rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x3e7c4a27)), s.cfg.Merchants)
	r.out = make([]Message, 0, s.cfg.ChunkSize)

	err := r.run()
	if err == nil && r.truth != nil {
		if ferr := r.truth.Flush(); ferr != nil {
			err = fmt.Errorf("writing truth: %w", ferr)
		}
	}
	return r.stats, err
}

// Fault kinds injected into an approved trace.
const (
	faultNone uint8 = iota
	faultFailed
	faultMissing
	faultMismatch
)

// trace is the state of one sale. It is pointer-free so that a million of
// them cost the garbage collector nothing.
type trace struct {
	no         [12]byte
	merchant   int32
	clearBatch int32
	payBatch   int32 // -1: none
	terminal   uint8
	bin        uint8
	last4      uint16
	decline    uint8 // 0: approved; else 1 + index into declineCodes
	fault      uint8
	reason     uint8 // index into failureReasons
	remaining  uint8 // events still to emit after the authorization
	trade      calendar.Date

	authAt, clearedAt, paidAt, failedAt, expected int64
	amount, cleared, fee                          int64
}

// key returns a fresh copy of the trace number, for a message key.
func (tr *trace) key() []byte { return append([]byte(nil), tr.no[:]...) }

// day holds the traces of one traffic day until all of them are complete
// and their truth is written.
type day struct {
	traces  []trace
	pending int // approved traces with events still to emit
}

type batchKind uint8

const (
	batchClearing batchKind = iota
	batchT1
	batchD1
	batchD0
)

type batchKey struct {
	kind batchKind
	at   int64
}

type ref struct{ day, idx int32 }

type batch struct {
	id      string
	kind    batchKind
	open    int64
	members []ref // until the batch opens
	count   int64
	total   int64
}

// run is the state of one Run.
type run struct {
	*Simulator
	ctx   context.Context
	emit  func([]Message) error
	truth *bufio.Writer

	rng        *rand.Rand
	hours      weighted
	declines   weighted
	amounts    amountPicker
	merchants  []merchant
	popularity weighted

	q        queue
	days     []*day
	flushed  int // days whose truth is written
	batches  []*batch
	batchIdx map[batchKey]int32 // batches not yet opened

	traceSeq    int64
	eventSeq    uint64
	trafficDone bool
	maxDeadline int64
	endAt       int64

	out   []Message
	stats Stats
	err   error
}

func (r *run) run() error {
	cfg := r.cfg
	profilesAt := cfg.Start.AddDays(-1).At(r.loc, 0).UnixMilli()
	for i := range r.merchants {
		r.q.push(item{at: profilesAt, op: opMerchant, a: int32(i)})
	}
	for i := range cfg.Days {
		r.q.push(item{at: cfg.Start.AddDays(i).At(r.loc, 0).UnixMilli(), op: opDay, a: int32(i)})
	}
	r.q.push(item{at: cfg.Start.At(r.loc, 0).UnixMilli(), op: opHeartbeat})

	for r.q.len() > 0 && r.err == nil {
		it := r.q.pop()
		r.do(it)
	}
	if r.err != nil {
		return r.err
	}
	if len(r.out) > 0 {
		if err := r.flushOut(); err != nil {
			return err
		}
	}
	if r.flushed != len(r.days) {
		return fmt.Errorf("simulator: internal error: %d of %d days left incomplete", len(r.days)-r.flushed, len(r.days))
	}
	return nil
}

func (r *run) do(it item) {
	switch it.op {
	case opMerchant:
		r.merchantProfile(it.at, &r.merchants[it.a])
	case opDay:
		r.generateDay(int(it.a))
	case opAuth:
		r.authorization(it.at, it.a, it.b)
	case opClearOpen:
		r.openClearing(it.at, it.a)
	case opCleared:
		r.clearedEvent(it.at, it.a, it.b)
	case opPayOpen:
		r.openPayout(it.at, it.a)
	case opPayInit, opPayPaid, opPayFailed:
		r.payoutEvent(it.at, it.op, it.a, it.b)
	case opClearClose, opPayClose:
		r.closeBatch(it.at, it.a)
	case opHeartbeat:
		r.heartbeat(it.at)
	}
}

// generateDay draws the sales of traffic day i and queues their
// authorizations; approved sales join their clearing and payout batches.
func (r *run) generateDay(i int) {
	d := r.cfg.Start.AddDays(i)
	var hourAt [24]int64
	for h := range hourAt {
		hourAt[h] = d.At(r.loc, time.Duration(h)*time.Hour).UnixMilli()
	}
	times := make([]int64, r.cfg.TracesPerDay)
	for j := range times {
		times[j] = hourAt[r.hours.pick(r.rng)] + r.rng.Int64N(3600)*1000
	}
	slices.Sort(times)

	dy := &day{traces: make([]trace, len(times))}
	di := int32(len(r.days))
	r.days = append(r.days, dy)
	for j, t := range times {
		r.newTrace(dy, ref{di, int32(j)}, t)
		r.q.push(item{at: t, op: opAuth, a: di, b: int32(j)})
	}
	if i == r.cfg.Days-1 {
		r.trafficDone = true
		r.endAt = max(r.maxDeadline, d.AddDays(1).At(r.loc, 0).UnixMilli()) + (2 * time.Hour).Milliseconds()
	}
	r.flushTruth()
}

func (r *run) newTrace(dy *day, rf ref, at int64) {
	tr := &dy.traces[rf.idx]
	tr.authAt = at
	tr.payBatch, tr.clearBatch = -1, -1
	tr.no = r.traceNo(at)
	tr.merchant = int32(r.popularity.pick(r.rng))
	m := &r.merchants[tr.merchant]
	tr.terminal = uint8(r.rng.IntN(len(m.terminals)))
	tr.amount = r.amounts.draw(r.rng, m.large)
	tr.bin = uint8(r.rng.IntN(len(cardBINs)))
	tr.last4 = uint16(r.rng.IntN(10000))
	r.stats.Traces++

	if r.rng.Float64() < r.cfg.DeclineRate {
		tr.decline = uint8(1 + r.declines.pick(r.rng))
		r.stats.Declined++
		return
	}
	r.stats.Approved++

	switch u := r.rng.Float64(); {
	case u < r.cfg.PayoutFailedRate:
		tr.fault = faultFailed
		tr.reason = uint8(r.rng.IntN(len(failureReasons)))
		r.stats.Injected[string(fact.PayoutFailed)]++
	case u < r.cfg.PayoutFailedRate+r.cfg.PayoutMissingRate:
		tr.fault = faultMissing
		r.stats.Injected[string(fact.PayoutOverdue)]++
	case u < r.cfg.PayoutFailedRate+r.cfg.PayoutMissingRate+r.cfg.AmountMismatchRate:
		tr.fault = faultMismatch
		r.stats.Injected[string(fact.AmountMismatch)]++
	}

	tr.cleared = tr.amount
	if tr.fault == faultMismatch {
		// A few fen to a few yuan off, never below 1.00.
		delta := 1 + r.rng.Int64N(500)
		if r.rng.IntN(2) == 0 && tr.amount-delta >= 100 {
			delta = -delta
		}
		tr.cleared = tr.amount + delta
	}
	tr.fee = Fee(tr.cleared, m.feePPM)

	dl := r.sched.PayoutDeadline(m.mode, at)
	tr.expected = dl.At
	r.maxDeadline = max(r.maxDeadline, dl.At, r.sched.ClearingDeadline(at).At)

	tr.trade = r.sched.TradeDate(at)
	tr.clearBatch = r.batchFor(batchClearing, tr.trade.AddDays(1).At(r.loc, r.cfg.ClearingAt).UnixMilli(), rf)
	tr.remaining = 1
	if tr.fault != faultMissing {
		var kind batchKind
		var open int64
		switch m.mode {
		case event.T1:
			next, _ := r.cal.NextBusinessDay(tr.trade)
			kind, open = batchT1, next.At(r.loc, r.cfg.PayoutAt).UnixMilli()
		case event.D1:
			kind, open = batchD1, tr.trade.AddDays(1).At(r.loc, r.cfg.PayoutAt).UnixMilli()
		default: // D0: hourly batches, the first full hour after the sale
			lt := time.UnixMilli(at).In(r.loc)
			kind, open = batchD0, time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour()+1, 0, 0, 0, r.loc).UnixMilli()
		}
		tr.payBatch = r.batchFor(kind, open, rf)
		tr.remaining += 2
	}
	dy.pending++
}

// traceNo builds a 12-digit retrieval reference number: the last digit of
// the year, the day of the year (3), the hour (2) and a 6-digit sequence.
// It is unique in a run because no hour holds a million sales.
func (r *run) traceNo(at int64) [12]byte {
	lt := time.UnixMilli(at).In(r.loc)
	var b [12]byte
	put := func(off, width int, v int) {
		for k := off + width - 1; k >= off; k-- {
			b[k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 1, lt.Year()%10)
	put(1, 3, lt.YearDay())
	put(4, 2, lt.Hour())
	put(6, 6, int(r.traceSeq%1_000_000))
	r.traceSeq++
	return b
}

// batchFor returns the batch of kind opening at open, creating and queueing
// it on first use, and adds rf to its members.
func (r *run) batchFor(kind batchKind, open int64, rf ref) int32 {
	k := batchKey{kind, open}
	bi, ok := r.batchIdx[k]
	if !ok {
		lt := time.UnixMilli(open).In(r.loc)
		var id string
		o := opPayOpen
		switch kind {
		case batchClearing:
			id, o = "CLR-"+lt.Format("20060102"), opClearOpen
		case batchT1:
			id = "PAY-T1-" + lt.Format("20060102")
		case batchD1:
			id = "PAY-D1-" + lt.Format("20060102")
		case batchD0:
			id = "PAY-D0-" + lt.Format("2006010215")
		}
		bi = int32(len(r.batches))
		r.batches = append(r.batches, &batch{id: id, kind: kind, open: open})
		r.batchIdx[k] = bi
		r.q.push(item{at: open, op: o, a: bi})
	}
	b := r.batches[bi]
	b.members = append(b.members, rf)
	return bi
}

func (r *run) trace(d, i int32) (*day, *trace) {
	dy := r.days[d]
	return dy, &dy.traces[i]
}

// done counts one emitted event of a trace and writes truth when whole days
// are complete.
func (r *run) done(dy *day, tr *trace) {
	tr.remaining--
	if tr.remaining == 0 {
		dy.pending--
		if dy.pending == 0 {
			r.flushTruth()
		}
	}
}

// Producer names carried by heartbeats, per event topic.
const (
	producerAuth     = "pos-switch"
	producerClearing = "clearing-loader"
	producerPayouts  = "settlement-system"
)

// newEvent starts an event's JSON with the common fields.
func (r *run) newEvent(prefix string, t event.Type, at int64) obj {
	r.eventSeq++
	o := obj{b: make([]byte, 0, 320)}
	o.field("event_id")
	o.b = append(o.b, '"')
	o.b = append(o.b, prefix...)
	o.b = appendBase36(o.b, r.eventSeq)
	o.b = append(o.b, '"')
	o.str("type", t.String())
	o.time("occurred_at", at, r.loc)
	return o
}

func (r *run) send(topic string, partition int, key []byte, t event.Type, o obj, at int64) {
	r.out = append(r.out, Message{Topic: topic, Partition: partition, Key: key, Value: o.done(), At: at})
	r.stats.Messages[topic]++
	r.stats.ByType[t.String()]++
	r.stats.LastAt = at
	if len(r.out) >= r.cfg.ChunkSize {
		if err := r.flushOut(); err != nil && r.err == nil {
			r.err = err
		}
	}
}

func (r *run) flushOut() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	chunk := r.out
	r.out = make([]Message, 0, r.cfg.ChunkSize)
	if err := r.emit(chunk); err != nil {
		return fmt.Errorf("emitting messages: %w", err)
	}
	return nil
}

func (r *run) merchantProfile(at int64, m *merchant) {
	o := r.newEvent("mc-", event.Merchant, at)
	o.str("merchant_id", m.id)
	o.str("merchant_name", m.name)
	o.str("registered_mcc", m.mcc)
	o.str("settlement_mode", m.mode.String())
	o.str("fee_rate", formatRate(m.feePPM))
	o.str("account_ref", "ACC-"+m.id)
	r.send(r.cfg.Topics.Merchants, -1, []byte(m.id), event.Merchant, o, at)
}

// traceEvent starts an event of trace tr with trace_no and merchant_id.
func (r *run) traceEvent(prefix string, t event.Type, at int64, tr *trace) obj {
	o := r.newEvent(prefix, t, at)
	o.str("trace_no", string(tr.no[:]))
	o.str("merchant_id", r.merchants[tr.merchant].id)
	return o
}

func (r *run) authorization(at int64, d, i int32) {
	_, tr := r.trace(d, i)
	m := &r.merchants[tr.merchant]
	o := r.traceEvent("au-", event.Authorization, at, tr)
	o.str("terminal_id", m.terminals[tr.terminal])
	code := "00"
	if tr.decline > 0 {
		code = declineCodes[tr.decline-1]
	}
	o.str("response_code", code)
	o.money("amount", tr.amount)
	o.str("currency", "CNY")
	o.str("mcc", m.mcc)
	o.str("card_bin", cardBINs[tr.bin])
	o.str("card_last4", pad(int64(tr.last4), 4))
	r.send(r.cfg.Topics.Authorizations, -1, tr.key(), event.Authorization, o, at)
}

func (r *run) batchEvent(prefix string, t event.Type, at int64, b *batch) obj {
	o := r.newEvent(prefix, t, at)
	o.str("batch_id", b.id)
	return o
}

func (r *run) openClearing(at int64, bi int32) {
	b := r.batches[bi]
	delete(r.batchIdx, batchKey{b.kind, b.open})
	r.send(r.cfg.Topics.Clearing, -1, []byte(b.id), event.BatchOpened, r.batchEvent("cl-", event.BatchOpened, at, b), at)

	n := int64(len(b.members))
	spread := int64(clearingSpread / time.Second)
	last := at
	for i, m := range b.members {
		_, tr := r.trace(m.day, m.idx)
		t := at + 1000*(1+int64(i)*spread/n)
		r.q.push(item{at: t, op: opCleared, a: m.day, b: m.idx})
		b.count++
		b.total += tr.cleared
		last = t
	}
	b.members = nil
	r.q.push(item{at: last + 1000, op: opClearClose, a: bi})
}

func (r *run) clearedEvent(at int64, d, i int32) {
	dy, tr := r.trace(d, i)
	o := r.traceEvent("cl-", event.Cleared, at, tr)
	o.str("batch_id", r.batches[tr.clearBatch].id)
	o.money("amount", tr.cleared)
	o.money("fee", tr.fee)
	o.str("mcc", r.merchants[tr.merchant].mcc)
	tr.clearedAt = at
	r.send(r.cfg.Topics.Clearing, -1, tr.key(), event.Cleared, o, at)
	r.done(dy, tr)
}

func (r *run) openPayout(at int64, bi int32) {
	b := r.batches[bi]
	delete(r.batchIdx, batchKey{b.kind, b.open})
	r.send(r.cfg.Topics.Payouts, -1, []byte(b.id), event.BatchOpened, r.batchEvent("po-", event.BatchOpened, at, b), at)

	n := int64(len(b.members))
	spread := int64(payoutSpread / time.Second)
	if b.kind == batchD0 {
		spread = int64(d0Spread / time.Second)
	}
	last := at
	for i, m := range b.members {
		_, tr := r.trace(m.day, m.idx)
		init := at + 1000*(1+int64(i)*spread/n)
		r.q.push(item{at: init, op: opPayInit, a: m.day, b: m.idx})
		var end int64
		if tr.fault == faultFailed {
			end = init + 1000*(120+r.rng.Int64N(1680)) // returned 2 to 30 minutes later
			r.q.push(item{at: end, op: opPayFailed, a: m.day, b: m.idx})
		} else {
			end = init + 1000*(60+r.rng.Int64N(240)) // confirmed 1 to 5 minutes later
			r.q.push(item{at: end, op: opPayPaid, a: m.day, b: m.idx})
		}
		last = max(last, end)
		b.count++
		b.total += tr.cleared - tr.fee
	}
	b.members = nil
	r.q.push(item{at: last + 1000, op: opPayClose, a: bi})
}

func (r *run) payoutEvent(at int64, o op, d, i int32) {
	dy, tr := r.trace(d, i)
	t := event.PayoutInitiated
	switch o {
	case opPayPaid:
		t = event.PayoutPaid
		tr.paidAt = at
	case opPayFailed:
		t = event.PayoutFailed
		tr.failedAt = at
	}
	e := r.traceEvent("po-", t, at, tr)
	e.str("batch_id", r.batches[tr.payBatch].id)
	e.money("amount", tr.cleared-tr.fee)
	if t == event.PayoutFailed {
		reason := failureReasons[tr.reason]
		e.str("reason_code", fact.BankCode(reason))
		e.str("reason", failureTexts[reason])
	}
	r.send(r.cfg.Topics.Payouts, -1, tr.key(), t, e, at)
	r.done(dy, tr)
}

func (r *run) closeBatch(at int64, bi int32) {
	b := r.batches[bi]
	topic, prefix := r.cfg.Topics.Payouts, "po-"
	if b.kind == batchClearing {
		topic, prefix = r.cfg.Topics.Clearing, "cl-"
	}
	o := r.batchEvent(prefix, event.BatchClosed, at, b)
	o.int("declared_count", b.count)
	o.money("declared_total", b.total)
	r.send(topic, -1, []byte(b.id), event.BatchClosed, o, at)
}

// heartbeat sends one heartbeat to every partition of each event topic and
// queues the next one, until traffic is over, nothing is pending and the
// latest deadline is at least two hours past.
func (r *run) heartbeat(at int64) {
	for _, p := range []struct{ topic, producer, prefix string }{
		{r.cfg.Topics.Authorizations, producerAuth, "au-"},
		{r.cfg.Topics.Clearing, producerClearing, "cl-"},
		{r.cfg.Topics.Payouts, producerPayouts, "po-"},
	} {
		for part := range r.cfg.Partitions {
			o := r.newEvent("hb-", event.Heartbeat, at)
			o.str("producer", p.producer)
			r.send(p.topic, part, []byte(p.producer), event.Heartbeat, o, at)
		}
	}
	if r.trafficDone && at >= r.endAt && r.q.len() == 0 {
		return
	}
	r.q.push(item{at: at + r.cfg.HeartbeatInterval.Milliseconds(), op: opHeartbeat})
}

// flushTruth writes the truth of every complete day, in day order.
func (r *run) flushTruth() {
	for r.flushed < len(r.days) && r.days[r.flushed].pending == 0 {
		dy := r.days[r.flushed]
		if r.truth != nil && r.err == nil {
			for i := range dy.traces {
				line, err := json.Marshal(r.truthOf(&dy.traces[i]))
				if err == nil {
					line = append(line, '\n')
					_, err = r.truth.Write(line)
				}
				if err != nil {
					r.err = fmt.Errorf("writing truth: %w", err)
					break
				}
			}
		}
		r.days[r.flushed] = nil
		r.flushed++
	}
}

func (r *run) truthOf(tr *trace) Truth {
	m := &r.merchants[tr.merchant]
	t := Truth{
		TraceNo:      string(tr.no[:]),
		MerchantID:   m.id,
		TerminalID:   m.terminals[tr.terminal],
		MCC:          m.mcc,
		Mode:         m.mode.String(),
		Approved:     tr.decline == 0,
		ResponseCode: "00",
		Amount:       tr.amount,
		AuthorizedAt: tr.authAt,
		Anomalies:    []Anomaly{},
	}
	if !t.Approved {
		t.ResponseCode = declineCodes[tr.decline-1]
		return t
	}
	t.ClearedAmount, t.Fee, t.Net = tr.cleared, tr.fee, tr.cleared-tr.fee
	t.ClearedAt, t.PaidAt, t.FailedAt = tr.clearedAt, tr.paidAt, tr.failedAt
	t.ExpectedPayoutAt = tr.expected
	t.TradeDate = tr.trade.String()
	t.ClearingBatchID = r.batches[tr.clearBatch].id
	if tr.payBatch >= 0 {
		t.PayoutBatchID = r.batches[tr.payBatch].id
	}
	t.AuthToClearS = (tr.clearedAt - tr.authAt) / 1000
	if tr.paidAt != 0 {
		t.ClearToPayS = (tr.paidAt - tr.clearedAt) / 1000
		t.AuthToPayS = (tr.paidAt - tr.authAt) / 1000
		t.PastDueS = (tr.paidAt - tr.expected) / 1000
	}
	switch tr.fault {
	case faultFailed:
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.PayoutFailed, Reason: string(failureReasons[tr.reason])})
	case faultMissing:
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.PayoutOverdue, Reason: "payout_missing"})
	case faultMismatch:
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.AmountMismatch, Reason: "cleared_amount_differs"})
	}
	return t
}
