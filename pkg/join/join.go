// Package join is the event-time join of the three source streams by trace
// number: per partition of settle.events, a compact state entry per open trace,
// per-source watermarks, and deadline timers that fire under the two-clock rule
// of DESIGN §5. It turns records into settlement-lag and anomaly facts
// covering the taxonomy of DESIGN §7: the rules live by family in their own
// files (see anomaly.go) and give their findings as values (fact.Args),
// which package text renders into the sentence a person reads.
//
// It is pure: no Kafka, no ClickHouse, no clock of its own. Event time comes
// from the records; "now" is whatever the caller passes to Advance (the wall
// clock live, the highest event time seen in replay). Offsets, commits and
// durability are the caller's business (package joiner).
//
// Every fact is a function of the trace's state, never of the order its
// events arrived in (the ingest consumers run independently), and its version
// grows with event times, so the latest facts do not depend on interleaving.
package join

import (
	"errors"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/text"
)

// Config tunes how long state lives and the rules' thresholds.
type Config struct {
	// Grace keeps a completed trace this long (event time) after its last
	// stage, so that a re-delivered or duplicate event is still recognised.
	Grace time.Duration
	// Horizon drops a trace this long after its first event, complete or
	// not. It must cover T+1 across the longest holiday. A trace whose
	// times reach more than about 24.8 days from its first event keeps
	// them at full width outside the slab (see entry): correct, but about
	// 120 bytes more per such trace.
	Horizon time.Duration
	// HoldSLA is how long a payout may stay held for risk review.
	HoldSLA time.Duration
	// TombstoneTTL is how long a completed, purged trace is remembered, so
	// that a re-delivered event is ignored and a new one reported late
	// rather than opening a new trace. Memory: about 64 bytes per trace.
	TombstoneTTL time.Duration
	// AllowedLateness is how far behind its source partition's watermark an
	// event may be before it counts as delivered late (a late_event).
	AllowedLateness time.Duration
	// BatchStallTimeout: an open batch whose source has delivered this far
	// past its last progress without more of it is stalled.
	BatchStallTimeout time.Duration
	// BankCodes maps the bank return codes of failed payouts to reasons;
	// nil is the bundled catalogue (fact.DefaultBankCodes).
	BankCodes *fact.BankCodes
	// FeeTolerancePPM is how far (parts per million of the amount) a fee may
	// exceed the contracted rate before it is a fee_rate_deviation: a fee
	// is within the contract when fee ≤ ⌈amount × (rate + tolerance) / 10⁶⌉
	// fen (see checkContract). At most 1,000,000 (100%).
	FeeTolerancePPM int64
}

// DefaultConfig returns a one-day grace, a 20-day horizon, a 24-hour hold
// SLA, a 7-day tombstone TTL, an hour's allowed lateness and a 0.05% fee
// tolerance.
func DefaultConfig() Config {
	return Config{Grace: 24 * time.Hour, Horizon: 20 * 24 * time.Hour, HoldSLA: 24 * time.Hour, TombstoneTTL: 7 * 24 * time.Hour, AllowedLateness: time.Hour, BatchStallTimeout: 45 * time.Minute, FeeTolerancePPM: 500}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Grace <= 0 {
		return text.Errorf("error.join.grace")
	}
	if c.Horizon < 10*24*time.Hour {
		return text.Errorf("error.join.horizon", c.Horizon.String())
	}
	if c.HoldSLA <= 0 {
		return text.Errorf("error.join.hold_sla")
	}
	if c.TombstoneTTL < 0 {
		return text.Errorf("error.join.tombstone_ttl")
	}
	if c.BatchStallTimeout <= 0 {
		return text.Errorf("error.join.stall_timeout")
	}
	if c.AllowedLateness < 0 {
		return text.Errorf("error.join.lateness")
	}
	if c.FeeTolerancePPM < 0 || c.FeeTolerancePPM > ppmScale {
		return text.Errorf("error.join.fee_tolerance", strconv.FormatInt(int64(c.FeeTolerancePPM), 10))
	}
	return nil
}

// Profile is what the join needs of a merchant.
type Profile struct {
	Mode          event.Mode
	FeeRatePPM    int64
	RegisteredMCC string
}

// Merchants looks up merchant profiles (the acq.merchants table).
type Merchants interface {
	Lookup(merchantID string) (Profile, bool)
}

// Stats counts what a partition did with its input.
type Stats struct {
	Events        uint64 // event records applied
	Watermarks    uint64 // watermark records applied
	Redelivered   uint64 // same event id seen again: ignored
	Ignored       uint64 // records that carry nothing for the join (declined, batch control, payout retries)
	Late          uint64 // events for traces already closed and purged
	Purged        uint64 // traces dropped after grace or horizon
	LagFacts      uint64
	AnomalyFacts  uint64
	UnknownMerchs uint64 // events whose merchant had no profile
	UnknownCodes  uint64 // payout failures whose bank return code the catalogue lacks (mapped to other)
}

// maxCodes bounds the distinct bank return codes a partition keeps for its
// facts; a failure with a code beyond it still gets its reason, but its fact
// names no code.
const maxCodes = 1<<16 - 1

func bankCodes(cfg Config) *fact.BankCodes {
	if cfg.BankCodes != nil {
		return cfg.BankCodes
	}
	return fact.DefaultBankCodes()
}

// BankCodes is the return-code catalogue the partition maps failures with.
func (p *Partition) BankCodes() *fact.BankCodes { return p.bank }

// slots: one per event type a trace can carry; each remembers the id of the
// first event of that type, to tell a re-delivery from a duplicate.
const (
	slotAuth = iota
	slotReversal
	slotCleared
	slotInitiated
	slotPaid
	slotFailed
	slotHeld
	slotReleased
	numSlots
)

func slotOf(t event.Type) int {
	switch t {
	case event.Authorization:
		return slotAuth
	case event.Reversal:
		return slotReversal
	case event.Cleared:
		return slotCleared
	case event.PayoutInitiated:
		return slotInitiated
	case event.PayoutPaid:
		return slotPaid
	case event.PayoutFailed:
		return slotFailed
	case event.PayoutHeld:
		return slotHeld
	case event.PayoutReleased:
		return slotReleased
	}
	return -1
}

// Entry flags: what has been armed or emitted. Every rule checks its flag,
// so evaluating an entry twice emits nothing new.
const (
	flagArmed          uint32 = 1 << iota // payout deadline timer set
	flagClearingArmed                     // clearing deadline timer set
	flagOrphanClrArmed                    // orphan clearing check timer set
	flagOrphanPayArmed                    // orphan payout check timer set
	flagHoldArmed                         // hold SLA timer set
	flagPurgeArmed                        // completion purge timer set
	flagOverdueOpen                       // payout_overdue raised
	flagOverdueDone                       // payout_overdue resolved
	flagOverdueNet                        // payout_overdue carries the net amount (cleared by the deadline)
	flagClearingOpen                      // clearing_missing raised
	flagClearingDone                      // clearing_missing resolved
	flagHeldOpen                          // payout_held raised
	flagHeldDone                          // payout_held resolved
	flagFailedOpen                        // payout_failed raised
	flagFailedDone                        // payout_failed resolved by a later payment
	flagOrphanClrOpen                     // orphan_clearing raised
	flagOrphanPayOpen                     // orphan_payout raised
	flagOrphanDone                        // orphans resolved by a late authorization
	flagMismatchClear                     // cleared ≠ authorized reported
	flagMismatchNet                       // paid ≠ cleared − fee reported
	flagFeeChecked                        // fee rate checked
	flagMCCChecked                        // MCC checked
	flagRevCleared                        // reversed_but_settled (cleared) reported
	flagRevPaid                           // reversed_but_settled (paid) reported
	flagLagCleared                        // the lag row emitted last includes clearing
	flagFallback                          // deadline computed on weekends only
	flagWide                              // times held in Partition.wide (see entry)
	flagCodeUnknown                       // the payout failure's bank code is not in the catalogue
	flagClearingOnTime                    // cleared by the clearing deadline: nothing for clearedLate to resolve
	flagExtraIDs                          // Partition.extra holds fingerprints of the trace's further events
)

const traceCap = 32

type traceKey [traceCap]byte

// entry is the state of one trace. It holds no pointers, so a slab of
// millions of them costs the garbage collector nothing to scan, and it is
// 200 bytes:
//
//   - Amounts stay exact int64 fen; the currency of each stage that carries
//     money is 16 bits (see currency).
//   - The nine stage times are unix ms held as 32-bit offsets from base,
//     the time of the trace's first event (see time and setTime): exact to
//     the millisecond within ±24.8 days of it, which covers a trace's life
//     (the horizon is 20 days by default). A time outside that range, from
//     a very late event, a long horizon or a bad clock, moves the trace's
//     times to Partition.wide at full width (flagWide), so no time is ever
//     rounded or clamped.
//   - The event ids are 32-bit fingerprints (the low half of their
//     xxhash), as tombstones keep them. Two different events of one type
//     for one trace are taken for a re-delivery of one another only if
//     their fingerprints collide: probability 2^-32 per such pair, where
//     the cost is one duplicate_trace not reported.
type entry struct {
	base       int64 // unix ms of the first event applied: the origin of times
	authAmt    int64
	clearedAmt int64
	fee        int64
	payAmt     int64 // amount of the first payout event (initiated, paid, failed or held)
	paidAmt    int64
	failedAmt  int64
	heldAmt    int64
	times      [numTimes]uint32 // offsets from base, biased by timeBias; 0: unset
	ids        [numSlots]uint32 // fingerprint of the first event id per slot
	key        traceKey
	merchant   int32
	terminal   int32
	gen        uint32
	flags      uint32
	seen       uint16 // bit per slot
	mcc        uint16
	clearedMCC uint16
	authCur    currency // currency of the authorization
	clearedCur currency // currency of the clearing
	paidCur    currency // currency of the payment
	keyLen     uint8
	mode       event.Mode
	failure    uint8  // index into failures, as mapped when the failure arrived
	failCode   uint16 // the failure's bank return code: 1 + index into Partition.codes; 0 if not kept
	lagRank    uint8  // status rank of the last lag row emitted (0: none)
}

// Stage times of an entry, indexes into entry.times.
const (
	tAuth     = iota
	tReversal // reversal
	tCleared  // clearing
	tPay      // first payout event (initiated, paid, failed or held): the orphan check's time
	tPaid     // payment
	tFailed   // payout failure
	tHeld     // payout hold
	tReleased // hold release
	tDeadline // payout deadline
	numTimes
)

// timeBias maps an offset in (-2^31, 2^31) ms to a non-zero uint32; 0 is
// an unset time (the time 0, which every rule reads as "none").
const timeBias = 1 << 31

// time returns stage time f of e in unix ms, 0 if unset.
func (p *Partition) time(e *entry, f int) int64 {
	if e.flags&flagWide != 0 {
		return p.wide[e.key][f]
	}
	r := e.times[f]
	if r == 0 {
		return 0
	}
	return e.base + int64(r) - timeBias
}

// setTime sets stage time f of e to v (unix ms, 0 to unset). A time more
// than 2^31-1 ms from the entry's base widens the entry.
func (p *Partition) setTime(e *entry, f int, v int64) {
	if e.flags&flagWide == 0 {
		if r, ok := offset(e.base, v); ok {
			e.times[f] = r
			return
		}
		var w [numTimes]int64
		for i := range numTimes {
			w[i] = p.time(e, i)
		}
		e.flags |= flagWide
		e.times = [numTimes]uint32{}
		p.wide[e.key] = w
	}
	w := p.wide[e.key]
	w[f] = v
	p.wide[e.key] = w
}

// offset encodes v relative to base, if it is 0 or within 2^31-1 ms of it.
func offset(base, v int64) (uint32, bool) {
	if v == 0 {
		return 0, true
	}
	var d uint64 // |v - base|, without overflow
	if v >= base {
		d = uint64(v) - uint64(base)
	} else {
		d = uint64(base) - uint64(v)
	}
	if d >= timeBias {
		return 0, false
	}
	return uint32(uint64(v) - uint64(base) + timeBias), true
}

func (e *entry) has(slot int) bool { return e.seen&(1<<slot) != 0 }
func (e *entry) is(f uint32) bool  { return e.flags&f != 0 }
func (e *entry) payoutSeen() bool {
	return e.seen&(1<<slotInitiated|1<<slotPaid|1<<slotFailed|1<<slotHeld) != 0
}

var failures = []fact.PayoutFailure{fact.OtherFailure, fact.AccountInvalid, fact.NameMismatch,
	fact.AccountFrozen, fact.AccountClosed, fact.LimitExceeded, fact.RiskRestricted}

func failureIndex(f fact.PayoutFailure) uint8 {
	for i, v := range failures {
		if v == f {
			return uint8(i)
		}
	}
	return 0
}

// Partition is the join state of one partition of settle.events.
type Partition struct {
	cfg       Config
	sched     *calendar.Schedule
	merchants Merchants

	index traceIndex
	slab  slab
	free  []int32
	// wide holds the full-width times of the rare entries with flagWide,
	// by trace key.
	wide map[traceKey][numTimes]int64

	// tombstones remember completed, purged traces for TombstoneTTL, with a
	// fingerprint of each event id they held: a re-delivered event is
	// recognised and ignored, a new one for the trace is reported late
	// instead of opening a new trace.
	tombstones tombTable
	tombTimers tombs
	// extra holds, by the xxhash of the trace number, the fingerprints of
	// the events a trace took beyond the first of their slot (a second
	// charge, a payout retry, a re-sent copy; at most maxExtraIDs), for as
	// long as the trace or its tombstone lives: a re-delivered copy of one
	// is recognised as such, not reported again, late or as a duplicate.
	extra map[uint64]extraIDs

	names   intern // merchant ids
	termIDs intern // terminal ids
	codes   intern // bank return codes of payout failures (at most maxCodes)
	bank    *fact.BankCodes

	wm    [event.NumSources][]int64 // per source partition
	wmMin [event.NumSources]int64   // per source: min over its partitions, 0 until all reported
	now   int64

	byPayouts  timers // payout deadlines and hold SLAs, fired by the payout watermark
	byClearing timers // clearing deadlines, fired by the clearing watermark
	byAuth     timers // orphan checks, fired by the authorization watermark
	purges     timers // completion and horizon purges, fired by the lowest trace-feed watermark

	batches map[batchKey]*batch
	spare   spareBatches

	lags      []fact.Lag
	anomalies []fact.Anomaly
	batchRows []fact.Batch
	strs      arena                // the strings of facts: trace numbers, anomaly ids, details, incident keys
	scratch   []byte               // where a string is built before it goes into strs
	details   text.DetailsRenderer // renders anomalies' details
	stats     Stats
}

// New returns the empty state of one partition.
func New(cfg Config, sched *calendar.Schedule, merchants Merchants) (*Partition, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sched == nil || merchants == nil {
		return nil, errors.New("join: schedule and merchants are required")
	}
	return &Partition{
		cfg: cfg, sched: sched, merchants: merchants,
		wide:    make(map[traceKey][numTimes]int64),
		extra:   make(map[uint64]extraIDs),
		batches: make(map[batchKey]*batch),
		names:   newIntern(), termIDs: newIntern(), codes: newIntern(),
		bank: bankCodes(cfg),
	}, nil
}

// Open is the number of traces held.
func (p *Partition) Open() int { return p.index.n }

// StateBytes estimates the memory held by trace state: the slab, its index,
// the timers and the tombstones.
func (p *Partition) StateBytes() int64 {
	timers := cap(p.byPayouts.h) + cap(p.byClearing.h) + cap(p.byAuth.h) + cap(p.purges.h)
	return int64(p.slab.capacity())*int64(entrySize) + int64(len(p.index.cells))*8 + int64(timers)*int64(timerSize) +
		p.tombstones.bytes() + int64(len(p.wide))*int64(traceCap+8*numTimes+8) + int64(len(p.extra))*extraBytes
}

// extraIDs are the fingerprints of a trace's further events, held in
// place (pointer-free: the map allocates nothing per trace).
type extraIDs struct {
	fp [maxExtraIDs]uint32
	n  uint32
}

// maxExtraIDs bounds the further events remembered per trace: a feed that
// sends more under one trace number has its re-deliveries beyond these
// reported again (as the duplicates or late events they were first).
const maxExtraIDs = 7

// extraBytes estimates one trace's entry in Partition.extra: its key and
// value, and the map's overhead.
const extraBytes = 8 + int64(unsafe.Sizeof(extraIDs{})) + 8

// remember notes the fingerprint fp of an event that was not the first of
// its slot for the trace (or tombstone) of hash h.
func (p *Partition) remember(h uint64, fp uint32) {
	x := p.extra[h]
	if x.n < maxExtraIDs && !slices.Contains(x.fp[:x.n], fp) {
		x.fp[x.n] = fp
		x.n++
		p.extra[h] = x
	}
}

// known reports whether fp is among the further events remembered for the
// trace (or tombstone) of hash h.
func (p *Partition) known(h uint64, fp uint32) bool {
	if len(p.extra) == 0 {
		return false
	}
	x := p.extra[h]
	return slices.Contains(x.fp[:x.n], fp)
}

// Watermark returns the watermark of source s (Unix ms; 0 until every
// partition of s has reported).
func (p *Partition) Watermark(s event.Source) int64 { return p.wmMin[s] }

// Now returns the partition's notion of now: the highest of the event times
// and watermarks seen and the last time passed to Advance.
func (p *Partition) Now() int64 { return p.now }

// Withheld counts the absence checks that "now" has passed but the source
// they wait for has not: anomalies held back because the feed is behind.
func (p *Partition) Withheld(s event.Source) int {
	switch s {
	case event.Payouts:
		return p.byPayouts.due(p.now)
	case event.Clearing:
		return p.byClearing.due(p.now)
	case event.Auth:
		return p.byAuth.due(p.now)
	}
	return 0
}

// Stats returns the counters.
func (p *Partition) Stats() Stats { return p.stats }

// Facts are what a partition emitted.
type Facts struct {
	Lags      []fact.Lag
	Anomalies []fact.Anomaly
	Batches   []fact.Batch
}

// Len is the number of facts.
func (f Facts) Len() int { return len(f.Lags) + len(f.Anomalies) + len(f.Batches) }

// Take returns the facts produced since the last call and forgets them.
func (p *Partition) Take() Facts {
	f := Facts{Lags: p.lags, Anomalies: p.anomalies, Batches: p.batchRows}
	p.lags, p.anomalies, p.batchRows = nil, nil, nil
	return f
}

// TakeInto appends the facts produced since the last call to f and forgets
// them, like Take, but keeps the partition's buffers: a caller draining into
// a Facts it reuses allocates nothing per record.
func (p *Partition) TakeInto(f *Facts) {
	f.Lags = append(f.Lags, p.lags...)
	f.Anomalies = append(f.Anomalies, p.anomalies...)
	f.Batches = append(f.Batches, p.batchRows...)
	clear(p.lags) // drop the string references
	clear(p.anomalies)
	clear(p.batchRows)
	p.lags, p.anomalies, p.batchRows = p.lags[:0], p.anomalies[:0], p.batchRows[:0]
}

// Reset empties f for reuse, keeping its capacity.
func (f *Facts) Reset() {
	clear(f.Lags)
	clear(f.Anomalies)
	clear(f.Batches)
	f.Lags, f.Anomalies, f.Batches = f.Lags[:0], f.Anomalies[:0], f.Batches[:0]
}

// Apply processes one record from settle.events.
func (p *Partition) Apply(r *event.Record) {
	switch r.Kind {
	case event.RecordWatermark:
		p.applyWatermark(r.Watermark)
	case event.RecordBatchItem:
		p.applyBatch(r.Source, &r.Event, true)
	case event.RecordBatchDigest:
		p.applyDigest(r)
	case event.RecordEvent:
		if t := r.Event.Type; t == event.BatchOpened || t == event.BatchClosed {
			p.applyBatch(r.Source, &r.Event, false)
			return
		}
		late := r.SourceWatermark > 0 && r.Event.OccurredAt < r.SourceWatermark-p.cfg.AllowedLateness.Milliseconds()
		p.applyEvent(&r.Event, late)
	}
}

// Advance moves "now" forward (never back). "Now" says how far the feeds
// are behind; it never fires a rule and never drops state.
func (p *Partition) Advance(nowMs int64) {
	if nowMs > p.now {
		p.now = nowMs
	}
}

func (p *Partition) applyWatermark(w event.Watermark) {
	p.stats.Watermarks++
	s := w.Source
	if s >= event.NumSources || w.Partitions <= 0 || w.Partition < 0 || w.Partition >= w.Partitions || w.Partitions > 1<<16 {
		return
	}
	parts := p.wm[s]
	if len(parts) != int(w.Partitions) {
		grown := make([]int64, w.Partitions)
		copy(grown, parts)
		parts = grown
		p.wm[s] = parts
	}
	if w.At > parts[w.Partition] {
		parts[w.Partition] = w.At
	}
	lo := parts[0]
	for _, v := range parts[1:] {
		lo = min(lo, v)
	}
	if lo <= p.wmMin[s] {
		p.Advance(w.At)
		return
	}
	p.wmMin[s] = lo
	p.fire()
	p.evaluateBatches(s)
	p.Advance(w.At)
	p.purge()
}

// purge drops traces whose grace or horizon has passed in the event time
// that every trace feed has proved delivered (the lowest of their
// watermarks), so a lagging feed's late events still find their trace.
func (p *Partition) purge() {
	upTo := min(p.wmMin[event.Auth], p.wmMin[event.Clearing], p.wmMin[event.Payouts])
	p.purges.fire(upTo, func(t timer) {
		if e := p.live(t); e != nil {
			p.drop(t.slot(), upTo)
		}
	})
	p.tombTimers.fire(upTo, func(h uint64) {
		if t, ok := p.tombstones.get(h); ok && t.expires <= upTo {
			p.tombstones.del(h)
			delete(p.extra, h)
		}
	})
}

// applyEvent applies one event. late says its source partition had already
// delivered well past its event time: it is reported as a late_event, and
// applied only if it brings a stage the trace lacks.
func (p *Partition) applyEvent(ev *event.Event, late bool) {
	slot := slotOf(ev.Type)
	if slot < 0 || ev.TraceNo == "" || len(ev.TraceNo) > traceCap || (ev.Type == event.Authorization && !ev.Approved()) {
		p.stats.Ignored++
		return
	}
	p.stats.Events++
	if ev.OccurredAt > p.now {
		p.now = ev.OccurredAt
	}
	id := xxhash.Sum64String(ev.ID)
	i, ok := p.lookup(ev.TraceNo, ev.OccurredAt)
	if !ok {
		h := xxhash.Sum64String(ev.TraceNo)
		if t, _ := p.tombstones.get(h); t.expires != 0 && (t.fp[slot] == uint32(id) || p.known(h, uint32(id))) {
			p.stats.Redelivered++ // a copy of an event the closed trace had
			return
		}
		p.late(ev)
		p.remember(h, uint32(id))
		return
	}
	e := p.slab.at(i)
	if e.has(slot) {
		p.repeated(e, ev, slot, uint32(id), late)
		return
	}
	e.seen |= 1 << slot
	e.ids[slot] = uint32(id)
	if e.merchant < 0 && ev.MerchantID != "" {
		e.merchant = p.names.id(ev.MerchantID)
	}
	p.record(e, ev)
	if slot >= slotInitiated && slot <= slotHeld && (p.time(e, tPay) == 0 || ev.OccurredAt < p.time(e, tPay)) {
		p.setTime(e, tPay, ev.OccurredAt)
		e.payAmt = ev.Amount
	}
	if late {
		p.late(ev)
	}
	p.evaluate(i)
}

// repeated handles an event of a type the trace already holds: a
// re-delivery (of its first event of the type, or of one of the others
// remembered), a late re-sent copy, a duplicate charge or payment, or a
// payout retry.
func (p *Partition) repeated(e *entry, ev *event.Event, slot int, fp uint32, late bool) {
	if e.ids[slot] == fp {
		p.stats.Redelivered++
		return
	}
	h := xxhash.Sum64String(ev.TraceNo)
	if e.is(flagExtraIDs) && p.known(h, fp) {
		p.stats.Redelivered++
		return
	}
	e.flags |= flagExtraIDs
	p.remember(h, fp)
	switch {
	case late:
		p.late(ev) // a re-sent copy, not a second charge
	case slot == slotAuth || slot == slotCleared || slot == slotPaid:
		p.duplicate(e, ev) // reversal.go
	default:
		// A second initiation, failure, hold or release is a retry of
		// the payout, not a second charge: the first one is kept.
		p.stats.Ignored++
	}
}

// record keeps what a trace's new stage carries.
func (p *Partition) record(e *entry, ev *event.Event) {
	switch ev.Type {
	case event.Authorization:
		p.recordAuth(e, ev)
	case event.Reversal:
		p.setTime(e, tReversal, ev.OccurredAt)
	case event.Cleared:
		p.setTime(e, tCleared, ev.OccurredAt)
		e.clearedAmt, e.fee = ev.Amount, ev.Fee
		e.clearedMCC = parseMCC(ev.MCC)
		e.clearedCur = currencyOf(ev.Currency)
	case event.PayoutPaid:
		p.setTime(e, tPaid, ev.OccurredAt)
		e.paidAmt = ev.Amount
		e.paidCur = currencyOf(ev.Currency)
	case event.PayoutFailed:
		p.recordFailure(e, ev)
	case event.PayoutHeld:
		p.setTime(e, tHeld, ev.OccurredAt)
		e.heldAmt = ev.Amount
	case event.PayoutReleased:
		p.setTime(e, tReleased, ev.OccurredAt)
	}
}

// recordAuth keeps an authorization and the payout deadline its
// merchant's settlement mode gives it.
func (p *Partition) recordAuth(e *entry, ev *event.Event) {
	p.setTime(e, tAuth, ev.OccurredAt)
	e.authAmt = ev.Amount
	e.terminal = p.termIDs.id(ev.TerminalID)
	e.mcc = parseMCC(ev.MCC)
	e.authCur = currencyOf(ev.Currency)
	prof, ok := p.merchants.Lookup(ev.MerchantID)
	if !ok {
		p.stats.UnknownMerchs++
	}
	e.mode = prof.Mode
	d := p.sched.PayoutDeadline(e.mode, p.time(e, tAuth))
	p.setTime(e, tDeadline, d.At)
	if d.Fallback {
		e.flags |= flagFallback
	}
}

// recordFailure keeps a payout failure, its reason as mapped now and its
// bank return code (at most maxCodes distinct ones per partition).
func (p *Partition) recordFailure(e *entry, ev *event.Event) {
	p.setTime(e, tFailed, ev.OccurredAt)
	r, known := p.bank.Map(ev.ReasonCode)
	e.failure = failureIndex(r)
	if !known {
		e.flags |= flagCodeUnknown
		p.stats.UnknownCodes++
	}
	if id, ok := p.codes.ids[ev.ReasonCode]; ok {
		e.failCode = uint16(id + 1)
	} else if len(p.codes.names) < maxCodes {
		e.failCode = uint16(p.codes.id(ev.ReasonCode) + 1) // "" is -1: not kept
	}
	e.failedAmt = ev.Amount
}

// evaluate emits whatever the entry's stages now make true and arms the
// timers its absences need. Every rule checks its flags, so evaluating an
// entry twice emits nothing new; the rules run in this order, which is the
// order their facts come out in.
func (p *Partition) evaluate(i int32) {
	e := p.slab.at(i)
	if e.has(slotCleared) {
		p.checkAmounts(e)  // money.go
		p.checkContract(e) // money.go
	}
	if e.has(slotReversal) {
		p.checkReversal(e) // reversal.go
	}
	if e.has(slotFailed) {
		p.checkFailed(e) // payout.go
	}
	if e.has(slotHeld) {
		p.checkHeld(e) // payout.go
	}
	if e.has(slotAuth) { // absence.go; each behind the cheapest of its conditions
		if e.has(slotCleared) && !e.is(flagClearingDone|flagClearingOnTime) {
			p.clearedLate(e)
		}
		if e.is(flagOverdueOpen) && !e.is(flagOverdueNet) {
			p.reviseOverdue(e)
		}
		if e.has(slotPaid) && !e.is(flagOverdueDone) {
			p.paidLate(e)
		}
		if e.is(flagOrphanClrOpen | flagOrphanPayOpen) {
			p.authorizedLate(e)
		}
	}
	if e.has(slotPaid) && e.has(slotCleared) {
		p.armPurge(i, max(p.time(e, tPaid), p.time(e, tCleared))+p.cfg.Grace.Milliseconds())
	}
	p.syncLag(e)
	p.arm(i)
}

// syncLag emits the trace's settlement_lag row whenever what it would say
// changed: its status, or a stage it lacked (clearing arrives after a D0
// payout). The version grows with the stage times and the status rank, so the
// latest row is the same whatever order the stages arrived in.
func (p *Partition) syncLag(e *entry) {
	if !e.has(slotAuth) {
		return
	}
	status, rank := fact.Stages{
		Paid: e.has(slotPaid), Failed: e.has(slotFailed),
		OverdueOpen: e.is(flagOverdueOpen), ClearingMissingOpen: e.is(flagClearingOpen),
	}.Status()
	var at int64
	switch status {
	case fact.StatusPaid:
		at = p.time(e, tPaid)
	case fact.StatusFailed:
		at = p.time(e, tFailed)
	case fact.StatusOverdue:
		at = p.time(e, tDeadline)
	case fact.StatusClearingMissing:
		at = p.sched.ClearingDeadline(p.time(e, tAuth)).At
	default:
		return
	}
	cleared := e.has(slotCleared)
	if e.lagRank == rank && (!cleared || e.is(flagLagCleared)) {
		return
	}
	e.lagRank = rank
	if cleared {
		e.flags |= flagLagCleared
		at = max(at, p.time(e, tCleared))
	}
	p.lag(e, status, fact.Version(at, rank))
}

func (p *Partition) lag(e *entry, s fact.LagStatus, version uint64) {
	l := fact.Lag{
		TraceNo: p.strs.of(e.key[:e.keyLen]), MerchantID: p.names.name(e.merchant), TerminalID: p.termIDs.name(e.terminal),
		MCC: fmtMCC(e.mcc), ClearedMCC: fmtMCC(e.clearedMCC), Mode: e.mode,
		AuthorizedAmount: e.authAmt, AuthorizedAt: p.time(e, tAuth), ExpectedPayoutAt: p.time(e, tDeadline),
		Status: s, CalendarVersion: p.sched.Calendar().Version(), CalendarFallback: e.is(flagFallback),
		Version: version,
	}
	if e.has(slotCleared) {
		l.ClearedAmount, l.Fee, l.ClearedAt = e.clearedAmt, e.fee, p.time(e, tCleared)
		l.AuthToClearS = (p.time(e, tCleared) - p.time(e, tAuth)) / 1000
	}
	if s == fact.StatusPaid {
		l.NetPaid, l.PaidAt = e.paidAmt, p.time(e, tPaid)
		l.AuthToPayS = (p.time(e, tPaid) - p.time(e, tAuth)) / 1000
		l.PastDueS = (p.time(e, tPaid) - p.time(e, tDeadline)) / 1000
		if e.has(slotCleared) {
			l.ClearToPayS = (p.time(e, tPaid) - p.time(e, tCleared)) / 1000
		}
	}
	p.lags = append(p.lags, l)
	p.stats.LagFacts++
}

// lookup returns the slot of trace, creating an entry if needed; ok is false
// for a trace that was completed and purged (a tombstone).
func (p *Partition) lookup(trace string, at int64) (int32, bool) {
	var k traceKey
	copy(k[:], trace)
	h := keyHash(&k)
	i, pos := p.index.find(h, &k, &p.slab)
	if i >= 0 {
		return i, true
	}
	if p.tombstones.len() > 0 {
		if p.tombstones.has(xxhash.Sum64String(trace)) {
			return 0, false
		}
	}
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = p.slab.add()
	}
	e := p.slab.at(i)
	*e = entry{key: k, keyLen: uint8(len(trace)), gen: e.gen + 1, merchant: -1, terminal: -1, base: at}
	p.index.insert(h, i, pos)
	p.purges.push(newTimer(at+p.cfg.Horizon.Milliseconds(), i, e.gen))
	return i, true
}

func (p *Partition) armPurge(i int32, at int64) {
	e := p.slab.at(i)
	if e.is(flagPurgeArmed) {
		return
	}
	e.flags |= flagPurgeArmed
	p.purges.push(newTimer(at, i, e.gen))
}

func (p *Partition) live(t timer) *entry {
	i := t.slot()
	if i >= p.slab.len() {
		return nil
	}
	e := p.slab.at(i)
	if e.gen != t.gen || e.keyLen == 0 {
		return nil
	}
	return e
}

// drop forgets a trace. A completed one leaves a tombstone for
// TombstoneTTL, so that later events for it are recognised.
func (p *Partition) drop(i int32, at int64) {
	e := p.slab.at(i)
	if e.is(flagPurgeArmed) {
		h := xxhash.Sum64(e.key[:e.keyLen])
		t := tombstone{expires: at + p.cfg.TombstoneTTL.Milliseconds()}
		for s := range numSlots {
			if e.has(s) {
				t.fp[s] = e.ids[s]
			}
		}
		p.tombstones.put(h, t)
		p.tombTimers.push(t.expires, h)
	}
	if pos := p.index.cell(keyHash(&e.key), i); pos >= 0 {
		p.index.remove(pos)
	}
	if e.is(flagWide) {
		delete(p.wide, e.key)
	}
	if e.is(flagExtraIDs) && !e.is(flagPurgeArmed) {
		delete(p.extra, xxhash.Sum64(e.key[:e.keyLen])) // no tombstone keeps them
	}
	gen := e.gen
	*e = entry{gen: gen}
	p.free = append(p.free, i)
	p.stats.Purged++
}

// tombstone is what is left of a completed trace: when it expires and a
// 32-bit fingerprint of the event id of each slot it held.
type tombstone struct {
	expires int64
	fp      [numSlots]uint32
}

var tombEntrySize = unsafe.Sizeof(tombEntry{})
