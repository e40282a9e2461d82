package postgres

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/policy"
)

// TestSessionModel drives random command sequences over both protocols
// through an allow-all Airlock against a real PostgreSQL, with failures
// injected (name clashes, statements the server refuses, aborted
// transactions, rollbacks, savepoints, pipelines with an error in the
// middle), and after every step compares Airlock's model of the session
// with the server's own (pg_prepared_statements, pg_cursors), and each
// EXECUTE's and FETCH's checked tables with the statement the server ran.
//
// AIRLOCK_MODEL_STEPS sets the number of steps (default 400) and
// AIRLOCK_MODEL_SEED the seed (default fixed) for long runs.
func TestSessionModel(t *testing.T) {
	steps, seed := 400, uint64(22)
	if v, err := strconv.Atoi(os.Getenv("AIRLOCK_MODEL_STEPS")); err == nil && v > 0 {
		steps = v
	}
	if v, err := strconv.ParseUint(os.Getenv("AIRLOCK_MODEL_SEED"), 10, 64); err == nil {
		seed = v
	}
	r := startSessionRig(t)
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	mt := &modelRun{t: t, r: r, g: g}
	mt.reconnect()
	for i := 0; i < steps; i++ {
		mt.step(i)
		if i > 0 && i%5000 == 0 {
			t.Logf("step %d: %d compared, %d EXECUTE/FETCH checked, %d divergences", i, mt.compared, mt.audited, mt.divergences)
		}
		if mt.divergences > 20 {
			t.Fatalf("stopping after %d divergences", mt.divergences)
		}
	}
	t.Logf("%d steps (seed %d), %d compared, %d EXECUTE/FETCH checked, %d divergences",
		steps, seed, mt.compared, mt.audited, mt.divergences)
}

type modelRun struct {
	t           *testing.T
	r           *sessionRig
	g           *gen
	hj          *pgconn.HijackedConn
	s           *session
	status      byte
	history     []string
	compared    int
	audited     int
	divergences int
	// the server's prepared statements and cursors after the last
	// comparison: name → tables of the statement the server holds
	srvStmts, srvCursors map[string][]string
	known                bool // srv* are current
}

func (mt *modelRun) reconnect() {
	if mt.hj != nil {
		mt.hj.Conn.Close()
	}
	mt.hj = mt.r.connect(mt.t)
	mt.s = mt.r.session(mt.t)
	mt.status = 'I'
	mt.srvStmts, mt.srvCursors, mt.known = map[string][]string{}, map[string][]string{}, true
}

func (mt *modelRun) diverged(format string, args ...any) {
	mt.divergences++
	h := mt.history
	if len(h) > 8 {
		h = h[len(h)-8:]
	}
	mt.t.Errorf("divergence: "+format+"\nlast steps:\n  %s", append(args, strings.Join(h, "\n  "))...)
}

// step runs one generated step and compares.
func (mt *modelRun) step(i int) {
	msgs, desc, probe := mt.g.next(mt.status)
	mt.history = append(mt.history, fmt.Sprintf("%d: %s", i, desc))
	before := len(mt.r.requests())
	send(mt.t, mt.hj.Conn, msgs...)
	errs := 0
	var firstErr string
	syncs := 0
	for _, m := range msgs {
		switch m.(type) {
		case *pgproto3.Query, *pgproto3.Sync:
			syncs++
		}
	}
	for n := 0; n < syncs; n++ {
		for _, m := range untilReady(mt.t, mt.hj) {
			switch v := m.(type) {
			case *pgproto3.ErrorResponse:
				if v.Severity == "FATAL" {
					mt.t.Fatalf("session ended: %s", v.Message)
				}
				errs++
				if firstErr == "" {
					firstErr = v.Code + " " + v.Message
				}
			case *pgproto3.ReadyForQuery:
				mt.status = v.TxStatus
			}
		}
	}
	if firstErr != "" {
		mt.history[len(mt.history)-1] += "  → " + firstErr
	}
	if probe != "" && errs == 0 && mt.known {
		mt.checkAudit(probe, mt.r.requests()[before:])
	}
	mt.compare()
}

// checkAudit compares the tables checked for a lone EXECUTE or FETCH that
// the server ran with those of the statement or cursor it ran.
func (mt *modelRun) checkAudit(probe string, reqs []policy.Request) {
	kind, name, _ := strings.Cut(probe, " ")
	var want []string
	var ok bool
	if kind == "EXECUTE" {
		want, ok = mt.srvStmts[name]
	} else {
		want, ok = mt.srvCursors[name]
	}
	if !ok {
		mt.diverged("the server ran %s of %s, which it did not hold before", kind, name)
		return
	}
	if slices.Equal(want, []string{"?"}) {
		return
	}
	for _, q := range reqs {
		if q.SQL.Command != kind {
			continue
		}
		mt.audited++
		if !slices.Equal(q.SQL.Tables, want) {
			mt.diverged("%s %s checked with tables %v; the server ran a statement on %v", kind, name, q.SQL.Tables, want)
		}
		return
	}
	mt.diverged("no checked %s request", kind)
}

// compare reads the server's prepared statements and cursors (in the same
// session, through Airlock) and compares them with Airlock's model.
func (mt *modelRun) compare() {
	mt.known = false
	if mt.status == 'E' { // nothing runs in a failed transaction
		return
	}
	srvStmts := mt.serverTable("SELECT name, statement FROM pg_catalog.pg_prepared_statements", true)
	srvCursors := mt.serverTable("SELECT name, statement FROM pg_catalog.pg_cursors", false)
	if srvStmts == nil || srvCursors == nil {
		return
	}
	mt.srvStmts, mt.srvCursors, mt.known = srvStmts, srvCursors, true
	mt.compared++
	stmts, cursors := airlockModel(mt.s)
	mt.same("prepared statement", stmts, srvStmts)
	if cursors != nil {
		mt.same("cursor", cursors, srvCursors)
	}
}

func (mt *modelRun) same(what string, airlock, server map[string][]string) {
	for name, st := range server {
		at, ok := airlock[name]
		switch {
		case !ok:
			mt.diverged("the server holds %s %s (tables %v); Airlock does not", what, name, st)
		case !slices.Equal(at, st) && !slices.Equal(st, []string{"?"}):
			mt.diverged("%s %s: Airlock has tables %v, the server's statement reads %v", what, name, at, st)
		}
	}
	for name, at := range airlock {
		if _, ok := server[name]; !ok {
			mt.diverged("Airlock holds %s %s (tables %v); the server does not", what, name, at)
		}
	}
}

// serverTable runs a catalog query whose rows are (name, statement) and
// classifies each statement for its tables.
func (mt *modelRun) serverTable(sql string, prepared bool) map[string][]string {
	send(mt.t, mt.hj.Conn, &pgproto3.Query{String: sql})
	out := map[string][]string{}
	for _, m := range untilReady(mt.t, mt.hj) {
		switch v := m.(type) {
		case *pgproto3.ErrorResponse:
			mt.t.Fatalf("%s: %s", sql, v.Message)
		case *pgproto3.DataRow:
			name, text := string(v.Values[0]), string(v.Values[1])
			st, err := mt.s.h.cfg.Classifier.Classify(text)
			if err != nil || len(st) == 0 {
				mt.t.Fatalf("classify the server's %q: %v", text, err)
			}
			// The server shows the whole query string: find the statement
			// that made this one (the last that could have).
			found := len(st) == 1 && st[0].Prepare == nil && st[0].SQL.Command != "DECLARE CURSOR"
			tables := st[0].SQL.Tables
			facts := factsOf(text, st)
			makers := 0
			for i := range st {
				switch {
				case prepared && st[i].Prepare != nil && st[i].Prepare.Name == name:
					tables, found = st[i].Prepare.Inner.Tables, true
					makers++
				case !prepared && facts != nil && st[i].SQL.Command == "DECLARE CURSOR" && facts[i].cursor == name:
					tables, found = st[i].SQL.Tables, true
					makers++
				}
			}
			hasPrepare := false
			for i := range st {
				hasPrepare = hasPrepare || st[i].Prepare != nil
			}
			if !found || makers > 1 || (!prepared && hasPrepare) {
				// A protocol portal shows its statement's text (the whole
				// query string that prepared it), and a string with two
				// statements of the same name does not say which one
				// stands; a portal bound to a statement PREPAREd in a string
				// that also DECLAREs a cursor of the portal's name shows that
				// string too: compare the name only.
				tables = []string{"?"}
			}
			out[name] = tables
		}
	}
	return out
}

// requests returns a copy of the checked requests so far.
func (r *sessionRig) requests() []policy.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// gen generates steps.
type gen struct {
	rng *rand.Rand
}

var (
	genStmts   = []string{"p1", "p2", "p3"}
	genCursors = []string{"c1", "c2"}
	genSaves   = []string{"s1", "s2"}
	genQueries = []string{
		"SELECT * FROM a", "SELECT id FROM b WHERE id > 3", "SELECT v FROM c", "SELECT a.id FROM a JOIN b USING (id)",
		"SELECT nosuchcol FROM a",     // refused at PREPARE/Parse
		"SELECT 1 / (id - id) FROM b", // fails when run
	}
)

func (g *gen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

// sqlStmt returns one random SQL statement (simple protocol text) and,
// for a lone EXECUTE/FETCH, what to probe.
func (g *gen) sqlStmt() (string, string) {
	switch g.rng.IntN(17) {
	case 0, 1:
		return "PREPARE " + g.pick(genStmts) + " AS " + g.pick(genQueries), ""
	case 2, 3:
		p := g.pick(genStmts)
		return "EXECUTE " + p, "EXECUTE " + p
	case 4:
		return "DEALLOCATE " + g.pick(genStmts), ""
	case 5:
		if g.rng.IntN(3) == 0 {
			return "DEALLOCATE ALL", ""
		}
		return "BEGIN", ""
	case 6:
		return g.pick([]string{"BEGIN", "COMMIT", "ROLLBACK", "END", "ABORT"}), ""
	case 7:
		return "SAVEPOINT " + g.pick(genSaves), ""
	case 8:
		return "ROLLBACK TO SAVEPOINT " + g.pick(genSaves), ""
	case 9:
		return "RELEASE SAVEPOINT " + g.pick(genSaves), ""
	case 10, 11:
		hold := ""
		if g.rng.IntN(2) == 0 {
			hold = " WITH HOLD"
		}
		return "DECLARE " + g.pick(genCursors) + " CURSOR" + hold + " FOR " + g.pick(genQueries), ""
	case 12:
		c := g.pick(genCursors)
		if g.rng.IntN(2) == 0 {
			return "MOVE FORWARD 1 IN " + c, "MOVE " + c
		}
		return "FETCH 2 FROM " + c, "FETCH " + c
	case 13:
		if g.rng.IntN(4) == 0 {
			return "CLOSE ALL", ""
		}
		return "CLOSE " + g.pick(genCursors), ""
	case 14:
		return "SELECT 1/0", ""
	case 15:
		return g.pick([]string{"DISCARD ALL", "SELECT 1"}), "" // DISCARD ALL drops every statement and cursor
	}
	return "SELECT count(*) FROM a", ""
}

// next returns the messages of one step, a description, and the lone
// EXECUTE/FETCH to probe, if the step is one.
func (g *gen) next(status byte) ([]pgproto3.FrontendMessage, string, string) {
	if status == 'E' && g.rng.IntN(3) > 0 { // mostly leave a failed transaction
		s := g.pick([]string{"ROLLBACK", "ROLLBACK TO SAVEPOINT s1", "ROLLBACK TO SAVEPOINT s2", "COMMIT"})
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: s}}, s, ""
	}
	switch g.rng.IntN(10) {
	case 0, 1, 2, 3: // one statement
		s, probe := g.sqlStmt()
		if g.rng.IntN(3) == 0 { // probe often
			p := g.pick(append(genStmts, genCursors...))
			s, probe = "EXECUTE "+p, "EXECUTE "+p
			if strings.HasPrefix(p, "c") {
				s, probe = "FETCH 1 FROM "+p, "FETCH "+p
			}
		}
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: s}}, s, probe
	case 4: // several statements in one Query
		n := 2 + g.rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i], _ = g.sqlStmt()
		}
		s := strings.Join(parts, "; ")
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: s}}, s, ""
	case 5: // several Queries in one write
		n := 2 + g.rng.IntN(3)
		var msgs []pgproto3.FrontendMessage
		var desc []string
		for i := 0; i < n; i++ {
			s, _ := g.sqlStmt()
			msgs = append(msgs, &pgproto3.Query{String: s})
			desc = append(desc, "Q("+s+")")
		}
		return msgs, strings.Join(desc, " "), ""
	}
	// extended protocol: a pipeline of 1–4 units before one Sync
	n := 1 + g.rng.IntN(4)
	var msgs []pgproto3.FrontendMessage
	var desc []string
	for i := 0; i < n; i++ {
		m, d := g.extUnit()
		msgs = append(msgs, m...)
		desc = append(desc, d)
	}
	msgs = append(msgs, &pgproto3.Sync{})
	return msgs, strings.Join(desc, " ") + " S", ""
}

// extUnit is one extended-protocol unit.
func (g *gen) extUnit() ([]pgproto3.FrontendMessage, string) {
	switch g.rng.IntN(8) {
	case 0, 1: // Parse a named statement
		p, q := g.pick(genStmts), g.pick(genQueries)
		return []pgproto3.FrontendMessage{&pgproto3.Parse{Name: p, Query: q}}, "P(" + p + "=" + q + ")"
	case 2: // Bind and Execute a named statement, into a named or the unnamed portal
		p := g.pick(genStmts)
		portal := g.pick([]string{"", "c1", "x1"})
		return []pgproto3.FrontendMessage{&pgproto3.Bind{PreparedStatement: p, DestinationPortal: portal},
			&pgproto3.Execute{Portal: portal, MaxRows: uint32(g.rng.IntN(2))}}, "BE(" + p + "→" + portal + ")"
	case 3: // Close a statement or a portal
		if g.rng.IntN(2) == 0 {
			p := g.pick(genStmts)
			return []pgproto3.FrontendMessage{&pgproto3.Close{ObjectType: 'S', Name: p}}, "C(S " + p + ")"
		}
		c := g.pick(genCursors)
		return []pgproto3.FrontendMessage{&pgproto3.Close{ObjectType: 'P', Name: c}}, "C(P " + c + ")"
	case 4: // Describe a statement
		p := g.pick(genStmts)
		return []pgproto3.FrontendMessage{&pgproto3.Describe{ObjectType: 'S', Name: p}}, "D(" + p + ")"
	}
	// a SQL statement, unnamed, run at once
	s, _ := g.sqlStmt()
	return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: s}, &pgproto3.Bind{}, &pgproto3.Execute{}}, "PBE(" + s + ")"
}
