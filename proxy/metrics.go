package proxy

import (
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/airlockproxy/airlock/policy"
)

// Metrics are Airlock's Prometheus series, on a registry of their own. A
// nil *Metrics records nothing.
type Metrics struct {
	Registry     *prometheus.Registry
	decisions    *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	auditErrors  prometheus.Counter
	AuditHealthy prometheus.Gauge       // 1 while the audit sink takes records
	Connections  *prometheus.GaugeVec   // open connections by protocol
	Accepted     *prometheus.CounterVec // accepted connections by protocol
	Refused      *prometheus.CounterVec // connections refused by listen.max_connections
	AcceptErrors *prometheus.CounterVec // failed accepts by protocol
	Bytes        *prometheus.CounterVec // bytes on client connections by protocol and direction
}

// NewMetrics registers the series, with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_decisions_total",
			Help: "Policy decisions by protocol, decision (allow, deny, would_deny) and rule: the allowing rule, the denying rule, or the cause of a denial no rule made (no_rule, guard_rail, bounds, eval_error, audit_unavailable, deadline).",
		}, []string{"protocol", "decision", "rule"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "airlock_decision_duration_seconds",
			Help:    "Time to decide and record one request (the record written to the audit sink).",
			Buckets: []float64{1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 250e-6, 1e-3, 5e-3, 25e-3},
		}, []string{"protocol"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_audit_errors_total",
			Help: "Audit records that could not be written (each denied its request).",
		}),
		AuditHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_audit_healthy", Help: "1 while the audit sink takes records, 0 while it fails (every request is then denied).",
		}),
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "airlock_connections", Help: "Open client connections by protocol.",
		}, []string{"protocol"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_connections_accepted_total", Help: "Client connections accepted by protocol.",
		}, []string{"protocol"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_connections_refused_total", Help: "Client connections refused because listen.max_connections were open, by protocol.",
		}, []string{"protocol"}),
		AcceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_accept_errors_total", Help: "Failed accepts on a listener (such as too many open files), by protocol; the listener retries.",
		}, []string{"protocol"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_bytes_total", Help: "Bytes on client connections by protocol and direction (upstream: read from the client, downstream: written to it).",
		}, []string{"protocol", "direction"}),
	}
	m.Registry.MustRegister(m.decisions, m.latency, m.auditErrors, m.AuditHealthy, m.Connections, m.Accepted,
		m.Refused, m.AcceptErrors, m.Bytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.AuditHealthy.Set(1)
	return m
}

// decision counts one decision under label: the rule or cause (see
// Gate.label).
func (m *Metrics) decision(protocol string, d policy.Decision, label string, latency time.Duration) {
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
	m.decisions.WithLabelValues(protocol, outcome, label).Inc()
	m.latency.WithLabelValues(protocol).Observe(latency.Seconds())
}

func (m *Metrics) auditError() {
	if m != nil {
		m.auditErrors.Inc()
	}
}

// countConn returns c counting its bytes into airlock_bytes_total.
func (m *Metrics) countConn(protocol string, c net.Conn) net.Conn {
	if m == nil {
		return c
	}
	return &countedConn{Conn: c, in: m.Bytes.WithLabelValues(protocol, "upstream"), out: m.Bytes.WithLabelValues(protocol, "downstream")}
}

// countedConn counts a client connection's bytes.
type countedConn struct {
	net.Conn
	in, out prometheus.Counter
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.in.Add(float64(n))
	}
	return n, err
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.out.Add(float64(n))
	}
	return n, err
}

// CloseWrite half-closes the connection when the socket can.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// countingListener counts the bytes of every connection it accepts.
type countingListener struct {
	net.Listener
	m    *Metrics
	name string
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.m.countConn(l.name, c), nil
}
