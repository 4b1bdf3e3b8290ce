package console

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Facts reads what the page shows; *store.Store implements it. The console
// never writes.
type Facts interface {
	LagSpan(ctx context.Context) (first, last int64, err error)
	LagByHour(ctx context.Context, from, to time.Time) ([]store.HourLag, error)
	LagByMode(ctx context.Context) ([]store.ModeLag, error)
	OpenAnomalyTotals(ctx context.Context) ([]store.KindTotal, error)
	QueryAnomalies(ctx context.Context, q store.AnomalyQuery) (store.AnomalyPage, error)
	QueryBatches(ctx context.Context, q store.BatchQuery) ([]fact.Batch, error)
	LatestSourceHealth(ctx context.Context) ([]store.SourceHealth, error)
	LatestAlerts(ctx context.Context) ([]store.AlertRecord, error)
	DeadLetterReasons(ctx context.Context) (map[string]uint64, error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Summary, error)
	IncidentTraces(ctx context.Context, key incident.Key, limit int) ([]store.IncidentTrace, uint64, error)
	FindTraces(ctx context.Context, q store.TraceQuery) ([]store.TraceMatch, error)
}

// Limits of the list endpoints.
const (
	defaultAnomalyLimit = 100
	maxAnomalyLimit     = 1000
	defaultBatchLimit   = 200
	maxBatchLimit       = 1000
	// defaultLagWindow is how much of the lag history the chart shows when
	// the request names no window: the week up to the last authorization.
	defaultLagWindow = 7 * 24 * time.Hour
	maxLagWindow     = 93 * 24 * time.Hour
	// ingestStale: an ingest instance whose latest report is this much older
	// than its source's newest one has stopped (a restart is a new instance).
	ingestStale = 5 * time.Minute
)

// The JSON answers. Times are RFC 3339 in the console's location; money is
// a decimal string in yuan with two fractional digits, from integer fen.

type tally struct {
	Count  uint64 `json:"count"`
	Amount string `json:"amount"`
}

type kindTotal struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Count    uint64 `json:"count"`  // open anomalies (rows)
	Traces   uint64 `json:"traces"` // the distinct traces (batch kinds: batches) they concern
	Amount   string `json:"amount"`
}

type overviewResponse struct {
	GeneratedAt time.Time  `json:"generated_at"`
	AsOf        *time.Time `json:"as_of,omitempty"`
	Payouts     struct {
		Overdue tally `json:"overdue"`
		Failed  tally `json:"failed"`
		Held    tally `json:"held"`
	} `json:"payouts"`
	OpenAnomalies   uint64      `json:"open_anomalies"`
	AnomaliesByKind []kindTotal `json:"anomalies_by_kind"`
	SourcesLagging  int         `json:"sources_lagging"`
	BatchesStalled  int         `json:"batches_stalled"`
	AlertsFiring    int         `json:"alerts_firing"`
	DeadLetters     uint64      `json:"dead_letters"`
}

type lagPoint struct {
	Hour time.Time `json:"hour"`
	Mode string    `json:"mode"`
	Paid uint64    `json:"paid"`
	P50  float64   `json:"p50_s"`
	P95  float64   `json:"p95_s"`
	P99  float64   `json:"p99_s"`
	Max  int64     `json:"max_s"`
}

type modeLag struct {
	Mode string  `json:"mode"`
	Paid uint64  `json:"paid"`
	P50  float64 `json:"p50_s"`
	P95  float64 `json:"p95_s"`
	P99  float64 `json:"p99_s"`
}

type lagResponse struct {
	From   *time.Time `json:"from,omitempty"`
	To     *time.Time `json:"to,omitempty"`
	Modes  []modeLag  `json:"modes"`
	Points []lagPoint `json:"points"`
}

type anomalyView struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	Severity       string     `json:"severity"`
	Status         string     `json:"status"`
	TraceNo        string     `json:"trace_no,omitempty"`
	BatchID        string     `json:"batch_id,omitempty"`
	MerchantID     string     `json:"merchant_id,omitempty"`
	Amount         string     `json:"amount"`
	ExpectedAmount string     `json:"expected_amount"`
	DetectedAt     time.Time  `json:"detected_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	Cause          string     `json:"cause"`
	Action         string     `json:"action"`
	Details        string     `json:"details,omitempty"`
}

type anomaliesResponse struct {
	Total     uint64        `json:"total"`
	Limit     int           `json:"limit"`
	Offset    int           `json:"offset"`
	Anomalies []anomalyView `json:"anomalies"`
}

type batchView struct {
	BatchID       string     `json:"batch_id"`
	Source        string     `json:"source"`
	Status        string     `json:"status"`
	OpenedAt      *time.Time `json:"opened_at,omitempty"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	FirstProgress *time.Time `json:"first_progress,omitempty"`
	LastProgress  *time.Time `json:"last_progress,omitempty"`
	DeclaredCount int64      `json:"declared_count"`
	DeclaredTotal string     `json:"declared_total"`
	SeenCount     int64      `json:"seen_count"`
	SeenTotal     string     `json:"seen_total"`
	// Progress is seen / declared records, when the batch declared a count.
	Progress *float64  `json:"progress,omitempty"`
	Stalls   int64     `json:"stalls"`
	AsOf     time.Time `json:"as_of"`
}

type batchesResponse struct {
	Batches []batchView `json:"batches"`
}

type sourceView struct {
	Source string `json:"source"`
	// From the joiner's newest report: how far the feed has delivered.
	Status        string     `json:"status"`
	Watermark     *time.Time `json:"watermark,omitempty"`
	WatermarkLagS *int64     `json:"watermark_lag_s,omitempty"`
	ThresholdS    *int64     `json:"threshold_s,omitempty"`
	Withheld      uint64     `json:"withheld"`
	ObservedAt    *time.Time `json:"observed_at,omitempty"`
	// From the ingest consumers still reporting: messages behind, idle time.
	ConsumerLag      *int64     `json:"consumer_lag,omitempty"`
	IdleS            *int64     `json:"idle_s,omitempty"`
	IngestObservedAt *time.Time `json:"ingest_observed_at,omitempty"`
}

type sourcesResponse struct {
	Sources []sourceView `json:"sources"`
}

type alertView struct {
	Fingerprint string            `json:"fingerprint"`
	AlertName   string            `json:"alertname"`
	State       string            `json:"state"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// StartedClock names the clock of StartedAt and EndedAt (startedClock);
	// LastSentAt is always the alerter's wall clock.
	StartedClock  string     `json:"started_clock"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	LastSentAt    *time.Time `json:"last_sent_at,omitempty"`
	Notifications uint64     `json:"notifications"`
}

type alertsResponse struct {
	Alerts []alertView `json:"alerts"`
}

// errBadRequest marks a query parameter the client got wrong.
type errBadRequest string

func (e errBadRequest) Error() string { return string(e) }

// answer writes v, or the error: 400 for a bad request, 500 (without the
// internals, which go to the log) otherwise.
func (c *Console) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	var bad errBadRequest
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.Error())
	case err != nil:
		c.log.Error("answering "+r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the facts from ClickHouse; see the console's log")
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// queryCtx bounds a request's ClickHouse queries by cancelling them after
// QueryTimeout. It is a timer, not a context deadline, on purpose:
// clickhouse-go turns a deadline into the max_execution_time setting, which
// a readonly=1 user such as the analyst may not change.
func (c *Console) queryCtx(r *http.Request) (context.Context, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	t := time.AfterFunc(c.cfg.QueryTimeout, cancel)
	return ctx, func() { t.Stop(); cancel() }
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r) {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	v, err := c.buildOverview(ctx)
	c.answer(w, r, v, err)
}

func (c *Console) buildOverview(ctx context.Context) (overviewResponse, error) {
	var o overviewResponse
	o.GeneratedAt = c.now().In(c.loc)
	totals, err := c.deps.Facts.OpenAnomalyTotals(ctx)
	if err != nil {
		return o, err
	}
	o.AnomaliesByKind = make([]kindTotal, 0, len(totals))
	for _, t := range totals {
		o.OpenAnomalies += t.Count
		o.AnomaliesByKind = append(o.AnomaliesByKind, c.kindTotal(t))
		tl := tally{Count: t.Count, Amount: yuan(t.Amount)}
		switch t.Kind {
		case fact.PayoutOverdue:
			o.Payouts.Overdue = tl
		case fact.PayoutFailed:
			o.Payouts.Failed = tl
		case fact.PayoutHeld:
			o.Payouts.Held = tl
		}
	}
	for _, p := range []*tally{&o.Payouts.Overdue, &o.Payouts.Failed, &o.Payouts.Held} {
		if p.Amount == "" {
			p.Amount = yuan(0)
		}
	}
	health, err := c.deps.Facts.LatestSourceHealth(ctx)
	if err != nil {
		return o, err
	}
	var asOf int64
	for _, s := range c.sources(health) {
		if s.Status == "lagging" {
			o.SourcesLagging++
		}
	}
	for _, h := range health {
		if h.Reporter == "joiner" {
			asOf = max(asOf, h.ObservedAt)
		}
	}
	o.AsOf = c.optTime(asOf)
	stalled, err := c.deps.Facts.QueryBatches(ctx, store.BatchQuery{Status: fact.BatchIsStalled, Limit: maxBatchLimit})
	if err != nil {
		return o, err
	}
	o.BatchesStalled = len(stalled)
	alerts, err := c.deps.Facts.LatestAlerts(ctx)
	if err != nil {
		return o, err
	}
	for _, a := range alerts {
		if a.State == "firing" {
			o.AlertsFiring++
		}
	}
	dead, err := c.deps.Facts.DeadLetterReasons(ctx)
	if err != nil {
		return o, err
	}
	for _, n := range dead {
		o.DeadLetters += n
	}
	return o, nil
}

func (c *Console) kindTotal(t store.KindTotal) kindTotal {
	tx, _ := fact.Describe(t.Kind)
	return kindTotal{Kind: string(t.Kind), Severity: string(tx.Severity), Count: t.Count, Traces: t.Traces, Amount: yuan(t.Amount)}
}

func (c *Console) lagHourly(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r, "from", "to", "mode") {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	v, err := c.buildLag(ctx, r.URL.Query())
	c.answer(w, r, v, err)
}

func (c *Console) buildLag(ctx context.Context, q url.Values) (lagResponse, error) {
	res := lagResponse{Modes: []modeLag{}, Points: []lagPoint{}}
	from, err := timeParam(q, "from")
	if err != nil {
		return res, err
	}
	to, err := timeParam(q, "to")
	if err != nil {
		return res, err
	}
	mode := q.Get("mode")
	if mode != "" && !validID(mode) {
		return res, errBadRequest("mode " + quote(mode) + ": want a settlement mode such as T1")
	}
	if to.IsZero() || from.IsZero() {
		first, last, err := c.deps.Facts.LagSpan(ctx)
		if err != nil {
			return res, err
		}
		if last == 0 {
			return res, nil // nothing authorized yet
		}
		if to.IsZero() {
			// Up to and including the hour of the last authorization.
			to = time.UnixMilli(last).Truncate(time.Hour).Add(time.Hour)
		}
		if from.IsZero() {
			// The week before, or from the first authorization's hour.
			from = to.Add(-defaultLagWindow)
			if f := time.UnixMilli(first).Truncate(time.Hour); f.After(from) && f.Before(to) {
				from = f
			}
		}
	}
	if !from.Before(to) {
		return res, errBadRequest("from must be before to")
	}
	if to.Sub(from) > maxLagWindow {
		return res, errBadRequest("the window from..to is longer than 93 days")
	}
	res.From, res.To = c.optTime(from.UnixMilli()), c.optTime(to.UnixMilli())
	rows, err := c.deps.Facts.LagByHour(ctx, from, to)
	if err != nil {
		return res, err
	}
	for _, p := range rows {
		if mode != "" && p.Mode != mode {
			continue
		}
		res.Points = append(res.Points, lagPoint{Hour: time.UnixMilli(p.Hour).In(c.loc), Mode: p.Mode, Paid: p.Paid,
			P50: p.P50, P95: p.P95, P99: p.P99, Max: p.Max})
	}
	modes, err := c.deps.Facts.LagByMode(ctx)
	if err != nil {
		return res, err
	}
	for _, m := range modes {
		if mode != "" && m.Mode != mode {
			continue
		}
		res.Modes = append(res.Modes, modeLag{Mode: m.Mode, Paid: m.Paid, P50: m.P50, P95: m.P95, P99: m.P99})
	}
	return res, nil
}

func (c *Console) anomalies(w http.ResponseWriter, r *http.Request) {
	serveIn(c, w, r, []string{"kind", "merchant", "trace", "date", "status", "limit", "offset", "lang"}, c.buildAnomalies)
}

// serveIn answers a request that may carry only params with what build
// makes of its query, the sentences in the request's language.
func serveIn[T any](c *Console, w http.ResponseWriter, r *http.Request, params []string,
	build func(context.Context, url.Values, *text.Printer) (T, error)) {
	if !c.onlyParams(w, r, params...) {
		return
	}
	lang, ok := requestLang(w, r)
	if !ok {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	v, err := build(ctx, r.URL.Query(), text.NewPrinter(lang, c.loc))
	c.answer(w, r, v, err)
}

// buildAnomalies lists the anomalies, their cause, action and details
// written by p (as stored in English).
func (c *Console) buildAnomalies(ctx context.Context, q url.Values, p *text.Printer) (anomaliesResponse, error) {
	res := anomaliesResponse{Anomalies: []anomalyView{}}
	var aq store.AnomalyQuery
	if k := q.Get("kind"); k != "" {
		if _, ok := fact.Describe(fact.Kind(k)); !ok {
			return res, errBadRequest("kind " + quote(k) + ": not an anomaly kind")
		}
		aq.Kind = fact.Kind(k)
	}
	if m := q.Get("merchant"); m != "" {
		if !validID(m) {
			return res, errBadRequest("merchant " + quote(m) + ": want 1 to 64 characters of A-Z a-z 0-9 _ -")
		}
		aq.MerchantID = m
	}
	if t := q.Get("trace"); t != "" {
		if !validID(t) {
			return res, errBadRequest("trace " + quote(t) + ": want 1 to 64 characters of A-Z a-z 0-9 _ -")
		}
		aq.TraceNo = t
	}
	if d := q.Get("date"); d != "" {
		day, err := time.ParseInLocation(time.DateOnly, d, c.loc)
		if err != nil {
			return res, errBadRequest("date " + quote(d) + ": want YYYY-MM-DD (detection date in " + c.loc.String() + ")")
		}
		aq.From, aq.To = day, day.AddDate(0, 0, 1)
	}
	switch s := q.Get("status"); s {
	case "", string(fact.Open):
		aq.Status = fact.Open
	case string(fact.Resolved):
		aq.Status = fact.Resolved
	case "all":
	default:
		return res, errBadRequest("status " + quote(s) + ": want open, resolved or all")
	}
	var err error
	if aq.Limit, err = intParam(q, "limit", defaultAnomalyLimit, 1, maxAnomalyLimit); err != nil {
		return res, err
	}
	if aq.Offset, err = intParam(q, "offset", 0, 0, 1_000_000); err != nil {
		return res, err
	}
	page, err := c.deps.Facts.QueryAnomalies(ctx, aq)
	if err != nil {
		return res, err
	}
	res.Total, res.Limit, res.Offset = page.Total, aq.Limit, aq.Offset
	for _, a := range page.Anomalies {
		cause, action, details := p.Stored(a)
		res.Anomalies = append(res.Anomalies, anomalyView{
			ID: a.ID, Kind: string(a.Kind), Severity: string(a.Severity), Status: string(a.Status),
			TraceNo: a.TraceNo, BatchID: a.BatchID, MerchantID: a.MerchantID,
			Amount: yuan(a.Amount), ExpectedAmount: yuan(a.ExpectedAmount),
			DetectedAt: time.UnixMilli(a.DetectedAt).In(c.loc), ResolvedAt: c.optTime(a.ResolvedAt),
			Reason: a.Reason, Cause: cause, Action: action, Details: details,
		})
	}
	return res, nil
}

func (c *Console) batches(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r, "source", "status", "limit") {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	v, err := c.buildBatches(ctx, r.URL.Query())
	c.answer(w, r, v, err)
}

var batchStatuses = []fact.BatchStatus{fact.BatchIsOpen, fact.BatchIsStalled, fact.BatchIsClosed, fact.BatchIsIncomplete}

func (c *Console) buildBatches(ctx context.Context, q url.Values) (batchesResponse, error) {
	res := batchesResponse{Batches: []batchView{}}
	var bq store.BatchQuery
	switch s := q.Get("source"); s {
	case "", "clearing", "payouts":
		bq.Source = s
	default:
		return res, errBadRequest("source " + quote(s) + ": want clearing or payouts")
	}
	if s := q.Get("status"); s != "" {
		if !slices.Contains(batchStatuses, fact.BatchStatus(s)) {
			return res, errBadRequest("status " + quote(s) + ": want open, stalled, closed or incomplete")
		}
		bq.Status = fact.BatchStatus(s)
	}
	var err error
	if bq.Limit, err = intParam(q, "limit", defaultBatchLimit, 1, maxBatchLimit); err != nil {
		return res, err
	}
	rows, err := c.deps.Facts.QueryBatches(ctx, bq)
	if err != nil {
		return res, err
	}
	for _, b := range rows {
		v := batchView{
			BatchID: b.BatchID, Source: b.Source, Status: string(b.Status),
			OpenedAt: c.optTime(b.OpenedAt), ClosedAt: c.optTime(b.ClosedAt),
			FirstProgress: c.optTime(b.FirstProgress), LastProgress: c.optTime(b.LastProgress),
			DeclaredCount: b.DeclaredCount, DeclaredTotal: yuan(b.DeclaredTotal),
			SeenCount: b.SeenCount, SeenTotal: yuan(b.SeenTotal), Stalls: b.Stalls,
			AsOf: time.UnixMilli(b.AsOf).In(c.loc),
		}
		if b.DeclaredCount > 0 {
			p := float64(b.SeenCount) / float64(b.DeclaredCount)
			v.Progress = &p
		}
		res.Batches = append(res.Batches, v)
	}
	return res, nil
}

func (c *Console) sourceHealth(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r) {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	health, err := c.deps.Facts.LatestSourceHealth(ctx)
	c.answer(w, r, sourcesResponse{Sources: c.sources(health)}, err)
}

// sources folds the reports of every reporter instance into one line per
// source. The joiner's side is its newest report — what the alerter judges
// SourceLagging on, so the page and the alert agree. The ingest side adds up
// the consumer lag of the instances still reporting (those within
// ingestStale of the newest), and takes the shortest idle time.
func (c *Console) sources(health []store.SourceHealth) []sourceView {
	type acc struct {
		joiner     *store.SourceHealth
		ingest     []store.SourceHealth
		ingestLast int64
	}
	bySource := map[string]*acc{}
	var names []string
	for i := range health {
		h := &health[i]
		a := bySource[h.Source]
		if a == nil {
			a = &acc{}
			bySource[h.Source] = a
			names = append(names, h.Source)
		}
		switch h.Reporter {
		case "joiner":
			if a.joiner == nil || h.ObservedAt > a.joiner.ObservedAt {
				a.joiner = h
			}
		case "ingest":
			a.ingest = append(a.ingest, *h)
			a.ingestLast = max(a.ingestLast, h.ObservedAt)
		}
	}
	slices.Sort(names)
	out := make([]sourceView, 0, len(names))
	for _, name := range names {
		a := bySource[name]
		v := sourceView{Source: name, Status: "unknown"}
		if j := a.joiner; j != nil {
			v.Status, v.Withheld = j.Status, j.Withheld
			v.Watermark, v.ObservedAt = c.optTime(j.Watermark), c.optTime(j.ObservedAt)
			if j.WatermarkLagS >= 0 {
				v.WatermarkLagS = ptr(j.WatermarkLagS)
			}
			if j.ThresholdS >= 0 {
				v.ThresholdS = ptr(j.ThresholdS)
			}
		}
		for _, h := range a.ingest {
			if a.ingestLast-h.ObservedAt > ingestStale.Milliseconds() {
				continue
			}
			if h.ConsumerLag >= 0 {
				v.ConsumerLag = ptr(h.ConsumerLag + deref(v.ConsumerLag))
			}
			if h.IdleS >= 0 && (v.IdleS == nil || h.IdleS < *v.IdleS) {
				v.IdleS = ptr(h.IdleS)
			}
		}
		v.IngestObservedAt = c.optTime(a.ingestLast)
		out = append(out, v)
	}
	return out
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r, "state", "lang") {
		return
	}
	state := r.URL.Query().Get("state")
	switch state {
	case "":
		state = "firing"
	case "firing", "resolved", "all":
	default:
		writeError(w, http.StatusBadRequest, "state "+quote(state)+": want firing, resolved or all")
		return
	}
	lang, ok := requestLang(w, r)
	if !ok {
		return
	}
	p := text.NewPrinter(lang, nil)
	ctx, done := c.queryCtx(r)
	defer done()
	recs, err := c.deps.Facts.LatestAlerts(ctx)
	res := alertsResponse{Alerts: []alertView{}}
	for _, a := range recs {
		if state != "all" && a.State != state {
			continue
		}
		v := alertView{Fingerprint: a.Fingerprint, AlertName: a.AlertName, State: a.State,
			Labels: a.Labels, Annotations: alertAnnotations(p, a), Notifications: a.Notifications, StartedClock: startedClock(a.Labels),
			StartedAt: c.optTime(a.StartedAt), EndedAt: c.optTime(a.EndedAt), LastSentAt: c.optTime(a.LastSentAt)}
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		if v.Annotations == nil {
			v.Annotations = map[string]string{}
		}
		res.Alerts = append(res.Alerts, v)
	}
	// Firing first, then the newest.
	slices.SortStableFunc(res.Alerts, func(a, b alertView) int {
		if (a.State == "firing") != (b.State == "firing") {
			if a.State == "firing" {
				return -1
			}
			return 1
		}
		return cmp.Compare(unixOf(b.StartedAt), unixOf(a.StartedAt))
	})
	c.answer(w, r, res, err)
}

// The clocks an alert's times are in.
const (
	clockEvent = "event" // the feeds' own timestamps (simulated time on a replay)
	clockWall  = "wall"  // the alerter's wall clock
)

// labelAnomalyID is the label the alerter puts on an alert raised by an
// anomaly fact (alert.LabelAnomalyID; a test keeps the two equal).
const labelAnomalyID = "anomaly_id"

// startedClock names the clock an alert's started_at and ended_at are in.
// An alert raised by an anomaly fact (a stalled or incomplete batch) began
// when the joiner detected the fact and ended when the fact resolved: event
// time. Any other began when the alerter first saw its condition: the wall
// clock. On a replay the two are days apart, so the page shows them in
// separate columns.
func startedClock(labels map[string]string) string {
	if labels[labelAnomalyID] != "" {
		return clockEvent
	}
	return clockWall
}

// onlyParams answers 400 when the request has a query parameter the
// endpoint does not know (a typo would otherwise silently not filter).
func (c *Console) onlyParams(w http.ResponseWriter, r *http.Request, known ...string) bool {
	for k := range r.URL.Query() {
		if !slices.Contains(known, k) {
			writeError(w, http.StatusBadRequest, "unknown query parameter "+quote(k))
			return false
		}
	}
	return true
}

// optTime is ms as a time in the console's location, or nil for zero.
func (c *Console) optTime(ms int64) *time.Time {
	if ms <= 0 {
		return nil
	}
	t := time.UnixMilli(ms).In(c.loc)
	return &t
}

func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errBadRequest(name + " " + quote(s) + ": want an RFC 3339 time with offset, e.g. 2026-10-01T00:00:00+08:00")
	}
	return t, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errBadRequest(name + " " + quote(s) + ": want a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	return n, nil
}

// validID reports whether s is 1 to 64 characters of A-Z a-z 0-9 _ -: the
// shape of merchant ids, trace numbers and modes.
func validID(s string) bool { return len(s) <= 64 && event.IsToken(s) }

// yuan formats fen as a decimal string with two fractional digits.
func yuan(fen int64) string { return fact.Yuan(fen) }

func ptr[T any](v T) *T { return &v }

// deref is *p, or 0 for nil.
func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// unixOf is t in Unix seconds; nil is 0.
func unixOf(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

// alertAnnotations are an alert's annotations in p's language, rendered
// from the messages the alerter stored with them; an annotation without a
// message (a row written before messages were stored) reads as stored, in
// the alerter's language.
func alertAnnotations(p *text.Printer, a store.AlertRecord) map[string]string {
	out := make(map[string]string, len(a.Annotations))
	for k, v := range a.Annotations {
		out[k] = v
	}
	for k, m := range a.Messages {
		out[k] = p.Render(m)
	}
	return out
}
