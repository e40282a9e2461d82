package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/rawconn"
)

// Accept retry bounds: like net/http, wait 5 ms after a failed accept,
// doubling up to 1 s, so that a listener outlives descriptor exhaustion
// (EMFILE, ENFILE), a full backlog of aborted connections (ECONNABORTED)
// or memory pressure, while not spinning.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	acceptLogEvery   = 10 * time.Second // at most one warning per listener per interval
)

// retryListener retries failed accepts with backoff, never returning an
// error other than the listener's own closing: one exhausted resource
// must not stop a server that is serving other connections.
type retryListener struct {
	net.Listener
	name    string
	log     zerolog.Logger
	metrics *Metrics
	sleep   func(time.Duration) // nil: time.Sleep
	lastLog atomic.Int64        // unix nanos of the last warning
}

func newRetryListener(ln net.Listener, name string, log zerolog.Logger, m *Metrics) *retryListener {
	return &retryListener{Listener: ln, name: name, log: log, metrics: m}
}

func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	suppressed := 0
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if l.metrics != nil {
			l.metrics.AcceptErrors.WithLabelValues(l.name).Inc()
		}
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		now := time.Now().UnixNano()
		if last := l.lastLog.Load(); now-last >= int64(acceptLogEvery) && l.lastLog.CompareAndSwap(last, now) {
			l.log.Warn().Err(err).Str("protocol", l.name).Dur("retry_in", delay).Int("suppressed", suppressed).
				Msg("accept failed; retrying (connections already open are served)")
			suppressed = 0
		} else {
			suppressed++
		}
		sleep := l.sleep
		if sleep == nil {
			sleep = time.Sleep
		}
		sleep(delay)
	}
}

// retrying wraps ln so that failed accepts are retried, counted and
// logged, never ending the listener.
func (s *Server) retrying(ln net.Listener, name string) net.Listener {
	return newRetryListener(ln, name, s.log, s.Metrics)
}

func (s *Server) acceptLoop(name string, ln net.Listener, h ConnHandler) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed: retryListener retries everything else
		}
		limit := s.cfg.Listen.MaxConnections[name]
		switch s.conns.add(c, name, limit) {
		case addDraining:
			c.Close()
			continue
		case addOverLimit:
			s.Metrics.Refused.WithLabelValues(name).Inc()
			go refusePostgres(c, limit, s.postgresListenerTLS())
			continue
		}
		s.Metrics.Accepted.WithLabelValues(name).Inc()
		s.Metrics.Connections.WithLabelValues(name).Inc()
		go func() {
			defer func() {
				c.Close()
				s.conns.done(c)
				s.Metrics.Connections.WithLabelValues(name).Dec()
			}()
			cc := s.Metrics.countConn(name, rawconn.Wrap(c))
			if err := h.ServeConn(s.connCtx, cc); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Debug().Err(err).Str("protocol", name).Str("client", c.RemoteAddr().String()).Msg("connection ended")
			}
		}()
	}
}

// connSet tracks open connections for drain, and counts them per
// protocol for listen.max_connections.
type connSet struct {
	mu      sync.Mutex
	m       map[net.Conn]string // protocol
	per     map[string]int
	closed  bool
	changed chan struct{}
}

// Results of connSet.add.
const (
	addOK = iota
	addDraining
	addOverLimit
)

// add tracks c unless the set is closed (draining) or limit (> 0)
// connections of protocol are open.
func (cs *connSet) add(c net.Conn, protocol string, limit int) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return addDraining
	}
	if cs.m == nil {
		cs.m = map[net.Conn]string{}
		cs.per = map[string]int{}
		cs.changed = make(chan struct{})
	}
	if limit > 0 && cs.per[protocol] >= limit {
		return addOverLimit
	}
	cs.m[c] = protocol
	cs.per[protocol]++
	return addOK
}

func (cs *connSet) done(c net.Conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if p, ok := cs.m[c]; ok {
		cs.per[p]--
		delete(cs.m, c)
	}
	if len(cs.m) == 0 && cs.changed != nil {
		close(cs.changed)
		cs.changed = make(chan struct{})
	}
}

func (cs *connSet) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.m)
}

// wait blocks until no connection is open or ctx ends; it reports which.
func (cs *connSet) wait(ctx context.Context) bool {
	for {
		cs.mu.Lock()
		n, ch := len(cs.m), cs.changed
		cs.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for c := range cs.m {
		c.Close()
	}
}

// postgresListenerTLS is the TLS the PostgreSQL listener offers, or nil.
func (s *Server) postgresListenerTLS() *tls.Config {
	if s.cfg.Postgres == nil || s.cfg.Postgres.PlainText || s.serverCerts == nil {
		return nil
	}
	return s.serverCerts.TLSConfig()
}
