// Package report builds the end-of-run summary an operator reads: events per
// topic with a reconciliation that accounts for every source message
// (archived, dead-lettered, or deliberately skipped), dead letters by reason,
// facts written, settlement-lag percentiles per mode and anomalies by kind.
//
// It reads Kafka offsets and the ClickHouse views; it changes nothing.
package report

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// TopicLine reconciles one source topic.
type TopicLine struct {
	Topic       string
	Messages    int64 // in the topic (end minus first offset, over all partitions)
	Archived    uint64
	Control     uint64 // heartbeats: recorded, not archived as payments
	DeadLetters uint64
}

// Unaccounted is how many messages have no fate recorded (negative: more
// fates than messages, which would be a bug).
func (t TopicLine) Unaccounted() int64 {
	return t.Messages - int64(t.Archived+t.Control+t.DeadLetters)
}

// Report is the summary of a run.
type Report struct {
	Topics       []TopicLine
	DeadReasons  map[string]uint64
	Declined     uint64
	LagRows      uint64
	LagByMode    []store.ModeLag
	Anomalies    []store.AnomalyCount // by kind, open and resolved, rows and traces
	AllAnomalies store.AnomalyCount   // every kind together (a trace counts once)
	// Incidents are the anomalies grouped by cause, and the source
	// outages, most urgent first (incident.Less).
	Incidents []incident.Summary
	// Location is where the report shows local times (incidents); nil is UTC.
	Location *time.Location
	Sources  []store.SourceSummary
	Batches  []store.BatchSummary
	Examples map[string]string // anomaly kind → one trace number with it
	// UnknownCodes are the bank return codes of failed payouts that the
	// return-code catalogue lacked (mapped to other), most frequent first;
	// UnknownCodePayouts counts the failures that carried one.
	UnknownCodes       []store.UnknownBankCode
	UnknownCodePayouts uint64
	Database           string
	ClickHouse         string
	Simulation         *Simulation // what a simulated run published, nil for none
	ExtraSummary       []string    // lines the caller adds (timings, throughput)
}

// Simulation is what a simulated run published and how long it took.
type Simulation struct {
	Days                                 int
	Start                                string // the first simulated date
	Traces, Approved, Declined, Messages int
	Elapsed                              time.Duration
}

// Balanced reports whether every message of every topic is accounted for.
func (r Report) Balanced() bool {
	for _, t := range r.Topics {
		if t.Unaccounted() != 0 {
			return false
		}
	}
	return len(r.Topics) > 0
}

// Facts is what the report reads from ClickHouse; *store.Store implements it.
type Facts interface {
	Database() string
	TopicCounts(ctx context.Context) ([]store.TopicCount, error)
	LagRowCount(ctx context.Context) (uint64, error)
	LagByMode(ctx context.Context) ([]store.ModeLag, error)
	DeclinedCount(ctx context.Context) (uint64, error)
	AnomalyCounts(ctx context.Context) (byKind []store.AnomalyCount, all store.AnomalyCount, err error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Summary, error)
	BatchSummaries(ctx context.Context) ([]store.BatchSummary, error)
	SourceSummaries(ctx context.Context) ([]store.SourceSummary, error)
	DeadLetterReasons(ctx context.Context) (map[string]uint64, error)
	UnknownBankCodes(ctx context.Context, limit int) ([]store.UnknownBankCode, uint64, error)
	ExampleTraces(ctx context.Context) (map[string]string, error)
}

// Build reads the figures for topics from Kafka and ClickHouse.
func Build(ctx context.Context, k kafkaio.Config, st Facts, topics []string) (Report, error) {
	r := Report{Database: st.Database()}
	counts, err := st.TopicCounts(ctx)
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	byTopic := map[string]store.TopicCount{}
	for _, c := range counts {
		byTopic[c.Topic] = c
	}
	for _, t := range topics {
		offs, err := kafkaio.TopicOffsets(ctx, k, t)
		if err != nil {
			return r, fmt.Errorf("report: %w", err)
		}
		line := TopicLine{Topic: t, Archived: byTopic[t].Archived, Control: byTopic[t].Control, DeadLetters: byTopic[t].DeadLetters}
		for _, o := range offs {
			line.Messages += o.End - o.First
		}
		r.Topics = append(r.Topics, line)
	}
	if r.DeadReasons, err = st.DeadLetterReasons(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Declined, err = st.DeclinedCount(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.LagRows, err = st.LagRowCount(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.LagByMode, err = st.LagByMode(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Anomalies, r.AllAnomalies, err = st.AnomalyCounts(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Incidents, err = st.Incidents(ctx, store.IncidentQuery{}); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Batches, err = st.BatchSummaries(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.UnknownCodes, r.UnknownCodePayouts, err = st.UnknownBankCodes(ctx, 10); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Examples, err = st.ExampleTraces(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Sources, err = st.SourceSummaries(ctx); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// WriteText renders the report for a terminal. Names read from the store
// (topics, reasons, modes, kinds, sources, trace numbers) are printed through
// event.EscapeText, so a control or bidi character in a row shows escaped.
// Every table is laid out by table, so its columns line up whatever the
// figures' widths; every time column names its clock.
func (r Report) WriteText(w io.Writer) { r.WriteTextIn(w, text.English) }

// WriteTextIn is WriteText with the report's sentences and headings in
// lang; identifiers (topics, reasons, kinds, statuses) stay as they are.
func (r Report) WriteTextIn(w io.Writer, lang text.Lang) {
	esc := event.EscapeText
	tp := text.NewPrinter(lang, time.UTC)
	line := func(id string, a ...string) { fmt.Fprintln(w, tp.S(id, a...)) }
	blank := func() { fmt.Fprintln(w) }
	head := func(ids ...string) *table {
		hs := make([]string, len(ids))
		for i, id := range ids {
			right := strings.HasSuffix(id, ">")
			hs[i] = tp.S(strings.TrimSuffix(id, ">"))
			if right {
				hs[i] += ">"
			}
		}
		return newTable(hs...)
	}
	n := func(v any) string { return fmt.Sprint(v) }
	blank()
	line("report.title")
	if s := r.Simulation; s != nil {
		line("report.simulation", n(s.Days), s.Start, n(s.Traces), n(s.Approved), n(s.Declined), n(s.Messages), tp.Span(s.Elapsed))
	}
	for _, l := range r.ExtraSummary {
		fmt.Fprintln(w, l)
	}
	blank()
	line("report.topics")
	topics := head("report.col.topic", "report.col.messages>", "report.col.archived>", "report.col.heartbeat>", "report.col.dead>", "report.col.unaccounted>")
	var total, arch, ctl, dead int64
	for _, t := range r.Topics {
		topics.row(esc(t.Topic), t.Messages, t.Archived, t.Control, t.DeadLetters, t.Unaccounted())
		total += t.Messages
		arch += int64(t.Archived)
		ctl += int64(t.Control)
		dead += int64(t.DeadLetters)
	}
	topics.write(w)
	verdict := tp.S("report.balanced")
	if !r.Balanced() {
		verdict = tp.S("report.not_balanced")
	}
	line("report.reconciliation", n(total), n(arch), n(ctl), n(dead), verdict)
	line("report.declined", n(r.Declined))
	blank()
	line("report.dead_letters")
	if len(r.DeadReasons) == 0 {
		line("report.none")
	}
	reasons := head("report.col.reason", "report.col.messages>")
	for _, k := range slices.Sorted(maps.Keys(r.DeadReasons)) {
		reasons.row(esc(k), r.DeadReasons[k])
	}
	if len(r.DeadReasons) > 0 {
		reasons.write(w)
	}
	blank()
	all := r.AllAnomalies
	line("report.facts", n(r.LagRows), n(all.Rows()), n(all.OpenRows), n(all.ResolvedRows))
	blank()
	line("report.lag")
	lag := head("report.col.mode", "report.col.paid>", "report.col.p50>", "report.col.p95>", "report.col.p99>")
	for _, m := range r.LagByMode {
		lag.row(esc(m.Mode), m.Paid, lagCell(tp, m.P50), lagCell(tp, m.P95), lagCell(tp, m.P99))
	}
	if len(r.LagByMode) == 0 {
		line("report.lag.none")
	} else {
		lag.write(w)
	}
	blank()
	r.writeIncidents(w, tp)
	blank()
	line("report.anomalies")
	if len(r.Anomalies) == 0 {
		line("report.none")
	} else {
		kinds := head("report.col.kind", "report.col.open_rows>", "report.col.open_traces>", "report.col.resolved_rows>", "report.col.resolved_traces>")
		for _, c := range r.Anomalies {
			kinds.row(esc(c.Kind), c.OpenRows, c.OpenTraces, c.ResolvedRows, c.ResolvedTraces)
		}
		kinds.row(tp.S("report.all_kinds"), all.OpenRows, all.OpenTraces, all.ResolvedRows, all.ResolvedTraces)
		kinds.write(w)
		line("report.anomalies.note1")
		line("report.anomalies.note2")
	}
	blank()
	r.writeUnknownCodes(w, tp)
	blank()
	line("report.batches")
	if len(r.Batches) == 0 {
		line("report.batches.none")
	} else {
		batches := head("report.col.status", "report.col.source", "report.col.batches>", "report.col.records_seen>", "report.col.declared>",
			"report.col.amount_seen>", "report.col.declared_amount>", "report.col.stall_episodes>")
		for _, b := range r.Batches {
			declared, declaredAmount := fmt.Sprint(b.Declared), yuan(b.DeclaredTotal)
			if b.Declared == 0 && b.DeclaredTotal == 0 {
				declared, declaredAmount = "–", "–" // open batches declare at their close
			}
			batches.row(esc(b.Status), esc(b.Source), b.Batches, b.Seen, declared, yuan(b.SeenTotal), declaredAmount, b.Stalls)
		}
		batches.write(w)
	}
	blank()
	line("report.sources")
	if len(r.Sources) == 0 {
		line("report.sources.none")
	} else {
		sources := head("report.col.source", "report.col.watermark", "report.col.behind>", "report.col.status", "report.col.lagging_obs>",
			"report.col.max_behind>", "report.col.max_withheld>", "report.col.msgs_lag>")
		for _, s := range r.Sources {
			lag := "?"
			if s.ConsumerLag >= 0 {
				lag = fmt.Sprint(s.ConsumerLag)
			}
			sources.row(esc(s.Source), time.UnixMilli(s.Watermark).UTC().Format("2006-01-02 15:04:05"),
				tp.Span(time.Duration(s.WatermarkLagS)*time.Second), esc(s.Status), s.LaggingReports, tp.Span(time.Duration(s.MaxLagS)*time.Second), s.MaxWithheld, lag)
		}
		sources.write(w)
		line("report.sources.note")
	}
	blank()
	line("report.queries")
	addr := r.ClickHouse
	host, port := "127.0.0.1", "19000"
	if i := strings.LastIndex(addr, ":"); i > 0 {
		host, port = addr[:i], addr[i+1:]
	}
	cli := fmt.Sprintf("clickhouse-client --host %s --port %s --database %s", host, port, r.Database)
	for _, q := range store.AnalystQueries {
		fmt.Fprintf(w, "  %s -q \"%s\"\n", cli, q)
	}
	if len(r.Examples) > 0 {
		blank()
		line("report.examples")
		for _, k := range slices.Sorted(maps.Keys(r.Examples)) {
			fmt.Fprintf(w, "  bin/settlemon explain %-14s # %s\n", esc(r.Examples[k]), esc(k))
		}
	}
}

// Incidents shown in the report: the most urgent open ones, then the most
// urgent resolved ones (where a source outage that is over shows).
const (
	reportOpenIncidents     = 15
	reportResolvedIncidents = 5
)

// writeIncidents lists the incidents, open first, each with its one action,
// in tp's language with local times in r.Location.
func (r Report) writeIncidents(w io.Writer, tp *text.Printer) {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	lp := text.NewPrinter(tp.Lang(), loc)
	line := func(id string, a ...string) { fmt.Fprintln(w, lp.S(id, a...)) }
	var open, resolved []incident.Summary
	var anomalies uint64
	for _, s := range r.Incidents {
		anomalies += s.Anomalies
		if s.Status == fact.Open {
			open = append(open, s)
		} else {
			resolved = append(resolved, s)
		}
	}
	line("report.incidents", fmt.Sprint(len(r.Incidents)), fmt.Sprint(anomalies), fmt.Sprint(len(open)), fmt.Sprint(len(resolved)))
	if len(r.Incidents) == 0 {
		line("report.none")
		return
	}
	n := 0
	show := func(list []incident.Summary, limit int, more string) {
		for i, s := range list {
			if i == limit {
				line(more, fmt.Sprint(len(list)-limit))
				break
			}
			n++
			span := at(lp, s.FirstAt)
			if s.LastAt != s.FirstAt {
				span = lp.S("report.incidents.span", span, at(lp, s.LastAt))
			}
			line("report.incidents.line", fmt.Sprintf("%2d", n), lp.SeverityName(s.Severity), lp.IncidentStatus(s.Status),
				event.EscapeText(lp.IncidentTitle(s)))
			line("report.incidents.counts", count(lp, s.Traces, "report.incidents.trace", "report.incidents.traces"), yuan(s.Amount),
				count(lp, s.Merchants, "report.incidents.merchant", "report.incidents.merchants"), span)
			line("report.incidents.action", event.EscapeText(lp.IncidentAction(s)))
			line("report.incidents.key", event.EscapeText(s.Key.String()))
		}
	}
	show(open, reportOpenIncidents, "report.incidents.more_open")
	show(resolved, reportResolvedIncidents, "report.incidents.more_resolved")
}

// count is "1 trace" or "2 traces" ("2 笔交易"), from the singular's and
// the plural's message ids.
func count(p *text.Printer, n uint64, one, many string) string {
	if n == 1 {
		return p.S(one, "1")
	}
	return p.S(many, fmt.Sprint(n))
}

// at renders an instant of an incident, in p's location: "2026-09-21 19:26
// +08:00", "2026年9月21日（周一）19:26".
func at(p *text.Printer, ms int64) string {
	if p.Chinese() {
		return p.Instant(ms)
	}
	return time.UnixMilli(ms).In(p.Location()).Format("2006-01-02 15:04 -07:00")
}

// writeUnknownCodes says how many failed payouts carried a bank return code
// the catalogue lacks, and which codes, so that ops can extend the file.
func (r Report) writeUnknownCodes(w io.Writer, tp *text.Printer) {
	if r.UnknownCodePayouts == 0 {
		fmt.Fprintln(w, tp.S("report.codes.known"))
		return
	}
	fmt.Fprintln(w, tp.S("report.codes.unknown", fmt.Sprint(r.UnknownCodePayouts)))
	shown := uint64(0)
	for _, u := range r.UnknownCodes {
		fmt.Fprintln(w, tp.S("report.codes.line", fmt.Sprintf("%-28s %6d", event.EscapeText(u.Code), u.Payouts), event.EscapeText(u.CatalogVersion),
			time.Unix(u.LatestFailedAtS, 0).UTC().Format("2006-01-02 15:04 UTC")))
		shown += u.Payouts
	}
	if rest := r.UnknownCodePayouts - shown; rest > 0 {
		fmt.Fprintln(w, tp.S("report.codes.more", fmt.Sprint(rest)))
	}
}

// lagCell is a lag in seconds and in hours: "86400 s (24.0 h)",
// "86400 秒（24.0 小时）".
func lagCell(tp *text.Printer, sec float64) string {
	return tp.S("report.lag.cell", fmt.Sprintf("%.0f", sec), fmt.Sprintf("%.1f", sec/3600))
}

// yuan formats fen as yuan with thousands separators: "¥2,370,000.00".
func yuan(fen int64) string {
	if s, neg := strings.CutPrefix(fact.YuanGrouped(fen), "-"); neg {
		return "-¥" + s
	}
	return "¥" + fact.YuanGrouped(fen)
}
