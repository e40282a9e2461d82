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

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
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
//	GET  /readyz         200 while ready, 503 while starting or draining
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
		code := http.StatusOK
		if st != stateReady {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"state": st.String()})
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
