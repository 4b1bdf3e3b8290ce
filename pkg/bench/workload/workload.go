// Package workload turns a simulated run into the records the joiner reads,
// the way ingest writes them to settle.events, so that the join can be
// benchmarked on one core without Kafka or ClickHouse: decoded events re-keyed
// by trace, batch digests for batch tracking, and each source partition's
// watermark after every ingest-sized batch.
//
// It models one joiner partition that owns every trace (settle.events with a
// single partition). It does no I/O and reads no clock; decoding is
// event.Decode, the same as ingest's.
package workload

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/simulator"
)

// Merchants is a merchant profile table built from the run's profiles.
type Merchants map[string]join.Profile

// Lookup implements join.Merchants.
func (m Merchants) Lookup(id string) (join.Profile, bool) { p, ok := m[id]; return p, ok }

// Workload is what a simulated run gives the join.
type Workload struct {
	Records   []event.Record
	Merchants Merchants
	// Source counts the source messages of the run (heartbeats and merchant
	// profiles included); Events the event records among Records.
	Source, Events, Watermarks, Skipped int
}

// Config says which run to build.
type Config struct {
	Simulator simulator.Config
	// BatchSize is how many source messages ingest reads before it broadcasts
	// watermarks, default 50,000 (ingest.DefaultMaxBatch).
	BatchSize int
}

// Build runs the simulator over cal and converts its messages.
func Build(ctx context.Context, cfg Config, cal *calendar.Calendar) (*Workload, error) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 50_000
	}
	if cfg.BatchSize < 0 {
		return nil, errors.New("workload: negative batch size")
	}
	sim, err := simulator.New(cfg.Simulator, cal)
	if err != nil {
		return nil, err
	}
	c := newConverter(cfg.Simulator)
	w := &Workload{Merchants: Merchants{}}
	_, err = sim.Run(ctx, func(msgs []simulator.Message) error {
		for i := range msgs {
			c.add(w, &msgs[i])
			if c.pending >= cfg.BatchSize {
				c.broadcast(w)
			}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	c.broadcast(w)
	return w, nil
}

type converter struct {
	sources    map[string]event.Source
	partitions int
	offsets    map[string][]int64
	wm, sent   [event.NumSources][]int64
	pending    int
	digests    []event.Record // batch digests of the pending batch, in the order first seen
	digestOf   map[digestKey]int
}

type digestKey struct {
	source event.Source
	batch  string
}

// maxDigestSteps mirrors ingest's bound on a digest record.
const maxDigestSteps = 2000

func newConverter(cfg simulator.Config) *converter {
	t := cfg.Topics
	c := &converter{
		sources:    map[string]event.Source{t.Authorizations: event.Auth, t.Clearing: event.Clearing, t.Payouts: event.Payouts, t.Merchants: event.Merchants},
		partitions: cfg.Partitions,
		offsets:    map[string][]int64{},
	}
	for s := range c.wm {
		c.wm[s] = make([]int64, cfg.Partitions)
		c.sent[s] = make([]int64, cfg.Partitions)
	}
	for topic := range c.sources {
		c.offsets[topic] = make([]int64, cfg.Partitions)
	}
	return c
}

// partition picks the message's source partition: the pinned one, or a hash
// of the key (any stable hash will do: only the per-partition watermarks
// depend on it).
func (c *converter) partition(m *simulator.Message) int {
	if m.Partition >= 0 {
		return m.Partition % c.partitions
	}
	h := fnv.New32a()
	_, _ = h.Write(m.Key)
	return int(h.Sum32() % uint32(c.partitions))
}

func (c *converter) add(w *Workload, m *simulator.Message) {
	w.Source++
	c.pending++
	src, ok := c.sources[m.Topic]
	if !ok {
		w.Skipped++
		return
	}
	part := c.partition(m)
	off := c.offsets[m.Topic][part]
	c.offsets[m.Topic][part]++
	ev, err := event.Decode(src, m.Value)
	if err != nil {
		w.Skipped++
		return
	}
	readUpTo := c.wm[src][part]
	if ev.OccurredAt > readUpTo {
		c.wm[src][part] = ev.OccurredAt
	}
	switch {
	case ev.Type == event.Heartbeat:
		return
	case src == event.Merchants:
		if ev.Type == event.Merchant {
			w.Merchants[ev.MerchantID] = join.Profile{Mode: ev.Mode, FeeRatePPM: ev.FeeRatePPM, RegisteredMCC: ev.RegisteredMCC}
		}
		return
	case ev.Type == event.Authorization && !ev.Approved():
		return
	}
	if ev.BatchID != "" && (ev.Type == event.BatchOpened || ev.Type == event.BatchClosed) {
		c.step(src, &ev, m.Topic, part, off)
		return
	}
	rec := event.Record{Kind: event.RecordEvent, Source: src, Event: ev, Topic: m.Topic, Partition: int32(part), Offset: off, SourceWatermark: readUpTo}
	w.Records = append(w.Records, rec)
	w.Events++
	if ev.BatchID != "" && batchProgress(ev.Type) {
		c.step(src, &ev, m.Topic, part, off)
	}
}

// step adds ev to its batch's digest, as ingest does.
func (c *converter) step(src event.Source, ev *event.Event, topic string, part int, off int64) {
	k := digestKey{src, ev.BatchID}
	i, ok := c.digestOf[k]
	if !ok || len(c.digests[i].BatchSteps) == maxDigestSteps {
		if c.digestOf == nil {
			c.digestOf = map[digestKey]int{}
		}
		i = len(c.digests)
		c.digestOf[k] = i
		c.digests = append(c.digests, event.Record{Kind: event.RecordBatchDigest, Source: src, BatchID: ev.BatchID,
			Topic: topic, Partition: int32(part), Offset: off})
	}
	d := &c.digests[i]
	d.BatchSteps = append(d.BatchSteps, event.BatchStep{ID: event.IDHash(ev.ID), Type: ev.Type, At: ev.OccurredAt,
		Amount: ev.Amount, DeclaredCount: ev.DeclaredCount, DeclaredTotal: ev.DeclaredTotal})
}

// broadcast appends a watermark record for every source partition whose
// watermark moved since the last broadcast, as ingest does after a batch.
func (c *converter) broadcast(w *Workload) {
	c.pending = 0
	w.Records = append(w.Records, c.digests...)
	w.Events += len(c.digests)
	c.digests, c.digestOf = nil, nil
	for s := event.Auth; s < event.Merchants; s++ {
		for p, at := range c.wm[s] {
			if at <= c.sent[s][p] {
				continue
			}
			c.sent[s][p] = at
			w.Records = append(w.Records, event.Record{Kind: event.RecordWatermark, Source: s,
				Watermark: event.Watermark{Source: s, Partition: int32(p), Partitions: int32(c.partitions), At: at}})
			w.Watermarks++
		}
	}
}

// batchProgress mirrors ingest: the record types that show a batch
// progressing go again in its digest.
func batchProgress(t event.Type) bool {
	switch t {
	case event.Cleared, event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed:
		return true
	}
	return false
}

// Encode returns the binary settle.events form of every record, as the
// joiner reads them.
func Encode(recs []event.Record) [][]byte {
	out := make([][]byte, len(recs))
	var buf []byte
	for i := range recs {
		start := len(buf)
		buf = event.AppendRecord(buf, &recs[i])
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// FillMerchants returns n T1 merchants M000000..., for Fill.
func FillMerchants(n int) Merchants {
	m := make(Merchants, n)
	for i := range n {
		m[merchantID(i)] = join.Profile{Mode: event.T1, FeeRatePPM: 6000, RegisteredMCC: "5411"}
	}
	return m
}

func merchantID(i int) string { return fmt.Sprintf("M%06d", i) }

// Fill applies n approved authorizations with distinct trace numbers, one
// every 10 ms of event time from startMs, spread over the merchants of
// FillMerchants(merchants), and no watermark: every trace stays open.
func Fill(p *join.Partition, n, merchants int, startMs int64) {
	ids := make([]string, merchants)
	for i := range ids {
		ids[i] = merchantID(i)
	}
	rec := event.Record{Kind: event.RecordEvent, Source: event.Auth, Topic: event.Auth.DefaultTopic(), Event: event.Event{
		Type: event.Authorization, ResponseCode: "00", Currency: "CNY", MCC: "5411", CardBIN: "622848", CardLast4: "0427"}}
	var trace, id [16]byte
	for i := range n {
		e := &rec.Event
		e.TraceNo = string(appendPadded(trace[:0], int64(i), 12))
		e.ID = "au-" + string(appendPadded(id[:0], int64(i), 10))
		e.MerchantID = ids[i%merchants]
		e.TerminalID = e.MerchantID
		e.OccurredAt = startMs + int64(i)*10
		e.Amount = 10000 + int64(i%50000)
		rec.Offset = int64(i)
		p.Apply(&rec)
		p.Take()
	}
}

// appendPadded appends v in decimal, zero-padded to width.
func appendPadded(b []byte, v int64, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 || i == len(d) {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	for range width - (len(d) - i) {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}
