package alert

import (
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Alert names.
const (
	BatchStalled    = "BatchStalled"
	BatchIncomplete = "BatchIncomplete"
	SourceLagging   = "SourceLagging"
	PayoutsOverdue  = "PayoutsOverdue"
	DeadLetterRate  = "DeadLetterRate"
	Incident        = "Incident"
)

// Help explains every alert, for --help and the README.
const Help = `Alerts:
  BatchStalled     (critical; labels batch_id, source, kind, anomaly_id) one per
                   batch_stalled anomaly: an open clearing or payout batch made no
                   progress for its stall timeout while its feed delivered past it.
                   Resolves when the batch progresses again. Read from every stored
                   version of the anomaly, so a batch that stalled and resumed
                   between two evaluations (a replay) still gives one firing and
                   one resolved notification.
  BatchIncomplete  (critical; labels batch_id, source, kind, anomaly_id) one per
                   batch_incomplete anomaly: a batch closed with another record
                   count or total than it declared. Fires while the anomaly is
                   open; there is normally no resolution.
  SourceLagging    (critical; label source) one per source whose latest joiner
                   observation is "lagging": its watermark is further behind now
                   than the joiner's stall threshold. Absence checks depending on
                   the source wait meanwhile, so a silent feed is this one alert,
                   not one per merchant. Resolves when the source is ok again.
  PayoutsOverdue   (critical; label kind) ONE aggregate alert while the open
                   payout_overdue anomalies exceed --overdue-count in number or
                   --overdue-amount in yuan; never one per merchant or trace.
  Incident         (critical; labels incident_key, incident_class, kind) one per
                   open critical incident with at least --incident-min-traces
                   traces: the open anomalies that share one cause (a bank
                   return code on a day, a merchant's settlement account, a
                   day's clearing file or payout run, ...), one notification
                   with the count, amount, merchants and the one action.
                   Resolves when the incident's last anomaly resolves. Batches
                   alert as BatchStalled / BatchIncomplete (which carry
                   incident_key too), feeds as SourceLagging.
  DeadLetterRate   (warning) while more than --dead-letter-max messages were
                   dead-lettered in the last --dead-letter-window (Kafka time,
                   wall clock): a producer sends malformed or invalid events.

Every alert carries the annotations summary, description and action (the
recommended action, from the anomaly taxonomy where there is one), in
English or, with --lang zh-CN, in Simplified Chinese; the labels are the
same in both.

Each alert has a minimum duration (--for, like Prometheus' for): its
condition must be seen at every evaluation for that long before it fires;
until then it is pending and nothing is sent. Defaults: SourceLagging 2m
(ingest consumers catching up at different speeds make a feed lag for
moments), PayoutsOverdue 1m, the others 0s. A batch stall that started and
ended between two evaluations fires only if it lasted its minimum.`

// BatchConditions turns the stored versions of batch_stalled and
// batch_incomplete anomalies into one condition per anomaly id. An id with a
// resolved version fired and has cleared, whatever its other versions (they
// may have been merged away); otherwise it fires.
func BatchConditions(versions []fact.Anomaly) []Condition {
	return batchConditions(text.NewPrinter(text.English, time.UTC), versions)
}

func batchConditions(p *text.Printer, versions []fact.Anomaly) []Condition {
	type agg struct {
		first    fact.Anomaly // lowest version
		last     fact.Anomaly // highest version
		resolved *fact.Anomaly
	}
	var order []string
	byID := map[string]*agg{}
	for _, a := range versions {
		if a.Kind != fact.BatchStalled && a.Kind != fact.BatchIncomplete {
			continue
		}
		g := byID[a.ID]
		if g == nil {
			g = &agg{first: a, last: a}
			byID[a.ID] = g
			order = append(order, a.ID)
		}
		if a.Version < g.first.Version {
			g.first = a
		}
		if a.Version >= g.last.Version {
			g.last = a
		}
		if a.Status == fact.Resolved && (g.resolved == nil || a.Version >= g.resolved.Version) {
			r := a
			g.resolved = &r
		}
	}
	out := make([]Condition, 0, len(order))
	for _, id := range order {
		g := byID[id]
		shown := g.last
		if g.resolved != nil {
			shown = *g.resolved
		}
		c := batchCondition(p, shown)
		c.StartsAt = msTime(g.first.DetectedAt)
		if g.resolved != nil {
			c.Resolved, c.EndsAt = true, msTime(g.resolved.ResolvedAt)
		}
		out = append(out, c)
	}
	return out
}

func batchCondition(p *text.Printer, a fact.Anomaly) Condition {
	name := BatchStalled
	if a.Kind == fact.BatchIncomplete {
		name = BatchIncomplete
	}
	tx, _ := fact.Describe(a.Kind)
	sev := a.Severity
	if sev == "" {
		sev = tx.Severity
	}
	labels := map[string]string{
		LabelAlertName: name,
		LabelSeverity:  string(sev),
		LabelBatchID:   a.BatchID,
		LabelKind:      string(a.Kind),
		LabelAnomalyID: a.ID,
	}
	src := batchSource(a)
	if src != "" {
		labels[LabelSource] = src
	}
	if a.BatchID == "" {
		delete(labels, LabelBatchID) // an empty label is no label
	}
	if a.IncidentKey != "" {
		labels[LabelIncident] = a.IncidentKey
	}
	what := text.M("alert.batch", text.T(a.BatchID))
	if src != "" {
		what = text.M("alert.batch.source", text.T(src), text.T(a.BatchID))
	}
	summary := text.M("alert.batch_stalled.summary", text.Sub(what))
	if a.Kind == fact.BatchIncomplete {
		summary = text.M("alert.batch_incomplete.summary", text.Sub(what))
	}
	ids := text.M("alert.batch.detected", text.T(a.ID), text.T(msTime(a.DetectedAt).Format(time.RFC3339)))
	if a.ResolvedAt > 0 {
		ids = text.M("alert.batch.resolved", text.Sub(ids), text.T(msTime(a.ResolvedAt).Format(time.RFC3339)))
	}
	desc := text.M("alert.batch.description", text.DetailsOf(a, p.Location()), text.Sub(ids))
	// The stored action is the kind's, in English (package fact).
	action := text.Just(text.Arg{Action: string(a.Kind)})
	return newCondition(p, labels, summary, desc, action)
}

// newCondition is a condition with its annotations as messages, rendered
// in p's language.
func newCondition(p *text.Printer, labels map[string]string, summary, description, action text.Msg) Condition {
	msgs := map[string]text.Msg{AnnotationSummary: summary, AnnotationDescription: description, AnnotationAction: action}
	return Condition{Labels: labels, Annotations: p.RenderAll(msgs), Messages: msgs}
}

// batchSource reads the source from a batch anomaly id,
// "<kind>:<source>:<batch_id>[:<n>]"; empty when the id has no known source.
func batchSource(a fact.Anomaly) string {
	rest, ok := strings.CutPrefix(a.ID, string(a.Kind)+":")
	if !ok {
		return ""
	}
	src, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	if _, err := event.ParseSource(src); err != nil {
		return ""
	}
	return src
}

// SourceConditions gives one firing condition per lagging source.
func SourceConditions(rows []store.SourceStatus) []Condition {
	return sourceConditions(text.NewPrinter(text.English, time.UTC), rows)
}

func sourceConditions(p *text.Printer, rows []store.SourceStatus) []Condition {
	var out []Condition
	for _, r := range rows {
		if r.Status != "lagging" {
			continue
		}
		lag := time.Duration(r.WatermarkLagS) * time.Second
		threshold := time.Duration(r.ThresholdS) * time.Second
		out = append(out, newCondition(p,
			map[string]string{LabelAlertName: SourceLagging, LabelSeverity: string(fact.Critical), LabelSource: r.Source},
			text.M("alert.source_lagging.summary", text.T(r.Source), text.SpanArg(lag)),
			text.M("alert.source_lagging.description",
				text.T(r.Source), text.T(msTime(r.Watermark).Format(time.RFC3339)), text.SpanArg(lag), text.SpanArg(threshold)),
			text.M("alert.source_lagging.action", text.T(r.Source))))
	}
	return out
}

// OverdueConditions gives the one aggregate PayoutsOverdue condition when
// count open payout_overdue anomalies for amount fen exceed maxCount or
// maxAmount fen; otherwise none.
func OverdueConditions(count uint64, amount int64, maxCount uint64, maxAmount int64) []Condition {
	return overdueConditions(text.NewPrinter(text.English, time.UTC), count, amount, maxCount, maxAmount)
}

func overdueConditions(p *text.Printer, count uint64, amount int64, maxCount uint64, maxAmount int64) []Condition {
	if count <= maxCount && amount <= maxAmount {
		return nil
	}
	tx, _ := fact.Describe(fact.PayoutOverdue)
	return []Condition{newCondition(p,
		map[string]string{LabelAlertName: PayoutsOverdue, LabelSeverity: string(tx.Severity), LabelKind: string(fact.PayoutOverdue)},
		text.M("alert.payouts_overdue.summary", text.T(n(count)), text.Yuan(amount)),
		text.M("alert.payouts_overdue.description",
			text.T(n(count)), text.Yuan(amount), text.T(n(maxCount)), text.Yuan(maxAmount), text.Arg{Cause: string(fact.PayoutOverdue), Upper: true}),
		text.Just(text.Arg{Action: string(fact.PayoutOverdue)}))}
}

// IncidentConditions gives one firing condition per open critical incident
// with at least minTraces traces, except batches and feed outages (their
// own alerts cover them). Its times start at the incident's first
// detection (event time).
func IncidentConditions(list []incident.Summary, minTraces uint64) []Condition {
	return incidentConditions(text.NewPrinter(text.English, time.UTC), list, minTraces)
}

func incidentConditions(p *text.Printer, list []incident.Summary, minTraces uint64) []Condition {
	var out []Condition
	for i := range list {
		s := &list[i]
		if s.Status != fact.Open || s.Severity != fact.Critical || s.Traces < minTraces ||
			s.Key.Class == incident.Batch || s.Key.Class == incident.SourceOutage {
			continue
		}
		labels := map[string]string{
			LabelAlertName: Incident, LabelSeverity: string(s.Severity),
			LabelIncident: s.Key.String(), LabelIncidentClass: string(s.Key.Class),
		}
		if len(s.Kinds) > 0 {
			labels[LabelKind] = string(s.Kinds[0])
		}
		c := newCondition(p, labels,
			text.M("alert.incident.summary", text.Arg{Incident: s, Part: "title"}, text.T(n(s.Traces)), text.Yuan(s.Amount), text.T(n(s.Merchants))),
			text.M("alert.incident.description", text.T(n(s.Open)), text.T(n(s.Anomalies)), kindList(s.Kinds),
				text.InstantArg(s.FirstAt), text.InstantArg(s.LastAt), merchantList(s), text.T(s.Key.String())),
			text.Just(text.Arg{Incident: s, Part: "action"}))
		c.StartsAt = msTime(s.FirstAt)
		out = append(out, c)
	}
	return out
}

func kindList(kinds []fact.Kind) text.Arg {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return text.Arg{Kinds: names}
}

func merchantList(s *incident.Summary) text.Arg {
	l := strings.Join(s.SomeMerchants, ", ")
	if more := int(s.Merchants) - len(s.SomeMerchants); more > 0 {
		return text.Sub(text.M("alert.incident.more_merchants", text.T(l), text.T(strconv.Itoa(more))))
	}
	if l == "" {
		return text.Sub(text.M("alert.incident.no_merchants"))
	}
	return text.T(l)
}

// DeadLetterConditions gives the DeadLetterRate condition when n dead
// letters in window exceed maxN; otherwise none.
func DeadLetterConditions(count uint64, window time.Duration, maxN uint64) []Condition {
	return deadLetterConditions(text.NewPrinter(text.English, time.UTC), count, window, maxN)
}

func deadLetterConditions(p *text.Printer, count uint64, window time.Duration, maxN uint64) []Condition {
	if count <= maxN {
		return nil
	}
	return []Condition{newCondition(p,
		map[string]string{LabelAlertName: DeadLetterRate, LabelSeverity: string(fact.Warning)},
		text.M("alert.dead_letter_rate.summary", text.T(n(count)), text.SpanArg(window)),
		text.M("alert.dead_letter_rate.description", text.T(n(count)), text.SpanArg(window), text.T(n(maxN))),
		text.M("alert.dead_letter_rate.action"))}
}

func n(v uint64) string { return strconv.FormatUint(v, 10) }

// msTime converts Unix ms to a UTC time; zero is the zero time.
func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
