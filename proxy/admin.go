package proxy

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/credentials"
)

// progress records start-up steps for /startup.
type progress struct {
	mu    sync.Mutex
	steps []string
}

func (s *Server) step(msg string) {
	s.progress.mu.Lock()
	s.progress.steps = append(s.progress.steps, msg)
	s.progress.mu.Unlock()
	s.log.Debug().Str("step", msg).Msg("startup")
}

func (s *Server) listenAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.Listen.Admin)
	if err != nil {
		return fmt.Errorf("listen admin on %s: %w", s.cfg.Listen.Admin, err)
	}
	s.adminLn = ln
	s.listened["admin"] = ln.Addr()
	s.admin = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: newStdLogger(s.log, "admin")}
	go func() { _ = s.admin.Serve(ln) }()
	return nil
}

// adminHandler serves the admin endpoints:
//
//	GET  /startup        200 once ready (and after), 503 with progress before
//	GET  /readyz         200 while able to serve (see readiness), else 503
//	GET  /livez          200 while the process serves
//	GET  /metrics        Prometheus
//	GET  /credentials    held upstream credentials: ids, sources, expiries
//	POST /quitquitquit   stop gracefully
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /startup", func(w http.ResponseWriter, r *http.Request) {
		st := state(s.state.Load())
		s.progress.mu.Lock()
		steps := append([]string(nil), s.progress.steps...)
		s.progress.mu.Unlock()
		code := http.StatusOK
		if st == stateStarting {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"state": st.String(), "task": s.cfg.Task.ID, "steps": steps})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := state(s.state.Load())
		ready, checks := s.readiness()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"state": st.String(), "ready": ready, "checks": checks})
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"state": state(s.state.Load()).String()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /credentials", func(w http.ResponseWriter, r *http.Request) {
		list := append([]CredentialInfo{}, s.credentialList()...)
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("POST /quitquitquit", func(w http.ResponseWriter, r *http.Request) {
		s.Stop(StopReason{Kind: "quit", Detail: "POST /quitquitquit from " + r.RemoteAddr, Code: ExitOK})
		writeJSON(w, http.StatusOK, map[string]any{"state": "stopping"})
	})
	return mux
}

func (st state) String() string {
	switch st {
	case stateStarting:
		return "starting"
	case stateReady:
		return "ready"
	case stateDraining:
		return "draining"
	}
	return "stopped"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// newStdLogger adapts the diagnostic log for net/http's error log.
func newStdLogger(l zerolog.Logger, component string) *log.Logger {
	return log.New(zerologWriter{l.With().Str("component", component).Logger()}, "", 0)
}

type zerologWriter struct{ l zerolog.Logger }

func (z zerologWriter) Write(p []byte) (int, error) {
	z.l.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// readiness says whether the server can serve a request now, with each
// check's result ("ok" or why not): the listeners are up and not
// draining (state), the audit sink takes records (audit), task.ttl has
// not passed (deadline), and every configured upstream's credential is
// held and unexpired (credentials.postgres, credentials.s3).
func (s *Server) readiness() (bool, map[string]string) {
	checks := map[string]string{}
	ready := true
	check := func(name, problem string) {
		if problem == "" {
			checks[name] = "ok"
			return
		}
		checks[name] = problem
		ready = false
	}
	st := state(s.state.Load())
	if st == stateStarting {
		return false, map[string]string{"state": st.String()} // the rest is still being set up
	}
	if st == stateReady {
		check("state", "")
	} else {
		check("state", st.String())
	}
	if s.audit != nil && !s.audit.Healthy() {
		msg := "audit sink failing"
		if err := s.audit.Err(); err != nil {
			msg += ": " + err.Error()
		}
		check("audit", msg)
	} else {
		check("audit", "")
	}
	if s.deadlined.Load() || (!s.startedAt.IsZero() && !s.now().Before(s.startedAt.Add(s.cfg.Task.TTL.D()))) {
		check("deadline", "task.ttl "+shortDuration(s.cfg.Task.TTL.D())+" passed")
	} else {
		check("deadline", "")
	}
	if s.broker != nil {
		for _, up := range s.upstreams() {
			problem := ""
			if _, err := s.broker.Current(up); err != nil {
				problem = err.Error()
			}
			check("credentials."+up, problem)
		}
	}
	return ready, checks
}

// upstreams are the upstreams whose credentials the broker holds.
func (s *Server) upstreams() []string {
	var out []string
	if s.cfg.Postgres != nil {
		out = append(out, credentials.UpstreamPostgres)
	}
	if s.cfg.S3 != nil {
		out = append(out, credentials.UpstreamS3)
	}
	return out
}

// credentialCollector exports airlock_credential_expiry_timestamp_seconds
// from the broker at each scrape.
type credentialCollector struct{ s *Server }

var credExpiryDesc = prometheus.NewDesc("airlock_credential_expiry_timestamp_seconds",
	"When each held upstream credential expires (unix seconds; 0: it does not expire), by upstream, source, non-secret id, task and state (valid, expired).",
	[]string{"upstream", "source", "id", "task", "state"}, nil)

func (c credentialCollector) Describe(ch chan<- *prometheus.Desc) { ch <- credExpiryDesc }

func (c credentialCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	if state(s.state.Load()) == stateStarting || s.broker == nil {
		return
	}
	now := s.now()
	for _, i := range s.broker.List() {
		v, st := 0.0, "valid"
		if !i.Expiry.IsZero() {
			v = float64(i.Expiry.UnixMilli()) / 1e3
			if !now.Before(i.Expiry) {
				st = "expired"
			}
		}
		ch <- prometheus.MustNewConstMetric(credExpiryDesc, prometheus.GaugeValue, v, i.Upstream, i.Source, i.ID, s.cfg.Task.ID, st)
	}
}
