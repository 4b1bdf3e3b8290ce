package join

import (
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

type progressQueue []progress

func (p progress) before(o progress) bool { return p.at < o.at || p.at == o.at && p.kind < o.kind }

// batch is the tracker state of one batch. Batches are few (a handful per
// source per day), so this state may hold pointers.
type batch struct {
	key     batchKey
	pending progressQueue
	seen    map[uint64]struct{} // ids of the records counted, for re-deliveries

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
		b = &batch{key: k, seen: map[uint64]struct{}{}}
		p.batches[k] = b
	}
	if b.done {
		p.stats.Ignored++ // a record naming a judged batch (a re-sent copy): the verdict stands
		return
	}
	if _, dup := b.seen[idHash]; dup {
		p.stats.Redelivered++
		return
	}
	b.seen[idHash] = struct{}{}
	if pr.kind == 0 {
		p.stats.Ignored++
		return
	}
	if pr.kind == progressClosed {
		b.declaredCount, b.declaredTotal = declaredCount, declaredTotal
	}
	b.pending = pushHeap(b.pending, pr)
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
	for len(b.pending) > 0 && b.pending[0].at <= w {
		var pr progress
		pr, b.pending = popHeap(b.pending)
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
	return p.batchAnomaly(b, fact.BatchStalled, strconv.FormatInt(b.stalls, 10), at, 0, 0, "no_progress",
		fact.Args{Source: b.key.source, Count: b.count, LastProgressAt: b.last, Window: p.cfg.BatchStallTimeout})
}

// judgeBatch compares a closed batch with what it declared; the watermark
// has passed its close, so every record from before the close is here.
func (p *Partition) judgeBatch(b *batch) {
	b.done = true
	defer func() { b.seen, b.pending = nil, nil }() // the verdict is all that is kept
	status := fact.BatchIsClosed
	if b.count != b.declaredCount || b.total != b.declaredTotal {
		status = fact.BatchIsIncomplete
		p.open(p.batchAnomaly(b, fact.BatchIncomplete, "", b.closedAt, seenTotal(b.total), b.declaredTotal, "count_or_total_differs",
			fact.Args{Source: b.key.source, Count: b.count, DeclaredCount: b.declaredCount, TotalBeyond: b.total >= totalBeyond}))
	}
	// Judged as of the close (every earlier row was evaluated before it),
	// so the final row does not depend on how the watermark stepped.
	b.rowStatus, b.evalAt = status, b.closedAt
	p.batchRow(b, status, fact.Version(b.closedAt, 3))
}

// batchAnomaly builds anomaly k of batch b, detected at the event time at
// and versioned there; disc tells several anomalies of one kind apart.
func (p *Partition) batchAnomaly(b *batch, k fact.Kind, disc string, at, amount, expected int64, reason string, args fact.Args) fact.Anomaly {
	tx, _ := fact.Describe(k)
	id := string(k) + ":" + b.key.source.String() + ":" + b.key.id
	if disc != "" {
		id += ":" + disc
	}
	return fact.Anomaly{
		ID: id, Kind: k, Severity: tx.Severity, BatchID: b.key.id,
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
