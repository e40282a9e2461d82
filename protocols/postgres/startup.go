package postgres

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup request codes (in place of a protocol version).
const (
	codeCancel   = 80877102
	codeSSL      = 80877103
	codeGSSEnc   = 80877104
	maxStartup   = 10000 // PostgreSQL's own limit on a startup packet
	tlsHandshake = 0x16  // first byte of a TLS record: PostgreSQL 17 direct TLS
)

// startup is what the client asked for in its startup packet.
type startup struct {
	minor  uint32            // protocol 3.minor
	params map[string]string // in the client's words
	opts   []string          // _pq_. protocol options, which Airlock does not support
	cancel *pgproto3.CancelRequest
}

// readStartup runs the startup exchange up to the StartupMessage or a
// CancelRequest, upgrading to TLS on the way when asked. It reads exactly
// each packet, never ahead, so nothing sent in plaintext can be buffered
// across the TLS upgrade.
func (h *Handler) readStartup(c net.Conn) (net.Conn, *startup, error) {
	secured := false
	for {
		var first [1]byte
		if _, err := io.ReadFull(c, first[:]); err != nil {
			return c, nil, fmt.Errorf("read startup: %w", err)
		}
		if first[0] == tlsHandshake {
			if secured || h.cfg.TLS == nil {
				return c, nil, errors.New("direct TLS refused: TLS is off or already on")
			}
			tc := tls.Server(&prefixConn{Conn: c, prefix: first[:]}, h.directTLS)
			if err := tc.Handshake(); err != nil {
				return c, nil, fmt.Errorf("direct TLS handshake: %w", err)
			}
			if tc.ConnectionState().NegotiatedProtocol != "postgresql" {
				return c, nil, errors.New("direct TLS without ALPN \"postgresql\"")
			}
			c, secured = tc, true
			continue
		}
		var rest [3]byte
		if _, err := io.ReadFull(c, rest[:]); err != nil {
			return c, nil, fmt.Errorf("read startup: %w", err)
		}
		n := int(binary.BigEndian.Uint32(append(first[:], rest[:]...)))
		if n < 8 || n > maxStartup {
			return c, nil, fmt.Errorf("startup packet of %d bytes", n)
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return c, nil, fmt.Errorf("read startup: %w", err)
		}
		switch code := binary.BigEndian.Uint32(body); code {
		case codeSSL:
			if secured {
				return c, nil, errors.New("SSLRequest inside TLS")
			}
			if h.cfg.TLS == nil {
				if _, err := c.Write([]byte{'N'}); err != nil {
					return c, nil, err
				}
				continue
			}
			if _, err := c.Write([]byte{'S'}); err != nil {
				return c, nil, err
			}
			tc := tls.Server(c, h.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				return c, nil, fmt.Errorf("TLS handshake: %w", err)
			}
			c, secured = tc, true
		case codeGSSEnc:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return c, nil, err
			}
		case codeCancel:
			var cr pgproto3.CancelRequest
			if err := cr.Decode(body); err != nil {
				return c, nil, fmt.Errorf("decode CancelRequest: %w", err)
			}
			return c, &startup{cancel: &cr}, nil
		default:
			if code>>16 != 3 {
				return c, nil, fmt.Errorf("unsupported protocol %d.%d", code>>16, code&0xffff)
			}
			if h.cfg.RequireTLS && !secured {
				return c, &startup{}, errPlaintext
			}
			st, err := parseStartup(code&0xffff, body[4:])
			return c, st, err
		}
	}
}

var errPlaintext = errors.New("this listener requires TLS (sslmode=require or stronger)")

func parseStartup(minor uint32, b []byte) (*startup, error) {
	st := &startup{minor: minor, params: map[string]string{}}
	for len(b) > 0 && b[0] != 0 {
		k, rest, ok := cstring(b)
		if !ok {
			return nil, errors.New("startup packet: unterminated parameter name")
		}
		v, rest, ok := cstring(rest)
		if !ok {
			return nil, fmt.Errorf("startup packet: parameter %q has no value", k)
		}
		b = rest
		if strings.HasPrefix(k, "_pq_.") {
			st.opts = append(st.opts, k)
			continue
		}
		st.params[k] = v
	}
	if len(b) != 1 {
		return nil, errors.New("startup packet: missing final terminator")
	}
	return st, nil
}

// Client startup parameters that pass upstream (names compared as
// PostgreSQL does: case-insensitively).
var passParams = []string{"application_name", "datestyle", "timezone", "extra_float_digits", "intervalstyle"}

// upstreamParams checks the client's startup parameters against the
// allow-list and returns the ones to pass upstream, or why they are refused.
func (h *Handler) upstreamParams(st *startup) (map[string]string, string) {
	out := map[string]string{}
	for k, v := range st.params {
		lk := strings.ToLower(k)
		switch {
		case lk == "user":
		case lk == "database":
			if v != "" && v != h.cfg.Database {
				return nil, fmt.Sprintf("database %q is not served here; this Airlock serves %q", v, h.cfg.Database)
			}
		case lk == "client_encoding":
			if !isUTF8Name(v) {
				return nil, fmt.Sprintf("client_encoding %q is not allowed; only UTF8", v)
			}
		case slices.Contains(passParams, lk):
			if _, pinned := h.pinned[lk]; pinned {
				return nil, fmt.Sprintf("startup parameter %q is pinned by the Airlock configuration", k)
			}
			out[k] = v
		default:
			return nil, fmt.Sprintf("startup parameter %q is not allowed (allowed: application_name, client_encoding=UTF8, DateStyle, TimeZone, extra_float_digits, IntervalStyle)", k)
		}
	}
	return out, ""
}

// isUTF8Name reports whether PostgreSQL reads the encoding name v as UTF8.
// PostgreSQL keeps only the ASCII letters and digits of a name, lower-cased
// (so 'utf-8', UTF_8 and "Utf 8" are all utf8), refuses names of 64 bytes or
// more before that, and knows UTF8 by two names: utf8 and unicode. (A byte
// above 0x7f is dropped too in the C and UTF-8 locales a UTF8 database runs
// under.) Airlock's upstream session is UTF8 whatever the client names.
func isUTF8Name(v string) bool {
	if v == "" || len(v) >= 64 {
		return false
	}
	key := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'A' && c <= 'Z':
			key = append(key, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			key = append(key, c)
		}
	}
	return string(key) == "utf8" || string(key) == "unicode"
}

// prefixConn replays bytes already read before the connection's own.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
