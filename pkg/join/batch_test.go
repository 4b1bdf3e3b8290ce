package join

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// bstep is one record of a batch scenario.
type bstep struct {
	typ      event.Type // BatchOpened, BatchClosed, PayoutInitiated (an item); 0: a payout watermark
	id       string
	at       string
	amount   int64
	declared int64 // batch_closed: declared count; total is declaredTotal
	total    int64
	part     int32 // source partition the record came from (items), for interleaving
}

func item(id, at string, amount int64, part int32) bstep {
	return bstep{typ: event.PayoutInitiated, id: id, at: at, amount: amount, part: part}
}

func pwm(at string) bstep { return bstep{at: at} }

func (s bstep) record(tb testing.TB) event.Record {
	if s.typ == 0 {
		return event.Record{Kind: event.RecordWatermark, Watermark: event.Watermark{Source: event.Payouts, Partitions: 1, At: at(tb, s.at)}}
	}
	e := event.Event{ID: s.id, Type: s.typ, OccurredAt: at(tb, s.at), BatchID: "PAY-T1-20260929", Amount: s.amount,
		DeclaredCount: s.declared, DeclaredTotal: s.total}
	kind := event.RecordEvent
	if s.typ == event.PayoutInitiated {
		kind = event.RecordBatchItem
		e.TraceNo = "T" + s.id
	}
	return event.Record{Kind: kind, Source: event.Payouts, Event: e}
}

// runBatch applies steps to a partition twice — one record each (control
// events as events, items as batch items), and as ingest forwards them now,
// the steps between two watermarks in one batch digest — fails the test
// unless both give the same facts, and returns the latest of each.
func runBatch(tb testing.TB, steps []bstep) ([]fact.Anomaly, []fact.Batch) {
	tb.Helper()
	var each []event.Record
	for _, s := range steps {
		each = append(each, s.record(tb))
	}
	an, rows := applyBatchRecords(tb, each)
	var digested []event.Record
	var digest *event.Record
	for _, r := range each {
		if r.Kind == event.RecordWatermark {
			if digest != nil {
				digested = append(digested, *digest)
				digest = nil
			}
			digested = append(digested, r)
			continue
		}
		if digest == nil {
			digest = &event.Record{Kind: event.RecordBatchDigest, Source: r.Source, BatchID: r.Event.BatchID}
		}
		e := &r.Event
		digest.BatchSteps = append(digest.BatchSteps, event.BatchStep{ID: event.IDHash(e.ID), Type: e.Type, At: e.OccurredAt,
			Amount: e.Amount, DeclaredCount: e.DeclaredCount, DeclaredTotal: e.DeclaredTotal})
	}
	if digest != nil {
		digested = append(digested, *digest)
	}
	dan, drows := applyBatchRecords(tb, digested)
	if !reflect.DeepEqual(an, dan) || !reflect.DeepEqual(rows, drows) {
		tb.Errorf("batch digests gave other facts than one record each\ndigests: %+v\n%+v\neach:    %+v\n%+v", dan, drows, an, rows)
	}
	return an, rows
}

func applyBatchRecords(tb testing.TB, records []event.Record) ([]fact.Anomaly, []fact.Batch) {
	tb.Helper()
	p := newPartition(tb)
	var an []fact.Anomaly
	var rows []fact.Batch
	for i := range records {
		p.Apply(&records[i])
		f := p.Take()
		an = append(an, f.Anomalies...)
		rows = append(rows, f.Batches...)
	}
	latest := map[string]fact.Batch{}
	for _, b := range rows {
		if cur, ok := latest[b.BatchID]; !ok || b.Version >= cur.Version {
			latest[b.BatchID] = b
		}
	}
	var out []fact.Batch
	for _, b := range latest {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BatchID < out[j].BatchID })
	return latestAnomalies(an), out
}

func TestBatches(t *testing.T) {
	opened := bstep{typ: event.BatchOpened, id: "o", at: "2026-09-29 10:00"}
	closed := func(at string, n, total int64) bstep {
		return bstep{typ: event.BatchClosed, id: "c", at: at, declared: n, total: total}
	}
	tests := []struct {
		name      string
		steps     []bstep
		anomalies map[string]fact.AnomalyStatus
		status    fact.BatchStatus
		seen      int64
	}{
		{
			name: "a healthy batch closes as declared",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), item("2", "2026-09-29 10:05", 200, 1),
				closed("2026-09-29 10:06", 2, 300), pwm("2026-09-29 11:00")},
			anomalies: map[string]fact.AnomalyStatus{}, status: fact.BatchIsClosed, seen: 2,
		},
		{
			name: "a batch that stops for two hours, then resumes and closes: one stall, resolved",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), item("2", "2026-09-29 10:10", 200, 1),
				pwm("2026-09-29 11:00"),
				item("3", "2026-09-29 12:10", 300, 0), closed("2026-09-29 12:20", 3, 600), pwm("2026-09-29 13:00")},
			anomalies: map[string]fact.AnomalyStatus{"batch_stalled:payouts:PAY-T1-20260929:1": fact.Resolved},
			status:    fact.BatchIsClosed, seen: 3,
		},
		{
			name:      "still stopped: the stall is open",
			steps:     []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), pwm("2026-09-29 11:00")},
			anomalies: map[string]fact.AnomalyStatus{"batch_stalled:payouts:PAY-T1-20260929:1": fact.Open},
			status:    fact.BatchIsStalled, seen: 1,
		},
		{
			name: "the gap is found even when the records after it arrive first (a faster source partition)",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0),
				item("3", "2026-09-29 12:10", 300, 1), closed("2026-09-29 12:20", 2, 400),
				pwm("2026-09-29 13:00")},
			anomalies: map[string]fact.AnomalyStatus{"batch_stalled:payouts:PAY-T1-20260929:1": fact.Resolved},
			status:    fact.BatchIsClosed, seen: 2,
		},
		{
			name:      "a lagging feed is not a stalled batch: the watermark has not passed the gap",
			steps:     []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), pwm("2026-09-29 10:40")},
			anomalies: map[string]fact.AnomalyStatus{}, status: fact.BatchIsOpen, seen: 1,
		},
		{
			name: "closed with a record missing: incomplete, judged once the watermark passed the close",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), closed("2026-09-29 10:06", 2, 300),
				pwm("2026-09-29 10:05"), pwm("2026-09-29 11:00")},
			anomalies: map[string]fact.AnomalyStatus{"batch_incomplete:payouts:PAY-T1-20260929": fact.Open},
			status:    fact.BatchIsIncomplete, seen: 1,
		},
		{
			name: "a record from before the close that arrives after batch_closed still counts",
			steps: []bstep{opened, closed("2026-09-29 10:06", 2, 300), item("1", "2026-09-29 10:01", 100, 0),
				item("2", "2026-09-29 10:05", 200, 1), pwm("2026-09-29 11:00")},
			anomalies: map[string]fact.AnomalyStatus{}, status: fact.BatchIsClosed, seen: 2,
		},
		{
			name: "a record naming a batch already judged (a re-sent copy) does not reopen it",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), closed("2026-09-29 10:06", 1, 100), pwm("2026-09-29 11:00"),
				item("1-copy", "2026-09-29 10:01", 100, 0), pwm("2026-10-02 11:00")},
			anomalies: map[string]fact.AnomalyStatus{}, status: fact.BatchIsClosed, seen: 1,
		},
		{
			name: "a re-delivered record counts once",
			steps: []bstep{opened, item("1", "2026-09-29 10:01", 100, 0), item("1", "2026-09-29 10:01", 100, 0),
				closed("2026-09-29 10:06", 1, 100), pwm("2026-09-29 11:00")},
			anomalies: map[string]fact.AnomalyStatus{}, status: fact.BatchIsClosed, seen: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			an, rows := runBatch(t, tc.steps)
			got := map[string]fact.AnomalyStatus{}
			for _, a := range an {
				got[a.ID] = a.Status
				if a.BatchID == "" || a.Cause == "" || a.Action == "" || a.Details == "" {
					t.Errorf("anomaly %s lacks batch, cause, action or details: %+v", a.ID, a)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.anomalies) {
				t.Errorf("anomalies = %v, want %v", got, tc.anomalies)
			}
			if len(rows) != 1 || rows[0].Status != tc.status || rows[0].SeenCount != tc.seen {
				t.Errorf("batch rows %+v, want one with status %s and %d seen", rows, tc.status, tc.seen)
			}
		})
	}
}

func TestStallDetectedAtTimeout(t *testing.T) {
	an, _ := runBatch(t, []bstep{{typ: event.BatchOpened, id: "o", at: "2026-09-29 10:00"},
		item("1", "2026-09-29 10:04", 100, 0), pwm("2026-09-29 11:30"), item("2", "2026-09-29 12:00", 100, 0), pwm("2026-09-29 12:05")})
	if len(an) != 1 || an[0].DetectedAt != at(t, "2026-09-29 10:49") || an[0].ResolvedAt != at(t, "2026-09-29 12:00") {
		t.Fatalf("stall %+v, want detected at 10:49 (last progress + the 45m stall timeout) and resolved at 12:00", an)
	}
}

// TestBatchInterleaving: records of one batch come from every partition of
// its source topic; however they interleave before the watermarks, the
// latest batch facts are the same.
func TestBatchInterleaving(t *testing.T) {
	steps := []bstep{{typ: event.BatchOpened, id: "o", at: "2026-09-29 10:00"}}
	var total int64
	for i := range 40 {
		m := 1 + i
		if i >= 20 {
			m = 130 + i // a two-hour gap after the 20th record
		}
		steps = append(steps, item(fmt.Sprint(i), fmt.Sprintf("2026-09-29 %02d:%02d", 10+m/60, m%60), int64(100+i), int32(i%3)))
		total += int64(100 + i)
	}
	steps = append(steps, bstep{typ: event.BatchClosed, id: "c", at: "2026-09-29 13:00", declared: 41, total: total + 5})
	wms := []bstep{pwm("2026-09-29 10:30"), pwm("2026-09-29 11:30"), pwm("2026-09-29 12:30"), pwm("2026-09-29 14:00")}
	wantA, wantB := runBatch(t, append(append([]bstep(nil), steps...), wms...))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		// Records arrive in any order across partitions but in order within
		// one; watermarks interleave anywhere, yet never pass a record
		// before it has arrived.
		var seq []bstep
		byPart := map[int32][]bstep{}
		for _, s := range steps {
			byPart[s.part] = append(byPart[s.part], s)
		}
		for len(seq) < len(steps) {
			q := int32(rng.IntN(3))
			if len(byPart[q]) > 0 {
				seq = append(seq, byPart[q][0])
				byPart[q] = byPart[q][1:]
			}
		}
		var out []bstep
		w := 0
		for i, s := range seq {
			out = append(out, s)
			// a watermark may follow once every record up to it has arrived
			for w < len(wms) && allArrived(t, seq[:i+1], steps, at(t, wms[w].at)) && rng.IntN(2) == 0 {
				out = append(out, wms[w])
				w++
			}
		}
		out = append(out, wms[w:]...)
		gotA, gotB := runBatch(t, out)
		if js(gotA) != js(wantA) || js(gotB) != js(wantB) {
			t.Fatalf("interleaving changed the batch facts:\n got %s\n%s\nwant %s\n%s", js(gotA), js(gotB), js(wantA), js(wantB))
		}
	}
	if len(wantA) != 2 {
		t.Fatalf("want a resolved stall and an incomplete batch, got %s", js(wantA))
	}
}

func allArrived(tb testing.TB, seen, all []bstep, upTo int64) bool {
	ids := map[string]bool{}
	for _, s := range seen {
		ids[s.id] = true
	}
	var missing []string
	for _, s := range all {
		if at(tb, s.at) <= upTo && !ids[s.id] {
			missing = append(missing, s.id)
		}
	}
	sort.Strings(missing)
	return len(missing) == 0
}

// TestProgressQueueOrder pushes records in order, slightly out of order
// and far out of order (the heap), taking them as a rising watermark passes
// them, and checks that each take is in order and that all of them together
// are what went in.
func TestProgressQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, spread := range []int64{0, 10, 1000, 100_000} {
		var q progressQueue
		var in, out []progress
		at, upTo := int64(1_000_000), int64(0)
		for range 20_000 {
			at += rng.Int64N(20)
			x := progress{at: at, amount: rng.Int64N(100), kind: uint8(1 + rng.IntN(4))}
			if spread > 0 && rng.IntN(4) == 0 {
				x.at -= rng.Int64N(spread)
			}
			q.push(x)
			in = append(in, x)
			if rng.IntN(50) == 0 {
				upTo = at - rng.Int64N(2000)
				from := len(out)
				for x, ok := q.next(upTo); ok; x, ok = q.next(upTo) {
					if x.at > upTo {
						t.Fatalf("spread %d: took %d past %d", spread, x.at, upTo)
					}
					if len(out) > from && x.before(out[len(out)-1]) {
						t.Fatalf("spread %d: %v taken after %v", spread, x, out[len(out)-1])
					}
					out = append(out, x)
				}
			}
		}
		for x, ok := q.next(at); ok; x, ok = q.next(at) {
			out = append(out, x)
		}
		if q.len() != 0 {
			t.Fatalf("spread %d: %d left", spread, q.len())
		}
		sortProgress := func(s []progress) {
			sort.Slice(s, func(i, j int) bool {
				a, b := s[i], s[j]
				return a.before(b) || !b.before(a) && a.amount < b.amount
			})
		}
		sortProgress(in)
		sortProgress(out)
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("spread %d: taken records differ from those pushed", spread)
		}
	}
}
