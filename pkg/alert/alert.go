// Package alert is the alerter: every Interval it evaluates rules against the
// facts in ClickHouse (stalled and incomplete batches, lagging sources,
// overdue payouts, the dead-letter rate) and notifies Alertmanager and/or a
// JSON webhook once when an alert starts, every RepeatInterval while it
// fires, and once when it resolves. What it sent is kept in the alerts table,
// so a restart neither repeats nor forgets. Rules and decisions are pure
// functions of the facts and the time given; each receiver drains its own
// bounded queue. It never writes the pipeline's tables, and it does not
// group, silence or route: that is Alertmanager's job.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Config configures an Alerter.
type Config struct {
	// Interval between evaluations; default 10s.
	Interval time.Duration
	// RepeatInterval is how often a firing alert is re-sent; default 4h.
	RepeatInterval time.Duration

	// OverdueCount and OverdueAmount (fen) are the PayoutsOverdue
	// thresholds: the alert fires when the open payout_overdue anomalies
	// are more than OverdueCount, or their amount more than OverdueAmount.
	// Defaults 100 and 1,000,000 yuan.
	OverdueCount  uint64
	OverdueAmount int64

	// DeadLetterMax is the DeadLetterRate threshold: more dead letters than
	// this with a Kafka time in the last DeadLetterWindow (wall clock).
	// Defaults 100 and 5m.
	DeadLetterMax    uint64
	DeadLetterWindow time.Duration

	// IncidentMinTraces is the Incident alert's threshold: an open
	// critical incident with at least this many traces fires. Default 1.
	IncidentMinTraces uint64

	// AlertmanagerURL is the base URL of an Alertmanager-compatible
	// receiver (…/api/v2/alerts is appended); WebhookURL receives one JSON
	// object per notification. At least one receiver is needed (or
	// Deps.Sinks).
	AlertmanagerURL string
	WebhookURL      string
	// GeneratorURL is sent to Alertmanager as every alert's generatorURL
	// (e.g. the console); optional.
	GeneratorURL string

	// QueueSize bounds each receiver's queue of notifications; default 1000.
	QueueSize int
	// SendTimeout bounds one HTTP request; default 10s.
	SendTimeout time.Duration
	// Retry bounds the retries of one notification to one receiver.
	Retry RetryPolicy
	// ShutdownTimeout bounds how long Run and Close wait for queued
	// notifications and the last history write; default 10s.
	ShutdownTimeout time.Duration

	// Lang is the language of the annotations (summary, description,
	// action): English (the default, also for "") or Chinese. Labels stay
	// as they are.
	Lang text.Lang

	// For is each alert's minimum duration, like Prometheus' `for`: its
	// condition must be seen at every evaluation for that long before the
	// alert fires (until then it is pending and nothing is sent). An alert
	// missing from the map, or a nil map, fires at the first evaluation
	// that sees it. Defaults: DefaultFor.
	For For
}

// DefaultFor is the minimum duration of each alert by default. A source
// lags for a moment whenever the ingest consumers catch up at different
// speeds, so SourceLagging waits 2m; the overdue total waits 1m; the batch
// alerts are already judged over their stall timeout and close (a batch
// that stalled and resumed between two evaluations still fires once), and a
// dead-letter burst is news at once.
func DefaultFor() For {
	return For{SourceLagging: 2 * time.Minute, PayoutsOverdue: time.Minute, BatchStalled: 0, BatchIncomplete: 0, DeadLetterRate: 0, Incident: 0}
}

// DefaultConfig returns the defaults, without receivers.
func DefaultConfig() Config {
	return Config{
		Interval:          10 * time.Second,
		RepeatInterval:    4 * time.Hour,
		OverdueCount:      100,
		OverdueAmount:     1_000_000 * 100,
		DeadLetterMax:     100,
		DeadLetterWindow:  5 * time.Minute,
		IncidentMinTraces: 1,
		QueueSize:         1000,
		SendTimeout:       10 * time.Second,
		Retry:             RetryPolicy{}.withDefaults(),
		ShutdownTimeout:   10 * time.Second,
		For:               DefaultFor(),
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0:
		return text.Errorf("error.alert.interval", c.Interval.String())
	case c.RepeatInterval < c.Interval:
		return text.Errorf("error.alert.repeat_interval", c.RepeatInterval.String(), c.Interval.String())
	case c.OverdueAmount < 0:
		return text.Errorf("error.alert.overdue_amount", strconv.FormatInt(c.OverdueAmount, 10))
	case c.DeadLetterWindow <= 0:
		return text.Errorf("error.alert.dead_letter_window", c.DeadLetterWindow.String())
	case c.QueueSize <= 0:
		return text.Errorf("error.alert.queue_size", strconv.Itoa(c.QueueSize))
	case c.SendTimeout <= 0:
		return text.Errorf("error.alert.send_timeout", c.SendTimeout.String())
	case c.Retry.Initial < 0 || c.Retry.Max < 0 || c.Retry.Budget < 0:
		return errors.New("alert retry policy: durations must not be negative")
	case c.ShutdownTimeout < 0:
		return text.Errorf("error.alert.shutdown_timeout", c.ShutdownTimeout.String())
	}
	if err := c.For.validate(); err != nil {
		return err
	}
	if _, err := text.ParseLang(string(c.Lang)); err != nil {
		return fmt.Errorf("alert annotations: %w", err)
	}
	if c.AlertmanagerURL != "" {
		if err := checkURL("alertmanager URL", c.AlertmanagerURL); err != nil {
			return err
		}
	}
	if c.WebhookURL != "" {
		if err := checkURL("webhook URL", c.WebhookURL); err != nil {
			return err
		}
	}
	return nil
}

// Store is what the alerter reads and writes; *store.Store implements it.
type Store interface {
	AnomalyVersions(ctx context.Context, kinds ...fact.Kind) ([]fact.Anomaly, error)
	JoinerSourceStatus(ctx context.Context) ([]store.SourceStatus, error)
	OpenAnomalyTotal(ctx context.Context, kind fact.Kind) (count uint64, amount int64, err error)
	Incidents(ctx context.Context, q store.IncidentQuery) ([]incident.Summary, error)
	DeadLettersSince(ctx context.Context, since time.Time) (uint64, error)
	LatestAlerts(ctx context.Context) ([]store.AlertRecord, error)
	InsertAlerts(ctx context.Context, rows []store.AlertRecord) error
}

// Deps are the alerter's collaborators.
type Deps struct {
	Store  Store
	Logger *slog.Logger // nil: discard
	// Now is the wall clock; nil: time.Now.
	Now func() time.Time
	// HTTPClient sends to the receivers; nil: a client with SendTimeout.
	HTTPClient *http.Client
	// Sinks are receivers in addition to the configured URLs (tests, other
	// transports).
	Sinks []Sink
	// Metrics, when not nil, is told the firing alerts and the outcome of
	// every notification; *telemetry.AlertMetrics implements it.
	Metrics Observer
}

// Observer is told what the alerter does, for metrics. One that also has a
// method Receivers(names ...string) is told the receivers' names once, by
// New, to create their series.
type Observer interface {
	// SetFiring is called after every evaluation with the number of alerts
	// of alertname and severity that are firing (0 once they resolved).
	SetFiring(alertname, severity string, n int)
	// Notified is called once per notification and receiver: err nil when
	// it was delivered, the last error when it was given up or dropped.
	Notified(receiver string, err error)
}

// ErrQueueFull is the outcome of a notification a receiver's full queue
// refused.
var ErrQueueFull = errors.New("alert receiver queue full")

// Stats counts notifications since New.
type Stats struct {
	Evaluations uint64 // evaluations run
	RuleErrors  uint64 // rule evaluations that failed (their alerts were left as they were)
	Sent        uint64 // notifications delivered to at least one receiver
	Undelivered uint64 // notifications no receiver got (decided again at the next evaluation)
	Dropped     uint64 // notifications a full receiver queue refused
	Failed      uint64 // per receiver: notifications given up after retries
}

// Alerter evaluates the rules and sends the notifications.
type Alerter struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time
	sinks []Sink
	rules []rule
	obs   Observer

	// Owned by the goroutine that evaluates (Run or EvaluateOnce).
	loaded   bool
	records  map[string]Record
	inflight map[string]int
	dirty    []store.AlertRecord
	firing   map[[2]string]int  // last reported to obs, by alertname and severity
	pending  map[string]pending // conditions waiting out their alert's For, by fingerprint
	zeroed   bool               // every alert reported at zero once

	// Dispatch.
	startOnce sync.Once
	stopOnce  sync.Once
	workers   []*worker
	wg        sync.WaitGroup
	cancelW   context.CancelFunc
	mu        sync.Mutex
	done      []*job    // finished jobs not yet applied
	doneCh    chan bool // signalled (cap 1) when done grows

	evaluations, ruleErrors, sent, undelivered, dropped, failed atomic.Uint64
}

// rule evaluates into conditions of the alert names it owns.
type rule struct {
	names []string
	eval  func(ctx context.Context, now time.Time) ([]Condition, error)
}

// job is one notification on its way to every sink.
type job struct {
	step      Step
	remaining int  // sinks still working on it; guarded by Alerter.mu
	delivered bool // at least one sink took it; guarded by Alerter.mu
}

type worker struct {
	sink  Sink
	queue chan *job
}

// New returns an alerter for cfg. It does not read or send until Run or
// EvaluateOnce.
func New(cfg Config, deps Deps) (*Alerter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid alerter config: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("alerter: no store")
	}
	a := &Alerter{cfg: cfg, store: deps.Store, log: deps.Logger, now: deps.Now,
		obs: deps.Metrics, records: map[string]Record{}, inflight: map[string]int{}, firing: map[[2]string]int{}, pending: map[string]pending{},
		doneCh: make(chan bool, 1)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "alerter")
	if a.now == nil {
		a.now = time.Now
	}
	client := deps.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.SendTimeout}
	}
	if cfg.AlertmanagerURL != "" {
		am, err := NewAlertmanager(AlertmanagerConfig{URL: cfg.AlertmanagerURL, GeneratorURL: cfg.GeneratorURL,
			FiringFor: cfg.firingFor()}, client, a.now)
		if err != nil {
			return nil, err
		}
		a.sinks = append(a.sinks, am)
	}
	if cfg.WebhookURL != "" {
		wh, err := NewWebhook(cfg.WebhookURL, client)
		if err != nil {
			return nil, err
		}
		a.sinks = append(a.sinks, wh)
	}
	a.sinks = append(a.sinks, deps.Sinks...)
	if len(a.sinks) == 0 {
		return nil, errors.New("alerter: no receiver: set an Alertmanager URL, a webhook URL, or both")
	}
	a.rules = a.buildRules()
	if r, ok := a.obs.(interface{ Receivers(names ...string) }); ok {
		r.Receivers(a.sinkNames()...)
	}
	return a, nil
}

// firingFor is how long Alertmanager keeps a firing alert active without a
// re-send: the repeat interval, plus time for the evaluation that re-sends
// it and that re-send's retries.
func (c Config) firingFor() time.Duration {
	return c.RepeatInterval + 2*c.Interval + c.Retry.withDefaults().Budget
}

func (a *Alerter) buildRules() []rule {
	lang, _ := text.ParseLang(string(a.cfg.Lang)) // validated
	p := text.NewPrinter(lang, time.UTC)
	return []rule{
		{names: []string{BatchStalled, BatchIncomplete}, eval: func(ctx context.Context, _ time.Time) ([]Condition, error) {
			v, err := a.store.AnomalyVersions(ctx, fact.BatchStalled, fact.BatchIncomplete)
			if err != nil {
				return nil, err
			}
			return batchConditions(p, v), nil
		}},
		{names: []string{SourceLagging}, eval: func(ctx context.Context, _ time.Time) ([]Condition, error) {
			rows, err := a.store.JoinerSourceStatus(ctx)
			if err != nil {
				return nil, err
			}
			return sourceConditions(p, rows), nil
		}},
		{names: []string{PayoutsOverdue}, eval: func(ctx context.Context, _ time.Time) ([]Condition, error) {
			n, amount, err := a.store.OpenAnomalyTotal(ctx, fact.PayoutOverdue)
			if err != nil {
				return nil, err
			}
			return overdueConditions(p, n, amount, a.cfg.OverdueCount, a.cfg.OverdueAmount), nil
		}},
		{names: []string{Incident}, eval: func(ctx context.Context, _ time.Time) ([]Condition, error) {
			list, err := a.store.Incidents(ctx, store.IncidentQuery{Status: fact.Open, SkipOutages: true})
			if err != nil {
				return nil, err
			}
			return incidentConditions(p, list, a.cfg.IncidentMinTraces), nil
		}},
		{names: []string{DeadLetterRate}, eval: func(ctx context.Context, now time.Time) ([]Condition, error) {
			n, err := a.store.DeadLettersSince(ctx, now.Add(-a.cfg.DeadLetterWindow))
			if err != nil {
				return nil, err
			}
			return deadLetterConditions(p, n, a.cfg.DeadLetterWindow, a.cfg.DeadLetterMax), nil
		}},
	}
}

// Stats returns the counters.
func (a *Alerter) Stats() Stats {
	return Stats{Evaluations: a.evaluations.Load(), RuleErrors: a.ruleErrors.Load(), Sent: a.sent.Load(),
		Undelivered: a.undelivered.Load(), Dropped: a.dropped.Load(), Failed: a.failed.Load()}
}

// Run evaluates every Interval until ctx ends, then lets the queued
// notifications go out for up to ShutdownTimeout and records them. A failed
// evaluation (ClickHouse unavailable) is logged and tried again at the next
// tick; Run returns an error only when it cannot start.
func (a *Alerter) Run(ctx context.Context) error {
	if err := a.load(ctx); err != nil {
		return err
	}
	a.start()
	a.log.Info("alerter running", "interval", a.cfg.Interval, "repeat_interval", a.cfg.RepeatInterval, "for", a.cfg.For.String(), "receivers", a.sinkNames())
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	a.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			a.shutdown()
			a.log.Info("alerter stopped", "stats", a.Stats())
			return nil
		case <-t.C:
			a.tick(ctx)
		case <-a.doneCh:
			a.settle(ctx)
		}
	}
}

func (a *Alerter) tick(ctx context.Context) {
	a.settle(ctx)
	if err := a.evaluate(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("alert evaluation incomplete: the failing rules' alerts are left as they were until the next evaluation", "err", err)
	}
}

// EvaluateOnce evaluates the rules once, waits until every notification it
// decided was delivered or given up, and records them: for tests and
// one-shot use. It must not run concurrently with Run.
func (a *Alerter) EvaluateOnce(ctx context.Context) error {
	if err := a.load(ctx); err != nil {
		return err
	}
	a.start()
	evalErr := a.evaluate(ctx)
	for a.busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.doneCh:
			a.apply()
		}
	}
	err := a.flush(ctx)
	a.observe()
	return errors.Join(evalErr, err)
}

// Close stops the receivers' goroutines, letting queued notifications go out
// for up to ShutdownTimeout, and records what was sent. Run does it when its
// context ends; Close is for callers of EvaluateOnce. It is safe to call more
// than once.
func (a *Alerter) Close() error {
	a.shutdown()
	return nil
}

// load reads the alert history once.
func (a *Alerter) load(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	rows, err := a.store.LatestAlerts(ctx)
	if err != nil {
		return fmt.Errorf("alerter: loading alert history: %w", err)
	}
	for _, r := range rows {
		a.records[r.Fingerprint] = fromStore(r)
	}
	a.loaded = true
	firing := 0
	for _, r := range a.records {
		if r.State == Firing {
			firing++
		}
	}
	a.log.Info("alert history loaded", "alerts", len(a.records), "firing", firing)
	return nil
}

// evaluate runs every rule, plans the notifications and queues them.
func (a *Alerter) evaluate(ctx context.Context) error {
	now := a.now()
	a.evaluations.Add(1)
	var (
		conds []Condition
		errs  []error
	)
	evaluated := map[string]bool{}
	for _, r := range a.rules {
		c, err := r.eval(ctx, now)
		if err != nil {
			a.ruleErrors.Add(1)
			errs = append(errs, fmt.Errorf("rule %v: %w", r.names, err))
			continue
		}
		for _, n := range r.names {
			evaluated[n] = true
		}
		conds = append(conds, c...)
	}
	conds = a.hold(conds, evaluated, now)
	busy := map[string]bool{}
	for fp, n := range a.inflight {
		if n > 0 {
			busy[fp] = true
		}
	}
	for _, s := range Plan(a.records, conds, evaluated, busy, now, a.cfg.RepeatInterval) {
		a.dispatch(s)
	}
	return errors.Join(errs...)
}

// start starts one goroutine per sink.
func (a *Alerter) start() {
	a.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		a.cancelW = cancel
		for _, s := range a.sinks {
			w := &worker{sink: s, queue: make(chan *job, a.cfg.QueueSize)}
			a.workers = append(a.workers, w)
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				a.work(ctx, w)
			}()
		}
	})
}

// dispatch queues a step on every sink without waiting.
func (a *Alerter) dispatch(s Step) {
	j := &job{step: s, remaining: len(a.workers)}
	fp := s.Record.Fingerprint
	a.inflight[fp]++
	a.log.Info("alert notification", "alert", s.Notification.Name(), "status", s.Notification.Status,
		"fingerprint", fp, "labels", s.Notification.Labels, "notification", s.Record.Notifications)
	for _, w := range a.workers {
		select {
		case w.queue <- j:
		default:
			a.dropped.Add(1)
			a.log.Error("alert receiver queue full: notification dropped; it is decided again at the next evaluation if no receiver got it",
				"receiver", w.sink.Name(), "alert", s.Notification.Name(), "status", s.Notification.Status, "queue_size", a.cfg.QueueSize)
			a.notified(w.sink.Name(), ErrQueueFull)
			a.finish(j, false)
		}
	}
}

func (a *Alerter) work(ctx context.Context, w *worker) {
	for j := range w.queue {
		n := j.step.Notification
		attempts, err := Retry(ctx, w.sink, n, a.cfg.Retry, func(err error, wait time.Duration) {
			a.log.Warn("alert receiver failed, retrying", "receiver", w.sink.Name(), "alert", n.Name(), "status", n.Status,
				"next_wait", wait, "err", err)
		})
		if err != nil {
			a.failed.Add(1)
			a.log.Error("alert receiver failed, giving up", "receiver", w.sink.Name(), "alert", n.Name(), "status", n.Status,
				"attempts", attempts, "err", err)
		}
		a.notified(w.sink.Name(), err)
		a.finish(j, err == nil)
	}
}

// finish records one sink's outcome; the last one hands the job back to the
// evaluating goroutine.
func (a *Alerter) finish(j *job, ok bool) {
	a.mu.Lock()
	j.remaining--
	j.delivered = j.delivered || ok
	last := j.remaining == 0
	if last {
		a.done = append(a.done, j)
	}
	a.mu.Unlock()
	if last {
		select {
		case a.doneCh <- true:
		default:
		}
	}
}

// settle applies the finished jobs and writes the history.
func (a *Alerter) settle(ctx context.Context) {
	a.apply()
	if err := a.flush(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("writing alert history failed; retried with the next notification", "err", err)
	}
	a.observe()
}

func (a *Alerter) notified(receiver string, err error) {
	if a.obs != nil {
		a.obs.Notified(receiver, err)
	}
}

// observe reports the firing alerts by name and severity, including the
// ones that dropped to zero.
func (a *Alerter) observe() {
	if a.obs == nil {
		return
	}
	now := map[[2]string]int{}
	if !a.zeroed {
		// Every alert starts with a series at zero, so dashboards and rules
		// see "none firing" rather than nothing.
		a.zeroed = true
		for name, sev := range alertSeverities {
			now[[2]string{name, string(sev)}] = 0
		}
	}
	for _, r := range a.records {
		if r.State == Firing {
			now[[2]string{r.Name, r.Labels[LabelSeverity]}]++
		}
	}
	for k := range a.firing {
		if _, ok := now[k]; !ok {
			a.obs.SetFiring(k[0], k[1], 0)
		}
	}
	for k, n := range now {
		a.obs.SetFiring(k[0], k[1], n)
	}
	for k, n := range now {
		if n == 0 {
			delete(now, k) // reported at zero once; no need to zero it again
		}
	}
	a.firing = now
}

// alertSeverities is the severity each alert is raised with.
var alertSeverities = map[string]fact.Severity{
	BatchStalled: fact.Critical, BatchIncomplete: fact.Critical, SourceLagging: fact.Critical,
	PayoutsOverdue: fact.Critical, DeadLetterRate: fact.Warning, Incident: fact.Critical,
}

// apply takes the finished jobs: a delivered notification becomes the
// alert's record; an undelivered one leaves the record as it was, so the
// next evaluation decides it again.
func (a *Alerter) apply() {
	a.mu.Lock()
	done := a.done
	a.done = nil
	a.mu.Unlock()
	for _, j := range done {
		r := j.step.Record
		if a.inflight[r.Fingerprint]--; a.inflight[r.Fingerprint] <= 0 {
			delete(a.inflight, r.Fingerprint)
		}
		if !j.delivered {
			a.undelivered.Add(1)
			continue
		}
		a.sent.Add(1)
		if cur, ok := a.records[r.Fingerprint]; ok && cur.Version >= r.Version {
			continue
		}
		a.records[r.Fingerprint] = r
		a.dirty = append(a.dirty, toStore(r))
	}
}

// busy reports whether notifications are still in flight.
func (a *Alerter) busy() bool {
	a.apply()
	return len(a.inflight) > 0
}

// flush writes the pending history rows; on failure they stay pending.
func (a *Alerter) flush(ctx context.Context) error {
	if len(a.dirty) == 0 {
		return nil
	}
	if err := a.store.InsertAlerts(ctx, a.dirty); err != nil {
		return fmt.Errorf("recording %d alert notifications: %w", len(a.dirty), err)
	}
	a.dirty = nil
	return nil
}

// shutdown closes the queues, waits for the sinks for up to
// ShutdownTimeout (then aborts their retries), and records what was sent.
func (a *Alerter) shutdown() {
	a.stopOnce.Do(func() {
		a.startOnce.Do(func() {}) // never start after this
		if a.cancelW == nil {
			return
		}
		for _, w := range a.workers {
			close(w.queue)
		}
		finished := make(chan struct{})
		go func() { a.wg.Wait(); close(finished) }()
		timer := time.NewTimer(a.cfg.ShutdownTimeout)
		select {
		case <-finished:
		case <-timer.C:
			a.log.Warn("alert receivers still busy at shutdown: abandoning their retries", "timeout", a.cfg.ShutdownTimeout)
			a.cancelW()
			<-finished
		}
		timer.Stop()
		a.cancelW()
		ctx, cancel := context.WithTimeout(context.Background(), max(a.cfg.ShutdownTimeout, time.Second))
		defer cancel()
		a.apply()
		if err := a.flush(ctx); err != nil {
			a.log.Error("writing alert history at shutdown failed: the next alerter may notify these again", "err", err)
		}
		a.observe()
	})
}

func (a *Alerter) sinkNames() []string {
	var out []string
	for _, s := range a.sinks {
		out = append(out, s.Name())
	}
	return out
}

func fromStore(r store.AlertRecord) Record {
	return Record{Fingerprint: r.Fingerprint, Name: r.AlertName, Labels: r.Labels, Annotations: r.Annotations, Messages: r.Messages,
		State: State(r.State), StartedAt: msTime(r.StartedAt), EndedAt: msTime(r.EndedAt), LastSentAt: msTime(r.LastSentAt),
		Notifications: r.Notifications, Version: r.Version}
}

func toStore(r Record) store.AlertRecord {
	return store.AlertRecord{Fingerprint: r.Fingerprint, AlertName: r.Name, Labels: r.Labels, Annotations: r.Annotations, Messages: r.Messages,
		State: string(r.State), StartedAt: timeMs(r.StartedAt), EndedAt: timeMs(r.EndedAt), LastSentAt: timeMs(r.LastSentAt),
		Notifications: r.Notifications, Version: r.Version}
}

func timeMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
