package console

import (
	"fmt"
	"log/slog"
	"net"

	"settlemon/pkg/calendar"
	"settlemon/pkg/explain"
	"settlemon/pkg/store"
)

// NewOnStore returns a console over one ClickHouse database: the explainer
// computing deadlines with sched, the page's facts and the readiness check
// on st, and times shown in the calendar's zone. Give st a read-only user.
func NewOnStore(cfg Config, st *store.Store, sched *calendar.Schedule, log *slog.Logger) (*Console, error) {
	ex, err := explain.New(st, sched)
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Explainer: ex, DB: st, Facts: st, Location: sched.Calendar().Location(), Logger: log})
}

// URL is where a browser on this machine opens the console listening on
// addr (host:port): the page at "/". All interfaces are shown as loopback.
func URL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("http://%s/", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
