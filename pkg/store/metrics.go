package store

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"settlemon/pkg/fact"
)

// metrics are the sink's instruments, observed as inserts happen. A Store
// without them (Instrument never called) measures nothing.
type metrics struct {
	batchRows *prometheus.HistogramVec
	latency   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	failures  *prometheus.CounterVec
	written   *prometheus.CounterVec
	anomalies *prometheus.CounterVec
	since     *prometheus.GaugeVec

	mu           sync.Mutex
	failingSince map[string]time.Time // table → first failed attempt of the current failing streak
}

// Instrument registers the sink's metrics on reg and starts observing every
// insert; call it once, before the store is used by other goroutines.
//
//	settlemon_sink_batch_rows{table}                 histogram of rows per insert
//	settlemon_sink_insert_duration_seconds{table}    histogram, retries included
//	settlemon_sink_insert_retries_total{table}       failed attempts that are retried, counted as they fail
//	settlemon_sink_insert_failing_since_timestamp_seconds{table}
//	                                                 first failed attempt of the current failing streak, 0 when healthy
//	settlemon_sink_insert_failures_total{table}      inserts given up
//	settlemon_facts_written_total{table}             rows durably written
//	settlemon_anomalies_emitted_total{kind,status}   anomaly rows written
//
// Every series exists from the start, at zero, for every table the store
// writes and every anomaly kind and status: rate() and increase() see the
// first retry, failure or anomaly rather than a series appearing.
func (s *Store) Instrument(reg prometheus.Registerer) error {
	table := []string{"table"}
	m := &metrics{
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "settlemon_sink_batch_rows",
			Help:    "Rows per ClickHouse insert, by table.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 … 262144
		}, table),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "settlemon_sink_insert_duration_seconds",
			Help:    "Time to make one batch durable in ClickHouse, retries included, by table.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, table),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlemon_sink_insert_retries_total",
			Help: "Insert attempts that failed with a retryable error, by table, counted as each fails (while an outage lasts, not when the insert finally succeeds).",
		}, table),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlemon_sink_insert_failures_total",
			Help: "Inserts that failed for good (permanent error or retry budget spent), by table.",
		}, table),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlemon_facts_written_total",
			Help: "Rows durably written to ClickHouse, by table (facts, archives, dead letters, health).",
		}, table),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlemon_anomalies_emitted_total",
			Help: "Anomaly rows written, by kind and status (open, or resolved when the missing event arrived).",
		}, []string{"kind", "status"}),
		since: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "settlemon_sink_insert_failing_since_timestamp_seconds",
			Help: "Wall-clock time (Unix seconds) of the first failed attempt of the current failing streak of inserts into the table; 0 when its last attempt succeeded.",
		}, table),
		failingSince: map[string]time.Time{},
	}
	for _, c := range []prometheus.Collector{m.batchRows, m.latency, m.retries, m.failures, m.written, m.anomalies, m.since} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	// Every table, kind and status is present from the start, so rules see 0
	// rather than no series before the first retry or anomaly.
	for _, name := range tableNames() {
		m.retries.WithLabelValues(name)
		m.failures.WithLabelValues(name)
		m.written.WithLabelValues(name)
		m.since.WithLabelValues(name).Set(0)
	}
	for _, k := range fact.Kinds() {
		for _, st := range []fact.AnomalyStatus{fact.Open, fact.Resolved} {
			m.anomalies.WithLabelValues(string(k), string(st))
		}
	}
	s.metrics = m
	return nil
}

// observeInsert records one insert of rows into t that took d, retries
// included, and ended with err. Its attempts are observed as they happen
// (attempt).
func observeInsert[T any](s *Store, t *table[T], rows []T, d time.Duration, err error) {
	m := s.metrics
	if m == nil {
		return
	}
	m.batchRows.WithLabelValues(t.name).Observe(float64(len(rows)))
	m.latency.WithLabelValues(t.name).Observe(d.Seconds())
	if err != nil {
		m.failures.WithLabelValues(t.name).Inc()
		return
	}
	m.written.WithLabelValues(t.name).Add(float64(len(rows)))
	if as, ok := any(rows).([]fact.Anomaly); ok {
		for i := range as {
			m.anomalies.WithLabelValues(string(as[i].Kind), string(as[i].Status)).Inc()
		}
	}
}

// attempt wraps one insert attempt into table: a retryable failure is
// counted at once (settlemon_sink_insert_retries_total) and starts the
// failing streak if none is running; a success ends it. now is the wall
// clock.
func (s *Store) attempt(table string, now func() time.Time, op func() error) func() error {
	return func() error {
		err := op()
		m := s.metrics
		if m == nil {
			return err
		}
		switch {
		case err == nil:
			m.mu.Lock()
			if _, ok := m.failingSince[table]; ok {
				delete(m.failingSince, table)
				m.since.WithLabelValues(table).Set(0)
			}
			m.mu.Unlock()
		case Retryable(err):
			m.retries.WithLabelValues(table).Inc()
			m.mu.Lock()
			if _, ok := m.failingSince[table]; !ok {
				at := now()
				m.failingSince[table] = at
				m.since.WithLabelValues(table).Set(float64(at.UnixMilli()) / 1000)
			}
			m.mu.Unlock()
		}
		return err
	}
}
