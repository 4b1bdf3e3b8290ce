package alert

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"settlemon/pkg/store"
)

func TestForFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    For
		wantErr string
	}{
		{"SourceLagging=1s,BatchStalled=0s", For{SourceLagging: time.Second, BatchStalled: 0, PayoutsOverdue: time.Minute,
			BatchIncomplete: 0, DeadLetterRate: 0, Incident: 0}, ""},
		{" DeadLetterRate = 30s ,", For{SourceLagging: 2 * time.Minute, PayoutsOverdue: time.Minute, BatchStalled: 0,
			BatchIncomplete: 0, DeadLetterRate: 30 * time.Second, Incident: 0}, ""},
		{"", DefaultFor(), ""},
		{"SourceLagging", nil, "want Rule=duration"},
		{"SourceLaging=1m", nil, `unknown alert "SourceLaging"; the alerts are BatchIncomplete, BatchStalled, DeadLetterRate, Incident, PayoutsOverdue, SourceLagging`},
		{"SourceLagging=2", nil, "not a duration"},
		{"SourceLagging=-1s", nil, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f := DefaultFor()
			err := f.Set(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set(%q) = %v, want an error with %q", tt.in, err, tt.wantErr)
				}
				if f.String() != DefaultFor().String() {
					t.Errorf("a failed Set changed the value to %s", f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.String() != tt.want.String() {
				t.Errorf("Set(%q) = %s, want %s", tt.in, f, tt.want)
			}
		})
	}
	if got, want := DefaultFor().String(), "BatchIncomplete=0s,BatchStalled=0s,DeadLetterRate=0s,Incident=0s,PayoutsOverdue=1m0s,SourceLagging=2m0s"; got != want {
		t.Errorf("DefaultFor = %s, want %s", got, want)
	}
	cfg := DefaultConfig()
	cfg.For = For{"Nope": time.Second}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `unknown alert "Nope"`) {
		t.Errorf("Validate with an unknown alert in For = %v", err)
	}
}

// TestForHoldsUntilTheConditionLasted runs the alerter on a fake clock with
// SourceLagging's default 2m: a lagging source that recovers within 2m
// sends nothing (the flapping of ingests catching up); one that lags for 2m
// at every evaluation fires once, starting when it was first seen, and
// resolves when it recovers.
func TestForHoldsUntilTheConditionLasted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lagging := []store.SourceStatus{{Source: "payouts", Status: "lagging", WatermarkLagS: 3600, ThresholdS: 1800}}
		ok := []store.SourceStatus{{Source: "payouts", Status: "ok", ThresholdS: 1800}}
		st := &fakeStore{sources: lagging}
		sink := &fakeSink{name: "fake"}
		cfg := testConfig()
		cfg.For = DefaultFor()
		a := newTestAlerter(t, cfg, st, sink)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		defer func() { cancel(); <-done }()

		step := func(d time.Duration, sources []store.SourceStatus) {
			t.Helper()
			st.set(func(f *fakeStore) { f.sources = sources })
			time.Sleep(d)
			synctest.Wait()
		}
		synctest.Wait()
		step(100*time.Second, lagging) // lagging for 1m40s
		step(10*time.Second, ok)       // recovered before 2m
		if got := sink.log(); len(got) != 0 {
			t.Fatalf("a lag shorter than 2m sent %q", got)
		}

		step(cfg.Interval, lagging)
		first := time.Now()            // the evaluation at this instant saw it first
		step(110*time.Second, lagging) // 1m50s since first seen
		if got := sink.log(); len(got) != 0 {
			t.Fatalf("fired before 2m: %q", got)
		}
		step(10*time.Second, lagging) // 2m
		if got, want := sink.log(), []string{"firing SourceLagging/payouts"}; !slices.Equal(got, want) {
			t.Fatalf("after 2m lagging: %q, want %q", got, want)
		}
		if got := sink.got[0].StartsAt; !got.Equal(first.UTC().Truncate(time.Second)) {
			t.Errorf("startsAt = %v, want the first evaluation that saw it, %v", got, first.UTC())
		}
		step(10*time.Minute, lagging)
		step(10*time.Second, ok)
		if got, want := sink.log(), []string{"firing SourceLagging/payouts", "resolved SourceLagging/payouts"}; !slices.Equal(got, want) {
			t.Fatalf("after recovery: %q, want %q", got, want)
		}
	})
}

// TestForOfAHistory: a batch stall that started and ended between two
// evaluations fires (then resolves) only when it lasted its alert's For.
func TestForOfAHistory(t *testing.T) {
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		lasted time.Duration
		want   []string
	}{
		{10 * time.Minute, nil},
		{time.Hour, []string{"firing BatchStalled/batch_stalled:payouts:PB-1:1", "resolved BatchStalled/batch_stalled:payouts:PB-1:1"}},
	} {
		t.Run(tt.lasted.String(), func(t *testing.T) {
			st := &fakeStore{anomalies: stallVersions("PB-1", now.Add(-2*time.Hour), now.Add(-2*time.Hour+tt.lasted))}
			sink := &fakeSink{name: "fake"}
			cfg := testConfig()
			cfg.For = For{BatchStalled: 30 * time.Minute}
			a, err := New(cfg, Deps{Store: st, Sinks: []Sink{sink}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.EvaluateOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := sink.log(); !slices.Equal(got, tt.want) {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
		})
	}
}
