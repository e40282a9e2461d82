package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The last statement of a Query reports CommandComplete only after the
// implicit transaction commits; when the commit fails (here: a cursor WITH
// HOLD materialised at commit divides by zero) the statement's own
// non-transactional effect (DEALLOCATE ALL) has happened nevertheless.
// Airlock settles such an error with the server's own list before the
// next statement.
func TestErrorAtImplicitCommit(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	for _, q := range []string{"PREPARE p1 AS SELECT * FROM a", "PREPARE p2 AS SELECT * FROM b"} {
		if perr, _, _ := simple(t, hj, q); perr != nil {
			t.Fatal(perr.Message)
		}
	}
	perr, _, _ := simple(t, hj, "DECLARE c2 CURSOR WITH HOLD FOR SELECT 1 / (id - id) FROM b; DEALLOCATE p1")
	if perr == nil || perr.Code != "22012" {
		t.Fatalf("got %v, want division by zero at commit", perr)
	}
	perr, _, _ = simple(t, hj, "PREPARE p3 AS SELECT * FROM c; DECLARE c3 CURSOR WITH HOLD FOR SELECT 1 / (id - id) FROM b; PREPARE p4 AS SELECT * FROM c")
	if perr == nil || perr.Code != "22012" {
		t.Fatalf("got %v, want division by zero at commit", perr)
	}
	_, server, _ := simple(t, hj, "SELECT name FROM pg_prepared_statements ORDER BY name")
	stmts, _ := airlockModel(r.session(t))
	if len(stmts) != len(server) {
		t.Fatalf("Airlock holds %v, the server %v", stmts, server)
	}
	for _, n := range server {
		if _, ok := stmts[n]; !ok {
			t.Fatalf("Airlock holds %v, the server %v", stmts, server)
		}
	}
	if want := "p2 p3 p4"; want != server[0]+" "+server[1]+" "+server[2] {
		t.Fatalf("server holds %v, want %s", server, want)
	}
}

// COPY FROM STDIN started by Execute: the server ignores the Sync sent
// after the Execute (libpq sends another after CopyDone), so one
// ReadyForQuery answers both; the replies that follow stay in step (an
// injected Parse's ParseComplete is still swallowed).
func TestExtendedCopyIn(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	send(t, hj.Conn, &pgproto3.Parse{Query: "COPY hits FROM STDIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
		&pgproto3.CopyData{Data: []byte("x\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{})
	var got []string
	for _, m := range untilReady(t, hj) {
		got = append(got, fmt.Sprintf("%T", m))
	}
	if want := "*pgproto3.ParseComplete *pgproto3.BindComplete *pgproto3.CopyInResponse *pgproto3.CommandComplete *pgproto3.ReadyForQuery"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	// A denied Parse (a guard rail) next: the client sees only the error.
	send(t, hj.Conn, &pgproto3.Parse{Name: "x", Query: "COPY hits TO PROGRAM 'true'"}, &pgproto3.Sync{},
		&pgproto3.Parse{Name: "y", Query: "SELECT * FROM a"}, &pgproto3.Sync{})
	got = nil
	for _, m := range append(untilReady(t, hj), untilReady(t, hj)...) {
		got = append(got, fmt.Sprintf("%T", m))
	}
	if want := "*pgproto3.ErrorResponse *pgproto3.ReadyForQuery *pgproto3.ParseComplete *pgproto3.ReadyForQuery"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if stmts, _ := airlockModel(r.session(t)); len(stmts) != 1 || stmts["y"] == nil {
		t.Fatalf("model %v, want y only", stmts)
	}
}

// A commit that fails while materialising one cursor WITH HOLD may have
// persisted others already, in the server's own order: Airlock asks.
func TestHeldCursorsAtFailedCommit(t *testing.T) {
	r := startSessionRig(t)
	hj := r.connect(t)
	for i := 0; i < 4; i++ {
		send(t, hj.Conn,
			&pgproto3.Parse{Query: "DECLARE c1 CURSOR WITH HOLD FOR SELECT 1 / (id - id) FROM b"}, &pgproto3.Bind{}, &pgproto3.Execute{},
			&pgproto3.Parse{Query: "DECLARE c2 CURSOR WITH HOLD FOR SELECT * FROM a"}, &pgproto3.Bind{}, &pgproto3.Execute{},
			&pgproto3.Parse{Query: "DECLARE c3 CURSOR WITH HOLD FOR SELECT * FROM c"}, &pgproto3.Bind{}, &pgproto3.Execute{},
			&pgproto3.Sync{})
		untilReady(t, hj)
		_, server, _ := simple(t, hj, "SELECT name FROM pg_cursors ORDER BY name")
		_, cursors := airlockModel(r.session(t))
		if len(cursors) != len(server) {
			t.Fatalf("Airlock holds cursors %v, the server %v", cursors, server)
		}
		for _, n := range server {
			if _, ok := cursors[n]; !ok {
				t.Fatalf("Airlock holds cursors %v, the server %v", cursors, server)
			}
		}
		simple(t, hj, "CLOSE ALL")
	}
}
