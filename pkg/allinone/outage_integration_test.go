//go:build integration

package allinone_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"settlemon/pkg/alert"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/ingest"
	"settlemon/pkg/joiner"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/simulator"
	"settlemon/pkg/store/storetest"
)

// TestPayoutOutageAlertsOnce is the acceptance test on a feed outage, in
// live mode: the joiner's "now" is a clock the test moves. The payout feed
// goes silent for twelve hours of a simulated day while the other feeds
// flow; deadlines pass in "now" but not in the payout watermark. The alerter
// must send one SourceLagging alert for the payout feed (and resolve it when
// the backlog arrives), and no storm of per-merchant overdue alerts: no
// payout_overdue is raised for payouts delayed by the outage.
func TestPayoutOutageAlertsOnce(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	st := storetest.New(t)
	h := newHarness(t, ctx, st)

	cfg := simulator.FullConfig()
	cfg.TracesPerDay, cfg.Merchants, cfg.Partitions = 2500, 100, h.partitions
	cfg.BatchStallCount, cfg.BatchIncompleteCount = 0, 0
	sim, err := simulator.New(cfg, testSchedule(t).Calendar())
	if err != nil {
		t.Fatal(err)
	}
	var all []simulator.Message
	stats, err := sim.Run(ctx, func(m []simulator.Message) error { all = append(all, m...); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Outages) != 1 {
		t.Fatalf("want one payout-feed outage, got %+v", stats.Outages)
	}
	out := stats.Outages[0]
	// Cut the run six hours into the outage: everything published until
	// then, in publication order (the held-back payouts come at its end).
	mid := out.From + (6 * time.Hour).Milliseconds()
	cut := len(all)
	for i, m := range all {
		if m.At > mid {
			cut = i
			break
		}
	}

	var now atomic.Int64
	now.Store(all[0].At)
	runCtx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(runCtx)
	defer func() {
		stop()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("pipeline: %v", err)
		}
	}()
	groups := groupsOf(h.pipeline)
	publish := func(msgs []simulator.Message) {
		pub := kafkaio.NewPublisher(h.kafka)
		defer pub.Close()
		for len(msgs) > 0 {
			n := min(len(msgs), 5000)
			batch := make([]kafka.Message, n)
			for i, m := range msgs[:n] {
				batch[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
				if m.Partition >= 0 {
					batch[i].Headers = []kafka.Header{kafkaio.ToPartition(m.Partition)}
				}
			}
			if err := pub.Publish(ctx, batch); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[n:]
		}
	}
	publish(all[:cut])
	for s := event.Auth; s < event.NumSources; s++ {
		ic := h.pipeline.IngestConfig(s)
		ic.HealthInterval = 200 * time.Millisecond
		in, err := ingest.New(ic, ingest.Deps{Kafka: h.kafka, Store: st, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		g.Go(func() error { return in.Run(gctx) })
	}
	jc := h.pipeline.JoinerConfig()
	jc.Clock, jc.HealthInterval = joiner.ClockLive, 200*time.Millisecond
	jn, err := joiner.New(jc, joiner.Deps{Kafka: h.kafka, Store: st, Schedule: testSchedule(t), Logger: testLogger(t),
		Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return jn.Run(gctx) })

	rcv := newReceiver(t)
	acfg := alert.DefaultConfig()
	acfg.WebhookURL = rcv.srv.URL
	acfg.For = nil // a fresh alerter per evaluation: no pending state to wait out
	evaluate := func() {
		t.Helper()
		a, err := alert.New(acfg, alert.Deps{Store: st, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.EvaluateOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			rows, err := st.JoinerSourceStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.Source == "payouts" && r.Status == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the joiner never reported the payout feed %s: %+v", want, rows)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Six hours into the outage, live.
	waitCaughtUp(t, gctx, h.kafka, groups)
	now.Store(mid)
	waitStatus("lagging")
	evaluate()
	if n := rcv.count("SourceLagging", "firing", "source", "payouts"); n != 1 {
		t.Errorf("%d SourceLagging firing notifications for payouts during the outage, want exactly 1", n)
	}
	anomalies, err := st.LatestAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range anomalies {
		if a.Kind == fact.PayoutOverdue && a.DetectedAt >= out.From {
			t.Errorf("payout_overdue raised during the outage: %+v", a)
		}
	}

	// The backlog arrives and the day goes on.
	publish(all[cut:])
	waitCaughtUp(t, gctx, h.kafka, groups)
	now.Store(all[len(all)-1].At)
	waitStatus("ok")
	evaluate()
	if n := rcv.count("SourceLagging", "resolved", "source", "payouts"); n != 1 {
		t.Errorf("%d SourceLagging resolved notifications for payouts, want exactly 1", n)
	}
	if n := rcv.count("SourceLagging", "firing", "source", "payouts"); n != 1 {
		t.Errorf("%d SourceLagging firing notifications for payouts in all, want exactly 1", n)
	}
	// No storm: overdue is one aggregate alert at most, never per merchant
	// or trace, and nothing the outage delayed was called overdue.
	if n := rcv.count("PayoutsOverdue", "firing", "", ""); n > 1 {
		t.Errorf("%d PayoutsOverdue firing notifications, want at most the one aggregate", n)
	}
	rcv.mu.Lock()
	for _, m := range rcv.msgs {
		if m.Labels["merchant_id"] != "" || m.Labels["trace_no"] != "" {
			t.Errorf("a per-merchant or per-trace alert was sent: %+v", m)
		}
	}
	rcv.mu.Unlock()
	anomalies, err = st.LatestAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range anomalies {
		if a.Kind == fact.PayoutOverdue && a.DetectedAt >= out.From && a.DetectedAt < out.To {
			// Only payouts that are really missing may be overdue with a
			// deadline inside the outage; the simulator's delayed ones were
			// all paid before their deadline.
			if a.Status != fact.Open {
				t.Errorf("an outage-delayed payout was raised overdue: %+v", a)
			}
		}
	}
}
