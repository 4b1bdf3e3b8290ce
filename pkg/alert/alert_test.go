package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
)

// fakeStore is an in-memory Store. alerts keeps every inserted version, and
// LatestAlerts answers like the table does.
type fakeStore struct {
	mu         sync.Mutex
	anomalies  []fact.Anomaly
	sources    []store.SourceStatus
	overdueN   uint64
	overdueAmt int64
	deadN      uint64
	deadSince  time.Time
	alerts     []store.AlertRecord
	failRules  error // returned by the rule queries when set
	incidents  []incident.Summary
}

func (f *fakeStore) Incidents(_ context.Context, q store.IncidentQuery) ([]incident.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRules != nil {
		return nil, f.failRules
	}
	var out []incident.Summary
	for _, s := range f.incidents {
		if q.Status == "" || s.Status == q.Status {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeStore) AnomalyVersions(_ context.Context, kinds ...fact.Kind) ([]fact.Anomaly, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRules != nil {
		return nil, f.failRules
	}
	var out []fact.Anomaly
	for _, a := range f.anomalies {
		if slices.Contains(kinds, a.Kind) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeStore) JoinerSourceStatus(context.Context) ([]store.SourceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRules != nil {
		return nil, f.failRules
	}
	return slices.Clone(f.sources), nil
}

func (f *fakeStore) OpenAnomalyTotal(_ context.Context, kind fact.Kind) (uint64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRules != nil {
		return 0, 0, f.failRules
	}
	if kind != fact.PayoutOverdue {
		return 0, 0, fmt.Errorf("unexpected kind %s", kind)
	}
	return f.overdueN, f.overdueAmt, nil
}

func (f *fakeStore) DeadLettersSince(_ context.Context, since time.Time) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRules != nil {
		return 0, f.failRules
	}
	f.deadSince = since
	return f.deadN, nil
}

func (f *fakeStore) LatestAlerts(context.Context) ([]store.AlertRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	latest := map[string]store.AlertRecord{}
	for _, r := range f.alerts {
		cur, ok := latest[r.Fingerprint]
		if !ok || r.StartedAt > cur.StartedAt || r.StartedAt == cur.StartedAt && r.Version > cur.Version {
			latest[r.Fingerprint] = r
		}
	}
	var out []store.AlertRecord
	for _, r := range latest {
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeStore) InsertAlerts(_ context.Context, rows []store.AlertRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, rows...)
	return nil
}

func (f *fakeStore) set(fn func(f *fakeStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// fakeSink records what it was sent. fail, when set, decides per call
// whether to fail; block, when not nil, is waited on before each send.
type fakeSink struct {
	name  string
	mu    sync.Mutex
	got   []Notification
	calls int
	fail  func(call int) error
	block chan struct{}
}

func (s *fakeSink) Name() string { return s.name }

func (s *fakeSink) Send(ctx context.Context, n Notification) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(s.calls); err != nil {
			return err
		}
	}
	s.got = append(s.got, n)
	return nil
}

// log renders what the sink received: "status alertname[/label]".
func (s *fakeSink) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.got {
		id := n.Labels[LabelAnomalyID]
		if id == "" {
			id = n.Labels[LabelSource]
		}
		out = append(out, strings.TrimSuffix(string(n.Status)+" "+n.Name()+"/"+id, "/"))
	}
	return out
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Retry = RetryPolicy{Initial: time.Second, Max: 4 * time.Second, Budget: 10 * time.Second}
	cfg.For = nil // every alert at once; TestFor* test the minimum durations
	return cfg
}

func newTestAlerter(tb testing.TB, cfg Config, st Store, sinks ...Sink) *Alerter {
	tb.Helper()
	a, err := New(cfg, Deps{Store: st, Sinks: sinks})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func stallVersions(batch string, detected, resumed time.Time) []fact.Anomaly {
	tx, _ := fact.Describe(fact.BatchStalled)
	open := fact.Anomaly{ID: "batch_stalled:payouts:" + batch + ":1", Kind: fact.BatchStalled, Severity: tx.Severity, Status: fact.Open,
		BatchID: batch, DetectedAt: detected.UnixMilli(), Action: tx.Action, Version: fact.Version(detected.UnixMilli(), 0)}
	if resumed.IsZero() {
		return []fact.Anomaly{open}
	}
	res := open
	res.Status, res.ResolvedAt, res.Version = fact.Resolved, resumed.UnixMilli(), fact.Version(resumed.UnixMilli(), 1)
	return []fact.Anomaly{open, res}
}

// TestRunLifecycle runs the alerter on a fake clock: a lagging source fires,
// is re-sent after the repeat interval and resolves; a stall that resumed
// before the first evaluation gives firing then resolved; the history is
// written.
func TestRunLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{
			sources:   []store.SourceStatus{{Source: "payouts", Status: "lagging", WatermarkLagS: 3600, ThresholdS: 1800}},
			anomalies: stallVersions("PB-1", time.Now().Add(-time.Hour), time.Now().Add(-time.Minute)),
		}
		sink := &fakeSink{name: "fake"}
		cfg := testConfig()
		cfg.RepeatInterval = time.Hour
		a := newTestAlerter(t, cfg, st, sink)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		stopped := false
		defer func() {
			if !stopped { // a failed assertion: stop Run so the bubble can end
				cancel()
				<-done
			}
		}()

		synctest.Wait()
		want := []string{"firing BatchStalled/batch_stalled:payouts:PB-1:1", "resolved BatchStalled/batch_stalled:payouts:PB-1:1",
			"firing SourceLagging/payouts"}
		if got := sink.log(); !slices.Equal(got, want) {
			t.Fatalf("after the first evaluation: %q, want %q", got, want)
		}

		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if got := len(sink.log()); got != 3 {
			t.Fatalf("re-sent before the repeat interval: %q", sink.log())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		want = append(want, "firing SourceLagging/payouts")
		if got := sink.log(); !slices.Equal(got, want) {
			t.Fatalf("after the repeat interval: %q, want %q", got, want)
		}

		st.set(func(f *fakeStore) { f.sources[0].Status = "ok" })
		time.Sleep(cfg.Interval)
		synctest.Wait()
		want = append(want, "resolved SourceLagging/payouts")
		if got := sink.log(); !slices.Equal(got, want) {
			t.Fatalf("after the source recovered: %q, want %q", got, want)
		}

		time.Sleep(3 * time.Hour) // nothing more to say
		synctest.Wait()
		if got := sink.log(); !slices.Equal(got, want) {
			t.Fatalf("later: %q, want %q", got, want)
		}

		cancel()
		stopped = true
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		latest, _ := st.LatestAlerts(context.Background())
		var states []string
		for _, r := range latest {
			states = append(states, fmt.Sprintf("%s %s %d", r.AlertName, r.State, r.Notifications))
		}
		slices.Sort(states)
		if w := []string{"BatchStalled resolved 2", "SourceLagging resolved 3"}; !slices.Equal(states, w) {
			t.Errorf("history = %q, want %q", states, w)
		}
		if s := a.Stats(); s.Sent != 5 || s.Dropped != 0 || s.Undelivered != 0 || s.Evaluations < 1000 {
			t.Errorf("stats = %+v", s)
		}
	})
}

// TestRestart: a new alerter on the same history sends nothing that was
// sent, re-sends a firing alert only when its repeat interval is due, and
// sends what the previous one decided but never delivered.
func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Now()
		st := &fakeStore{
			sources:   []store.SourceStatus{{Source: "payouts", Status: "lagging"}},
			anomalies: stallVersions("PB-1", now.Add(-time.Hour), time.Time{}),
		}
		first := &fakeSink{name: "first"}
		a := newTestAlerter(t, testConfig(), st, first)
		defer a.Close()
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if len(first.log()) != 2 {
			t.Fatalf("first alerter sent %q", first.log())
		}

		// The stall resumes and the incomplete batch appears while a second
		// alerter runs whose receiver refuses everything.
		st.set(func(f *fakeStore) {
			f.anomalies = append(stallVersions("PB-1", now.Add(-time.Hour), now), f.anomalies...)
		})
		down := &fakeSink{name: "down", fail: func(int) error { return &StatusError{Code: 400} }}
		b := newTestAlerter(t, testConfig(), st, down)
		defer b.Close()
		if err := b.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if s := b.Stats(); s.Undelivered != 1 || s.Sent != 0 {
			t.Fatalf("second alerter: %+v", s)
		}

		third := &fakeSink{name: "third"}
		c := newTestAlerter(t, testConfig(), st, third)
		defer c.Close()
		if err := c.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := third.log(), []string{"resolved BatchStalled/batch_stalled:payouts:PB-1:1"}; !slices.Equal(got, want) {
			t.Fatalf("third alerter sent %q, want only the pending resolution %q", got, want)
		}
		// Nothing more at the next evaluation.
		if err := c.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if len(third.log()) != 1 {
			t.Fatalf("third alerter repeated itself: %q", third.log())
		}
		c.Close()
	})
}

// TestSlowReceiver: a receiver that hangs neither stalls the evaluation nor
// the other receiver; its queue overflows into the drop counter.
func TestSlowReceiver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lagging := func(n int) (out []store.SourceStatus) {
			for i := range n {
				out = append(out, store.SourceStatus{Source: fmt.Sprintf("feed%d", i), Status: "lagging"})
			}
			return out
		}
		st := &fakeStore{sources: lagging(4)}
		slow := &fakeSink{name: "slow", block: make(chan struct{})}
		fast := &fakeSink{name: "fast"}
		cfg := testConfig()
		cfg.QueueSize = 4
		cfg.ShutdownTimeout = time.Minute
		obs := &fakeObserver{}
		a, err := New(cfg, Deps{Store: st, Sinks: []Sink{slow, fast}, Metrics: obs})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := a.load(context.Background()); err != nil {
			t.Fatal(err)
		}
		a.start()
		evaluate := func() {
			t.Helper()
			start := time.Now()
			if err := a.evaluate(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("evaluation took %v of fake time with a hung receiver", d)
			}
			synctest.Wait()
		}
		evaluate() // slow: one in hand, three queued
		st.set(func(f *fakeStore) { f.sources = lagging(8) })
		evaluate() // the first four are in flight; of the next four, one fits
		if got := len(fast.log()); got != 8 {
			t.Errorf("the fast receiver got %d notifications, want 8", got)
		}
		if s := a.Stats(); s.Dropped != 3 {
			t.Errorf("dropped = %d, want 3", s.Dropped)
		}
		close(slow.block)
		a.Close()
		if got := len(slow.log()); got != 5 {
			t.Errorf("the slow receiver got %d after it woke, want 5", got)
		}
		if s := a.Stats(); s.Sent != 8 || s.Undelivered != 0 {
			t.Errorf("stats = %+v: each notification reached a receiver", s)
		}
		if got, want := obs.snapshot(), "map[BatchIncomplete/critical:0 BatchStalled/critical:0 DeadLetterRate/warning:0 Incident/critical:0 PayoutsOverdue/critical:0 SourceLagging/critical:8] map[fast ok:8 slow alert receiver queue full:3 slow ok:5]"; got != want {
			t.Errorf("metrics:\n got %s\nwant %s", got, want)
		}
	})
}

// TestUndeliveredIsRetried: a firing notification that no receiver took
// (retries exhausted) is decided again at the next evaluation, once.
func TestUndeliveredIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{overdueN: 500, overdueAmt: 1}
		var down atomic.Bool
		down.Store(true)
		sink := &fakeSink{name: "flaky", fail: func(int) error {
			if down.Load() {
				return &StatusError{Code: 503}
			}
			return nil
		}}
		a := newTestAlerter(t, testConfig(), st, sink)
		defer a.Close()
		ctx := context.Background()
		start := time.Now()
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if s := a.Stats(); s.Undelivered != 1 || s.Failed != 1 || len(sink.log()) != 0 || sink.calls < 3 {
			t.Fatalf("after the failed sends: %+v, %d calls, sent %q", s, sink.calls, sink.log())
		}
		if d := time.Since(start); d < time.Second || d > 10*time.Second {
			t.Errorf("gave up after %v, want backoff waits within the 10s budget", d)
		}
		down.Store(false)
		for range 3 {
			if err := a.EvaluateOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := sink.log(), []string{"firing PayoutsOverdue"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// TestFailedRuleLeavesAlertsAlone: a rule whose query fails neither fires
// nor resolves its alerts.
func TestFailedRuleLeavesAlertsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{deadN: 1000}
		sink := &fakeSink{name: "fake"}
		a := newTestAlerter(t, testConfig(), st, sink)
		defer a.Close()
		ctx := context.Background()
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(st.deadSince); d != 5*time.Minute {
			t.Errorf("dead letters counted over %v, want the 5m window", d)
		}
		st.set(func(f *fakeStore) { f.deadN, f.failRules = 0, errors.New("clickhouse is down") })
		if err := a.EvaluateOnce(ctx); err == nil || !strings.Contains(err.Error(), "clickhouse is down") {
			t.Fatalf("err = %v, want the rules' error", err)
		}
		if got := sink.log(); !slices.Equal(got, []string{"firing DeadLetterRate"}) {
			t.Fatalf("while the store failed: %q", got)
		}
		st.set(func(f *fakeStore) { f.failRules = nil })
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := sink.log(); !slices.Equal(got, []string{"firing DeadLetterRate", "resolved DeadLetterRate"}) {
			t.Fatalf("after recovery: %q", got)
		}
		if s := a.Stats(); s.RuleErrors != 5 {
			t.Errorf("rule errors = %d, want 5 (every rule failed once)", s.RuleErrors)
		}
		a.Close()
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"both receivers", func(c *Config) {
			c.AlertmanagerURL, c.WebhookURL = "http://127.0.0.1:9093", "https://hooks.example/x"
		}, ""},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "interval"},
		{"repeat below interval", func(c *Config) { c.RepeatInterval = time.Second }, "repeat interval"},
		{"negative amount", func(c *Config) { c.OverdueAmount = -1 }, "overdue amount"},
		{"zero window", func(c *Config) { c.DeadLetterWindow = 0 }, "dead-letter window"},
		{"zero queue", func(c *Config) { c.QueueSize = 0 }, "queue size"},
		{"zero send timeout", func(c *Config) { c.SendTimeout = 0 }, "send timeout"},
		{"bad alertmanager URL", func(c *Config) { c.AlertmanagerURL = "alertmanager:9093" }, "alertmanager URL"},
		{"bad webhook URL", func(c *Config) { c.WebhookURL = "file:///etc/passwd" }, "webhook URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(DefaultConfig(), Deps{Store: &fakeStore{}}); err == nil || !strings.Contains(err.Error(), "no receiver") {
		t.Errorf("without a receiver: %v", err)
	}
	if _, err := New(DefaultConfig(), Deps{Sinks: []Sink{&fakeSink{}}}); err == nil {
		t.Error("without a store: want an error")
	}
	cfg := DefaultConfig()
	cfg.AlertmanagerURL, cfg.WebhookURL = "http://127.0.0.1:9093", "http://127.0.0.1:9094/hook"
	a, err := New(cfg, Deps{Store: &fakeStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.sinkNames(); !slices.Equal(got, []string{"alertmanager", "webhook"}) {
		t.Errorf("sinks = %v", got)
	}
	if err := a.Close(); err != nil { // never started
		t.Fatal(err)
	}
	// Alertmanager keeps a firing alert past the next re-send.
	if f := cfg.firingFor(); f <= cfg.RepeatInterval+cfg.Interval {
		t.Errorf("firingFor = %v: must outlast the repeat interval and an evaluation", f)
	}
}

// fakeObserver records what the alerter reports.
type fakeObserver struct {
	mu       sync.Mutex
	firing   map[string]int
	outcomes map[string]int // "receiver ok|error"
}

func (o *fakeObserver) SetFiring(name, severity string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.firing == nil {
		o.firing = map[string]int{}
	}
	o.firing[name+"/"+severity] = n
}

func (o *fakeObserver) Notified(receiver string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.outcomes == nil {
		o.outcomes = map[string]int{}
	}
	k := receiver + " ok"
	if err != nil {
		k = receiver + " " + err.Error()
	}
	o.outcomes[k]++
}

func (o *fakeObserver) snapshot() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprint(o.firing, o.outcomes)
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{
			sources: []store.SourceStatus{{Source: "payouts", Status: "lagging"}, {Source: "clearing", Status: "lagging"}},
			deadN:   1000,
		}
		obs := &fakeObserver{}
		ok := &fakeSink{name: "ok"}
		bad := &fakeSink{name: "bad", fail: func(int) error { return &StatusError{Code: 400} }}
		a, err := New(testConfig(), Deps{Store: st, Sinks: []Sink{ok, bad}, Metrics: obs})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ctx := context.Background()
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		want := "map[BatchIncomplete/critical:0 BatchStalled/critical:0 DeadLetterRate/warning:1 Incident/critical:0 PayoutsOverdue/critical:0 SourceLagging/critical:2] map[bad receiver answered 400 Bad Request:3 ok ok:3]"
		if got := obs.snapshot(); got != want {
			t.Errorf("after firing:\n got %s\nwant %s", got, want)
		}
		st.set(func(f *fakeStore) { f.sources, f.deadN = f.sources[:1], 0 })
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		want = "map[BatchIncomplete/critical:0 BatchStalled/critical:0 DeadLetterRate/warning:0 Incident/critical:0 PayoutsOverdue/critical:0 SourceLagging/critical:1] map[bad receiver answered 400 Bad Request:5 ok ok:5]"
		if got := obs.snapshot(); got != want {
			t.Errorf("after two resolved:\n got %s\nwant %s", got, want)
		}
	})
}

// TestOneNotificationPerIncident: an open critical incident is one alert,
// however many anomalies it holds and however often it is evaluated; it
// resolves when the incident does; warnings, batches and feed outages do not
// raise it.
func TestOneNotificationPerIncident(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := incident.Key{Class: incident.PayoutRun, Mode: "T1", Day: "2026-10-08"}
		st := &fakeStore{incidents: []incident.Summary{
			{Key: run, Kinds: []fact.Kind{fact.PayoutOverdue}, Severity: fact.Critical, Status: fact.Open,
				Anomalies: 256, Open: 256, Traces: 256, Amount: 108_979_15, Merchants: 141, SomeMerchants: []string{"M1", "M2"}},
			{Key: incident.Key{Class: incident.Merchant, Kind: fact.MCCMismatch, MerchantID: "M3"}, Severity: fact.Warning, Status: fact.Open, Traces: 4},
			{Key: incident.Key{Class: incident.Batch, Source: "payouts", BatchID: "B1"}, Severity: fact.Critical, Status: fact.Open, Traces: 1},
			{Key: incident.OutageKey("payouts", 1), Severity: fact.Critical, Status: fact.Open, Traces: 9000},
		}}
		sink := &fakeSink{name: "fake"}
		a := newTestAlerter(t, testConfig(), st, sink)
		defer a.Close()
		ctx := context.Background()
		for range 3 {
			if err := a.EvaluateOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		sink.mu.Lock()
		var got []Notification
		for _, n := range sink.got {
			if n.Name() == Incident {
				got = append(got, n)
			}
		}
		sink.mu.Unlock()
		if len(got) != 1 || got[0].Labels[LabelIncident] != run.String() || got[0].Labels[LabelIncidentClass] != "payout_run" {
			t.Fatalf("incident notifications %+v, want one for %s", got, run)
		}
		if s := got[0].Annotations[AnnotationSummary]; !strings.Contains(s, "T1 payouts due on 2026-10-08") || !strings.Contains(s, "256 traces") {
			t.Errorf("summary %q", s)
		}
		if s := got[0].Annotations[AnnotationAction]; !strings.Contains(s, "chase the paying bank") {
			t.Errorf("action %q", s)
		}
		st.set(func(f *fakeStore) { f.incidents[0].Status = fact.Resolved })
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		sink.mu.Lock()
		last := sink.got[len(sink.got)-1]
		sink.mu.Unlock()
		if last.Name() != Incident || last.Status != Resolved {
			t.Fatalf("after the incident resolved: %+v, want its resolution", last)
		}
	})
}
