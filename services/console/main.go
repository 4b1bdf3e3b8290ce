// Command console serves the ops console over the facts in ClickHouse: the
// web page at "/" (settlement lag, overdue and failed payouts, anomalies,
// batches, source health, alerts, trace explain) and the JSON API behind it
// (schemas/openapi.yaml), plus the health endpoints. It listens on loopback
// by default and requires a bearer token when told to listen anywhere else.
// It logs in to ClickHouse as the read-only analyst unless told otherwise.
package main

import (
	"context"
	"fmt"
	"os"

	"settlemon/pkg/console"
	"settlemon/pkg/service"
	"settlemon/pkg/store"
	"settlemon/pkg/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	exit := service.NewExit("console", args)
	f := service.NewFlags("console", `console — the ops console: a web page and the JSON API behind it.

Open http://127.0.0.1:8080/ for the page: settlement-lag percentiles per mode
over time, overdue and failed payouts, open anomalies with filters and each
trace's explanation, batches with progress, source health and firing alerts,
refreshed every 10 s. The API (documented in schemas/openapi.yaml):
  GET /api/v1/overview                    the figures at the top of the page
  GET /api/v1/lag/hourly                  lag percentiles per authorization hour and mode
  GET /api/v1/anomalies                   ?kind= &merchant= &trace= &date= &status= &limit= &offset=
  GET /api/v1/batches                     ?source= &status= &limit=
  GET /api/v1/sources                     source health
  GET /api/v1/alerts                      ?state=firing|resolved|all
  GET /api/v1/traces/{trace_no}/explain   why hasn't this trace been paid? (JSON; ?format=text
                                          for the human form; ?as_of=RFC3339 to judge due times)
  GET /healthz                            the process is up
  GET /readyz                             ClickHouse answers

It listens on 127.0.0.1 unless --listen says otherwise; beyond loopback a
--token is required and every /api request must send "Authorization: Bearer
<token>" (open the page once as /?token=<token>: it keeps the token in the
browser tab). Beyond loopback give it a certificate too (--tls-cert-file,
--tls-key-file: it then serves HTTPS); plain HTTP there, where the token
travels in clear, is refused unless --allow-insecure-http says a TLS proxy
or a private network is in front. On loopback without a token it answers
only requests addressed to localhost, 127.0.0.1 or [::1] (a web page that
rebinds its own name to 127.0.0.1 gets 403).

It reads ClickHouse as the read-only user "analyst" that
deploy/clickhouse/local.sh and the compose stack create (readonly=1); give
its password with SETTLEMON_CLICKHOUSE_PASSWORD where it is not the local
default, or another read-only user with --clickhouse-user.

Examples:
  console --listen 127.0.0.1:8080
  SETTLEMON_TOKEN=... console --listen 0.0.0.0:8443 --tls-cert-file cert.pem --tls-key-file key.pem
  curl -s 'http://127.0.0.1:8080/api/v1/traces/260213000123/explain?format=text'`)
	sc := service.ReaderStoreFlags(f)
	cc := service.CalendarFlags(f)
	lc := service.LogFlags(f)
	cfg := console.DefaultConfig()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "host:port to serve on; beyond loopback requires --token")
	f.SecretVar(&cfg.Token, "token", "bearer token every /api request must carry (required beyond loopback)")
	f.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "PEM certificate (chain) to serve HTTPS with, together with --tls-key-file; recommended, and beyond loopback required unless --allow-insecure-http")
	f.StringVar(&cfg.TLSKeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	f.BoolVar(&cfg.AllowInsecureHTTP, "allow-insecure-http", false, "serve plain HTTP beyond loopback (the token travels in clear; a warning is logged): only behind a TLS-terminating proxy or inside a private network")
	f.DurationVar(&cfg.QueryTimeout, "query-timeout", cfg.QueryTimeout, "cancel the ClickHouse queries of an API request after this long")
	ops := telemetry.DefaultConfigOn(telemetry.ConsoleListen)
	f.StringVar(&ops.Listen, "ops-listen", ops.Listen, "host:port of /metrics, /healthz and /readyz (loopback unless inside a private network)")
	f.CheckConfigFlag()
	if err := f.Parse(args); err != nil {
		return exit.Code(err)
	}
	log, err := lc.Logger()
	if err != nil {
		return exit.Code(service.Usage(err))
	}
	if err := service.Invalid(cfg.Validate(), ops.Validate(), sc.Validate(), cc.Schedule.Validate()); err != nil {
		return exit.Code(err)
	}
	sched, err := cc.Load(log) // each deadline explained says when the calendar lacks its year
	if err != nil {
		return exit.Code(err)
	}
	if f.CheckOnly() {
		return exit.Code(f.ConfigOK("console"))
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := store.New(ctx, *sc, log)
	if err != nil {
		if fixed := service.StoreError(err); fixed != err {
			return exit.Code(fixed)
		}
		return exit.Code(fmt.Errorf("%w (the console reads as ClickHouse user %q: check its password, "+
			"SETTLEMON_CLICKHOUSE_PASSWORD, and that the database was migrated, settlemon migrate)", err, sc.User))
	}
	defer st.Close()
	c, err := console.NewOnStore(cfg, st, sched, log)
	if err != nil {
		return exit.Code(err)
	}
	reg := telemetry.NewRegistry()
	if err := c.Instrument(reg); err != nil {
		return exit.Code(err)
	}
	srv, err := telemetry.New(ops, telemetry.Deps{Gatherer: reg, Logger: log,
		Checks: []telemetry.Check{telemetry.PingCheck("clickhouse", st)}})
	if err != nil {
		return exit.Code(err)
	}
	return exit.Code(srv.RunWith(ctx, c.Run))
}
