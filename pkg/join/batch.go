package join

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Batch tracking. A batch's records are keyed by trace on their
// source topics, so ingest forwards what tracking needs of them again, keyed
// by batch id: one digest per batch and ingest batch, with the batch's
// opening and close (event.RecordBatchDigest; older ingests sent one
// event.RecordBatchItem per record and the control events apart, which are
// still read). One partition sees a whole batch, together with the
// watermarks every partition receives.
//
// Progress is evaluated strictly along the source's watermark: a record
// that arrives ahead of it (from a faster source partition) waits in the
// batch's queue until the watermark reaches its time. So a gap in the
// batch's progress is found whatever order the records arrived in, and a
// lagging consumer never looks like a stalled batch (the watermark, not the
// wall clock, has to pass the gap).

// batchKey identifies a batch: one source's batch id.
type batchKey struct {
	source event.Source
	id     string
}

// progress is a batch record waiting for the watermark to reach it.
type progress struct {
	at     int64
	amount int64
	kind   uint8 // progressOpened, progressItem, progressOther, progressClosed
}

const (
	progressOpened uint8 = iota + 1
	progressItem
	progressOther
	progressClosed
)

func (p progress) before(o progress) bool { return p.at < o.at || p.at == o.at && p.kind < o.kind }

// progressQueue holds a batch's records waiting for the watermark, taken
// in event-time order. Records arrive nearly in that order (a batch's
// digests come from each source partition in turn, each in order), so they
// go to a sorted run, taken from its front in constant time: at its end, or
// moved in among the last maxShift records. One that belongs further back
// (from a source partition far behind the others) waits in a min-heap
// instead, so that no push costs more than maxShift moves; next takes the
// earlier of the two heads. Records equal in time and kind are
// interchangeable: a batch sums their counts and (non-negative) amounts.
type progressQueue struct {
	run  []progress // sorted; run[head:] is waiting
	head int
	heap []progress
}

// maxShift bounds the records a push moves to keep the run sorted.
const maxShift = 64

func (q *progressQueue) len() int { return len(q.run) - q.head + len(q.heap) }

// push queues x.
func (q *progressQueue) push(x progress) {
	w := q.run[q.head:]
	n := len(w)
	i := n // where x goes in w
	if n > 0 && x.before(w[n-1]) {
		lo := max(0, n-maxShift)
		if x.before(w[lo]) {
			if q.heap == nil {
				q.heap = make([]progress, 0, maxShift) // one allocation, not one per doubling
			}
			q.heap = pushHeap(q.heap, x)
			return
		}
		i = lo + sort.Search(n-lo, func(j int) bool { return x.before(w[lo+j]) })
	}
	if len(q.run) == cap(q.run) && q.head > 0 { // reuse the taken front before growing
		q.run = q.run[:copy(q.run, w)]
		q.head = 0
	}
	q.run = append(q.run, x)
	if w = q.run[q.head:]; i < n {
		copy(w[i+1:], w[i:n])
		w[i] = x
	}
}

// next takes the earliest record if its time is at or before upTo.
func (q *progressQueue) next(upTo int64) (progress, bool) {
	fromRun := q.head < len(q.run)
	if fromRun && len(q.heap) > 0 && q.heap[0].before(q.run[q.head]) {
		fromRun = false
	}
	switch {
	case fromRun:
		x := q.run[q.head]
		if x.at > upTo {
			return progress{}, false
		}
		if q.head++; q.head == len(q.run) {
			q.run, q.head = q.run[:0], 0
		}
		return x, true
	case len(q.heap) > 0 && q.heap[0].at <= upTo:
		var x progress
		x, q.heap = popHeap(q.heap)
		return x, true
	}
	return progress{}, false
}

// appendTo appends the waiting records to dst, in no particular order.
func (q *progressQueue) appendTo(dst []progress) []progress {
	return append(append(dst, q.run[q.head:]...), q.heap...)
}

// progressQueueOf queues records given in any order.
func progressQueueOf(list []progress) progressQueue {
	slices.SortFunc(list, func(a, b progress) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return progressQueue{run: list}
}

// batch is the tracker state of one batch. Batches are few (a handful per
// source per day), so this state may hold pointers.
type batch struct {
	key     batchKey
	pending progressQueue
	seen    idSet // ids of the records counted, for re-deliveries

	opened, closed               bool
	openedAt, closedAt           int64
	declaredCount, declaredTotal int64
	count, total                 int64 // records evaluated so far (time ≤ evalAt)
	first, last                  int64 // progress times evaluated so far
	evalAt                       int64
	stalled                      bool
	stalls                       int64
	stallAt                      int64 // detection time of the open stall
	done                         bool  // closed and judged
	lastRow                      int64 // 10-minute bucket of the last progress row emitted
	rowStatus                    fact.BatchStatus
}

// idSet is a set of record ids (their xxhash): open addressing with linear
// probing over a power-of-two table that doubles when it would pass 3/4
// full, so that it allocates only when it doubles and, emptied, is reused
// at its size (a map grows in many small tables, and again after clear).
// The id 0, which marks an empty cell, is held aside.
type idSet struct {
	cells []uint64
	n     int // ids in cells
	zero  bool
}

func (s *idSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// add adds id and reports whether it was new.
func (s *idSet) add(id uint64) bool {
	if id == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if (s.n+1)*4 > len(s.cells)*3 {
		old := s.cells
		s.cells, s.n = make([]uint64, max(16, 2*len(old))), 0
		for _, c := range old {
			if c != 0 {
				s.add(c)
			}
		}
	}
	mask := len(s.cells) - 1
	for i := int(id) & mask; ; i = (i + 1) & mask {
		switch s.cells[i] {
		case 0:
			s.cells[i] = id
			s.n++
			return true
		case id:
			return false
		}
	}
}

// each calls fn with every id of the set.
func (s *idSet) each(fn func(uint64)) {
	if s.zero {
		fn(0)
	}
	for _, c := range s.cells {
		if c != 0 {
			fn(c)
		}
	}
}

// spareBatches holds what judged and forgotten batches leave for new ones:
// their structs, their sets of seen ids (emptied) and their queues' slices, so that
// a new batch allocates nothing once as many batches have been judged as
// are ever open at once. Structs come in slabs of batchSlab.
type spareBatches struct {
	batches []*batch
	slab    []batch
	seen    [][]uint64
	pending [][]progress
}

const batchSlab = 64

// batch returns an empty batch for key k.
func (s *spareBatches) batch(k batchKey) *batch {
	var b *batch
	if n := len(s.batches); n > 0 {
		b, s.batches = s.batches[n-1], s.batches[:n-1]
	} else {
		if len(s.slab) == 0 {
			s.slab = make([]batch, batchSlab)
		}
		b, s.slab = &s.slab[0], s.slab[1:]
	}
	*b = batch{key: k}
	b.seen.cells, s.seen = largest(s.seen)
	b.pending.run, s.pending = largest(s.pending) // the heap is rarely used: it gets none
	return b
}

// largest takes the spare of the largest capacity out of spares: batches
// differ in size, and the largest is the least likely to grow.
func largest[T any](spares [][]T) ([]T, [][]T) {
	if len(spares) == 0 {
		return nil, spares
	}
	m := 0
	for i, v := range spares {
		if cap(v) > cap(spares[m]) {
			m = i
		}
	}
	v, n := spares[m], len(spares)-1
	spares[m] = spares[n]
	spares[n] = nil
	return v, spares[:n]
}

// keep takes the id set and queue slices of judged batch b for later batches.
func (s *spareBatches) keep(b *batch) {
	if b.seen.cells != nil {
		clear(b.seen.cells)
		s.seen = append(s.seen, b.seen.cells)
	}
	for _, q := range [][]progress{b.pending.run, b.pending.heap} {
		if q != nil {
			s.pending = append(s.pending, q[:0])
		}
	}
	b.seen, b.pending = idSet{}, progressQueue{}
}

// applyBatch takes a batch control event or a batch item.
func (p *Partition) applyBatch(src event.Source, ev *event.Event, item bool) {
	var pr progress
	switch {
	case item && (ev.Type == event.Cleared || ev.Type == event.PayoutInitiated):
		pr.kind, pr.amount = progressItem, ev.Amount
	case item:
		pr.kind = progressOther // a confirmation: progress, not a record of the batch
	case ev.Type == event.BatchOpened:
		pr.kind = progressOpened
	case ev.Type == event.BatchClosed:
		pr.kind = progressClosed
	}
	pr.at = ev.OccurredAt
	p.trackBatch(src, ev.BatchID, event.IDHash(ev.ID), pr, ev.DeclaredCount, ev.DeclaredTotal)
}

// applyDigest takes the steps of a batch digest, in order.
func (p *Partition) applyDigest(r *event.Record) {
	for i := range r.BatchSteps {
		st := &r.BatchSteps[i]
		pr := progress{at: st.At}
		switch st.Type {
		case event.Cleared, event.PayoutInitiated:
			pr.kind, pr.amount = progressItem, st.Amount
		case event.BatchOpened:
			pr.kind = progressOpened
		case event.BatchClosed:
			pr.kind = progressClosed
		default:
			pr.kind = progressOther
		}
		p.trackBatch(r.Source, r.BatchID, st.ID, pr, st.DeclaredCount, st.DeclaredTotal)
	}
}

// trackBatch queues one record of batch id of src (pr; a close with what it
// declares), counted once whatever the re-deliveries (by the hash of its
// event id), and evaluates the batch.
func (p *Partition) trackBatch(src event.Source, id string, idHash uint64, pr progress, declaredCount, declaredTotal int64) {
	if id == "" || (src != event.Clearing && src != event.Payouts) {
		p.stats.Ignored++
		return
	}
	k := batchKey{src, id}
	b := p.batches[k]
	if b == nil {
		b = p.spare.batch(k)
		p.batches[k] = b
	}
	if b.done {
		p.stats.Ignored++ // a record naming a judged batch (a re-sent copy): the verdict stands
		return
	}
	if !b.seen.add(idHash) {
		p.stats.Redelivered++
		return
	}
	if pr.kind == 0 {
		p.stats.Ignored++
		return
	}
	if pr.kind == progressClosed {
		b.declaredCount, b.declaredTotal = declaredCount, declaredTotal
	}
	b.pending.push(pr)
	p.evaluateBatch(b)
}

// evaluateBatches advances every batch of source s to its watermark.
func (p *Partition) evaluateBatches(s event.Source) {
	for _, b := range p.batches {
		if b.key.source == s && !b.done {
			p.evaluateBatch(b)
		}
	}
	// A judged batch keeps only its verdict (records naming it later, such
	// as re-sent copies, must not reopen it); it is forgotten after the
	// horizon.
	upTo := min(p.wmMin[event.Auth], p.wmMin[event.Clearing], p.wmMin[event.Payouts])
	for k, b := range p.batches {
		if b.done && b.closedAt+p.cfg.Horizon.Milliseconds() < upTo {
			delete(p.batches, k)
			p.spare.batches = append(p.spare.batches, b)
		}
	}
}

// evaluateBatch consumes the batch's records up to its source's watermark,
// in event-time order, looking for gaps longer than the stall timeout, and
// judges the batch once the watermark has passed its close.
func (p *Partition) evaluateBatch(b *batch) {
	w := p.wmMin[b.key.source]
	timeout := p.cfg.BatchStallTimeout.Milliseconds()
	changed := false
	for {
		pr, ok := b.pending.next(w)
		if !ok {
			break
		}
		if b.opened && !b.closed && b.last > 0 && pr.at-b.last > timeout {
			if !b.stalled {
				p.stallBatch(b, b.last+timeout)
			}
			p.resumeBatch(b, pr.at)
		} else if b.stalled {
			p.resumeBatch(b, pr.at)
		}
		if b.first == 0 || pr.at < b.first {
			b.first = pr.at
		}
		b.last = max(b.last, pr.at)
		switch pr.kind {
		case progressOpened:
			b.opened, b.openedAt = true, pr.at
		case progressItem:
			b.count++
			b.total = addFen(b.total, pr.amount, totalBeyond)
		case progressClosed:
			b.closed, b.closedAt = true, pr.at
		}
		changed = true
	}
	if w <= b.evalAt {
		return
	}
	b.evalAt = w
	if b.closed {
		p.judgeBatch(b)
		return
	}
	if b.opened && !b.stalled && w-b.last > timeout {
		p.stallBatch(b, b.last+timeout)
	}
	// A row when the status changes, and for progress at most every ten
	// minutes of event time.
	status := fact.BatchIsOpen
	if b.stalled {
		status = fact.BatchIsStalled
	}
	bucket := w / (10 * time.Minute).Milliseconds()
	if !b.opened {
		return // records of a batch whose opening has not been seen: no row yet
	}
	if status != b.rowStatus || changed && bucket != b.lastRow {
		b.lastRow, b.rowStatus = bucket, status
		p.batchRow(b, status, fact.Version(w, 1))
	}
}

func (p *Partition) stallBatch(b *batch, at int64) {
	b.stalled, b.stallAt = true, at
	b.stalls++
	p.open(p.stallAnomaly(b, at))
}

func (p *Partition) resumeBatch(b *batch, at int64) {
	b.stalled = false
	p.resolve(p.stallAnomaly(b, b.stallAt), at, at)
}

// stallAnomaly builds the batch_stalled anomaly of the batch's current
// stall, detected at the time at.
func (p *Partition) stallAnomaly(b *batch, at int64) fact.Anomaly {
	return p.batchAnomaly(b, fact.BatchStalled, b.stalls, at, 0, 0, "no_progress",
		fact.Args{Source: b.key.source, Count: b.count, LastProgressAt: b.last, Window: p.cfg.BatchStallTimeout})
}

// judgeBatch compares a closed batch with what it declared; the watermark
// has passed its close, so every record from before the close is here.
func (p *Partition) judgeBatch(b *batch) {
	b.done = true
	defer p.spare.keep(b) // the verdict is all that is kept
	status := fact.BatchIsClosed
	if b.count != b.declaredCount || b.total != b.declaredTotal {
		status = fact.BatchIsIncomplete
		p.open(p.batchAnomaly(b, fact.BatchIncomplete, 0, b.closedAt, seenTotal(b.total), b.declaredTotal, "count_or_total_differs",
			fact.Args{Source: b.key.source, Count: b.count, DeclaredCount: b.declaredCount, TotalBeyond: b.total >= totalBeyond}))
	}
	// Judged as of the close (every earlier row was evaluated before it),
	// so the final row does not depend on how the watermark stepped.
	b.rowStatus, b.evalAt = status, b.closedAt
	p.batchRow(b, status, fact.Version(b.closedAt, 3))
}

// batchAnomaly builds anomaly k of batch b, detected at the event time at
// and versioned there; a stall's number (from 1; 0 for none) tells several
// anomalies of one kind apart. Its id is in the arena.
func (p *Partition) batchAnomaly(b *batch, k fact.Kind, stall int64, at, amount, expected int64, reason string, args fact.Args) fact.Anomaly {
	tx, _ := fact.Describe(k)
	id := append(append(append(append(append(p.scratch[:0], k...), ':'), b.key.source.String()...), ':'), b.key.id...)
	if stall != 0 {
		id = strconv.AppendInt(append(id, ':'), stall, 10)
	}
	p.scratch = id
	return fact.Anomaly{
		ID: p.strs.of(id), Kind: k, Severity: tx.Severity, BatchID: b.key.id,
		Amount: amount, ExpectedAmount: expected, DetectedAt: at,
		Reason: reason, Cause: tx.Cause, Action: tx.Action, Args: args,
		CalendarVersion: p.sched.Calendar().Version(), Version: fact.Version(at, 0),
	}
}

func (p *Partition) batchRow(b *batch, s fact.BatchStatus, version uint64) {
	p.batchRows = append(p.batchRows, fact.Batch{
		BatchID: b.key.id, Source: b.key.source.String(), Status: s,
		OpenedAt: b.openedAt, ClosedAt: b.closedAt, FirstProgress: b.first, LastProgress: b.last,
		DeclaredCount: b.declaredCount, DeclaredTotal: b.declaredTotal, SeenCount: b.count, SeenTotal: seenTotal(b.total),
		Stalls: b.stalls, AsOf: b.evalAt, Version: version,
	})
}

// totalBeyond is what a batch's running total saturates at: one fen beyond
// the largest amount a Decimal(18,2) column holds, which no declared total
// (at most event.MaxFen) can equal, so a batch whose records add up to more
// is always judged incomplete, and the sum never wraps.
const totalBeyond = event.MaxFen + 1

// seenTotal is the running total as the tables can hold it.
func seenTotal(total int64) int64 { return min(total, event.MaxFen) }
