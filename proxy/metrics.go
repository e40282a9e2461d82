package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/airlockproxy/airlock/policy"
)

// Metrics are Airlock's Prometheus series, on a registry of their own. A
// nil *Metrics records nothing.
type Metrics struct {
	Registry    *prometheus.Registry
	decisions   *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	auditErrors prometheus.Counter
	Connections *prometheus.GaugeVec   // open connections by protocol
	Accepted    *prometheus.CounterVec // accepted connections by protocol
	Bytes       *prometheus.CounterVec // bytes relayed by protocol and direction
	CredExpiry  *prometheus.GaugeVec   // credential expiry (unix seconds) by upstream and source
}

// NewMetrics registers the series, with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_decisions_total",
			Help: "Policy decisions by protocol, decision (allow, deny, would_deny) and first matching rule.",
		}, []string{"protocol", "decision", "rule"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "airlock_decision_duration_seconds",
			Help:    "Time to decide and record one request.",
			Buckets: []float64{1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 250e-6, 1e-3, 5e-3},
		}, []string{"protocol"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_audit_errors_total",
			Help: "Audit records that could not be written (each denied its request).",
		}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "airlock_connections", Help: "Open client connections by protocol.",
		}, []string{"protocol"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_connections_accepted_total", Help: "Client connections accepted by protocol.",
		}, []string{"protocol"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_bytes_total", Help: "Bytes relayed by protocol and direction (upstream, downstream).",
		}, []string{"protocol", "direction"}),
		CredExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "airlock_credential_expiry_timestamp_seconds", Help: "When each held upstream credential expires.",
		}, []string{"upstream", "source"}),
	}
	m.Registry.MustRegister(m.decisions, m.latency, m.auditErrors, m.Connections, m.Accepted, m.Bytes, m.CredExpiry,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) decision(protocol string, d policy.Decision, latency time.Duration) {
	if m == nil {
		return
	}
	outcome := "allow"
	switch {
	case !d.Allow:
		outcome = "deny"
	case d.WouldDeny:
		outcome = "would_deny"
	}
	rule := "none"
	if len(d.Rules) > 0 {
		rule = d.Rules[0]
	}
	m.decisions.WithLabelValues(protocol, outcome, rule).Inc()
	m.latency.WithLabelValues(protocol).Observe(latency.Seconds())
}

func (m *Metrics) auditError() {
	if m != nil {
		m.auditErrors.Inc()
	}
}
