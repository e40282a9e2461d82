package egress_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/egress"
)

// TestConnectTunnel: an allowed CONNECT is one check (method CONNECT, no
// path), then a blind tunnel that carries TLS end to end and keeps serving
// requests on the same connection without further checks.
func TestConnectTunnel(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls upstream "+r.URL.Path)
	}))
	defer upstream.Close()
	host, port := hostPort(t, upstream.URL)
	r := newRig(t, rigOptions{egress: []string{`http.method == "CONNECT" && http.port == ` + itoa(port)}})
	c := r.client(upstream.Client().Transport.(*http.Transport).Clone())
	for _, p := range []string{"/one", "/two"} {
		resp, err := c.Get(upstream.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		if got := body(t, resp); resp.StatusCode != http.StatusOK || got != "tls upstream "+p {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, got)
		}
	}
	checks := r.decided()
	want := policy.HTTP{Method: "CONNECT", Host: host, Port: port, Path: ""}
	if len(checks) != 1 || checks[0].HTTP != want || checks[0].Protocol != policy.ProtocolHTTP {
		t.Fatalf("checks %+v, want one for %+v", checks, want)
	}
}

// TestConnectDenied: a denied CONNECT is answered 403 with the request id
// and nothing is dialled.
func TestConnectDenied(t *testing.T) {
	addr, accepted := listenCounting(t)
	var dials atomic.Int32
	r := newRig(t, rigOptions{
		egress: []string{`http.host == "example.com"`},
		config: func(c *egress.Config) {
			c.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
				dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, a)
			}
		},
	})
	_, _, resp := r.connect(t, addr)
	text := body(t, resp)
	id := resp.Header.Get(egress.RequestIDHeader)
	if resp.StatusCode != http.StatusForbidden || id == "" || !strings.Contains(text, "denied: no rule allows (request id "+id+")") {
		t.Fatalf("status %d id %q body %q", resp.StatusCode, id, text)
	}
	if dials.Load() != 0 || accepted() != 0 {
		t.Fatalf("a denied CONNECT was dialled (%d dials, %d accepted)", dials.Load(), accepted())
	}
	if checks := r.decided(); len(checks) != 1 || checks[0].ID != id || checks[0].HTTP.Method != "CONNECT" {
		t.Fatalf("checks %+v", checks)
	}
	if a := r.audit(t); !strings.Contains(a, `"request_id":"`+id+`"`) || !strings.Contains(a, `"decision":"deny"`) {
		t.Fatalf("audit log lacks the denial:\n%s", a)
	}
}

// TestConnectUnreachable: an allowed CONNECT whose target refuses is
// answered 502 with the request id.
func TestConnectUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := newRig(t, rigOptions{egress: []string{`true`}})
	_, _, resp := r.connect(t, addr)
	text := body(t, resp)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(text, "could not connect to "+addr) || !strings.Contains(text, resp.Header.Get(egress.RequestIDHeader)) {
		t.Fatalf("status %d body %q", resp.StatusCode, text)
	}
}

// TestTunnelBounds: a tunnel that carries nothing closes after the idle
// timeout; one that carries bytes one way only stays open; every tunnel
// closes when the server's context ends.
func TestTunnelBounds(t *testing.T) {
	const idle = 300 * time.Millisecond
	echo, _ := listenCounting(t)
	// ticker sends a byte every idle/3 and never reads.
	tick, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tick.Close()
	go func() {
		for {
			c, err := tick.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for range 100 {
					if _, err := c.Write([]byte{'.'}); err != nil {
						return
					}
					time.Sleep(idle / 3)
				}
			}()
		}
	}()
	r := newRig(t, rigOptions{egress: []string{`true`}, config: func(c *egress.Config) { c.IdleTimeout = idle }})

	t.Run("idle", func(t *testing.T) {
		c, br, resp := r.connect(t, echo)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		io.WriteString(c, "ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo: %q %v", buf, err)
		}
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(10 * idle))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle tunnel: read %v, want EOF", err)
		}
		if d := time.Since(start); d < idle/2 || d > 5*idle {
			t.Fatalf("idle tunnel closed after %v (idle timeout %v)", d, idle)
		}
	})
	t.Run("one-way traffic is not idle", func(t *testing.T) {
		c, br, resp := r.connect(t, tick.Addr().String())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * idle))
		buf := make([]byte, 8) // eight ticks: well past the idle timeout
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatalf("tunnel with one-way traffic closed: %v", err)
		}
	})
	t.Run("server context ends", func(t *testing.T) {
		c, br, resp := r.connect(t, tick.Addr().String())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		r.stop()
		_ = c.SetReadDeadline(time.Now().Add(10 * idle))
		for {
			if _, err := br.ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("tunnel still open after the server's context ended")
				}
				return
			}
		}
	})
}
