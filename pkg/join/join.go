// Package join is the event-time join of the three source streams by trace
// number: per partition of settle.events, a compact state entry per open trace,
// per-source watermarks, and deadline timers that fire under the two-clock rule
// of DESIGN §5. It turns records into settlement-lag and anomaly facts.
//
// It is pure: no Kafka, no ClickHouse, no clock of its own. Event time comes
// from the records; "now" is whatever the caller passes to Advance (the wall
// clock live, the highest event time seen in replay). Offsets, commits and
// durability are the caller's business (package joiner).
package join

import (
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Config tunes how long state lives.
type Config struct {
	// Grace keeps a completed trace this long (event time) after its payout,
	// so that a re-delivered or duplicate event is still recognised.
	Grace time.Duration
	// Horizon drops a trace this long after its first event, paid or not. It
	// must cover T+1 across the longest holiday (National Day, Spring Festival).
	Horizon time.Duration
}

// DefaultConfig returns a one-day grace and a 20-day horizon.
func DefaultConfig() Config {
	return Config{Grace: 24 * time.Hour, Horizon: 20 * 24 * time.Hour}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Grace <= 0 {
		return errors.New("join: grace must be positive")
	}
	if c.Horizon < 10*24*time.Hour {
		return fmt.Errorf("join: horizon %s is shorter than 10 days: T+1 across the National Day week would be purged before it is due", c.Horizon)
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
	Ignored       uint64 // records that carry nothing for the join (declined, batch control)
	Purged        uint64 // traces dropped after grace or horizon
	LagFacts      uint64
	AnomalyFacts  uint64
	UnknownMerchs uint64 // authorizations whose merchant had no profile
}

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

// emitted / state flags of an entry.
const (
	flagArmed         uint16 = 1 << iota // payout deadline timer set
	flagOverdueOpen                      // payout_overdue raised and not resolved
	flagOverdueDone                      // payout_overdue resolved
	flagMismatchClear                    // cleared ≠ authorized reported
	flagMismatchNet                      // paid ≠ cleared − fee reported
	flagFailedOpen                       // payout_failed raised
	flagFailedDone                       // payout_failed resolved by a later payment
	flagPaidSeen                         // payment evaluated (overdue resolution, failure resolution, purge)
	flagLagCleared                       // the lag row emitted last includes clearing
	flagFallback                         // deadline computed on weekends only
	flagPurgeArmed                       // completion purge timer set
)

const traceCap = 32

type traceKey [traceCap]byte

// entry is the state of one trace. It holds no pointers, so a map of millions
// of them costs the garbage collector nothing to scan.
type entry struct {
	ids        [numSlots]uint64 // xxhash of the first event id per slot
	authAt     int64
	clearedAt  int64
	paidAt     int64
	failedAt   int64
	deadline   int64
	firstAt    int64
	authAmt    int64
	clearedAmt int64
	fee        int64
	paidAmt    int64
	failedAmt  int64
	merchant   int32
	terminal   int32
	gen        uint32
	seen       uint16 // bit per slot
	flags      uint16
	mcc        uint16
	clearedMCC uint16
	key        traceKey
	keyLen     uint8
	mode       event.Mode
	failure    uint8 // index into failures
	lagRank    uint8 // status rank of the last lag row emitted (0: none)
}

func (e *entry) has(slot int) bool { return e.seen&(1<<slot) != 0 }
func (e *entry) trace() string     { return string(e.key[:e.keyLen]) }

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

	index map[traceKey]int32
	slab  []entry
	free  []int32

	names   intern // merchant ids
	termIDs intern // terminal ids

	wm    [event.NumSources][]int64 // per source partition
	wmMin [event.NumSources]int64   // per source: min over its partitions, 0 until all reported
	now   int64

	deadlines timers // payout deadlines, fired by the payout watermark
	purges    timers // completion and horizon purges, fired by now

	lags      []fact.Lag
	anomalies []fact.Anomaly
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
		index: make(map[traceKey]int32),
		names: newIntern(), termIDs: newIntern(),
	}, nil
}

// Open is the number of traces held.
func (p *Partition) Open() int { return len(p.index) }

// StateBytes estimates the memory held by trace state.
func (p *Partition) StateBytes() int64 {
	const mapSlot = int64(traceCap + 4 + 8) // key, value, control overhead
	return int64(cap(p.slab))*int64(entrySize) + int64(len(p.index))*mapSlot
}

// Watermark returns the watermark of source s (Unix ms; 0 until every
// partition of s has reported).
func (p *Partition) Watermark(s event.Source) int64 { return p.wmMin[s] }

// Now returns the partition's notion of now: the highest of the event times
// and watermarks seen and the last time passed to Advance.
func (p *Partition) Now() int64 { return p.now }

// Stats returns the counters.
func (p *Partition) Stats() Stats { return p.stats }

// Take returns the facts produced since the last call and forgets them.
func (p *Partition) Take() ([]fact.Lag, []fact.Anomaly) {
	l, a := p.lags, p.anomalies
	p.lags, p.anomalies = nil, nil
	return l, a
}

// Apply processes one record from settle.events.
func (p *Partition) Apply(r *event.Record) {
	switch r.Kind {
	case event.RecordWatermark:
		p.applyWatermark(r.Watermark)
	case event.RecordEvent:
		p.applyEvent(&r.Event)
	}
}

// Advance moves "now" forward (never back). "Now" says how far the feeds
// are behind; it never drops state: see purge.
func (p *Partition) Advance(nowMs int64) {
	if nowMs > p.now {
		p.now = nowMs
	}
}

// purge drops traces whose grace or horizon has passed in the event time
// that every trace feed has proved delivered (the lowest of their
// watermarks), so a lagging feed's late events still find their trace.
func (p *Partition) purge() {
	upTo := min(p.wmMin[event.Auth], p.wmMin[event.Clearing], p.wmMin[event.Payouts])
	p.purges.fire(upTo, func(t timer) {
		if e := p.live(t); e != nil {
			p.drop(t.slot)
		}
	})
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
	if lo > p.wmMin[s] {
		p.wmMin[s] = lo
	}
	if s == event.Payouts {
		p.deadlines.fire(p.wmMin[event.Payouts], p.fireDeadline)
	}
	p.Advance(w.At)
	p.purge()
}

func (p *Partition) applyEvent(ev *event.Event) {
	slot := slotOf(ev.Type)
	if slot < 0 || ev.TraceNo == "" || len(ev.TraceNo) > traceCap || (ev.Type == event.Authorization && !ev.Approved()) {
		p.stats.Ignored++
		return
	}
	p.stats.Events++
	if ev.OccurredAt > p.now {
		p.now = ev.OccurredAt
	}
	i := p.lookup(ev.TraceNo, ev.OccurredAt)
	e := &p.slab[i]
	id := xxhash.Sum64String(ev.ID)
	if e.has(slot) {
		switch {
		case e.ids[slot] == id:
			p.stats.Redelivered++
		case slot == slotAuth || slot == slotCleared || slot == slotPaid:
			p.duplicate(e, ev)
		default:
			// A second initiation, failure, hold or release is a retry of
			// the payout, not a second charge: the first one is kept.
			p.stats.Ignored++
		}
		return
	}
	e.seen |= 1 << slot
	e.ids[slot] = id
	if e.merchant < 0 && ev.MerchantID != "" {
		e.merchant = p.names.id(ev.MerchantID)
	}

	switch ev.Type {
	case event.Authorization:
		e.authAt, e.authAmt = ev.OccurredAt, ev.Amount
		e.terminal = p.termIDs.id(ev.TerminalID)
		e.mcc = parseMCC(ev.MCC)
		prof, ok := p.merchants.Lookup(ev.MerchantID)
		if !ok {
			p.stats.UnknownMerchs++
		}
		e.mode = prof.Mode
		d := p.sched.PayoutDeadline(e.mode, e.authAt)
		e.deadline = d.At
		if d.Fallback {
			e.flags |= flagFallback
		}
	case event.Cleared:
		e.clearedAt, e.clearedAmt, e.fee = ev.OccurredAt, ev.Amount, ev.Fee
		e.clearedMCC = parseMCC(ev.MCC)
	case event.PayoutPaid:
		e.paidAt, e.paidAmt = ev.OccurredAt, ev.Amount
	case event.PayoutFailed:
		e.failedAt = ev.OccurredAt
		e.failure = failureIndex(fact.MapPayoutFailure(ev.ReasonCode))
		e.failedAmt = ev.Amount
	}
	p.evaluate(i, ev)
}

// evaluate emits whatever the entry's stages now make true. Every fact it
// emits depends only on the stages' data, never on the order they arrived in,
// so a replay gives the same facts.
func (p *Partition) evaluate(i int32, ev *event.Event) {
	e := &p.slab[i]
	auth, cleared, paid, failed := e.has(slotAuth), e.has(slotCleared), e.has(slotPaid), e.has(slotFailed)

	if auth && cleared && e.flags&flagMismatchClear == 0 && e.clearedAmt != e.authAmt {
		e.flags |= flagMismatchClear
		at := max(e.authAt, e.clearedAt)
		p.anomaly(e, fact.AmountMismatch, "cleared", at, e.clearedAmt, e.authAmt, "cleared_differs",
			fmt.Sprintf("cleared %s but authorized %s (difference %s)", fen(e.clearedAmt), fen(e.authAmt), signedFen(e.clearedAmt-e.authAmt)))
	}
	if cleared && paid && e.flags&flagMismatchNet == 0 && e.paidAmt != e.clearedAmt-e.fee {
		e.flags |= flagMismatchNet
		at := max(e.clearedAt, e.paidAt)
		p.anomaly(e, fact.AmountMismatch, "paid", at, e.paidAmt, e.clearedAmt-e.fee, "net_differs",
			fmt.Sprintf("paid %s but cleared %s minus fee %s is %s", fen(e.paidAmt), fen(e.clearedAmt), fen(e.fee), fen(e.clearedAmt-e.fee)))
	}
	if failed && e.flags&(flagFailedOpen|flagFailedDone) == 0 {
		e.flags |= flagFailedOpen
		p.failedAnomaly(e)
	}
	if paid && auth && e.flags&flagPaidSeen == 0 {
		e.flags |= flagPaidSeen
		if e.paidAt > e.deadline && e.flags&flagOverdueDone == 0 {
			e.flags = e.flags&^flagOverdueOpen | flagOverdueDone
			a := p.overdue(e)
			a.Status, a.ResolvedAt, a.Version = fact.Resolved, e.paidAt, fact.Version(e.paidAt, 1)
			a.Details = fmt.Sprintf("paid %s after the %s deadline %s (%s late)", fmtTime(e.paidAt, p.sched), e.mode, fmtTime(e.deadline, p.sched), secs(e.paidAt-e.deadline))
		}
		if failed && e.flags&flagFailedDone == 0 {
			e.flags = e.flags&^flagFailedOpen | flagFailedDone
			a := p.failedAnomaly(e)
			a.Status, a.ResolvedAt, a.Version = fact.Resolved, e.paidAt, fact.Version(e.paidAt, 1)
			a.Details += fmt.Sprintf("; paid after all on %s", fmtTime(e.paidAt, p.sched))
		}
	}
	// A trace is complete once paid and cleared (D0 and T0 are paid before
	// the nightly clearing); it is kept for the grace period after that.
	if paid && cleared {
		p.armPurge(i, max(e.paidAt, e.clearedAt)+p.cfg.Grace.Milliseconds())
	}
	p.syncLag(e)
	// Arm the payout deadline once the payout is due to happen: after clearing
	// for T1 and D1, after the authorization for D0 and T0.
	if auth && e.flags&flagArmed == 0 && !paid && !failed && (cleared || e.mode == event.D0 || e.mode == event.T0) {
		e.flags |= flagArmed
		p.deadlines.push(timer{at: e.deadline, slot: i, gen: e.gen})
		p.deadlines.fire(p.wmMin[event.Payouts], p.fireDeadline)
	}
}

// fireDeadline runs when the payout watermark has passed a trace's deadline:
// the payout feed has proved it delivered everything up to then, so a payout
// that is not here is really missing.
func (p *Partition) fireDeadline(t timer) {
	e := p.live(t)
	if e == nil || e.has(slotPaid) || e.has(slotFailed) || e.has(slotHeld) || e.has(slotReversal) || e.flags&(flagOverdueOpen|flagOverdueDone) != 0 {
		return
	}
	e.flags |= flagOverdueOpen
	p.overdue(e)
	p.syncLag(e)
}

// syncLag emits the trace's settlement_lag row whenever what it would say
// changed: its status, or a stage it lacked (clearing arrives after a D0
// payout). The version grows with the stage times and the status rank, so the
// latest row is the same whatever order the stages arrived in.
func (p *Partition) syncLag(e *entry) {
	if !e.has(slotAuth) {
		return
	}
	var status fact.LagStatus
	var at int64
	var rank uint8
	switch {
	case e.has(slotPaid):
		status, at, rank = fact.StatusPaid, e.paidAt, 3
	case e.has(slotFailed):
		status, at, rank = fact.StatusFailed, e.failedAt, 2
	case e.flags&flagOverdueOpen != 0:
		status, at, rank = fact.StatusOverdue, e.deadline, 1
	default:
		return
	}
	cleared := e.has(slotCleared)
	if e.lagRank == rank && (!cleared || e.flags&flagLagCleared != 0) {
		return
	}
	e.lagRank = rank
	if cleared {
		e.flags |= flagLagCleared
		at = max(at, e.clearedAt)
	}
	p.lag(e, status, fact.Version(at, rank))
}

func (p *Partition) failedAnomaly(e *entry) *fact.Anomaly {
	r := failures[e.failure]
	a := p.anomaly(e, fact.PayoutFailed, "", e.failedAt, e.failedAmt, 0, string(r),
		fmt.Sprintf("payout of %s returned by the bank on %s: %s", fen(e.failedAmt), fmtTime(e.failedAt, p.sched), r))
	a.Action = r.Action()
	return a
}

func (p *Partition) overdue(e *entry) *fact.Anomaly {
	amt := e.authAmt
	if e.has(slotCleared) {
		amt = e.clearedAmt - e.fee
	}
	return p.anomaly(e, fact.PayoutOverdue, "", e.deadline, amt, 0, "",
		fmt.Sprintf("%s payout was due by %s and the payout feed has delivered past it with no payout", e.mode, fmtTime(e.deadline, p.sched)))
}

// duplicate reports a second, different authorization, clearing or payment
// of one trace: the same trace number charged or paid twice.
func (p *Partition) duplicate(e *entry, ev *event.Event) {
	p.anomaly(e, fact.DuplicateTrace, ev.Type.String()+":"+ev.ID, ev.OccurredAt, ev.Amount, 0, ev.Type.String(),
		fmt.Sprintf("a second %s (event %s) for the same trace number", ev.Type, ev.ID))
}

func (p *Partition) anomaly(e *entry, k fact.Kind, disc string, at, amount, expected int64, reason, details string) *fact.Anomaly {
	tx, _ := fact.Describe(k)
	id := string(k) + ":" + e.trace()
	if disc != "" {
		id += ":" + disc
	}
	p.anomalies = append(p.anomalies, fact.Anomaly{
		ID: id, Kind: k, Severity: tx.Severity, Status: fact.Open,
		TraceNo: e.trace(), MerchantID: p.names.name(e.merchant),
		Amount: amount, ExpectedAmount: expected, DetectedAt: at,
		Reason: reason, Cause: tx.Cause, Action: tx.Action, Details: details,
		CalendarVersion: p.sched.Calendar().Version(), Version: fact.Version(at, 0),
	})
	p.stats.AnomalyFacts++
	return &p.anomalies[len(p.anomalies)-1]
}

func (p *Partition) lag(e *entry, s fact.LagStatus, version uint64) {
	l := fact.Lag{
		TraceNo: e.trace(), MerchantID: p.names.name(e.merchant), TerminalID: p.termIDs.name(e.terminal),
		MCC: fmtMCC(e.mcc), ClearedMCC: fmtMCC(e.clearedMCC), Mode: e.mode,
		AuthorizedAmount: e.authAmt, AuthorizedAt: e.authAt, ExpectedPayoutAt: e.deadline,
		Status: s, CalendarVersion: p.sched.Calendar().Version(), CalendarFallback: e.flags&flagFallback != 0,
		Version: version,
	}
	if e.has(slotCleared) {
		l.ClearedAmount, l.Fee, l.ClearedAt = e.clearedAmt, e.fee, e.clearedAt
		l.AuthToClearS = (e.clearedAt - e.authAt) / 1000
	}
	if s == fact.StatusPaid {
		l.NetPaid, l.PaidAt = e.paidAmt, e.paidAt
		l.AuthToPayS = (e.paidAt - e.authAt) / 1000
		l.PastDueS = (e.paidAt - e.deadline) / 1000
		if e.has(slotCleared) {
			l.ClearToPayS = (e.paidAt - e.clearedAt) / 1000
		}
	}
	p.lags = append(p.lags, l)
	p.stats.LagFacts++
}

// lookup returns the slot of trace, creating an entry if needed.
func (p *Partition) lookup(trace string, at int64) int32 {
	var k traceKey
	copy(k[:], trace)
	if i, ok := p.index[k]; ok {
		return i
	}
	var i int32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		p.slab = append(p.slab, entry{})
		i = int32(len(p.slab) - 1)
	}
	gen := p.slab[i].gen + 1
	p.slab[i] = entry{key: k, keyLen: uint8(len(trace)), gen: gen, merchant: -1, terminal: -1, firstAt: at}
	p.index[k] = i
	p.purges.push(timer{at: at + p.cfg.Horizon.Milliseconds(), slot: i, gen: gen})
	return i
}

func (p *Partition) armPurge(i int32, at int64) {
	e := &p.slab[i]
	if e.flags&flagPurgeArmed != 0 {
		return
	}
	e.flags |= flagPurgeArmed
	p.purges.push(timer{at: at, slot: i, gen: e.gen})
}

func (p *Partition) live(t timer) *entry {
	if int(t.slot) >= len(p.slab) {
		return nil
	}
	e := &p.slab[t.slot]
	if e.gen != t.gen || e.keyLen == 0 {
		return nil
	}
	return e
}

func (p *Partition) drop(i int32) {
	e := &p.slab[i]
	delete(p.index, e.key)
	gen := e.gen
	*e = entry{gen: gen}
	p.free = append(p.free, i)
	p.stats.Purged++
}
