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
	Injected map[string]int // per anomaly kind (pkg/fact kind names), orphans and batch faults included
	// Healthy counts the injected variations that are no anomaly:
	// "reversal" (reversed, never settled) and "short_hold" (held and
	// released within the SLA, paid on time).
	Healthy map[string]int
	// Outages lists the feed outages of the run (also the run-level lines of
	// the truth file).
	Outages []FeedOutage
	// Batches lists the batch faults injected, in the order the batches
	// opened (also run-level lines of the truth file). A batch chosen for a
	// fault that turns out unfit (too few records, deadlines too close) hands
	// it on to another; when none is left, fewer faults are injected than
	// configured, and this is the record of what was.
	Batches []BatchTruth
	// LastAt is the latest event time (occurred_at) of any message, Unix ms.
	// Messages are in event-time order except late re-sent copies and the
	// payout messages held back by an outage, so this is the event time of
	// the last message in all but those cases.
	LastAt int64
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
	s := &Simulator{cfg: cfg, cal: cal, sched: sched, loc: cal.Location()}
	if want := cfg.BatchStallCount + cfg.BatchIncompleteCount; want > 0 {
		if n := len(s.batchCandidates()); n < want {
			return nil, fmt.Errorf("simulator config: %d batch faults (%d stalled, %d incomplete) but only %d T1/D1 payout batches clear of the payout outage", want, cfg.BatchStallCount, cfg.BatchIncompleteCount, n)
		}
	}
	return s, nil
}

// Run generates the whole run in event-time order (ties: events before
// heartbeats, then a fixed order) and calls emit with chunks of at most
// Config.ChunkSize messages. Two exceptions on the payout topic are by
// design: a late re-sent payout_paid is published days after its
// occurred_at, and the messages of a payout-feed outage are published, in
// their original order, when it ends. The simulator does not reuse a chunk or
// its messages after emit returns, so emit may keep them. Run writes one JSON
// line per trace to truth, then one run-level line per outage (see
// FeedOutage), then one per batch fault (see BatchTruth), unless truth is
// nil. It stops at the first error of emit, of truth or of ctx; the stats
// then cover what was generated.
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
			Healthy:  map[string]int{},
		},
		faults: s.cfg.faults(),
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
		var lines []runLine
		for i := range r.stats.Outages {
			lines = append(lines, runLine{Outage: &r.stats.Outages[i]})
		}
		for i := range r.stats.Batches {
			lines = append(lines, runLine{Batch: &r.stats.Batches[i]})
		}
		for _, l := range lines {
			line, merr := json.Marshal(l)
			if merr == nil {
				_, merr = r.truth.Write(append(line, '\n'))
			}
			if merr != nil {
				err = fmt.Errorf("writing truth: %w", merr)
				break
			}
		}
	}
	if err == nil && r.truth != nil {
		if ferr := r.truth.Flush(); ferr != nil {
			err = fmt.Errorf("writing truth: %w", ferr)
		}
	}
	return r.stats, err
}

// Fault kinds injected into an approved trace: at most one per trace. The
// last two are healthy variations, no anomaly.
const (
	faultNone uint8 = iota
	faultFailed
	faultMissing
	faultMismatch
	faultClearingMissing
	faultHeld
	faultFee
	faultMCC
	faultDuplicate
	faultReversedSettled
	faultLate
	faultHealthyReversal
	faultHealthyHold
)

// faultKinds maps each anomalous fault to its anomaly kind and the reason
// the truth gives for it (payout_failed takes the mapped failure reason).
var faultKinds = [...]struct {
	kind   fact.Kind
	reason string
}{
	faultFailed:          {fact.PayoutFailed, ""},
	faultMissing:         {fact.PayoutOverdue, "payout_missing"},
	faultMismatch:        {fact.AmountMismatch, "cleared_amount_differs"},
	faultClearingMissing: {fact.ClearingMissing, "clearing_never_sent"},
	faultHeld:            {fact.PayoutHeld, "risk_review_beyond_sla"},
	faultFee:             {fact.FeeRateDeviation, "fee_above_contract"},
	faultMCC:             {fact.MCCMismatch, "cleared_under_other_mcc"},
	faultDuplicate:       {fact.DuplicateTrace, "second_authorization"},
	faultReversedSettled: {fact.ReversedButSettled, "reversed_then_settled"},
	faultLate:            {fact.LateEvent, "payout_paid_resent"},
	faultHealthyReversal: {},
	faultHealthyHold:     {},
}

// Orphans: traces that were never authorized.
const (
	orphanNone uint8 = iota
	orphanClearing
	orphanPayout
)

// Parameters of the injected causes.
const (
	feeExcessPPM   = 3000 // fee deviation: contracted rate + 0.30% ...
	feeExcessFen   = 50   // ... + 0.50 yuan
	holdReasonCode = "RISK01"
	holdReason     = "large amount under review"
	releaseReason  = "review passed"
)

// trace is the state of one sale. It is pointer-free so that a million of
// them cost the garbage collector nothing.
type trace struct {
	no         [12]byte
	merchant   int32
	clearBatch int32 // -1: none
	payBatch   int32 // -1: none; the batch that initiates the payout
	holdBatch  int32 // -1: none; the batch a held payout was pulled from
	terminal   uint8
	bin        uint8
	last4      uint16
	decline    uint8 // 0: approved; else 1 + index into declineCodes
	fault      uint8
	reason     uint8 // index into failureReasons
	clearMCC   uint8 // 0: the registered MCC; else 1 + index into categories
	orphan     uint8 // orphanNone, orphanClearing or orphanPayout
	remaining  uint8 // events still to emit after the authorization
	delayed    bool  // a payout-topic event was held back by the outage
	noInit     bool  // its payout_initiated is left out of its batch (batch_incomplete)
	trade      calendar.Date

	authAt, clearedAt, paidAt, failedAt, expected int64
	// extraAt is the time of the fault's own event: the duplicate
	// authorization, the reversal, the hold, or the publication of the late
	// copy. releasedAt is the release of a hold.
	extraAt, releasedAt  int64
	amount, cleared, fee int64
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
	batchRelease // hourly batches of payouts released from a risk hold
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
	faults     []faultRate
	hours      weighted
	declines   weighted
	amounts    amountPicker
	merchants  []merchant
	popularity weighted

	// Batch faults: the role of each chosen payout batch, the batches that
	// take over a role a chosen batch cannot play, in order, and the
	// generator of these choices (its own stream, so that the rest of the
	// run does not depend on them).
	batchRoles map[batchKey]batchFault
	reserve    []batchKey
	brng       *rand.Rand

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

	now            int64 // time of the item being done: when messages are published
	outFrom, outTo int64 // payout outage, Unix ms; equal when none
	heldBack       []Message
	out            []Message
	stats          Stats
	err            error
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
	if o := cfg.PayoutOutage; o.Enabled() {
		d := cfg.Start.AddDays(o.Day - 1)
		r.outFrom, r.outTo = d.At(r.loc, o.From).UnixMilli(), d.At(r.loc, o.To).UnixMilli()
		r.stats.Outages = append(r.stats.Outages, FeedOutage{Source: event.Payouts.String(), From: r.outFrom, To: r.outTo})
		r.q.push(item{at: r.outTo, op: opOutageEnd})
	}
	r.planBatchFaults()

	for r.q.len() > 0 && r.err == nil {
		it := r.q.pop()
		r.now = it.at
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
	case opAuthDup:
		r.authorization(it.at, it.a, it.b)
		r.done(r.trace(it.a, it.b))
	case opReversal:
		r.reversal(it.at, it.a, it.b)
	case opPayHeld, opPayReleased:
		r.holdEvent(it.at, it.op, it.a, it.b)
	case opPayLate:
		r.lateCopy(it.a, it.b)
	case opOutageEnd:
		r.endOutage()
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

	orphans := [...]int{
		orphanClearing: r.orphanCount(r.cfg.OrphanClearingRate),
		orphanPayout:   r.orphanCount(r.cfg.OrphanPayoutRate),
	}
	dy := &day{traces: make([]trace, len(times), len(times)+orphans[orphanClearing]+orphans[orphanPayout])}
	di := int32(len(r.days))
	r.days = append(r.days, dy)
	for j, t := range times {
		r.newTrace(dy, ref{di, int32(j)}, t)
		r.q.push(item{at: t, op: opAuth, a: di, b: int32(j)})
	}
	// Orphans follow the day's sales, each at the time of a sale the POS
	// switch never reported.
	for kind, n := range orphans {
		for range n {
			t := hourAt[r.hours.pick(r.rng)] + r.rng.Int64N(3600)*1000
			dy.traces = append(dy.traces, trace{})
			r.newOrphan(dy, ref{di, int32(len(dy.traces) - 1)}, t, uint8(kind))
		}
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
	tr.payBatch, tr.clearBatch, tr.holdBatch = -1, -1, -1
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

	u, cum := r.rng.Float64(), 0.0
	for _, f := range r.faults {
		cum += f.rate
		if u < cum {
			tr.fault = f.fault
			break
		}
	}
	if tr.fault == faultClearingMissing && m.mode == event.D0 {
		// A D0 sale is due to be paid before its clearing: without either
		// it would be an overdue payout as well. It stays healthy.
		tr.fault = faultNone
	}
	switch tr.fault {
	case faultNone:
	case faultHealthyReversal:
		r.stats.Healthy["reversal"]++
	case faultHealthyHold:
		r.stats.Healthy["short_hold"]++
	default:
		r.stats.Injected[string(faultKinds[tr.fault].kind)]++
	}
	if tr.fault == faultFailed {
		tr.reason = uint8(r.rng.IntN(len(failureReasons)))
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
	switch tr.fault {
	case faultFee:
		tr.fee = Fee(tr.cleared, m.feePPM+feeExcessPPM) + feeExcessFen
	case faultMCC:
		tr.clearMCC = 1 + uint8(r.otherCategory(m.mcc))
	}

	dl := r.sched.PayoutDeadline(m.mode, at)
	tr.expected = dl.At
	r.maxDeadline = max(r.maxDeadline, dl.At, r.sched.ClearingDeadline(at).At)
	tr.trade = r.sched.TradeDate(at)

	switch tr.fault {
	case faultClearingMissing: // the authorization is all there is
		tr.cleared, tr.fee = 0, 0
		return
	case faultHealthyReversal, faultReversedSettled:
		tr.extraAt = at + 1000*(60+r.rng.Int64N(541)) // 1 to 10 minutes later
		r.q.push(item{at: tr.extraAt, op: opReversal, a: rf.day, b: rf.idx})
		tr.remaining++
		if tr.fault == faultHealthyReversal { // voided: nothing to settle
			tr.cleared, tr.fee, tr.expected = 0, 0, 0
			dy.pending++
			return
		}
	case faultDuplicate:
		tr.extraAt = at + 1000*(5+r.rng.Int64N(116)) // 5 to 120 seconds later
		r.q.push(item{at: tr.extraAt, op: opAuthDup, a: rf.day, b: rf.idx})
		tr.remaining++
	}

	tr.clearBatch = r.batchFor(batchClearing, tr.trade.AddDays(1).At(r.loc, r.cfg.ClearingAt).UnixMilli(), rf)
	tr.remaining++
	if tr.fault != faultMissing {
		kind, open := r.payoutBatchOf(m.mode, at, tr.trade)
		tr.payBatch = r.batchFor(kind, open, rf)
		tr.remaining += 2 // initiated, then paid or failed
		switch tr.fault {
		case faultHeld, faultHealthyHold:
			tr.remaining += 2 // held, released
		case faultLate:
			tr.remaining++ // the re-sent copy
		}
	}
	dy.pending++
}

// payoutBatchOf returns the kind and opening time of the payout batch of a
// sale at at with trade date trade, under settlement mode mode.
func (s *Simulator) payoutBatchOf(mode event.Mode, at int64, trade calendar.Date) (batchKind, int64) {
	switch mode {
	case event.T1:
		next, _ := s.cal.NextBusinessDay(trade)
		return batchT1, next.At(s.loc, s.cfg.PayoutAt).UnixMilli()
	case event.D1:
		return batchD1, trade.AddDays(1).At(s.loc, s.cfg.PayoutAt).UnixMilli()
	default: // D0: hourly batches, the first full hour after the sale
		return batchD0, nextHour(at, s.loc)
	}
}

// nextHour returns the first full local hour after ms.
func nextHour(ms int64, loc *time.Location) int64 {
	lt := time.UnixMilli(ms).In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour()+1, 0, 0, 0, loc).UnixMilli()
}

// otherCategory returns the index of a category whose MCC is not mcc.
func (r *run) otherCategory(mcc string) int {
	for {
		if j := r.rng.IntN(len(categories)); categories[j].mcc != mcc {
			return j
		}
	}
}

// orphanCount returns the number of orphans of one kind per traffic day.
func (r *run) orphanCount(rate float64) int {
	return int(rate*float64(r.cfg.TracesPerDay) + 0.5)
}

// newOrphan fills in an orphan trace: a sale at at that the POS switch never
// reported, which is nevertheless cleared (orphanClearing) or paid
// (orphanPayout) in the batch the sale would have joined.
func (r *run) newOrphan(dy *day, rf ref, at int64, kind uint8) {
	tr := &dy.traces[rf.idx]
	tr.payBatch, tr.clearBatch, tr.holdBatch = -1, -1, -1
	tr.no = r.traceNo(at)
	tr.orphan = kind
	tr.merchant = int32(r.popularity.pick(r.rng))
	m := &r.merchants[tr.merchant]
	tr.amount = r.amounts.draw(r.rng, m.large)
	tr.cleared, tr.fee = tr.amount, Fee(tr.amount, m.feePPM)
	tr.trade = r.sched.TradeDate(at)
	if kind == orphanClearing {
		tr.clearBatch = r.batchFor(batchClearing, tr.trade.AddDays(1).At(r.loc, r.cfg.ClearingAt).UnixMilli(), rf)
		tr.remaining = 1
		r.stats.Injected[string(fact.OrphanClearing)]++
	} else {
		k, open := r.payoutBatchOf(m.mode, at, tr.trade)
		tr.payBatch = r.batchFor(k, open, rf)
		tr.remaining = 2
		r.stats.Injected[string(fact.OrphanPayout)]++
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
		case batchRelease:
			id = "PAY-RL-" + lt.Format("2006010215")
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

// send publishes an event whose occurred_at is at, now (at r.now), unless
// the payout feed is out: then a payout-topic message is held back until the
// outage ends, and send reports true.
func (r *run) send(topic string, partition int, key []byte, t event.Type, o obj, at int64) (heldBack bool) {
	m := Message{Topic: topic, Partition: partition, Key: key, Value: o.done(), At: at}
	r.stats.Messages[topic]++
	r.stats.ByType[t.String()]++
	if topic == r.cfg.Topics.Payouts && r.payoutsOut() {
		r.heldBack = append(r.heldBack, m)
		return true
	}
	r.publish(m)
	return false
}

// payoutsOut reports whether the payout feed is silent now.
func (r *run) payoutsOut() bool { return r.now >= r.outFrom && r.now < r.outTo }

func (r *run) publish(m Message) {
	r.out = append(r.out, m)
	r.stats.LastAt = max(r.stats.LastAt, m.At)
	if len(r.out) >= r.cfg.ChunkSize {
		if err := r.flushOut(); err != nil && r.err == nil {
			r.err = err
		}
	}
}

// endOutage publishes what the payout feed held back, in its original order.
func (r *run) endOutage() {
	for _, m := range r.heldBack {
		r.publish(m)
	}
	r.stats.Outages[0].HeldBack = len(r.heldBack)
	r.heldBack = nil
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

// authorization sends the authorization of a trace; an injected duplicate
// is the same authorization again under a new event_id.
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

// reversal voids the authorization of a trace, for its full amount.
func (r *run) reversal(at int64, d, i int32) {
	dy, tr := r.trace(d, i)
	o := r.traceEvent("au-", event.Reversal, at, tr)
	o.str("terminal_id", r.merchants[tr.merchant].terminals[tr.terminal])
	o.money("amount", tr.amount)
	o.str("currency", "CNY")
	r.send(r.cfg.Topics.Authorizations, -1, tr.key(), event.Reversal, o, at)
	r.done(dy, tr)
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
	mcc := r.merchants[tr.merchant].mcc
	if tr.clearMCC > 0 {
		mcc = categories[tr.clearMCC-1].mcc
	}
	o.str("mcc", mcc)
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
	if b.kind == batchD0 || b.kind == batchRelease {
		spread = int64(d0Spread / time.Second)
	}
	initAt := func(i int) int64 { return at + 1000*(1+int64(i)*spread/n) }
	bf := r.batchFault(b, initAt)
	last := at
	for i, m := range b.members {
		_, tr := r.trace(m.day, m.idx)
		init := initAt(i)
		if pulled(tr) {
			r.hold(init, bi, m, tr)
			last = max(last, init)
			continue
		}
		if bf.stallFrom >= 0 && i >= bf.stallFrom {
			// The batch job stalled: this payout, its confirmation or
			// return and the rest of the batch come later. (Holds are the
			// risk team's, not the batch job's: they keep their times.)
			init += r.cfg.StallFor.Milliseconds()
		}
		if i == bf.drop {
			tr.noInit = true
		}
		r.q.push(item{at: init, op: opPayInit, a: m.day, b: m.idx})
		var end int64
		if tr.fault == faultFailed {
			end = init + 1000*(120+r.rng.Int64N(1680)) // returned 2 to 30 minutes later
			r.q.push(item{at: end, op: opPayFailed, a: m.day, b: m.idx})
		} else {
			end = init + 1000*(60+r.rng.Int64N(240)) // confirmed 1 to 5 minutes later
			r.q.push(item{at: end, op: opPayPaid, a: m.day, b: m.idx})
			if tr.fault == faultLate {
				// Re-sent at least three days after the trace completed
				// (paid, and cleared: D0 sales are paid before clearing).
				done := max(end, r.batches[tr.clearBatch].open+clearingSpread.Milliseconds()+2000)
				tr.extraAt = done + 3*24*3600*1000 + 1000*r.rng.Int64N(6*3600)
				r.q.push(item{at: tr.extraAt, op: opPayLate, a: m.day, b: m.idx})
			}
		}
		last = max(last, end)
		b.count++
		b.total += tr.cleared - tr.fee
	}
	b.members = nil
	r.q.push(item{at: last + 1000, op: opPayClose, a: bi})
	r.recordBatchFault(b, bf)
}

// hold pulls a payout out of batch bi at at for risk review: payout_held
// now, payout_released later, and the payout itself in the release batch of
// the next full hour after the release. An injected hold is released
// HoldSLA+6h to HoldSLA+16h later; a healthy one 10 minutes to 4 hours later,
// early enough to be paid at least 15 minutes before the deadline.
func (r *run) hold(at int64, bi int32, rf ref, tr *trace) {
	tr.holdBatch = bi
	tr.extraAt = at
	var delay int64 // seconds
	if tr.fault == faultHeld {
		delay = int64(r.cfg.HoldSLA/time.Second) + 6*3600 + r.rng.Int64N(10*3600+1)
	} else {
		// Paid by the release + 1h15m01s at the latest (next hour, spread,
		// confirmation), so release by the deadline - 1h30m.
		span := min(4*3600-600, (tr.expected-at)/1000-5400-600)
		delay = 600 + r.rng.Int64N(max(span, 1))
	}
	tr.releasedAt = at + delay*1000
	r.q.push(item{at: at, op: opPayHeld, a: rf.day, b: rf.idx})
	r.q.push(item{at: tr.releasedAt, op: opPayReleased, a: rf.day, b: rf.idx})
	tr.payBatch = r.batchFor(batchRelease, nextHour(tr.releasedAt, r.loc), rf)
}

// holdEvent sends payout_held or payout_released.
func (r *run) holdEvent(at int64, o op, d, i int32) {
	dy, tr := r.trace(d, i)
	t := event.PayoutHeld
	if o == opPayReleased {
		t = event.PayoutReleased
	}
	e := r.traceEvent("po-", t, at, tr)
	e.str("batch_id", r.batches[tr.holdBatch].id)
	e.money("amount", tr.cleared-tr.fee)
	if t == event.PayoutHeld {
		e.str("reason_code", holdReasonCode)
		e.str("reason", holdReason)
	} else {
		e.str("reason", releaseReason)
	}
	if r.send(r.cfg.Topics.Payouts, -1, tr.key(), t, e, at) {
		tr.delayed = true
	}
	r.done(dy, tr)
}

// lateCopy re-sends the payout_paid of a trace now, under a new event_id and
// with its original occurred_at.
func (r *run) lateCopy(d, i int32) {
	dy, tr := r.trace(d, i)
	e := r.traceEvent("po-", event.PayoutPaid, tr.paidAt, tr)
	e.str("batch_id", r.batches[tr.payBatch].id)
	e.money("amount", tr.cleared-tr.fee)
	if r.send(r.cfg.Topics.Payouts, -1, tr.key(), event.PayoutPaid, e, tr.paidAt) {
		tr.delayed = true
	}
	r.done(dy, tr)
}

func (r *run) payoutEvent(at int64, o op, d, i int32) {
	dy, tr := r.trace(d, i)
	if o == opPayInit && tr.noInit {
		r.done(dy, tr) // left out of its batch: never sent
		return
	}
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
	if r.send(r.cfg.Topics.Payouts, -1, tr.key(), t, e, at) {
		tr.delayed = true
	}
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
		if p.topic == r.cfg.Topics.Payouts && r.payoutsOut() {
			continue // a silent feed sends no heartbeats either
		}
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
	if tr.orphan != orphanNone {
		return r.orphanTruth(tr, m)
	}
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
	if tr.clearBatch >= 0 {
		t.ClearingBatchID = r.batches[tr.clearBatch].id
		t.AuthToClearS = (tr.clearedAt - tr.authAt) / 1000
	}
	if tr.payBatch >= 0 {
		t.PayoutBatchID = r.batches[tr.payBatch].id
	}
	if tr.paidAt != 0 {
		t.ClearToPayS = (tr.paidAt - tr.clearedAt) / 1000
		t.AuthToPayS = (tr.paidAt - tr.authAt) / 1000
		t.PastDueS = (tr.paidAt - tr.expected) / 1000
	}
	t.OutageDelayed = tr.delayed
	t.InitiatedMissing = tr.noInit
	switch tr.fault {
	case faultHealthyReversal, faultReversedSettled:
		t.ReversedAt = tr.extraAt
	case faultDuplicate:
		t.DuplicateAt = tr.extraAt
	case faultHeld, faultHealthyHold:
		t.HeldAt, t.ReleasedAt = tr.extraAt, tr.releasedAt
		t.HoldBatchID = r.batches[tr.holdBatch].id
	case faultLate:
		t.LateAt = tr.extraAt
	case faultMCC:
		t.ClearedMCC = categories[tr.clearMCC-1].mcc
	}
	switch fk := faultKinds[tr.fault]; {
	case tr.fault == faultFailed:
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.PayoutFailed, Reason: string(failureReasons[tr.reason])})
	case fk.kind != "":
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fk.kind, Reason: fk.reason})
	}
	return t
}

func (r *run) orphanTruth(tr *trace, m *merchant) Truth {
	t := Truth{
		TraceNo:    string(tr.no[:]),
		MerchantID: m.id,
		MCC:        m.mcc,
		Mode:       m.mode.String(),
		Net:        tr.cleared - tr.fee,
		Anomalies:  []Anomaly{},
	}
	t.OutageDelayed = tr.delayed
	if tr.orphan == orphanClearing {
		t.Orphan = "clearing"
		t.ClearedAmount, t.Fee, t.ClearedAt = tr.cleared, tr.fee, tr.clearedAt
		t.ClearingBatchID = r.batches[tr.clearBatch].id
		t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.OrphanClearing, Reason: "clearing_without_authorization"})
		return t
	}
	t.Orphan = "payout"
	t.PaidAt = tr.paidAt
	t.PayoutBatchID = r.batches[tr.payBatch].id
	t.Anomalies = append(t.Anomalies, Anomaly{Kind: fact.OrphanPayout, Reason: "payout_without_authorization"})
	return t
}
