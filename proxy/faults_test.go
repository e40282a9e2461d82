package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// switchSink is an audit sink that can be made to fail, as a full disk
// does.
type switchSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	failing bool
}

func (s *switchSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return 0, errors.New("no space left on device")
	}
	return s.buf.Write(p)
}

func (s *switchSink) set(failing bool) {
	s.mu.Lock()
	s.failing = failing
	s.mu.Unlock()
}

func (s *switchSink) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// lockedBuffer is a diagnostic log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWith starts a server from yml (a whole config) and opts.
func startWith(t *testing.T, yml string, opts proxy.Options) (*proxy.Server, string) {
	t.Helper()
	cfg, err := proxy.ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := proxy.New(cfg, opts)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, "http://" + srv.Addrs()["admin"].String()
}

func baseYAML(t *testing.T, ttl string) string {
	dir := t.TempDir()
	return "task: {id: t-1, ttl: " + ttl + "}\n" +
		"listen: {admin: '127.0.0.1:0'}\n" +
		"local: {dir: '" + filepath.Join(dir, "local") + "'}\n" +
		"audit: {path: '" + filepath.Join(dir, "audit.jsonl") + "'}\n" +
		"shutdown: {drain: 1s}\n" +
		"policy: {rules: [{name: sel, allow: 'sql.kind == \"select\"'}, {name: no-pii, deny: 'sql.tables.exists(t, t.endsWith(\"_pii\"))'}]}\n"
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func selectReq() *policy.Request {
	return &policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select", Reads: []string{"public.t"}, Tables: []string{"public.t"}}}
}

// TestAuditSinkFailsAndRecovers: the moment the sink fails, requests are
// denied (audit_unavailable), /readyz is 503 naming the audit sink,
// airlock_audit_healthy is 0 and an error is logged; when the sink takes
// writes again, all of it recovers and the log verifies, with the resume
// record reported.
func TestAuditSinkFailsAndRecovers(t *testing.T) {
	sink := &switchSink{}
	var diag lockedBuffer
	srv, admin := startWith(t, baseYAML(t, "1m"), proxy.Options{Log: zerolog.New(&diag), AuditWriter: sink})
	if code, body := get(t, admin+"/readyz"); code != 200 || !strings.Contains(body, `"audit":"ok"`) {
		t.Fatalf("readyz before: %d %s", code, body)
	}
	if d := srv.Gate().Check(selectReq()); !d.Allow {
		t.Fatalf("before the failure: %+v", d)
	}

	sink.set(true)
	if d := srv.Gate().Check(selectReq()); d.Allow || d.Reason != proxy.ReasonAuditDown {
		t.Fatalf("on a failing sink: %+v, want a denial", d)
	}
	code, body := get(t, admin+"/readyz")
	if code != 503 || !strings.Contains(body, "audit sink failing") || !strings.Contains(body, "no space left on device") {
		t.Errorf("readyz while the sink fails: %d %s", code, body)
	}
	waitFor(t, "the error log", func() bool { return strings.Contains(diag.String(), `"level":"error"`) })
	if !strings.Contains(diag.String(), "audit sink failed") {
		t.Errorf("diagnostic log: %s", diag.String())
	}
	_, metrics := get(t, admin+"/metrics")
	for _, want := range []string{"airlock_audit_healthy 0", `airlock_decisions_total{decision="deny",protocol="postgres",rule="audit_unavailable"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	sink.set(false)
	waitFor(t, "readyz 200 again", func() bool { c, _ := get(t, admin+"/readyz"); return c == 200 })
	if d := srv.Gate().Check(selectReq()); !d.Allow {
		t.Fatalf("after recovery: %+v", d)
	}
	if _, metrics := get(t, admin+"/metrics"); !strings.Contains(metrics, "airlock_audit_healthy 1") {
		t.Error("airlock_audit_healthy is not 1 after recovery")
	}
	if code := srv.Shutdown(proxy.StopReason{Kind: "quit", Code: 0}); code != 0 {
		t.Fatalf("shutdown: %d", code)
	}
	rep, err := audit.Verify(bytes.NewReader(sink.bytes()), audit.VerifyOptions{})
	if err != nil || !rep.Clean || len(rep.Resumes) != 1 {
		t.Fatalf("verify: %+v %v\n%s", rep, err, sink.bytes())
	}
}

// TestStartRefusesDevFull: a sink that takes nothing fails the start,
// naming the sink, before anything listens.
func TestStartRefusesDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	yml := regexp.MustCompile(`audit: \{path: '[^']*'\}`).ReplaceAllString(baseYAML(t, "1m"), "audit: {path: /dev/full}")
	cfg, err := proxy.ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := proxy.New(cfg, proxy.Options{Log: zerolog.Nop()})
	err = srv.Start(t.Context())
	if err == nil {
		srv.Shutdown(proxy.StopReason{Kind: "quit"})
		t.Fatal("Start accepted /dev/full as the audit sink")
	}
	if !strings.Contains(err.Error(), "/dev/full") || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("error %q does not name the sink and its failure", err)
	}
}

// TestReadyzAfterDeadline: once task.ttl passes, /readyz is 503 naming
// the deadline.
func TestReadyzAfterDeadline(t *testing.T) {
	srv, admin := startWith(t, baseYAML(t, "1500ms"), proxy.Options{Log: zerolog.Nop()})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	if code, body := get(t, admin+"/readyz"); code != 200 {
		t.Fatalf("readyz before the deadline: %d %s", code, body)
	}
	waitFor(t, "the deadline", func() bool {
		select {
		case r := <-srv.Stopping():
			return r.Kind == "deadline"
		default:
			return false
		}
	})
	code, body := get(t, admin+"/readyz")
	if code != 503 || !strings.Contains(body, `"deadline":"task.ttl 1.5s passed"`) {
		t.Errorf("readyz after the deadline: %d %s", code, body)
	}
}

// TestDenialMetricLabel: a denial is counted under the rule that denied
// it, or its cause, never under an allow rule that also matched.
func TestDenialMetricLabel(t *testing.T) {
	srv, admin := startWith(t, baseYAML(t, "1m"), proxy.Options{Log: zerolog.Nop()})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	g := srv.Gate()
	pii := selectReq()
	pii.SQL.Tables, pii.SQL.Reads = []string{"public.customers_pii"}, []string{"public.customers_pii"}
	g.Check(pii) // sel and no-pii match; no-pii denies
	g.Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "insert"}})
	g.Check(&policy.Request{Protocol: "postgres", Guard: "FunctionCall message", SQL: policy.SQL{Kind: "select"}})
	g.Check(selectReq())
	g.Close("task deadline passed (task.ttl 1m)", proxy.CauseDeadline)
	g.Check(selectReq())
	_, metrics := get(t, admin+"/metrics")
	for _, want := range []string{
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="no-pii"} 1`,
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="no_rule"} 1`,
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="guard_rail"} 1`,
		`airlock_decisions_total{decision="deny",protocol="postgres",rule="deadline"} 1`,
		`airlock_decisions_total{decision="allow",protocol="postgres",rule="sel"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `decision="deny",protocol="postgres",rule="sel"`) {
		t.Error("a denial is counted under the allow rule sel")
	}
}

// blockingHandler holds each connection until its context ends and
// reports the cause.
type blockingHandler struct{ causes chan error }

func (h blockingHandler) ServeConn(ctx context.Context, c net.Conn) error {
	<-ctx.Done()
	h.causes <- context.Cause(ctx)
	return ctx.Err()
}

// readingHandler serves a connection until the client closes it.
type readingHandler struct{}

func (readingHandler) ServeConn(ctx context.Context, c net.Conn) error {
	_, err := io.Copy(io.Discard, c)
	return err
}

// TestConnectionCause: at the deadline and at the drain bound, the
// connections' context ends with a cause a client can be shown.
func TestConnectionCause(t *testing.T) {
	for _, tc := range []struct {
		name, ttl string
		stop      bool
		want      string
	}{
		{"deadline", "400ms", false, "task deadline passed (task.ttl 400ms)"},
		{"drain", "1m", true, "Airlock is shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pw := filepath.Join(dir, "pw")
			if err := os.WriteFile(pw, []byte("pw"), 0o600); err != nil {
				t.Fatal(err)
			}
			yml := baseYAML(t, tc.ttl) + "listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0'}\n" +
				"postgres: {upstream: {host: 127.0.0.1, port: 1, database: d, sslmode: disable}, credentials: {source: static, user: u, password_file: '" + pw + "'}}\n"
			yml = strings.Replace(yml, "listen: {admin: '127.0.0.1:0'}\n", "", 1)
			h := blockingHandler{causes: make(chan error, 1)}
			srv, _ := startWith(t, yml, proxy.Options{Log: zerolog.Nop(),
				Handlers: func(*proxy.Env) (proxy.Handlers, error) { return proxy.Handlers{Postgres: h}, nil }})
			c, err := net.Dial("tcp", srv.Addrs()["postgres"].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			done := make(chan int)
			go func() {
				var r proxy.StopReason
				if tc.stop {
					r = proxy.StopReason{Kind: "signal", Detail: "SIGTERM"}
				} else {
					r = <-srv.Stopping()
				}
				done <- srv.Shutdown(r)
			}()
			select {
			case cause := <-h.causes:
				if cause == nil || cause.Error() != tc.want {
					t.Errorf("cause %v, want %q", cause, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the connection's context never ended")
			}
			<-done
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("stopping took %s", el)
			}
		})
	}
}

// TestMaxConnectionsPostgres: one connection over
// listen.max_connections.postgres gets PostgreSQL's FATAL 53300, and the
// connections under the cap are served; a slot freed is usable again.
func TestMaxConnectionsPostgres(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := strings.Replace(baseYAML(t, "1m"), "listen: {admin: '127.0.0.1:0'}\n",
		"listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0', max_connections: {postgres: 2}}\n", 1) +
		"postgres: {upstream: {host: 127.0.0.1, port: 1, database: d, sslmode: disable}, credentials: {source: static, user: u, password_file: '" + pw + "'}}\n"
	srv, admin := startWith(t, yml, proxy.Options{Log: zerolog.Nop(),
		Handlers: func(*proxy.Env) (proxy.Handlers, error) { return proxy.Handlers{Postgres: readingHandler{}}, nil }})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	addr := srv.Addrs()["postgres"].String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(t, "two open connections", func() bool {
		_, m := get(t, admin+"/metrics")
		return strings.Contains(m, `airlock_connections{protocol="postgres"} 2`)
	})
	refused := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fe := pgproto3.NewFrontend(c, c)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "u"}})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		msg, err := fe.Receive()
		if err != nil {
			return "error: " + err.Error()
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			return e.Severity + " " + e.Code + " " + e.Message
		}
		return "unexpected"
	}
	if got := refused(); !strings.HasPrefix(got, "FATAL 53300 too many connections") {
		t.Fatalf("third connection: %q, want FATAL 53300", got)
	}
	if _, m := get(t, admin+"/metrics"); !strings.Contains(m, `airlock_connections_refused_total{protocol="postgres"} 1`) {
		t.Error("refusal not counted")
	}
	held[0].Close()
	waitFor(t, "a freed slot", func() bool {
		_, m := get(t, admin+"/metrics")
		return strings.Contains(m, `airlock_connections{protocol="postgres"} 1`)
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil || !os.IsTimeout(err) {
		t.Errorf("a connection under the cap was answered or closed: %v", err)
	}
	held[1].Close()
}

// TestMaxConnectionsS3: a connection over listen.max_connections.s3 gets
// S3's 503 SlowDown and is closed, while the one under the cap is served;
// S3 connections are counted.
func TestMaxConnectionsS3(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("not-a-real-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := strings.Replace(baseYAML(t, "1m"), "listen: {admin: '127.0.0.1:0'}\n",
		"listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:0', max_connections: {s3: 1}}\n", 1) +
		"s3: {upstream: {endpoint: 'http://127.0.0.1:1', region: us-east-1}, plain_http: true, credentials: {source: static, access_key_id: AKIDTEST, secret_access_key_file: '" + secret + "'}}\n"
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte("served"))
	})
	srv, admin := startWith(t, yml, proxy.Options{Log: zerolog.Nop(),
		Handlers: func(*proxy.Env) (proxy.Handlers, error) { return proxy.Handlers{S3: h}, nil }})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	url := "http://" + srv.Addrs()["s3"].String() + "/lake/k"
	first := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			first <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- string(b)
	}()
	<-entered
	resp, err := (&http.Client{Transport: &http.Transport{}}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "<Code>SlowDown</Code>") || !resp.Close {
		t.Errorf("second connection: %d close=%v %s", resp.StatusCode, resp.Close, b)
	}
	_, m := get(t, admin+"/metrics")
	for _, want := range []string{`airlock_connections{protocol="s3"} 1`, `airlock_connections_accepted_total{protocol="s3"} 1`,
		`airlock_connections_refused_total{protocol="s3"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	close(release)
	if got := <-first; got != "served" {
		t.Errorf("first connection: %q", got)
	}
}

// TestEgressConnectionsCounted: the egress listener's connections and
// bytes are counted, as the S3 listener's are.
func TestEgressConnectionsCounted(t *testing.T) {
	yml := strings.Replace(baseYAML(t, "1m"), "listen: {admin: '127.0.0.1:0'}\n",
		"listen: {admin: '127.0.0.1:0', http_proxy: '127.0.0.1:0'}\n", 1) + "egress: {allow: ['true']}\n"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("e", 5000))) })
	srv, admin := startWith(t, yml, proxy.Options{Log: zerolog.Nop(),
		Handlers: func(*proxy.Env) (proxy.Handlers, error) { return proxy.Handlers{Egress: h}, nil }})
	defer srv.Shutdown(proxy.StopReason{Kind: "quit"})
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + srv.Addrs()["http_proxy"].String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	waitFor(t, "the connection to close", func() bool {
		_, m := get(t, admin+"/metrics")
		return strings.Contains(m, `airlock_connections{protocol="http_proxy"} 0`)
	})
	_, m := get(t, admin+"/metrics")
	if !strings.Contains(m, `airlock_connections_accepted_total{protocol="http_proxy"} 1`) {
		t.Errorf("egress connection not counted:\n%s", m)
	}
	if !regexp.MustCompile(`airlock_bytes_total\{direction="downstream",protocol="http_proxy"\} [5-9]\d{3}`).MatchString(m) {
		t.Errorf("egress bytes not counted")
	}
}
