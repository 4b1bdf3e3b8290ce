// Package console serves the ops console: a web page for ops and support and
// the JSON API behind it (schemas/openapi.yaml), read-only over the facts in
// ClickHouse, plus /healthz and /readyz. It listens on loopback by default;
// elsewhere it requires a bearer token and TLS (or an explicit
// AllowInsecureHTTP behind a proxy), and on loopback without a token it
// answers only loopback Host names. It computes nothing the facts do not
// hold: the join and the alerter decide, the console shows.
package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/explain"
	"settlemon/pkg/lifecycle"
	"settlemon/pkg/text"
)

// Config configures a Console.
type Config struct {
	// Listen is the host:port to listen on.
	Listen string
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every /api request. It is mandatory when Listen is not a loopback
	// address.
	Token string
	// TLSCertFile and TLSKeyFile, both or neither, are the PEM certificate
	// (chain) and private key to serve HTTPS with; read once, by New.
	TLSCertFile string
	TLSKeyFile  string
	// AllowInsecureHTTP lets the console listen beyond loopback without TLS,
	// for a listener that only a TLS-terminating proxy or a private network
	// reaches. The token and the answers then travel in clear, and Serve
	// logs a warning saying so. Without it that configuration is refused.
	AllowInsecureHTTP bool
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration
	// QueryTimeout bounds the ClickHouse queries of one API request.
	QueryTimeout time.Duration
}

// DefaultConfig returns the loopback configuration on 127.0.0.1:8080
// without a token: a 10s graceful shutdown, 30s per API request.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", ShutdownTimeout: 10 * time.Second, QueryTimeout: 30 * time.Second}
}

// DefaultConfigOn is DefaultConfig listening on listen with token.
func DefaultConfigOn(listen, token string) Config {
	c := DefaultConfig()
	c.Listen, c.Token = listen, token
	return c
}

// Validate reports the first problem with c. Listening beyond loopback
// (another address, or all interfaces) without a token is refused, and so
// is listening there without TLS unless AllowInsecureHTTP says so.
func (c Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" {
		return text.Errorf("error.console.listen", strconv.Quote(c.Listen), "host:port")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return text.Errorf("error.console.tls_pair", "--tls-cert-file", "--tls-key-file")
	}
	if !loopback(host) && c.Token == "" {
		return text.Errorf("error.console.token", strconv.Quote(c.Listen), "--token", "127.0.0.1")
	}
	if !loopback(host) && !c.tls() && !c.AllowInsecureHTTP {
		return text.Errorf("error.console.insecure", strconv.Quote(c.Listen), "--tls-cert-file", "--tls-key-file", "--allow-insecure-http")
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return text.Errorf("error.console.token_space")
	}
	if c.ShutdownTimeout < 0 {
		return text.Errorf("error.console.shutdown_timeout", c.ShutdownTimeout.String())
	}
	if c.QueryTimeout <= 0 {
		return text.Errorf("error.console.query_timeout", c.QueryTimeout.String())
	}
	return nil
}

// tls reports whether the console serves HTTPS.
func (c Config) tls() bool { return c.TLSCertFile != "" }

// loopback reports whether host names only the loopback interface. An empty
// host (all interfaces) is not loopback.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Explainer explains one trace in a language; *explain.Explainer
// implements it.
type Explainer interface {
	ExplainIn(ctx context.Context, traceNo string, asOf time.Time, lang text.Lang) (explain.Explanation, error)
}

// Pinger checks that the database answers; store.Store implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the console's collaborators.
type Deps struct {
	Explainer Explainer
	DB        Pinger
	// Facts answers the page's API; nil serves the explain endpoint only
	// (the page's other endpoints answer 503).
	Facts    Facts
	Location *time.Location   // times in answers; nil: UTC. Give the calendar's.
	Now      func() time.Time // nil: time.Now; only generated_at reads it
	Logger   *slog.Logger     // nil: discard
}

// Console serves the page and the API.
type Console struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	loc     *time.Location
	now     func() time.Time
	handler http.Handler
	token   [sha256.Size]byte
	tls     *tls.Config // nil: plain HTTP
	runs    lifecycle.Runs
}

// New returns a console for cfg; it does not listen until Run.
func New(cfg Config, deps Deps) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid console config: %w", err)
	}
	if deps.Explainer == nil {
		return nil, errors.New("console: no explainer")
	}
	if deps.DB == nil {
		return nil, errors.New("console: no database to check readiness against")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, deps: deps, log: log.With("component", "console"), loc: deps.Location, now: deps.Now}
	if c.loc == nil {
		c.loc = time.UTC
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Token != "" {
		c.token = sha256.Sum256([]byte(cfg.Token))
	}
	if cfg.tls() {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("console TLS: loading the certificate %s and key %s: %w (want PEM files; the key must match the certificate)",
				cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		c.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	c.handler = c.routes()
	return c, nil
}

// Scheme is "https" when the console serves TLS, else "http".
func (c *Console) Scheme() string {
	if c.tls != nil {
		return "https"
	}
	return "http"
}

// Handler returns the console's HTTP handler.
func (c *Console) Handler() http.Handler { return c.handler }

// Run listens on cfg.Listen and serves until ctx ends, then shuts down
// gracefully, letting requests in flight finish for up to ShutdownTimeout.
func (c *Console) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("console listening on %s: %w", c.cfg.Listen, err)
	}
	return c.Serve(ctx, ln)
}

// Close stops a running Run or Serve as cancelling its context does and
// returns once the requests in flight have finished (or ShutdownTimeout
// passed). It is safe to call more than once.
func (c *Console) Close() error {
	c.runs.Close()
	return nil
}

// Serve is Run on a listener the caller opened. A listener beyond loopback
// is refused when the configuration is for loopback (its rules — no token,
// plain HTTP — hold only there).
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	ctx, done := c.runs.Start(ctx)
	defer done()
	host, _, _ := net.SplitHostPort(c.cfg.Listen)
	lnHost, _, _ := net.SplitHostPort(ln.Addr().String())
	if loopback(host) && !loopback(lnHost) {
		return fmt.Errorf("console: the listener on %s is beyond loopback, but the configuration is for %s: "+
			"configure that address (with a token and TLS) instead", ln.Addr(), c.cfg.Listen)
	}
	srv := &http.Server{
		Handler:           c.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	c.log.Info("console listening", "addr", ln.Addr().String(), "scheme", c.Scheme(), "token", c.cfg.Token != "")
	if !loopback(host) && c.tls == nil {
		c.log.Warn("console serves plain HTTP beyond loopback: the bearer token and every answer travel in clear",
			"addr", ln.Addr().String(), "action", "give --tls-cert-file and --tls-key-file, or keep a TLS proxy in front and only the private network in reach")
	}
	errc := make(chan error, 1)
	go func() {
		if c.tls != nil {
			srv.TLSConfig = c.tls
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("console serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("console shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console serving on %s: %w", ln.Addr(), err)
	}
	c.log.Info("console stopped")
	return nil
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", c.healthz)
	mux.HandleFunc("GET /readyz", c.readyz)
	mux.Handle("GET /{$}", c.page())
	mux.Handle("GET /assets/", c.assets())

	api := http.NewServeMux()
	for pattern, h := range c.apiRoutes() {
		api.HandleFunc(pattern, h)
	}
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/api/", c.authorize(api))
	return headers(c.onlyLoopbackHosts(mux))
}

// apiRoutes are the API's endpoints by route pattern; schemas/openapi.yaml
// documents each of them (a test checks both ways).
func (c *Console) apiRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/v1/traces/{trace_no}/explain": c.explainTrace,
		"GET /api/v1/traces":                    c.needFacts(c.findTraces),
		"GET /api/v1/overview":                  c.needFacts(c.overview),
		"GET /api/v1/incidents":                 c.needFacts(c.incidents),
		"GET /api/v1/incidents/traces":          c.needFacts(c.incidentTraces),
		"GET /api/v1/lag/hourly":                c.needFacts(c.lagHourly),
		"GET /api/v1/anomalies":                 c.needFacts(c.anomalies),
		"GET /api/v1/batches":                   c.needFacts(c.batches),
		"GET /api/v1/sources":                   c.needFacts(c.sourceHealth),
		"GET /api/v1/alerts":                    c.needFacts(c.alerts),
	}
}

// headers sets the headers every response carries.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// onlyLoopbackHosts, on a loopback listener without a token, answers 403
// to a request whose Host is not a loopback name: DNS rebinding (a page
// whose own domain is made to resolve to 127.0.0.1) would otherwise let any
// site open in a local browser read the API. With a token, or beyond
// loopback (where a token is required), the token guards the API instead.
func (c *Console) onlyLoopbackHosts(next http.Handler) http.Handler {
	host, _, _ := net.SplitHostPort(c.cfg.Listen)
	if c.cfg.Token != "" || !loopback(host) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			at := c.cfg.Listen
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				at = a.String()
			}
			open := strings.TrimSuffix(URL(at), "/")
			if c.tls != nil {
				open = "https" + strings.TrimPrefix(open, "http")
			}
			writeError(w, http.StatusForbidden, "Host "+quote(r.Host)+" is not a loopback name: this console, on loopback without a token, "+
				"answers only requests to localhost, 127.0.0.1 or [::1] (DNS-rebinding protection); open "+open+" instead, or give the console a --token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header (name or address, with or
// without a port) names the loopback interface: "localhost" in any case, or
// a loopback IP address (127.0.0.0/8, [::1]).
func loopbackHost(h string) bool {
	host := h
	if hp, _, err := net.SplitHostPort(h); err == nil {
		host = hp
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		host = h[1 : len(h)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if strings.ContainsAny(host, "[]") {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorize requires the bearer token when one is configured. The compare
// is constant-time over digests, so neither content nor length leaks.
func (c *Console) authorize(next http.Handler) http.Handler {
	if c.cfg.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		ok := len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ")
		var got string
		if ok {
			got = strings.TrimSpace(h[len("Bearer "):])
		}
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], c.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="settlemon"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// needFacts answers 503 when the console was built without a fact reader.
func (c *Console) needFacts(h http.HandlerFunc) http.HandlerFunc {
	if c.deps.Facts != nil {
		return h
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "this console serves trace explanations only: it was started without a fact reader")
	}
}

func (c *Console) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (c *Console) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := c.deps.DB.Ping(ctx); err != nil {
		c.log.Warn("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "clickhouse does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (c *Console) explainTrace(w http.ResponseWriter, r *http.Request) {
	traceNo := r.PathValue("trace_no")
	if !explain.ValidTraceNo(traceNo) {
		writeError(w, http.StatusBadRequest, explain.ErrInvalidTraceNo.Error())
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != "json" && format != "text" {
		writeError(w, http.StatusBadRequest, "format "+quote(format)+": want json or text")
		return
	}
	var asOf time.Time
	if s := q.Get("as_of"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "as_of "+quote(s)+": want an RFC 3339 time with offset, e.g. 2026-02-20T10:00:00+08:00")
			return
		}
		asOf = t
	}
	lang, ok := requestLang(w, r)
	if !ok {
		return
	}
	x, err := c.deps.Explainer.ExplainIn(r.Context(), traceNo, asOf, lang)
	switch {
	case errors.Is(err, explain.ErrInvalidTraceNo):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		c.log.Error("explaining a trace", "trace_no", traceNo, "err", err)
		writeError(w, http.StatusInternalServerError, "could not read the trace from ClickHouse; see the console's log")
		return
	case !x.Found():
		writeError(w, http.StatusNotFound, x.Summary)
		return
	}
	if format == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		x.WriteText(w)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

// apiError is the body of every error response.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg, Status: status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the response failed","status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// quote quotes a query value for an error message, shortened.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// requestLang is the language a request asks for: ?lang= decides; without
// it the browser's Accept-Language, else English. It names the language in
// Content-Language; a ?lang= the catalogues lack is a 400 (false).
func requestLang(w http.ResponseWriter, r *http.Request) (text.Lang, bool) {
	lang := text.MatchAcceptLanguage(r.Header.Get("Accept-Language"))
	if s := r.URL.Query().Get("lang"); s != "" {
		l, err := text.ParseLang(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "lang "+quote(s)+": want en or zh-CN")
			return lang, false
		}
		lang = l
	}
	w.Header().Set("Content-Language", lang.String())
	w.Header().Add("Vary", "Accept-Language")
	return lang, true
}
