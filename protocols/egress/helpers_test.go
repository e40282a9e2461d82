package egress_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/testutil"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/egress"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// rig is the egress handler behind a real gate (compiled rules, keyed
// audit log) on a loopback server whose base context the test can end.
type rig struct {
	proxyURL  *url.URL
	addr      string
	auditPath string
	diag      *testutil.SyncBuffer // the diagnostic log, at debug level
	stop      context.CancelFunc

	mu     sync.Mutex
	checks []policy.Request // every request the gate decided, as decided
}

type rigOptions struct {
	rules  []policy.Rule
	egress []string
	config func(*egress.Config)
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	engine, err := policy.Compile(o.rules, policy.Options{Egress: o.egress})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{auditPath: filepath.Join(t.TempDir(), "audit.jsonl"), diag: &testutil.SyncBuffer{}}
	alog, err := audit.Open(r.auditPath, audit.Options{Key: []byte("egress-test-key-0123456789abcdef"), Task: "t-egress", FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(r.diag).Level(zerolog.DebugLevel)
	gate := proxy.NewGate(proxy.GateOptions{Engine: engine, Recorder: alog, Log: log, Task: policy.Task{ID: "t-egress"}})
	cfg := egress.Config{
		Check: func(req *policy.Request) policy.Decision {
			d := gate.Check(req)
			r.mu.Lock()
			r.checks = append(r.checks, *req)
			r.mu.Unlock()
			return d
		},
		Log: log,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	h, err := egress.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		_ = alog.Close()
	})
	r.addr = srv.Listener.Addr().String()
	r.proxyURL, _ = url.Parse(srv.URL)
	return r
}

// client sends requests through the proxy.
func (r *rig) client(tr *http.Transport) *http.Client {
	if tr == nil {
		tr = &http.Transport{}
	}
	tr.Proxy = http.ProxyURL(r.proxyURL)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// decided returns the requests the gate has decided so far.
func (r *rig) decided() []policy.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]policy.Request(nil), r.checks...)
}

// audit returns the audit log's content once flushed.
func (r *rig) audit(t *testing.T) string {
	t.Helper()
	time.Sleep(20 * time.Millisecond) // two flush intervals and then some
	b, err := os.ReadFile(r.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// connect opens a raw connection to the proxy, sends CONNECT target with
// extra header lines, and returns the connection and the response.
func (r *rig) connect(t *testing.T, target string, headers ...string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	host := target[strings.LastIndexByte(target, '@')+1:] // net/http refuses user info in Host
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + host + "\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// counter is an upstream that counts what reaches it.
type counter struct {
	mu      sync.Mutex
	n       int
	headers http.Header
}

func (c *counter) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	c.headers = r.Header.Clone()
	c.mu.Unlock()
	w.Header().Set("Connection", "X-Hop-Resp")
	w.Header().Set("X-Hop-Resp", "dropped")
	fmt.Fprintf(w, "upstream saw %s %s", r.Method, r.URL.RequestURI())
}

func (c *counter) seen() (int, http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.headers
}

// listenCounting accepts and counts TCP connections on 127.0.0.1,
// echoing what each sends.
func listenCounting(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(port, &n)
	return host, n
}

func itoa(n int) string { return strconv.Itoa(n) }
