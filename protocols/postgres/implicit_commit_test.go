package postgres

import (
	"testing"
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
