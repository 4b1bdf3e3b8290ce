package store

import (
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
}

// Instrument registers the sink's metrics on reg and starts observing every
// insert; call it once, before the store is used by other goroutines.
//
//	settlemon_sink_batch_rows{table}                 histogram of rows per insert
//	settlemon_sink_insert_duration_seconds{table}    histogram, retries included
//	settlemon_sink_insert_retries_total{table}       attempts beyond the first
//	settlemon_sink_insert_failures_total{table}      inserts given up
//	settlemon_facts_written_total{table}             rows durably written
//	settlemon_anomalies_emitted_total{kind,status}   anomaly rows written
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
			Help: "Insert attempts beyond the first (retryable failures), by table.",
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
	}
	for _, c := range []prometheus.Collector{m.batchRows, m.latency, m.retries, m.failures, m.written, m.anomalies} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	// Every kind is present from the start, so rules see 0 rather than no
	// series before the first anomaly.
	for _, k := range fact.Kinds() {
		for _, st := range []fact.AnomalyStatus{fact.Open, fact.Resolved} {
			m.anomalies.WithLabelValues(string(k), string(st))
		}
	}
	s.metrics = m
	return nil
}

// observeInsert records one insert of rows into t that took d and attempts
// tries and ended with err.
func observeInsert[T any](s *Store, t *table[T], rows []T, attempts int, d time.Duration, err error) {
	m := s.metrics
	if m == nil {
		return
	}
	m.batchRows.WithLabelValues(t.name).Observe(float64(len(rows)))
	m.latency.WithLabelValues(t.name).Observe(d.Seconds())
	// Add(0) too: a table's series exist from its first insert on, so
	// rate() and increase() see 0 rather than nothing.
	m.retries.WithLabelValues(t.name).Add(float64(max(attempts-1, 0)))
	failures := m.failures.WithLabelValues(t.name)
	if err != nil {
		failures.Inc()
		return
	}
	m.written.WithLabelValues(t.name).Add(float64(len(rows)))
	if as, ok := any(rows).([]fact.Anomaly); ok {
		for i := range as {
			m.anomalies.WithLabelValues(string(as[i].Kind), string(as[i].Status)).Inc()
		}
	}
}
