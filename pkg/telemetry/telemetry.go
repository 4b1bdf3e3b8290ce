// Package telemetry is the operations endpoint every long-running settlemon
// service serves next to its work:
//
//	GET /metrics   Prometheus metrics of the registry the service passes in
//	GET /healthz   the process is alive (always 200 while it serves)
//	GET /readyz    every named readiness check passes (200), or 503 naming
//	               the first failing check and its error
//
// A service builds one registry per process with NewRegistry (Go runtime and
// process collectors included), registers its components' collectors on it
// (ingest.NewCollector, joiner.NewCollector, (*store.Store).Instrument,
// (*console.Console).Instrument) and hands it to New with its readiness checks
// (PingCheck for ClickHouse, BrokerCheck for Kafka). RunWith serves the
// endpoints for as long as the service's own Run runs.
//
// AlertMetrics is the alerter's side: the gauge of firing alerts and the
// counter of notifications, for the alerter to set (see its doc).
//
// The package only exposes what the components count; it keeps no metric
// state of its own beyond the alerter's vectors, and it does not push
// anywhere: Prometheus scrapes it (deploy/prometheus).
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"settlemon/pkg/text"
)

// Default ops ports of the services, on loopback unless told otherwise.
const (
	IngestListen  = "127.0.0.1:9101"
	JoinerListen  = "127.0.0.1:9102"
	ConsoleListen = "127.0.0.1:9103"
	AlerterListen = "127.0.0.1:9104"
)

// Config configures the ops endpoint.
type Config struct {
	// Listen is the host:port to serve on. Each service sets its own
	// (IngestListen, JoinerListen, ...).
	Listen string
	// CheckTimeout bounds each readiness check.
	CheckTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns 127.0.0.1:9100, readiness checks bounded by 3s and
// a graceful shutdown by 5s.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:9100", CheckTimeout: 3 * time.Second, ShutdownTimeout: 5 * time.Second}
}

// DefaultConfigOn is DefaultConfig listening on listen.
func DefaultConfigOn(listen string) Config {
	c := DefaultConfig()
	c.Listen = listen
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return text.Errorf("error.ops.listen", strconv.Quote(c.Listen), "host:port")
	}
	if c.CheckTimeout <= 0 {
		return text.Errorf("error.ops.check_timeout", c.CheckTimeout.String())
	}
	if c.ShutdownTimeout < 0 {
		return text.Errorf("error.ops.shutdown_timeout", c.ShutdownTimeout.String())
	}
	return nil
}

// Check is one named readiness check: ready when Func returns nil.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Deps are what the ops endpoint serves.
type Deps struct {
	// Gatherer is the process's registry (NewRegistry); required.
	Gatherer prometheus.Gatherer
	// Checks run in order on every /readyz; none means always ready.
	Checks []Check
	Logger *slog.Logger // nil: discard
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// the one every service process registers its collectors on.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	handler http.Handler
}

// New returns an ops server for cfg; it does not listen until Run.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid ops config: %w", err)
	}
	if deps.Gatherer == nil {
		return nil, errors.New("ops server: no metrics registry")
	}
	seen := map[string]bool{}
	for i, c := range deps.Checks {
		if c.Name == "" || c.Func == nil {
			return nil, fmt.Errorf("ops server: readiness check %d has no name or no function", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("ops server: readiness check %q given twice", c.Name)
		}
		seen[c.Name] = true
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, deps: deps, log: log.With("component", "ops")}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the ops HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{s.log},
		ErrorHandling:     promhttp.ContinueOnError,
		Timeout:           10 * time.Second,
		EnableOpenMetrics: false,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, status{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	return mux
}

// status is the body of /healthz and /readyz.
type status struct {
	Status string `json:"status"`
	Check  string `json:"check,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	for _, c := range s.deps.Checks {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
		err := c.Func(ctx)
		cancel()
		if err != nil {
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, status{Status: "unavailable", Check: c.Name, Error: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, status{Status: "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v) // status always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// Run listens on cfg.Listen and serves until ctx ends, then shuts down
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Listen opens the configured listener, so that a taken port fails before
// the service starts its work.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("ops endpoint listening on %s: %w", s.cfg.Listen, err)
	}
	return ln, nil
}

// Serve is Run on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("ops endpoint listening", "addr", ln.Addr().String(), "checks", len(s.deps.Checks))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops endpoint serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("ops endpoint shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops endpoint serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

// RunWith serves the ops endpoint while run runs, and returns run's error.
// The listener opens before run starts (a taken port fails at once); when
// run returns the endpoint shuts down; when the endpoint fails, run's
// context is cancelled and the endpoint's error is returned after run's.
func (s *Server) RunWith(ctx context.Context, run func(context.Context) error) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	rctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	sctx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	serveErr := make(chan error, 1)
	go func() {
		err := s.Serve(sctx, ln)
		if err != nil {
			s.log.Error("ops endpoint failed; stopping the service", "err", err)
			cancelRun()
		}
		serveErr <- err
	}()
	runErr := run(rctx)
	stopServe()
	return errors.Join(runErr, <-serveErr)
}

// slogPrinter adapts a logger to promhttp's error log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("serving metrics: " + fmt.Sprint(v...)) }
