package postgres

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/policy"
)

// The upstream session ends (pg_terminate_backend) while the client is
// idle and while a query runs: the client gets the server's FATAL and EOF
// within a second, and ServeConn returns.
func TestUpstreamTerminated(t *testing.T) {
	r := startSessionRig(t)
	for _, busy := range []bool{false, true} {
		hj := r.connect(t)
		perr, vals, _ := simple(t, hj, "SELECT pg_backend_pid()")
		if perr != nil || len(vals) != 1 {
			t.Fatalf("pg_backend_pid: %v %v", perr, vals)
		}
		if busy {
			send(t, hj.Conn, &pgproto3.Query{String: "SELECT pg_sleep(30)"})
			time.Sleep(200 * time.Millisecond)
		}
		start := time.Now()
		r.admin(t, "SELECT pg_terminate_backend("+vals[0]+")")
		fatal := wantEnd(t, hj, time.Second)
		if fatal == nil || fatal.Code != "57P01" || !strings.Contains(fatal.Message, "administrator command") {
			t.Fatalf("busy=%v: got FATAL %+v, want the server's 57P01", busy, fatal)
		}
		r.wantServed(t, time.Second-time.Since(start)+100*time.Millisecond)
	}
}

// The upstream vanishes without a FATAL (the network between Airlock and
// the server fails): the client gets Airlock's own 57P01 naming the cause, then EOF.
func TestUpstreamVanished(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	if perr, _, _ := simple(t, hj, "SELECT 1"); perr != nil {
		t.Fatal(perr)
	}
	r.fwd.cut()
	fatal := wantEnd(t, hj, time.Second)
	if fatal == nil || fatal.Code != "57P01" || !strings.Contains(fatal.Message, "upstream session ended") {
		t.Fatalf("got FATAL %+v, want Airlock's 57P01 naming the cause", fatal)
	}
	r.wantServed(t, time.Second)
}

// A pinned parameter changed from code the classifier cannot see into
// ends the session before anything the client sent after it is forwarded:
// reported ones (standard_conforming_strings, by ParameterStatus) and
// unreported ones (search_path, read back by Airlock).
func TestPinnedChangeEndsSession(t *testing.T) {
	r := startSessionRig(t)
	cases := []struct{ name, sql string }{
		{"do scs", `DO $$BEGIN PERFORM pg_catalog.set_config('standard_conforming_strings', 'off', false); END$$`},
		{"function scs", `SELECT sales.evil_scs()`},
		{"do search_path", `DO $$BEGIN PERFORM pg_catalog.set_config('search_path', 'public', false); END$$`},
		{"function search_path", `SELECT sales.evil_path()`},
		{"call search_path", `CALL sales.evil_proc()`},
		{"extended search_path", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hj := r.connect(t)
			after := []pgproto3.FrontendMessage{
				&pgproto3.Query{String: "INSERT INTO hits VALUES ('" + c.name + "')"},
				&pgproto3.Parse{Query: "INSERT INTO hits VALUES ('" + c.name + " ext')"}, &pgproto3.Bind{},
				&pgproto3.Execute{}, &pgproto3.Sync{},
			}
			first := []pgproto3.FrontendMessage{&pgproto3.Query{String: c.sql}}
			if c.sql == "" {
				first = []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT sales.evil_path()"},
					&pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}}
			}
			send(t, hj.Conn, append(first, after...)...)
			fatal := wantEnd(t, hj, time.Second)
			if fatal == nil || fatal.Code != "42501" || !strings.Contains(fatal.Message, "pinned parameter") {
				t.Fatalf("got FATAL %+v, want 42501 naming the pinned parameter", fatal)
			}
			r.wantServed(t, time.Second)
			if n := r.admin(t, "SELECT count(*) FROM sales.hits WHERE what LIKE '"+c.name+"%'") +
				r.admin(t, "SELECT count(*) FROM public.hits WHERE what LIKE '"+c.name+"%'"); n != "00" {
				t.Fatalf("statements after the change ran upstream (sales, public counts %s)", n)
			}
		})
	}
	// A statement that runs no opaque code is never followed by a check,
	// and one that runs harmless opaque code passes it.
	hj := r.connect(t)
	s := r.session(t)
	for _, q := range []string{"SELECT count(*) FROM a", "SELECT pg_catalog.abs(-1)", "BEGIN", "COMMIT", "SELECT now()"} {
		if perr, _, _ := simple(t, hj, q); perr != nil {
			t.Fatal(perr.Message)
		}
	}
	if s.checks.Load() != 0 {
		t.Fatalf("%d checks after statements that run no opaque code", s.checks.Load())
	}
	if perr, _, _ := simple(t, hj, "SELECT sales.harmless()"); perr != nil {
		t.Fatal(perr)
	}
	if perr, vals, _ := simple(t, hj, "SELECT count(*) FROM a"); perr != nil || vals[0] != "20" {
		t.Fatalf("after a harmless function: %v %v", perr, vals)
	}
	if s.checks.Load() != 1 {
		t.Fatalf("%d checks after one statement running opaque code, want 1", s.checks.Load())
	}
}

// A done ctx ends the session: the query in flight is cancelled upstream
// and the client gets FATAL 57P01 with the cause, within a second.
func TestStopCancelsQuery(t *testing.T) {
	for _, cause := range []error{errors.New("task deadline passed (task.ttl 2h)"), nil} {
		r := startSessionRig(t)
		hj := r.connect(t)
		perr, vals, _ := simple(t, hj, "SELECT pg_backend_pid()")
		if perr != nil {
			t.Fatal(perr)
		}
		send(t, hj.Conn, &pgproto3.Query{String: "SELECT pg_sleep(30)"})
		time.Sleep(300 * time.Millisecond)
		if got := r.admin(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = "+vals[0]+" AND query LIKE '%pg_sleep%' AND state = 'active'"); got != "1" {
			t.Fatalf("pg_sleep not running upstream (%s)", got)
		}
		start := time.Now()
		r.cancel(cause)
		fatal := wantEnd(t, hj, time.Second)
		want := "airlock: Airlock is shutting down"
		if cause != nil {
			want = "airlock: " + cause.Error()
		}
		if fatal == nil || fatal.Code != "57P01" || fatal.Message != want {
			t.Fatalf("got FATAL %+v, want 57P01 %q", fatal, want)
		}
		r.wantServed(t, time.Second-time.Since(start)+100*time.Millisecond)
		deadline := time.Now().Add(time.Second)
		for {
			got := r.admin(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = "+vals[0]+" AND query LIKE '%pg_sleep%' AND state = 'active'")
			if got == "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the upstream query still runs after the session stopped")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// The client leaves while its query runs: ServeConn returns within a
// second and the query is cancelled upstream.
func TestClientLeavesMidQuery(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	_, vals, _ := simple(t, hj, "SELECT pg_backend_pid()")
	send(t, hj.Conn, &pgproto3.Query{String: "SELECT pg_sleep(30)"})
	time.Sleep(300 * time.Millisecond)
	active := "SELECT count(*) FROM pg_stat_activity WHERE pid = " + vals[0] + " AND query LIKE '%pg_sleep%' AND state = 'active'"
	if got := r.admin(t, active); got != "1" {
		t.Fatalf("pg_sleep not running upstream (%s)", got)
	}
	hj.Conn.Close()
	r.wantServed(t, time.Second)
	deadline := time.Now().Add(time.Second)
	for r.admin(t, active) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("the upstream query still runs after the client left")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkPinnedCheck measures what the check of the pinned parameters
// costs: a statement that runs no opaque code is never followed by one; a
// call of a user function is, once.
func BenchmarkPinnedCheck(b *testing.B) {
	r := startSessionRig(b)
	hj := r.connect(b)
	for _, c := range []struct{ name, sql string }{
		{"builtin", "SELECT pg_catalog.abs(-1)"},
		{"user_function", "SELECT sales.harmless()"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if perr, _, _ := simple(b, hj, c.sql); perr != nil {
					b.Fatal(perr.Message)
				}
			}
		})
	}
}

// RESET and DISCARD ALL return parameters to their startup-packet values,
// which are the pinned ones, so clients' pool resets (asyncpg's RESET ALL,
// DISCARD ALL) pass; each is followed by a read-back of the pinned values.
// SET of a pinned parameter stays a guard rail, and a value changed by
// code Airlock cannot see is still caught even when a RESET follows.
func TestResetRestoresPinned(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	if perr, _, _ := simple(t, hj, "SELECT 1"); perr != nil {
		t.Fatal(perr.Message)
	}
	s := r.session(t)
	want := 0
	for _, q := range []string{"RESET ALL", "DISCARD ALL", "RESET search_path", "RESET standard_conforming_strings", "RESET client_encoding"} {
		if perr, _, _ := simple(t, hj, q); perr != nil {
			t.Fatalf("%s: %s %s", q, perr.Code, perr.Message)
		}
		want++
		for param, pinned := range map[string]string{"search_path": "sales", "standard_conforming_strings": "on", "client_encoding": "UTF8"} {
			perr, vals, _ := simple(t, hj, "SHOW "+param)
			if perr != nil || len(vals) != 1 || vals[0] != pinned {
				t.Fatalf("after %s: SHOW %s = %v %v, want %q", q, param, perr, vals, pinned)
			}
		}
		if got := int(s.checks.Load()); got != want {
			t.Fatalf("after %s: %d read-backs of the pinned values, want %d", q, got, want)
		}
	}
	if perr, _, _ := simple(t, hj, "SET search_path = public"); perr == nil || perr.Code != "42501" {
		t.Fatalf("SET of a pinned parameter: %+v, want a 42501 denial", perr)
	}
	// The harmless-looking reset does not hide a change made before it.
	send(t, hj.Conn, &pgproto3.Query{String: "SELECT sales.evil_path(); RESET standard_conforming_strings"},
		&pgproto3.Query{String: "SELECT count(*) FROM a"})
	if fatal := wantEnd(t, hj, time.Second); fatal == nil || !strings.Contains(fatal.Message, "pinned parameter") {
		t.Fatalf("got FATAL %+v, want the session ended naming the pinned parameter", fatal)
	}
}

// A cursor opened inside a function (a refcursor) was never checked: FETCH
// and MOVE from a cursor Airlock did not see declared are a guard rail,
// while a declared cursor's FETCH passes and names its tables.
func TestFetchUndeclaredCursor(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	for _, q := range []string{"BEGIN", "DECLARE c CURSOR FOR SELECT * FROM a", "FETCH 1 FROM c", "COMMIT"} {
		if perr, _, _ := simple(t, hj, q); perr != nil {
			t.Fatalf("%s: %s", q, perr.Message)
		}
	}
	for _, q := range []string{`FETCH 1 FROM "<unnamed portal 1>"`, "MOVE 1 IN d"} {
		perr, _, _ := simple(t, hj, q)
		if perr == nil || perr.Code != "42501" || !strings.Contains(perr.Message, "did not see declared") {
			t.Fatalf("%s: %+v, want the guard rail", q, perr)
		}
	}
	var fetch *policy.Request
	r.mu.Lock()
	for i := range r.reqs {
		if r.reqs[i].SQL.Command == "FETCH" && r.reqs[i].Guard == "" {
			fetch = &r.reqs[i]
		}
	}
	r.mu.Unlock()
	if fetch == nil || !slices.Contains(fetch.SQL.Reads, "sales.a") {
		t.Fatalf("the declared cursor's FETCH was not checked with its table: %+v", fetch)
	}
}

// While nothing can be recorded (Config.Refusing: the audit sink down, the
// deadline passed), a Bind of a statement decided at an earlier Parse ends
// the session: the statement never runs.
func TestBindWhileRefusing(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	send(t, hj.Conn, &pgproto3.Parse{Name: "ins", Query: "INSERT INTO hits VALUES ('refused')"}, &pgproto3.Sync{})
	for _, m := range untilReady(t, hj) {
		if perr, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("parse: %s", perr.Message)
		}
	}
	why := "audit log unavailable: denying every request until it recovers"
	r.refusing.Store(&why)
	send(t, hj.Conn, &pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	fatal := wantEnd(t, hj, time.Second)
	if fatal == nil || !strings.Contains(fatal.Message, "audit log unavailable") {
		t.Fatalf("got FATAL %+v, want the session ended naming the audit log", fatal)
	}
	if n := r.admin(t, "SELECT count(*) FROM sales.hits WHERE what = 'refused'"); n != "0" {
		t.Fatalf("the prepared INSERT ran while nothing could be recorded (%s rows)", n)
	}
}
