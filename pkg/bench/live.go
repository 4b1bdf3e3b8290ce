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
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
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

func live(ctx context.Context, cfg Config, deps Deps, k kafkaio.Config, st *store.Store) (*LiveResult, error) {
	lc := cfg.Live
	log := deps.Logger
	sc := deps.Schedule.Config()
	sc.T0Window = lc.Window
	sched, err := calendar.NewSchedule(sc, deps.Schedule.Calendar())
	if err != nil {
		return nil, err
	}
	topic := func(s string) string { return "bench.live." + s }
	sources := []string{topic("auth"), topic("clearing"), topic("payouts"), topic("merchants")}
	events, dlq, profiles := topic("events"), topic("dlq"), topic("profiles")
	specs := []kafkaio.TopicSpec{{Name: events, Partitions: cfg.Partitions}, {Name: dlq, Partitions: cfg.Partitions},
		{Name: profiles, Partitions: cfg.Partitions, Compacted: true}}
	for _, t := range sources {
		specs = append(specs, kafkaio.TopicSpec{Name: t, Partitions: cfg.Partitions})
	}
	if err := kafkaio.EnsureTopics(ctx, k, specs); err != nil {
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

	compCtx, stop := context.WithCancel(ctx)
	defer stop()
	comps, compCtx := errgroup.WithContext(compCtx)
	var ingests []*ingest.Ingest
	for s := event.Auth; s < event.NumSources; s++ {
		ic := cfg.Ingest
		ic.Source, ic.Topic, ic.OutTopic, ic.DLQTopic, ic.ProfilesTopic, ic.Group = s, sources[s], events, dlq, profiles, "settlemon-bench-live-"+s.String()
		in, err := ingest.New(ic, ingest.Deps{Kafka: k, Store: st, Logger: log})
		if err != nil {
			return nil, err
		}
		ingests = append(ingests, in)
		comps.Go(func() error { return in.Run(compCtx) })
	}
	jc := cfg.Joiner
	jc.Topic, jc.Group, jc.Clock = events, "settlemon-bench-live-joiner", joiner.ClockLive
	jc.MerchantsTopic, jc.MerchantsSource, jc.MerchantsGroup = profiles, sources[event.Merchants], "settlemon-bench-live-"+event.Merchants.String()
	jn, err := joiner.New(jc, joiner.Deps{Kafka: k, Store: st, Schedule: sched, Logger: log})
	if err != nil {
		return nil, err
	}
	comps.Go(func() error { return jn.Run(compCtx) })

	// Heartbeats: every partition of the three event topics, each tick.
	hbPub := kafkaio.NewPublisher(k)
	defer hbPub.Close()
	comps.Go(func() error {
		t := time.NewTicker(lc.Heartbeat)
		defer t.Stop()
		var seq int
		for {
			select {
			case <-compCtx.Done():
				return nil
			case <-t.C:
			}
			at := time.Now().Format(time.RFC3339Nano)
			var msgs []kafka.Message
			for _, src := range sources[:event.Merchants] {
				for p := range cfg.Partitions {
					seq++
					v := `{"event_id":"hb-live-` + strconv.Itoa(seq) + `","type":"heartbeat","occurred_at":"` + at + `","producer":"bench"}`
					msgs = append(msgs, kafka.Message{Topic: src, Key: []byte("bench"), Value: []byte(v), Headers: []kafka.Header{kafkaio.ToPartition(p)}})
				}
			}
			if err := hbPub.Publish(compCtx, msgs); err != nil && compCtx.Err() == nil {
				return fmt.Errorf("live heartbeats: %w", err)
			}
		}
	})

	// Measure only once every stage runs: each ingest consumer has written
	// a batch and every joiner partition has committed.
	if err := waitReady(compCtx, ingests, jn, cfg.Partitions); err != nil {
		stop()
		_ = comps.Wait()
		return nil, err
	}
	// Authorizations are published on their own goroutine while this one
	// polls ClickHouse, so that a row is seen as soon as it is queryable.
	var mu sync.Mutex
	deadlines := map[string]time.Time{}
	published := make(chan error, 1)
	go func() {
		gap := lc.Spread / time.Duration(lc.Traces)
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for i := range lc.Traces {
			select {
			case <-compCtx.Done():
				published <- compCtx.Err()
				return
			case <-tick.C:
			}
			at := time.Now()
			trace := livePrefix + fmt.Sprintf("%08d", i)
			v := fmt.Sprintf(`{"event_id":"au-live-%d","type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":%q,"terminal_id":"TLIVE","response_code":"00","amount":"100.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
				i, at.Format(time.RFC3339Nano), trace, liveMerchant)
			if err := pub.Publish(compCtx, []kafka.Message{{Topic: sources[event.Auth], Key: []byte(trace), Value: []byte(v)}}); err != nil {
				published <- fmt.Errorf("live phase: publishing an authorization: %w", err)
				return
			}
			mu.Lock()
			deadlines[trace] = time.UnixMilli(sched.PayoutDeadline(event.T0, at.UnixMilli()).At)
			mu.Unlock()
		}
		published <- nil
	}()

	seen := map[string]time.Time{}
	var giveUp time.Time // set once everything is published
	poll := time.NewTicker(lc.Poll)
	defer poll.Stop()
	for giveUp.IsZero() || (len(seen) < lc.Traces && time.Now().Before(giveUp)) {
		select {
		case <-compCtx.Done():
			stop()
			return nil, fmt.Errorf("live phase stopped: %w", comps.Wait())
		case err := <-published:
			if err != nil {
				stop()
				_ = comps.Wait()
				return nil, err
			}
			giveUp = time.Now().Add(lc.Window + lc.Wait)
			continue
		case <-poll.C:
		}
		traces, err := st.AnomalyTraces(ctx, fact.PayoutOverdue, livePrefix)
		if err != nil {
			stop()
			_ = comps.Wait()
			return nil, fmt.Errorf("live phase: polling anomalies: %w", err)
		}
		at := time.Now()
		for _, trace := range traces {
			if _, ok := seen[trace]; !ok {
				seen[trace] = at
			}
		}
	}
	stop()
	if err := comps.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	res := &LiveResult{Config: lc}
	for trace, d := range deadlines {
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

// waitReady waits until every ingest consumer has processed a batch and the
// joiner has committed at least once per partition.
func waitReady(ctx context.Context, ingests []*ingest.Ingest, jn *joiner.Joiner, partitions int) error {
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
		ready := jn.Stats().Commits >= uint64(partitions)
		for _, in := range ingests {
			ready = ready && in.Stats().Batches > 0
		}
		if ready {
			return nil
		}
	}
}
