package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// metricValue returns the value of the series of name whose labels include
// want, and whether it exists.
func metricValue(tb testing.TB, reg *prometheus.Registry, name string, want map[string]string) (float64, bool) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func instrumented(tb testing.TB) (*Store, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	s := &Store{cfg: DefaultConfig(), logger: slog.New(slog.DiscardHandler)}
	if err := s.Instrument(reg); err != nil {
		tb.Fatal(err)
	}
	return s, reg
}

func TestSinkSeriesExistFromTheStart(t *testing.T) {
	_, reg := instrumented(t)
	for _, table := range tableNames() {
		for _, name := range []string{"settlemon_sink_insert_retries_total", "settlemon_sink_insert_failures_total",
			"settlemon_facts_written_total", "settlemon_sink_insert_failing_since_timestamp_seconds"} {
			v, ok := metricValue(t, reg, name, map[string]string{"table": table})
			if !ok || v != 0 {
				t.Errorf("%s{table=%q} = %v (exists %v), want a series at 0 before any insert", name, table, v, ok)
			}
		}
	}
}

// TestRetriesCountedPerAttempt drives an outage of three failed attempts
// and looks at the metrics while it lasts: each failed attempt is counted
// as it fails, and the failing-since gauge holds the first failure's time;
// after the success the gauge is 0 and the count stays.
func TestRetriesCountedPerAttempt(t *testing.T) {
	s, reg := instrumented(t)
	const table = "dead_letters"
	at := []time.Time{time.Unix(1_800_000_000, 0), time.Unix(1_800_000_001, 0), time.Unix(1_800_000_002, 0), time.Unix(1_800_000_003, 0)}
	calls := 0
	now := func() time.Time { return at[min(calls-1, len(at)-1)] }
	retries := func() float64 {
		v, _ := metricValue(t, reg, "settlemon_sink_insert_retries_total", map[string]string{"table": table})
		return v
	}
	since := func() float64 {
		v, _ := metricValue(t, reg, "settlemon_sink_insert_failing_since_timestamp_seconds", map[string]string{"table": table})
		return v
	}
	type seen struct{ retries, since float64 }
	var during []seen
	err := s.withRetry(context.Background(), "inserting dead letters", 1, s.attempt(table, now, func() error {
		calls++
		during = append(during, seen{retries(), since()}) // what a scrape sees before this attempt
		if calls <= 3 {
			return io.EOF
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{{0, 0}, {1, 1_800_000_000}, {2, 1_800_000_000}, {3, 1_800_000_000}}
	if len(during) != len(want) {
		t.Fatalf("attempts = %d, want %d", len(during), len(want))
	}
	for i := range want {
		if during[i] != want[i] {
			t.Errorf("before attempt %d: retries %v, failing since %v; want %v, %v", i+1, during[i].retries, during[i].since, want[i].retries, want[i].since)
		}
	}
	if r, f := retries(), since(); r != 3 || f != 0 {
		t.Errorf("after the success: retries %v, failing since %v; want 3 and 0", r, f)
	}

	// A permanent error is no outage: not a retry, no streak.
	_ = s.withRetry(context.Background(), "inserting dead letters", 1, s.attempt(table, now, func() error {
		return &clickhouse.Exception{Code: 53}
	}))
	if r, f := retries(), since(); r != 3 || f != 0 {
		t.Errorf("after a permanent error: retries %v, failing since %v; want 3 and 0", r, f)
	}
}
