package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/pipeline"
	"settlemon/pkg/store"
)

// LiveConfig is the live-latency phase: the pipeline runs with the live
// clock on topics of its own; authorizations of a T0 merchant are published
// as they happen and never paid, heartbeats on every source partition stand
// for continuous traffic, and ClickHouse is polled for each trace's
// payout_overdue row. A sample is the time from the wall clock passing the
// trace's payout deadline to the row being queryable.
type LiveConfig struct {
	Traces    int           // deadlines measured; 0 skips the phase
	Spread    time.Duration // authorizations are published evenly over this
	Window    time.Duration // T0 payout window of the live schedule: deadline = authorization + Window
	Heartbeat time.Duration // heartbeat interval on every source partition
	Poll      time.Duration // ClickHouse poll interval (the measurement's resolution)
	Wait      time.Duration // how long after the last deadline a row may take before it counts as missing
}

// DefaultLiveConfig measures 200 deadlines over 20 s with a 10 s T0 window,
// heartbeats every 250 ms and a 50 ms poll.
func DefaultLiveConfig() LiveConfig {
	return LiveConfig{Traces: 200, Spread: 20 * time.Second, Window: 10 * time.Second, Heartbeat: 250 * time.Millisecond,
		Poll: 50 * time.Millisecond, Wait: 30 * time.Second}
}

// Validate reports a setting that cannot work.
func (c LiveConfig) Validate() error {
	if c.Traces < 0 {
		return errors.New("bench: live traces must not be negative")
	}
	if c.Traces > 0 && (c.Spread <= 0 || c.Window <= 0 || c.Heartbeat <= 0 || c.Poll <= 0 || c.Wait <= 0) {
		return errors.New("bench: live spread, window, heartbeat, poll and wait must be positive")
	}
	return nil
}

// LiveResult is the live phase's outcome.
type LiveResult struct {
	Config    LiveConfig
	Latencies []time.Duration // sorted, one per trace whose row appeared
	Missing   int             // traces whose row did not appear in time
}

// Quantile returns the q-quantile (nearest rank) of the latencies.
func (r *LiveResult) Quantile(q float64) time.Duration { return quantile(r.Latencies, q) }

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

const (
	liveMerchant = "MLIVE00001"
	livePrefix   = "LIVE"
)

// liveTopology is the measured pipeline's settings on topics and groups of
// the live phase's own, on the live clock.
func liveTopology(cfg Config) pipeline.Config {
	pc := cfg.Pipeline
	topic := func(s string) string { return "bench.live." + s }
	for s := range event.NumSources {
		pc.Topics.Sources[s] = topic(s.String())
		pc.Groups.Ingest[s] = "settlemon-bench-live-" + s.String()
	}
	pc.Topics.Events, pc.Topics.DLQ, pc.Topics.Profiles = topic("events"), topic("dlq"), topic("profiles")
	pc.Groups.Joiner = "settlemon-bench-live-joiner"
	pc.Joiner.Clock = joiner.ClockLive
	return pc
}

func live(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, st *store.Store) (*LiveResult, error) {
	lc := cfg.Live
	sc := deps.Schedule.Config()
	sc.T0Window = lc.Window
	sched, err := calendar.NewSchedule(sc, deps.Schedule.Calendar())
	if err != nil {
		return nil, err
	}
	pc := liveTopology(cfg)
	sources := pc.Topics.Sources
	if err := pc.EnsureTopics(ctx, k); err != nil {
		return nil, err
	}
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	now := time.Now()
	profile := fmt.Sprintf(`{"event_id":"mc-live-1","type":"merchant","occurred_at":%q,"merchant_id":%q,"merchant_name":"bench live","registered_mcc":"5812","settlement_mode":"T0","fee_rate":"0.0060","account_ref":"ACC-LIVE"}`,
		now.Format(time.RFC3339Nano), liveMerchant)
	if err := pub.Publish(ctx, []kafka.Message{{Topic: sources[event.Merchants], Key: []byte(liveMerchant), Value: []byte(profile)}}); err != nil {
		return nil, err
	}

	p, err := pipeline.New(pc, pipeline.Deps{Kafka: k, Store: st, Schedule: sched, Logger: deps.Logger})
	if err != nil {
		return nil, err
	}
	compCtx, stop := context.WithCancel(ctx)
	defer stop()
	comps, compCtx := errgroup.WithContext(compCtx)
	comps.Go(func() error { return p.Run(compCtx) })
	comps.Go(func() error { return heartbeats(compCtx, k, sources[:event.Merchants], pc.Partitions, lc.Heartbeat) })
	halt := func() error {
		stop()
		if err := comps.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}

	// Measure only once every stage runs: each ingest consumer has written
	// a batch and every joiner partition has committed.
	if err := waitReady(compCtx, p, pc.Partitions); err != nil {
		_ = halt()
		return nil, err
	}
	// Authorizations are published on their own goroutine while this one
	// polls ClickHouse, so that a row is seen as soon as it is queryable.
	deadlines := &liveDeadlines{at: map[string]time.Time{}}
	published := make(chan error, 1)
	go func() { published <- publishLive(compCtx, pub, sources[event.Auth], lc, sched, deadlines) }()

	seen, err := pollOverdue(ctx, compCtx, st, lc, published)
	if err != nil {
		if compCtx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("live phase stopped: %w", comps.Wait())
		}
		_ = halt()
		return nil, err
	}
	if err := halt(); err != nil {
		return nil, err
	}
	res := &LiveResult{Config: lc}
	deadlines.mu.Lock()
	defer deadlines.mu.Unlock()
	for trace, d := range deadlines.at {
		at, ok := seen[trace]
		if !ok {
			res.Missing++
			continue
		}
		res.Latencies = append(res.Latencies, at.Sub(d))
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// heartbeats publishes a heartbeat on every partition of topics each tick
// until ctx is done.
func heartbeats(ctx context.Context, k kafkaio.Config, topics []string, partitions int, every time.Duration) error {
	hbPub := kafkaio.NewPublisher(k)
	defer hbPub.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	var seq int
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		at := time.Now().Format(time.RFC3339Nano)
		var msgs []kafka.Message
		for _, src := range topics {
			for p := range partitions {
				seq++
				v := `{"event_id":"hb-live-` + strconv.Itoa(seq) + `","type":"heartbeat","occurred_at":"` + at + `","producer":"bench"}`
				msgs = append(msgs, kafka.Message{Topic: src, Key: []byte("bench"), Value: []byte(v), Headers: []kafka.Header{kafkaio.ToPartition(p)}})
			}
		}
		if err := hbPub.Publish(ctx, msgs); err != nil && ctx.Err() == nil {
			return fmt.Errorf("live heartbeats: %w", err)
		}
	}
}

// liveDeadlines are the payout deadlines of the published traces.
type liveDeadlines struct {
	mu sync.Mutex
	at map[string]time.Time
}

// publishLive publishes the live phase's authorizations evenly over
// lc.Spread, recording each one's payout deadline.
func publishLive(ctx context.Context, pub *kafkaio.Publisher, topic string, lc LiveConfig, sched *calendar.Schedule, deadlines *liveDeadlines) error {
	gap := lc.Spread / time.Duration(lc.Traces)
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for i := range lc.Traces {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		at := time.Now()
		trace := livePrefix + fmt.Sprintf("%08d", i)
		v := fmt.Sprintf(`{"event_id":"au-live-%d","type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":%q,"terminal_id":"TLIVE","response_code":"00","amount":"100.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
			i, at.Format(time.RFC3339Nano), trace, liveMerchant)
		if err := pub.Publish(ctx, []kafka.Message{{Topic: topic, Key: []byte(trace), Value: []byte(v)}}); err != nil {
			return fmt.Errorf("live phase: publishing an authorization: %w", err)
		}
		deadlines.mu.Lock()
		deadlines.at[trace] = time.UnixMilli(sched.PayoutDeadline(event.T0, at.UnixMilli()).At)
		deadlines.mu.Unlock()
	}
	return nil
}

// pollOverdue polls ClickHouse for the live traces' payout_overdue rows
// until every trace has one or, once everything is published, the window
// and the wait have passed; it returns when each was first seen.
func pollOverdue(ctx, compCtx context.Context, st *store.Store, lc LiveConfig, published <-chan error) (map[string]time.Time, error) {
	seen := map[string]time.Time{}
	var giveUp time.Time // set once everything is published
	poll := time.NewTicker(lc.Poll)
	defer poll.Stop()
	for giveUp.IsZero() || (len(seen) < lc.Traces && time.Now().Before(giveUp)) {
		select {
		case <-compCtx.Done():
			return nil, compCtx.Err()
		case err := <-published:
			if err != nil {
				return nil, err
			}
			giveUp = time.Now().Add(lc.Window + lc.Wait)
			continue
		case <-poll.C:
		}
		traces, err := st.AnomalyTraces(ctx, fact.PayoutOverdue, livePrefix)
		if err != nil {
			return nil, fmt.Errorf("live phase: polling anomalies: %w", err)
		}
		at := time.Now()
		for _, trace := range traces {
			if _, ok := seen[trace]; !ok {
				seen[trace] = at
			}
		}
	}
	return seen, nil
}

// waitReady waits until every ingest consumer has processed a batch and the
// joiner has committed at least once per partition.
func waitReady(ctx context.Context, p *pipeline.Pipeline, partitions int) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	giveUp := time.After(60 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("live phase: %w", ctx.Err())
		case <-giveUp:
			return errors.New("live phase: the pipeline was not running 60s after it started")
		case <-t.C:
		}
		ready := p.Joiner().Stats().Commits >= uint64(partitions)
		for _, in := range p.Ingests() {
			ready = ready && in.Stats().Batches > 0
		}
		if ready {
			return nil
		}
	}
}
