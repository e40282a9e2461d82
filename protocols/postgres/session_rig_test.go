package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// sessionRig is a real PostgreSQL and an allow-all Airlock handler in
// front of it (guard rails still deny), with every checked request kept,
// every session reachable, and ServeConn's returns counted.
type sessionRig struct {
	pg        *pgtest.Server
	addr      string
	cancel    context.CancelCauseFunc
	mu        sync.Mutex
	reqs      []policy.Request
	sessions  []*session
	served    chan error // one value per ServeConn return
	fwd       *forwarder
	adminConn *pgconn.PgConn
	refusing  atomic.Pointer[string] // Config.Refusing's answer, when set
}

// forwarder relays TCP connections to the upstream, and can cut them all
// (a network failure between Airlock and the server).
type forwarder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startForwarder(t testing.TB, target string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln}
	t.Cleanup(func() { ln.Close(); f.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, u)
			f.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return f
}

func (f *forwarder) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func startSessionRig(t testing.TB) *sessionRig {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.a (id int, v text);
CREATE TABLE sales.b (id int, v text);
CREATE TABLE sales.c (id int, v text);
CREATE TABLE sales.hits (what text);
INSERT INTO sales.a SELECT g, 'a' || g FROM generate_series(1, 20) g;
INSERT INTO sales.b SELECT g, 'b' || g FROM generate_series(1, 20) g;
INSERT INTO sales.c SELECT g, 'c' || g FROM generate_series(1, 20) g;
CREATE FUNCTION sales.evil_path() RETURNS int LANGUAGE sql AS $$ SELECT 1 FROM pg_catalog.set_config('search_path', 'public', false) $$;
CREATE FUNCTION sales.evil_scs() RETURNS int LANGUAGE sql AS $$ SELECT 1 FROM pg_catalog.set_config('standard_conforming_strings', 'off', false) $$;
CREATE FUNCTION sales.harmless() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE PROCEDURE sales.evil_proc() LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_catalog.set_config('search_path', 'public', false); END $$;
CREATE TABLE public.hits (what text);
CREATE ROLE etl LOGIN PASSWORD 'etl-upstream-pw';
GRANT USAGE ON SCHEMA sales TO etl;
GRANT ALL ON ALL TABLES IN SCHEMA sales TO etl;
GRANT ALL ON public.hits TO etl;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sales TO etl;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA sales TO etl;
`)
	r := &sessionRig{pg: pg, served: make(chan error, 64)}
	r.fwd = startForwarder(t, net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)))
	fwdPort := r.fwd.ln.Addr().(*net.TCPAddr).Port
	h, err := New(Config{
		Check: func(req *policy.Request) policy.Decision {
			r.mu.Lock()
			r.reqs = append(r.reqs, *req)
			r.mu.Unlock()
			if req.Guard != "" {
				return policy.Decision{Reason: req.Guard}
			}
			return policy.Decision{Allow: true}
		},
		Refusing: func() string {
			if why := r.refusing.Load(); why != nil {
				return *why
			}
			return ""
		},
		Connect: Dialer(Upstream{Host: "127.0.0.1", Port: fwdPort, Database: "app",
			Session: map[string]string{"search_path": "sales"},
			Login: func(context.Context) (string, secret.Secret, error) {
				return "etl", secret.New("etl-upstream-pw"), nil
			}}),
		Classifier: NewClassifier([]string{"sales"}, "app"),
		ClientAuth: AuthTrust,
		Database:   "app",
		Pinned:     map[string]string{"search_path": "sales"},
		Log:        zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.onSession = func(s *session) {
		r.mu.Lock()
		r.sessions = append(r.sessions, s)
		r.mu.Unlock()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r.cancel = cancel
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel(nil)
		ln.Close()
		wg.Wait()
		if r.adminConn != nil {
			r.adminConn.Close(context.Background())
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				err := h.ServeConn(ctx, c)
				select {
				case r.served <- err:
				default:
				}
			}()
		}
	}()
	r.addr = ln.Addr().String()
	return r
}

// connect opens a client connection through Airlock and hands over its
// socket for raw protocol use.
func (r *sessionRig) connect(t testing.TB) *pgconn.HijackedConn {
	t.Helper()
	host, port, _ := net.SplitHostPort(r.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r.mu.Lock()
	before := len(r.sessions)
	r.mu.Unlock()
	pc, err := pgconn.Connect(ctx, "host="+host+" port="+port+" user=tester dbname=app sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hj.Conn.Close() })
	// The handler registers the session once it relays, which can be just
	// after the client has its ReadyForQuery: wait, so session() is this one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		n := len(r.sessions)
		r.mu.Unlock()
		if n > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not start relaying within 10s")
		}
	}
	return hj
}

// session returns the last session that started relaying.
func (r *sessionRig) session(t testing.TB) *session {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sessions) == 0 {
		t.Fatal("no session")
	}
	return r.sessions[len(r.sessions)-1]
}

// admin runs sql as the superuser, outside Airlock, and returns the
// first column of its rows, one a line.
func (r *sessionRig) admin(t testing.TB, sql string) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if r.adminConn == nil {
		c, err := pgconn.Connect(ctx, r.pg.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		r.adminConn = c
	}
	res, err := r.adminConn.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var lines []string
	for _, rs := range res {
		for _, row := range rs.Rows {
			lines = append(lines, string(row[0]))
		}
	}
	return strings.Join(lines, "\n")
}

// send writes msgs in one write.
func send(t testing.TB, c net.Conn, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	var b []byte
	var err error
	for _, m := range msgs {
		if b, err = m.Encode(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// untilReady reads messages up to ReadyForQuery and returns them.
func untilReady(t testing.TB, hj *pgconn.HijackedConn) []pgproto3.BackendMessage {
	t.Helper()
	_ = hj.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out []pgproto3.BackendMessage
	for {
		m, err := hj.Frontend.Receive()
		if err != nil {
			t.Fatalf("receive: %v (after %d messages)", err, len(out))
		}
		out = append(out, copyMsg(m))
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return out
		}
	}
}

// copyMsg copies what the tests keep of a message (Receive reuses them).
func copyMsg(m pgproto3.BackendMessage) pgproto3.BackendMessage {
	switch v := m.(type) {
	case *pgproto3.ErrorResponse:
		c := *v
		return &c
	case *pgproto3.DataRow:
		c := &pgproto3.DataRow{}
		for _, x := range v.Values {
			c.Values = append(c.Values, append([]byte(nil), x...))
		}
		return c
	case *pgproto3.CommandComplete:
		return &pgproto3.CommandComplete{CommandTag: append([]byte(nil), v.CommandTag...)}
	case *pgproto3.ReadyForQuery:
		c := *v
		return &c
	}
	return m
}

// simple runs one simple Query through hj and returns the first error
// and the rows' first values.
func simple(t testing.TB, hj *pgconn.HijackedConn, sql string) (*pgproto3.ErrorResponse, []string, byte) {
	t.Helper()
	send(t, hj.Conn, &pgproto3.Query{String: sql})
	var perr *pgproto3.ErrorResponse
	var vals []string
	var st byte
	for _, m := range untilReady(t, hj) {
		switch v := m.(type) {
		case *pgproto3.ErrorResponse:
			if perr == nil {
				perr = v
			}
		case *pgproto3.DataRow:
			vals = append(vals, string(v.Values[0]))
		case *pgproto3.ReadyForQuery:
			st = v.TxStatus
		}
	}
	return perr, vals, st
}

// wantEnd reads until the connection ends, within limit, and returns the
// FATAL received on the way (nil if none).
func wantEnd(t testing.TB, hj *pgconn.HijackedConn, limit time.Duration) *pgproto3.ErrorResponse {
	t.Helper()
	start := time.Now()
	_ = hj.Conn.SetReadDeadline(start.Add(limit))
	var fatal *pgproto3.ErrorResponse
	for {
		m, err := hj.Frontend.Receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %s (FATAL seen: %v)", limit, fatal)
			}
			return fatal
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok && e.Severity == "FATAL" {
			c := *e
			fatal = &c
		}
	}
}

// wantServed waits for a ServeConn to return.
func (r *sessionRig) wantServed(t testing.TB, limit time.Duration) {
	t.Helper()
	select {
	case <-r.served:
	case <-time.After(limit):
		t.Fatalf("ServeConn still running after %s", limit)
	}
}
