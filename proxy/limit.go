package proxy

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Request codes a client may send before its startup packet.
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
)

// refusePostgres answers a connection over listen.max_connections.postgres
// as PostgreSQL answers one over max_connections: after the client's
// SSLRequest (answered with TLS when the listener has it, else 'N'; libpq
// ignores errors sent during that exchange) or GSSENCRequest ('N'), its
// startup packet gets FATAL 53300. A client opening with TLS directly
// gets no answer but the close.
func refusePostgres(c net.Conn, limit int, tlsCfg *tls.Config) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for range 3 {
		var hdr [8]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] == 0x16 {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n < 8 || n > 10000 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(n-8)); err != nil {
			return
		}
		switch code := binary.BigEndian.Uint32(hdr[4:]); {
		case code == sslRequestCode && tlsCfg != nil:
			if _, err := c.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(c, tlsCfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			c = tc
			continue
		case code == sslRequestCode || code == gssEncRequestCode:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		msg, err := (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "53300",
			Message: fmt.Sprintf("too many connections (listen.max_connections.postgres is %d)", limit)}).Encode(nil)
		if err == nil {
			_, _ = c.Write(msg)
		}
		return
	}
}

// httpLimit counts one HTTP listener's open connections.
type httpLimit struct {
	mu   sync.Mutex
	open int
}

type overLimitKey struct{}

// httpConnContext counts a new connection of an HTTP listener, marking
// its context when it is over listen.max_connections.
func (s *Server) httpConnContext(name string) func(context.Context, net.Conn) context.Context {
	lim := s.httpLimit(name)
	limit := s.cfg.Listen.MaxConnections[name]
	return func(ctx context.Context, c net.Conn) context.Context {
		lim.mu.Lock()
		lim.open++
		over := limit > 0 && lim.open > limit
		lim.mu.Unlock()
		if over {
			s.Metrics.Refused.WithLabelValues(name).Inc()
			return context.WithValue(ctx, overLimitKey{}, limit)
		}
		s.Metrics.Accepted.WithLabelValues(name).Inc()
		s.Metrics.Connections.WithLabelValues(name).Inc()
		return ctx
	}
}

// httpConnState uncounts a connection that closed or was hijacked (an
// egress tunnel; it is no longer counted as open).
func (s *Server) httpConnState(name string) func(net.Conn, http.ConnState) {
	lim := s.httpLimit(name)
	limit := s.cfg.Listen.MaxConnections[name]
	return func(c net.Conn, st http.ConnState) {
		if st != http.StateClosed && st != http.StateHijacked {
			return
		}
		lim.mu.Lock()
		over := limit > 0 && lim.open > limit
		lim.open--
		lim.mu.Unlock()
		if !over {
			s.Metrics.Connections.WithLabelValues(name).Dec()
		}
	}
}

func (s *Server) httpLimit(name string) *httpLimit {
	s.limitsMu.Lock()
	defer s.limitsMu.Unlock()
	if s.limits == nil {
		s.limits = map[string]*httpLimit{}
	}
	if s.limits[name] == nil {
		s.limits[name] = &httpLimit{}
	}
	return s.limits[name]
}

// limitHTTP answers every request on a connection over
// listen.max_connections with 503 (S3's SlowDown for the S3 endpoint) and
// closes the connection.
func (s *Server) limitHTTP(name string, h http.Handler) http.Handler {
	if s.cfg.Listen.MaxConnections[name] <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, over := r.Context().Value(overLimitKey{}).(int)
		if !over {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		msg := "too many connections (listen.max_connections." + name + " is " + strconv.Itoa(limit) + ")"
		if name != "s3" {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>%s</Message></Error>", msg)
	})
}
