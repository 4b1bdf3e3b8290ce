package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
)

// IncidentQuery selects incidents; zero fields do not filter.
type IncidentQuery struct {
	Status fact.AnomalyStatus // open, resolved, or "" for both
	// Silence is how long a feed must send no heartbeat to be a source
	// outage; 0 uses incident.DefaultSilence.
	Silence time.Duration
	Limit   int // 0: all
	// SkipOutages leaves out the source outages (they scan every
	// heartbeat): for callers that poll and alert on feeds otherwise.
	SkipOutages bool
}

// Incidents returns the incidents of the latest anomalies (incidents_latest)
// and the source outages found in the heartbeats (FeedOutages), in
// incident.Less order.
func (s *Store) Incidents(ctx context.Context, q IncidentQuery) ([]incident.Summary, error) {
	where := ""
	var args []any
	if q.Status != "" {
		where = "WHERE incident_status = ?"
		args = append(args, string(q.Status))
	}
	rows, err := s.conn.Query(ctx, `
SELECT incident_key, kinds, severity_rank, anomalies, open_anomalies, traces, total_amount, merchants,
       some_merchants, first_detected_at, last_detected_at, last_resolved_at, incident_status
FROM incidents_latest `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	defer rows.Close()
	var out []incident.Summary
	for rows.Next() {
		var (
			sm                   incident.Summary
			key, status          string
			kinds                []string
			rank                 uint8
			amount               decimal.Decimal
			first, last, resolve time.Time
		)
		if err := rows.Scan(&key, &kinds, &rank, &sm.Anomalies, &sm.Open, &sm.Traces, &amount, &sm.Merchants,
			&sm.SomeMerchants, &first, &last, &resolve, &status); err != nil {
			return nil, fmt.Errorf("reading incidents: %w", err)
		}
		if sm.Key, err = incident.Parse(key); err != nil {
			return nil, fmt.Errorf("reading incidents: %w", err)
		}
		for _, k := range kinds {
			sm.Kinds = append(sm.Kinds, fact.Kind(k))
		}
		sm.Severity, sm.Amount, sm.Status = incident.SeverityOfRank(rank), sumFen(amount), fact.AnomalyStatus(status)
		sm.FirstAt, sm.LastAt = unixMs(first), unixMs(last)
		if sm.Status == fact.Resolved {
			sm.ResolvedAt = unixMs(resolve)
		}
		out = append(out, sm)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	if !q.SkipOutages {
		outages, err := s.FeedOutages(ctx, q.Silence)
		if err != nil {
			return nil, err
		}
		for _, o := range outages {
			if q.Status == "" || o.Status == q.Status {
				out = append(out, o)
			}
		}
	}
	slices.SortFunc(out, func(a, b incident.Summary) int {
		switch {
		case incident.Less(&a, &b):
			return -1
		case incident.Less(&b, &a):
			return 1
		}
		return 0
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// sourceOfTopic names the source of a topic: the source whose default topic
// it is, else the topic itself.
func sourceOfTopic(topic string) string {
	for s := event.Auth; s < event.NumSources; s++ {
		if s.DefaultTopic() == topic {
			return s.String()
		}
	}
	return topic
}

// The payment events a feed delivered with an event time inside a window,
// one row per trace: what the feed held back while it was silent.
const outageTracesFrom = `
FROM
(
    SELECT topic, trace_no, merchant_id, amount, occurred_at FROM auth_events WHERE topic = ? AND occurred_at > ? AND occurred_at < ? AND trace_no != ''
    UNION ALL SELECT topic, trace_no, merchant_id, amount, occurred_at FROM clearing_events WHERE topic = ? AND occurred_at > ? AND occurred_at < ? AND trace_no != ''
    UNION ALL SELECT topic, trace_no, merchant_id, amount, occurred_at FROM payout_events WHERE topic = ? AND occurred_at > ? AND occurred_at < ? AND trace_no != ''
)`

func outageArgs(topic string, w incident.Window) []any {
	from, to := uint32(w.From/1000), uint32(w.To/1000)
	return []any{topic, from, to, topic, from, to, topic, from, to}
}

// FeedOutages returns the source outages: the silences longer than silence
// (0: incident.DefaultSilence) in each source topic's heartbeats
// (control_events), each with the traces whose events the feed delivered
// from inside the silence, their amount (the largest amount of each trace's
// events) and merchants. A silence that lasts still — the feed's last
// heartbeat lies that long before the latest heartbeat of any feed — is
// open. Heartbeats are deduplicated by time, so a replay changes nothing.
func (s *Store) FeedOutages(ctx context.Context, silence time.Duration) ([]incident.Summary, error) {
	if silence <= 0 {
		silence = incident.DefaultSilence
	}
	rows, err := s.conn.Query(ctx, `
SELECT topic, arraySort(groupUniqArray(toUInt32(occurred_at))) AS beats
FROM control_events
GROUP BY topic
ORDER BY topic`)
	if err != nil {
		return nil, fmt.Errorf("reading heartbeats: %w", err)
	}
	type feed struct {
		topic string
		beats []int64
	}
	var (
		feeds []feed
		until int64
	)
	for rows.Next() {
		var (
			topic string
			secs  []uint32
		)
		if err := rows.Scan(&topic, &secs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading heartbeats: %w", err)
		}
		f := feed{topic: topic, beats: make([]int64, len(secs))}
		for i, v := range secs {
			f.beats[i] = int64(v) * 1000
			until = max(until, f.beats[i])
		}
		feeds = append(feeds, f)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("reading heartbeats: %w", err)
	}
	var out []incident.Summary
	for _, f := range feeds {
		for _, w := range incident.Gaps(f.beats, until, silence) {
			sm := incident.Summary{Key: incident.OutageKey(sourceOfTopic(f.topic), w.From), Severity: fact.Critical,
				Status: fact.Resolved, FirstAt: w.From, LastAt: w.To, ResolvedAt: w.To}
			if w.Open {
				sm.Status, sm.ResolvedAt = fact.Open, 0
			}
			var amount decimal.Decimal
			if err := s.conn.QueryRow(ctx, `
SELECT count(), sum(a), uniqExactIf(m, m != ''), arraySlice(arraySort(groupUniqArrayIf(m, m != '')), 1, 20)
FROM (SELECT trace_no, max(amount) AS a, any(merchant_id) AS m `+outageTracesFrom+` GROUP BY trace_no)`,
				outageArgs(f.topic, w)...).Scan(&sm.Traces, &amount, &sm.Merchants, &sm.SomeMerchants); err != nil {
				return nil, fmt.Errorf("reading the traces of the %s outage: %w", f.topic, err)
			}
			sm.Amount = sumFen(amount)
			out = append(out, sm)
		}
	}
	return out, nil
}

// IncidentTrace is one trace (or batch) of an incident, for the drill-down:
// the anomaly that put it there, or for a source outage the latest event the
// feed delivered late.
type IncidentTrace struct {
	TraceNo    string
	BatchID    string
	MerchantID string
	Kind       fact.Kind // empty for a source outage
	Status     fact.AnomalyStatus
	Amount     int64  // fen
	At         int64  // Unix ms: detection, or the event time
	Details    string // the stored (English) details
	// Anomaly is the anomaly as stored, for a reader to render its details
	// in its own language; nil for the traces of a source outage.
	Anomaly *fact.Anomaly
}

// IncidentTraces returns up to limit (default 100) traces of the incident
// key, earliest first, and how many there are in all.
func (s *Store) IncidentTraces(ctx context.Context, key incident.Key, limit int) ([]IncidentTrace, uint64, error) {
	if limit <= 0 {
		limit = 100
	}
	if key.Class == incident.SourceOutage {
		return s.outageTraces(ctx, key, limit)
	}
	var total uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM anomalies FINAL WHERE incident_key = ?`, key.String()).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting the anomalies of incident %s: %w", key, err)
	}
	rows, err := s.conn.Query(ctx, `
SELECT `+anomalyColumns+`
FROM anomalies FINAL
WHERE incident_key = ?
ORDER BY detected_at, id
LIMIT ?`, key.String(), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the anomalies of incident %s: %w", key, err)
	}
	as, err := scanAnomalyRows(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the anomalies of incident %s: %w", key, err)
	}
	out := make([]IncidentTrace, len(as))
	for i := range as {
		a := &as[i]
		out[i] = IncidentTrace{TraceNo: a.TraceNo, BatchID: a.BatchID, MerchantID: a.MerchantID, Kind: a.Kind, Status: a.Status,
			Amount: a.Amount, At: a.DetectedAt, Details: a.Details, Anomaly: a}
	}
	return out, total, nil
}

// outageTraces lists the traces a feed delivered from inside its silence.
func (s *Store) outageTraces(ctx context.Context, key incident.Key, limit int) ([]IncidentTrace, uint64, error) {
	outages, err := s.FeedOutages(ctx, 0)
	if err != nil {
		return nil, 0, err
	}
	var w incident.Window
	found := false
	for _, o := range outages {
		if o.Key == key {
			w, found = incident.Window{From: o.FirstAt, To: o.LastAt}, true
			break
		}
	}
	if !found {
		return nil, 0, nil
	}
	topic := key.Source
	if src, err := event.ParseSource(key.Source); err == nil {
		topic = src.DefaultTopic()
	}
	args := outageArgs(topic, w)
	var total uint64
	if err := s.conn.QueryRow(ctx, `SELECT uniqExact(trace_no) `+outageTracesFrom, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting the traces of incident %s: %w", key, err)
	}
	rows, err := s.conn.Query(ctx, `
SELECT trace_no, any(merchant_id), max(amount), max(occurred_at) AS at `+outageTracesFrom+`
GROUP BY trace_no
ORDER BY at, trace_no
LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the traces of incident %s: %w", key, err)
	}
	defer rows.Close()
	var out []IncidentTrace
	for rows.Next() {
		var (
			t      IncidentTrace
			amount decimal.Decimal
			at     time.Time
		)
		if err := rows.Scan(&t.TraceNo, &t.MerchantID, &amount, &at); err != nil {
			return nil, 0, fmt.Errorf("reading the traces of incident %s: %w", key, err)
		}
		t.Amount, t.At = toFen(amount), unixMs(at)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading the traces of incident %s: %w", key, err)
	}
	return out, total, nil
}
