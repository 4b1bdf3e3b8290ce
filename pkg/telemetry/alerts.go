package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// AlertObserver is what an alerter reports about its alerts. A package that
// should not import Prometheus (pkg/alert) declares the same two methods as
// its own interface and is handed an *AlertMetrics; a nil observer there
// means "not measured".
type AlertObserver interface {
	// SetFiring sets how many alerts of alertname are firing now, by
	// severity; call it after every evaluation, with 0 once they resolve.
	SetFiring(alertname, severity string, n int)
	// Notified counts one notification attempt to receiver
	// ("alertmanager", "webhook"); err nil means it was delivered.
	Notified(receiver string, err error)
}

// AlertMetrics exposes the alerter's state:
//
//	settlemon_alerts_firing{alertname,severity}                      gauge
//	settlemon_alert_notifications_total{receiver,outcome="sent|failed"} counter
//
// Wiring in the alerter's main:
//
//	reg := telemetry.NewRegistry()
//	am, err := telemetry.NewAlertMetrics(reg)
//	... alert.Deps{..., Metrics: am} // any type with SetFiring and Notified
type AlertMetrics struct {
	firing        *prometheus.GaugeVec
	notifications *prometheus.CounterVec
}

var _ AlertObserver = (*AlertMetrics)(nil)

// NewAlertMetrics registers the alerter's metrics on reg.
func NewAlertMetrics(reg prometheus.Registerer) (*AlertMetrics, error) {
	m := &AlertMetrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "settlemon_alerts_firing",
			Help: "Alerts the alerter holds firing now, by alert name and severity.",
		}, []string{"alertname", "severity"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "settlemon_alert_notifications_total",
			Help: "Alert notifications attempted, by receiver and outcome (sent or failed).",
		}, []string{"receiver", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.firing, m.notifications} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Receivers creates the notification series of every receiver at zero, so
// rate() sees the first failed notification; the alerter calls it with its
// receivers' names when it is built.
func (m *AlertMetrics) Receivers(names ...string) {
	for _, n := range names {
		for _, outcome := range []string{"sent", "failed"} {
			m.notifications.WithLabelValues(n, outcome)
		}
	}
}

// SetFiring implements AlertObserver.
func (m *AlertMetrics) SetFiring(alertname, severity string, n int) {
	m.firing.WithLabelValues(alertname, severity).Set(float64(n))
}

// Notified implements AlertObserver.
func (m *AlertMetrics) Notified(receiver string, err error) {
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	m.notifications.WithLabelValues(receiver, outcome).Inc()
}
