package simulator

import (
	"math/rand/v2"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// batchFault is the fault a payout batch was chosen for.
type batchFault uint8

const (
	batchFaultNone batchFault = iota
	batchFaultStall
	batchFaultIncomplete
)

// batchPlan is how a batch fault changes the payouts of one batch.
type batchPlan struct {
	fault batchFault
	// stallFrom is the first member delayed by StallFor (-1: none):
	// members from it on are initiated and paid or returned StallFor later,
	// and so is batch_closed; holds keep their times.
	stallFrom              int
	stalledFrom, resumedAt int64 // Unix ms: the last progress before the gap, the first after
	// drop is the member whose payout_initiated is left out (-1: none).
	drop int
}

var noBatchPlan = batchPlan{stallFrom: -1, drop: -1}

// batchCandidates returns the T1 and D1 payout batches of the traffic days
// that may carry a batch fault: those whose opening, stall and payouts stay
// clear of the payout-feed outage (what a stalled or incomplete batch sends
// must not be held back as well). Order: by traffic day, T1 first.
func (s *Simulator) batchCandidates() []batchKey {
	cfg := s.cfg
	var outFrom, outTo int64
	if o := cfg.PayoutOutage; o.Enabled() {
		d := cfg.Start.AddDays(o.Day - 1)
		outFrom, outTo = d.At(s.loc, o.From).UnixMilli(), d.At(s.loc, o.To).UnixMilli()
	}
	// A stalled batch's last payout is confirmed or returned within the
	// slack after its delayed initiation.
	span := (payoutSpread + cfg.StallFor + stallSlack).Milliseconds()
	seen := map[batchKey]bool{}
	var out []batchKey
	for i := range cfg.Days {
		trade := cfg.Start.AddDays(i)
		for _, mode := range []event.Mode{event.T1, event.D1} {
			kind, open := s.payoutBatchOf(mode, 0, trade)
			k := batchKey{kind, open}
			if seen[k] || (open < outTo && open+span > outFrom) {
				continue
			}
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// planBatchFaults chooses, from their own random stream, the batches that
// stall and those that lose a record; the other candidates, in a random
// order, are the reserve for a chosen batch that proves unfit when it opens.
func (r *run) planBatchFaults() {
	cfg := r.cfg
	if cfg.BatchStallCount+cfg.BatchIncompleteCount == 0 {
		return
	}
	r.brng = rand.New(rand.NewPCG(uint64(cfg.Seed), 0xba7c4f))
	cands := r.batchCandidates()
	r.brng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	r.batchRoles = map[batchKey]batchFault{}
	for i, k := range cands {
		switch {
		case i < cfg.BatchStallCount:
			r.batchRoles[k] = batchFaultStall
		case i < cfg.BatchStallCount+cfg.BatchIncompleteCount:
			r.batchRoles[k] = batchFaultIncomplete
		default:
			r.reserve = append(r.reserve, k)
		}
	}
}

// pulled reports whether the payout of tr is pulled out of its batch for
// risk review when the batch opens (no payout_initiated there).
func pulled(tr *trace) bool {
	return (tr.fault == faultHeld || tr.fault == faultHealthyHold) && tr.holdBatch < 0
}

// batchFault returns the plan of payout batch b, opening now, whose i-th
// member is initiated at initAt(i). A batch chosen for a fault it cannot
// carry hands the fault on to the first reserve batch still to open.
func (r *run) batchFault(b *batch, initAt func(int) int64) batchPlan {
	if r.batchRoles == nil {
		return noBatchPlan
	}
	k := batchKey{b.kind, b.open}
	f, ok := r.batchRoles[k]
	if !ok {
		return noBatchPlan
	}
	delete(r.batchRoles, k)
	p := noBatchPlan
	p.fault = f
	var fit bool
	switch f {
	case batchFaultStall:
		fit = r.planStall(b, initAt, &p)
	case batchFaultIncomplete:
		fit = r.planIncomplete(b, &p)
	}
	if fit {
		return p
	}
	for len(r.reserve) > 0 {
		next := r.reserve[0]
		r.reserve = r.reserve[1:]
		_, unopened := r.batchIdx[next]
		if next.at > r.now || (next.at == r.now && unopened) {
			r.batchRoles[next] = f
			break
		}
	}
	return noBatchPlan
}

// planStall stalls b after half of its payout_initiated records, if it has
// enough of them and every delayed payout can still be paid on time.
func (r *run) planStall(b *batch, initAt func(int) int64, p *batchPlan) bool {
	items := 0
	for _, m := range b.members {
		if _, tr := r.trace(m.day, m.idx); !pulled(tr) {
			items++
		}
	}
	if items < minBatchItems {
		return false
	}
	stall := r.cfg.StallFor.Milliseconds()
	sent := 0
	for i, m := range b.members {
		if _, tr := r.trace(m.day, m.idx); pulled(tr) {
			continue
		}
		if sent == items/2 {
			p.stallFrom = i
			break
		}
		p.stalledFrom = initAt(i)
		sent++
	}
	p.resumedAt = initAt(p.stallFrom) + stall
	for i := p.stallFrom; i < len(b.members); i++ {
		m := b.members[i]
		_, tr := r.trace(m.day, m.idx)
		if !pulled(tr) && tr.orphan == orphanNone && initAt(i)+stall+stallSlack.Milliseconds() > tr.expected {
			return false
		}
	}
	return true
}

// planIncomplete picks the healthy payout of b whose payout_initiated is
// left out, if b has enough records.
func (r *run) planIncomplete(b *batch, p *batchPlan) bool {
	items := 0
	var healthy []int
	for i, m := range b.members {
		_, tr := r.trace(m.day, m.idx)
		if pulled(tr) {
			continue
		}
		items++
		if tr.fault == faultNone && tr.orphan == orphanNone {
			healthy = append(healthy, i)
		}
	}
	if items < minBatchItems || len(healthy) == 0 {
		return false
	}
	p.drop = healthy[r.brng.IntN(len(healthy))]
	return true
}

// recordBatchFault records the fault injected into payout batch b, once its
// declared count is known.
func (r *run) recordBatchFault(b *batch, p batchPlan) {
	bt := BatchTruth{BatchID: b.id, Source: event.Payouts.String()}
	switch p.fault {
	case batchFaultStall:
		bt.Kind, bt.StalledFrom, bt.ResumedAt = fact.BatchStalled, p.stalledFrom, p.resumedAt
	case batchFaultIncomplete:
		bt.Kind, bt.DeclaredCount, bt.SeenCount = fact.BatchIncomplete, int(b.count), int(b.count)-1
	default:
		return
	}
	r.stats.Batches = append(r.stats.Batches, bt)
	r.stats.Injected[string(bt.Kind)]++
}
