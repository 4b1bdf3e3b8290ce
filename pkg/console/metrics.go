package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrument registers the console's HTTP metrics on reg and wraps its
// handler to observe every request; call it once, before Run or Handler.
//
//	settlemon_http_requests_total{handler,method,code}
//	settlemon_http_request_duration_seconds{handler,method}
//
// handler is the route pattern that served the request (never the trace
// number itself), or "unmatched".
func (c *Console) Instrument(reg prometheus.Registerer) error {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "settlemon_http_requests_total",
		Help:        "HTTP requests served, by route pattern, method and status code.",
		ConstLabels: prometheus.Labels{"server": "console"},
	}, []string{"handler", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "settlemon_http_request_duration_seconds",
		Help:        "Time to serve an HTTP request, by route pattern and method.",
		ConstLabels: prometheus.Labels{"server": "console"},
		Buckets:     prometheus.DefBuckets,
	}, []string{"handler", "method"})
	for _, col := range []prometheus.Collector{requests, duration} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	next := c.handler
	c.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		// The mux sets the pattern on the request it was given: the same
		// request, passed down unchanged by the middleware.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
		default:
			method = "other" // bounded label values
		}
		requests.WithLabelValues(route, method, strconv.Itoa(rec.code)).Inc()
		duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
	return nil
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
