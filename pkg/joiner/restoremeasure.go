package joiner

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/store"
)

// RestoreMeasurement is what checkpointed recovery costs for a partition
// holding OpenTraces traces.
type RestoreMeasurement struct {
	OpenTraces int
	StateBytes int64 // in memory
	Bytes      int   // checkpoint, compressed
	Snapshot   time.Duration
	Save       time.Duration // to ClickHouse
	Load       time.Duration // from ClickHouse
	Restore    time.Duration // decode into a partition
}

// Total is the restart cost: loading and restoring.
func (m RestoreMeasurement) Total() time.Duration { return m.Load + m.Restore }

func (m RestoreMeasurement) String() string {
	return fmt.Sprintf("restore of %d open traces (%.0f MB in memory, %.0f MB checkpoint): load %s + restore %s = %s (snapshot %s, save %s)",
		m.OpenTraces, float64(m.StateBytes)/1e6, float64(m.Bytes)/1e6, m.Load.Round(time.Millisecond), m.Restore.Round(time.Millisecond),
		m.Total().Round(time.Millisecond), m.Snapshot.Round(time.Millisecond), m.Save.Round(time.Millisecond))
}

type fixedMerchants map[string]join.Profile

func (m fixedMerchants) Lookup(id string) (join.Profile, bool) { p, ok := m[id]; return p, ok }

// MeasureRestore builds a partition with n open traces (authorized, half of
// them cleared, none paid), checkpoints it through st under a scratch
// consumer group and restores it, timing each step.
func MeasureRestore(ctx context.Context, st *store.Store, sched *calendar.Schedule, n int) (RestoreMeasurement, error) {
	merchants := fixedMerchants{}
	for i := range 1000 {
		merchants[fmt.Sprintf("M%06d", i)] = join.Profile{Mode: event.T1, FeeRatePPM: 6000, RegisteredMCC: "5411"}
	}
	p, err := join.New(join.DefaultConfig(), sched, merchants)
	if err != nil {
		return RestoreMeasurement{}, err
	}
	base := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC).UnixMilli()
	var r event.Record
	r.Kind = event.RecordEvent
	for i := range n {
		trace := fmt.Sprintf("6%011d", i)
		at := base + int64(i)%(20*3600_000)
		r.Event = event.Event{ID: "a" + trace, Type: event.Authorization, OccurredAt: at, TraceNo: trace,
			MerchantID: fmt.Sprintf("M%06d", i%1000), TerminalID: fmt.Sprintf("T%07d", i%20000), ResponseCode: "00", Amount: 10000 + int64(i%5000), MCC: "5411"}
		p.Apply(&r)
		if i%2 == 0 {
			r.Event = event.Event{ID: "c" + trace, Type: event.Cleared, OccurredAt: at + 3600_000, TraceNo: trace,
				MerchantID: r.Event.MerchantID, BatchID: "CLR-X", Amount: r.Event.Amount, Fee: r.Event.Amount * 6 / 1000, MCC: "5411"}
			p.Apply(&r)
		}
		p.Take()
	}
	m := RestoreMeasurement{OpenTraces: p.Open(), StateBytes: p.StateBytes()}
	start := time.Now()
	var buf bytes.Buffer
	if err := p.Snapshot(&buf); err != nil {
		return m, err
	}
	m.Snapshot, m.Bytes = time.Since(start), buf.Len()
	// One group for every measurement: its two checkpoint slots are
	// overwritten each time, so measurements leave no garbage behind.
	const group = "settlemon-restore-measure"
	start = time.Now()
	if err := st.SaveCheckpoint(ctx, group, event.EventsTopic, 0, 1, buf.Bytes()); err != nil {
		return m, err
	}
	m.Save = time.Since(start)
	start = time.Now()
	_, data, ok, err := st.LoadCheckpoint(ctx, group, event.EventsTopic, 0, 1)
	if err != nil || !ok {
		return m, fmt.Errorf("loading the checkpoint back: ok=%v err=%v", ok, err)
	}
	m.Load = time.Since(start)
	start = time.Now()
	q, err := join.Restore(join.DefaultConfig(), sched, merchants, bytes.NewReader(data))
	if err != nil {
		return m, err
	}
	m.Restore = time.Since(start)
	if q.Open() != p.Open() {
		return m, fmt.Errorf("restored %d open traces, want %d", q.Open(), p.Open())
	}
	return m, nil
}
