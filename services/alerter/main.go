// Command alerter evaluates the alert rules against the facts in ClickHouse
// every --interval and notifies an Alertmanager-compatible endpoint and/or a
// generic JSON webhook. It is its own service: it only reads the pipeline's
// facts, keeps its history in the alerts table, and nothing in the pipeline
// waits for it.
package main

import (
	"context"
	"errors"
	"os"

	"settlemon/pkg/alert"
	"settlemon/pkg/service"
	"settlemon/pkg/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	exit := service.NewExit("alerter", args)
	f := service.NewFlags("alerter", `alerter — alerts on stalled and incomplete batches, lagging sources, overdue
payouts in aggregate and the dead-letter rate.

Every --interval it evaluates the rules below against ClickHouse and notifies
the receivers: POST <--alertmanager-url>/api/v2/alerts (Alertmanager API v2)
and/or POST <--webhook-url> with one JSON object per notification
({status, alertname, fingerprint, labels, annotations, startsAt, endsAt}).
An alert is notified when it starts, re-sent every --repeat-interval while it
fires, and notified resolved when it clears. Sending retries with backoff and
never holds up the evaluation; what was sent is recorded in the alerts table,
so a restart neither repeats nor loses notifications.

`+alert.Help+`

Example:
  alerter --alertmanager-url http://127.0.0.1:9093 --webhook-url http://127.0.0.1:9000/hook`)
	sc := service.StoreFlags(f)
	lc := service.LogFlags(f)
	cfg := alert.DefaultConfig()
	f.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between evaluations of the rules")
	f.DurationVar(&cfg.RepeatInterval, "repeat-interval", cfg.RepeatInterval, "how often a firing alert is re-sent (Alertmanager expires alerts that are not)")
	f.Uint64Var(&cfg.OverdueCount, "overdue-count", cfg.OverdueCount, "PayoutsOverdue fires when more payout_overdue anomalies than this are open")
	overdueYuan := f.Int64("overdue-amount", cfg.OverdueAmount/100, "PayoutsOverdue fires when the open payout_overdue anomalies total more than this, in yuan")
	f.Uint64Var(&cfg.DeadLetterMax, "dead-letter-max", cfg.DeadLetterMax, "DeadLetterRate fires when more messages than this were dead-lettered within --dead-letter-window")
	f.Uint64Var(&cfg.IncidentMinTraces, "incident-min-traces", cfg.IncidentMinTraces, "Incident fires for each open critical incident with at least this many traces")
	f.DurationVar(&cfg.DeadLetterWindow, "dead-letter-window", cfg.DeadLetterWindow, "window of Kafka time (wall clock) for DeadLetterRate")
	f.StringVar(&cfg.AlertmanagerURL, "alertmanager-url", "", "base URL of an Alertmanager-compatible receiver (…/api/v2/alerts is appended)")
	f.StringVar(&cfg.WebhookURL, "webhook-url", "", "URL receiving one JSON object per notification")
	f.StringVar(&cfg.GeneratorURL, "generator-url", "", "link sent to Alertmanager as each alert's generatorURL (e.g. the console)")
	f.IntVar(&cfg.QueueSize, "queue-size", cfg.QueueSize, "notifications queued per receiver; beyond it they are dropped (counted, logged) and decided again")
	f.DurationVar(&cfg.SendTimeout, "send-timeout", cfg.SendTimeout, "timeout of one request to a receiver")
	f.DurationVar(&cfg.Retry.Budget, "send-retry-budget", cfg.Retry.Budget, "how long one notification is retried on a failing receiver before it is given up")
	f.SetLangUsage("language of the errors and of the annotations (summary, description, action): en or zh-CN; labels stay as they are")
	f.Var(&cfg.For, "for", "minimum duration per alert, like Prometheus' for: comma-separated Rule=duration pairs (e.g. SourceLagging=2m,BatchStalled=0s); a condition fires only once seen at every evaluation that long; the alerts not named keep their default")
	ops := telemetry.DefaultConfigOn(telemetry.AlerterListen)
	f.StringVar(&ops.Listen, "ops-listen", ops.Listen, "host:port of /metrics, /healthz and /readyz (loopback unless inside a private network)")
	migrate := f.Bool("migrate", false, "apply ClickHouse migrations before starting (the alerts table is 0004)")
	f.CheckConfigFlag()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	if *overdueYuan < 0 || *overdueYuan > (1<<63-1)/100 {
		return exit.Code(service.Usagef("--overdue-amount %d: out of range", *overdueYuan))
	}
	cfg.OverdueAmount = *overdueYuan * 100
	l := f.Lang()
	cfg.Lang = l
	if cfg.AlertmanagerURL == "" && cfg.WebhookURL == "" {
		return exit.Code(service.Usage(errors.New("no receiver: set --alertmanager-url, --webhook-url, or both")))
	}
	if err := service.Invalid(service.CheckURL("alertmanager-url", cfg.AlertmanagerURL), service.CheckURL("webhook-url", cfg.WebhookURL),
		service.CheckURL("generator-url", cfg.GeneratorURL)); err != nil {
		return exit.Code(err)
	}
	if err := service.Invalid(cfg.Validate(), ops.Validate(), sc.Validate()); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	if f.CheckOnly() {
		return exit.Code(f.ConfigOK("alerter"))
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := service.OpenStore(ctx, *sc, log, *migrate)
	if err != nil {
		return exit.Code(err)
	}
	defer st.Close()
	reg := telemetry.NewRegistry()
	metrics, err := telemetry.NewAlertMetrics(reg)
	if err != nil {
		return exit.Code(err)
	}
	a, err := alert.New(cfg, alert.Deps{Store: st, Logger: log, Metrics: metrics})
	if err != nil {
		return exit.Code(err)
	}
	defer a.Close()
	srv, err := telemetry.New(ops, telemetry.Deps{Gatherer: reg, Logger: log,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", st)}})
	if err != nil {
		return exit.Code(err)
	}
	return exit.Code(srv.RunWith(ctx, a.Run))
}
