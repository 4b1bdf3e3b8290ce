// Command simulator publishes a deterministic, realistic run of acquirer
// traffic onto the four source topics and writes its ground truth.
package main

import (
	"context"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/kafkaio"
	"settlemon/pkg/service"
	"settlemon/pkg/simulator"
	"settlemon/pkg/simulator/simflags"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	exit := service.NewExit("simulator", args)
	f := service.NewFlags("simulator", `simulator — realistic acquirer traffic for N simulated days, produced fast.

Publishes merchant profiles, authorizations with a daily curve, nightly
clearing batches, payout batches per settlement mode that honour the
business-day calendar, heartbeats to every partition, and injected faults
of every cause in the anomaly taxonomy, healthy reversals and short holds, and a
payout-feed outage (all rates are flags). Equal seeds give identical traffic. The ground truth (one JSON line per trace) goes to
--truth-file.`)
	k := service.KafkaFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	cfg := simulator.FullConfig()
	var truthFile string
	applySim := simflags.Register(f, &cfg)
	f.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of each source topic (heartbeats go to each)")
	f.StringVar(&truthFile, "truth-file", "truth.jsonl", "ground truth output (JSON lines); empty: none")
	createTopics := f.Bool("create-topics", true, "create the source topics if missing")
	f.CheckConfigFlag()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	if err := applySim(); err != nil {
		return exit.Code(err)
	}
	cfg.Schedule = cc.Schedule
	if err := service.Invalid(k.Validate(), cfg.Validate()); err != nil {
		return exit.Code(err)
	}
	sched, err := cc.Load(log, service.Years(cfg.Start.At(time.UTC, 0), cfg.Start.AddDays(cfg.Days+service.DeadlineHorizonDays).At(time.UTC, 0))...)
	if err != nil {
		return exit.Code(err)
	}
	sim, err := simulator.New(cfg, sched.Calendar())
	if err != nil {
		return exit.Code(err)
	}
	if f.CheckOnly() {
		return exit.Code(f.ConfigOK("simulator"))
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	if *createTopics {
		t := cfg.Topics
		err := kafkaio.EnsureTopics(ctx, *k, []kafkaio.TopicSpec{
			{Name: t.Authorizations, Partitions: cfg.Partitions}, {Name: t.Clearing, Partitions: cfg.Partitions},
			{Name: t.Payouts, Partitions: cfg.Partitions}, {Name: t.Merchants, Partitions: cfg.Partitions, Compacted: true}})
		if err != nil {
			return exit.Code(err)
		}
	}
	var truth *os.File
	if truthFile != "" {
		if truth, err = os.Create(truthFile); err != nil {
			return exit.Code(err)
		}
		defer truth.Close()
	}
	pub := kafkaio.NewPublisher(*k)
	defer pub.Close()
	published := 0
	stats, err := sim.Run(ctx, func(msgs []simulator.Message) error {
		out := make([]kafka.Message, len(msgs))
		for i, m := range msgs {
			out[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
			if m.Partition >= 0 {
				out[i].Headers = []kafka.Header{kafkaio.ToPartition(m.Partition)}
			}
		}
		published += len(out)
		if published%100000 < len(out) {
			log.Info("publishing", "messages", published)
		}
		return pub.Publish(ctx, out)
	}, truth)
	if err != nil {
		return exit.Code(err)
	}
	log.Info("simulation published", "messages", published, "traces", stats.Traces, "approved", stats.Approved,
		"declined", stats.Declined, "injected", stats.Injected, "truth_file", truthFile)
	return 0
}
