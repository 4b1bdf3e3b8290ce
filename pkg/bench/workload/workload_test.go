package workload

import (
	"context"
	"testing"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/join"
	"settlemon/pkg/simulator"
)

func TestBuildFeedsTheJoin(t *testing.T) {
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	sc := simulator.DefaultConfig()
	sc.Days, sc.TracesPerDay = 3, 2000
	w, err := Build(context.Background(), Config{Simulator: sc, BatchSize: 1000}, sched.Calendar())
	if err != nil {
		t.Fatal(err)
	}
	if w.Skipped != 0 {
		t.Errorf("%d simulated messages did not decode", w.Skipped)
	}
	if len(w.Merchants) != sc.Merchants {
		t.Errorf("%d merchant profiles, want %d", len(w.Merchants), sc.Merchants)
	}
	if w.Watermarks == 0 || w.Events+w.Watermarks != len(w.Records) {
		t.Fatalf("%d events and %d watermarks in %d records", w.Events, w.Watermarks, len(w.Records))
	}
	p, err := join.New(join.DefaultConfig(), sched, w.Merchants)
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]bool{}
	for i := range w.Records {
		p.Apply(&w.Records[i])
		for _, l := range p.Take().Lags {
			if l.Status == "paid" {
				paid[l.TraceNo] = true
			}
		}
	}
	// Most approved sales are paid within the three days and one more.
	if len(paid) < sc.TracesPerDay {
		t.Errorf("%d traces paid, want at least %d", len(paid), sc.TracesPerDay)
	}
	if st := p.Stats(); st.UnknownMerchs != 0 {
		t.Errorf("%d events of unknown merchants", st.UnknownMerchs)
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	recs := []event.Record{
		{Kind: event.RecordEvent, Source: event.Auth, Topic: "a", Offset: 7, Event: event.Event{ID: "e1", Type: event.Authorization, TraceNo: "T1", OccurredAt: 1000, Amount: 500}},
		{Kind: event.RecordWatermark, Source: event.Payouts, Watermark: event.Watermark{Source: event.Payouts, Partition: 1, Partitions: 6, At: 2000}},
	}
	bufs := Encode(recs)
	for i, b := range bufs {
		var r event.Record
		if err := event.DecodeRecord(b, &r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.Kind != recs[i].Kind || r.Event.TraceNo != recs[i].Event.TraceNo || r.Watermark != recs[i].Watermark {
			t.Errorf("record %d decoded as %+v, want %+v", i, r, recs[i])
		}
	}
}

func TestFillKeepsTracesOpen(t *testing.T) {
	sched, err := calendar.DefaultSchedule()
	if err != nil {
		t.Fatal(err)
	}
	p, err := join.New(join.DefaultConfig(), sched, FillMerchants(10))
	if err != nil {
		t.Fatal(err)
	}
	Fill(p, 5000, 10, 1790000000000)
	if p.Open() != 5000 {
		t.Errorf("%d open traces, want 5000", p.Open())
	}
	if st := p.Stats(); st.Events != 5000 || st.UnknownMerchs != 0 {
		t.Errorf("stats %+v: want 5000 events, all merchants known", st)
	}
}

func TestAppendPadded(t *testing.T) {
	for _, tt := range []struct {
		v     int64
		width int
		want  string
	}{{0, 3, "000"}, {42, 6, "000042"}, {1234567, 3, "1234567"}} {
		if got := string(appendPadded(nil, tt.v, tt.width)); got != tt.want {
			t.Errorf("appendPadded(%d, %d) = %q, want %q", tt.v, tt.width, got, tt.want)
		}
	}
}
