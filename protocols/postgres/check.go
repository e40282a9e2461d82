package postgres

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/policy"
)

// planned is one allowed statement: what it does, as checked, and its
// effects on the session once the server completes it.
type planned struct {
	sql    policy.SQL
	fx     []sqlEffect
	opaque bool
}

// onQuery checks every statement of a simple Query; all must be allowed or
// the upstream gets the raise statement instead.
func (s *session) onQuery(n int) error {
	if err := s.verifyIfDue(); err != nil {
		return err
	}
	body, err := s.cr.body(s.buf, n, s.h.cfg.MaxMessage)
	s.buf = body
	var text string
	if err == nil {
		text, _, _ = cstring(body)
	} else if !errors.Is(err, errTooLong) {
		return err
	}
	ok, reason, id, plan, err := s.checkText(text, err)
	if err != nil {
		return err
	}
	if !ok {
		s.rep.push(owed{kind: rStatement})
		s.rep.push(owed{kind: rQueryEnd})
		return writeQuery(s, raiseSQL(reason, id))
	}
	if len(plan) == 0 { // EmptyQueryResponse
		s.rep.push(owed{kind: rStatement})
	}
	for i := range plan {
		s.rep.push(owed{kind: rStatement, fx: plan[i].fx})
		s.verifyDue = s.verifyDue || plan[i].opaque
	}
	s.rep.push(owed{kind: rQueryEnd})
	return writeFrame(s.uw, 'Q', body)
}

// onParse checks a Parse's statement. A denied one is replaced by an
// unnamed Parse/Bind/Execute of the raise statement: the server fails at
// that Execute and skips to Sync, as it would have for a failed Parse; the
// ParseComplete and BindComplete of the injection are swallowed.
func (s *session) onParse(n int) error {
	if err := s.verifyIfDue(); err != nil {
		return err
	}
	body, err := s.cr.body(s.buf, n, s.h.cfg.MaxMessage)
	s.buf = body
	var name, text string
	if err == nil {
		var rest []byte
		var ok bool
		name, rest, _ = cstring(body)
		if text, _, ok = cstring(rest); !ok {
			return errors.New("protocol violation: malformed Parse")
		}
	} else if !errors.Is(err, errTooLong) {
		return err
	}
	ok, reason, id, plan, err := s.checkText(text, err)
	if err != nil {
		return err
	}
	if !ok {
		return s.inject(raiseSQL(reason, id))
	}
	info := &stmtInfo{}
	if len(plan) > 0 { // more than one is the server's error to give
		info = &stmtInfo{sql: plan[0].sql, fx: plan[0].fx, opaque: plan[0].opaque}
	}
	s.opaque = s.opaque || info.opaque
	s.rep.push(owed{kind: rParse, name: name, info: info})
	return writeFrame(s.uw, 'P', body)
}

// inject sends an unnamed Parse/Bind/Execute of sql in place of a denied
// Parse.
func (s *session) inject(sql string) error {
	for _, m := range []interface{ Encode([]byte) ([]byte, error) }{
		&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{},
	} {
		if err := encodeTo(s.uw, m); err != nil {
			return err
		}
	}
	s.rep.push(owed{kind: rParse, hidden: true})
	s.rep.push(owed{kind: rBind, hidden: true})
	s.rep.push(owed{kind: rExecute})
	return nil
}

// onFunctionCall denies the fast-path FunctionCall message (a guard rail):
// the server gets a simple Query of the raise statement, which answers
// ErrorResponse and ReadyForQuery, as the client expects.
func (s *session) onFunctionCall(n int) error {
	if _, err := s.cr.r.Discard(n); err != nil {
		return err
	}
	if err := s.verifyIfDue(); err != nil {
		return err
	}
	d, id := s.guard("FunctionCall messages are never allowed", "function_call")
	s.rep.push(owed{kind: rStatement})
	s.rep.push(owed{kind: rQueryEnd})
	return writeQuery(s, raiseSQL(d.Reason, id))
}

func writeQuery(s *session, sql string) error {
	b, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		return err
	}
	_, err = s.uw.Write(b)
	return err
}

// checkText classifies text and checks each statement in turn. It returns
// whether all are allowed, for the first denied one the reason and its
// request id, and for allowed text each statement's plan. readErr is the
// error reading the text (too long). An error means the session ends.
func (s *session) checkText(text string, readErr error) (bool, string, string, []planned, error) {
	var (
		stmts  []Statement
		cached bool
		err    error
	)
	if readErr != nil {
		err = fmt.Errorf("statement longer than %d bytes", s.h.cfg.MaxMessage)
	} else {
		stmts, cached, err = s.h.classify(text)
	}
	if err != nil {
		d, id := s.guardText("statement cannot be checked: "+err.Error(), "unparsed", text)
		return false, d.Reason, id, nil, nil
	}
	facts := factsOf(text, stmts)
	var view *model
	if needsView(stmts) {
		if err := s.waitSettled(); err != nil {
			return false, "", "", nil, err
		}
		view = s.rep.speculate()
	}
	plan := make([]planned, len(stmts))
	for i := range stmts {
		var f nameFacts
		if facts != nil {
			f = facts[i]
		}
		req, merged := s.request(&stmts[i], f, view)
		if cached && !merged {
			// The same statement shape decides the same (the engine
			// ignores Memo for a tripped guard rail).
			req.Memo = &stmts[i]
		}
		d := s.h.cfg.Check(&req)
		if !d.Allow {
			return false, d.Reason, req.ID, nil, nil
		}
		// A reset is checked like opaque code: the pinned values are read
		// back before the next statement, and a change ends the session.
		op := isOpaque(&req.SQL) || restoresPinned(&stmts[i])
		plan[i] = planned{sql: req.SQL, fx: effectsOf(&stmts[i], f, &req.SQL, op), opaque: op}
		if view != nil { // later statements of the text see this one's effects
			view.complete(plan[i].fx, "")
		}
	}
	return true, "", "", plan, nil
}

// needsView reports whether checking stmts needs the session model:
// EXECUTE needs the prepared statement, FETCH and MOVE the cursor.
func needsView(stmts []Statement) bool {
	for i := range stmts {
		if stmts[i].Execute != "" || stmts[i].SQL.Command == "FETCH" || stmts[i].SQL.Command == "MOVE" {
			return true
		}
	}
	return false
}

// waitSettled waits until the server has answered every message of
// earlier spans (before the last Sync or Query) that could change prepared
// statements or portals: whether they succeed is the server's to say, and
// a statement sent now runs whatever they leave. Messages of the current
// span need no wait: if one fails, the server skips what follows.
func (s *session) waitSettled() error {
	span := s.rep.currentSpan()
	for {
		ch := s.rep.settled(span)
		if ch == nil {
			return nil
		}
		if err := s.uw.Flush(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-s.done:
			return errEnded
		}
	}
}

// restoresPinned reports whether st resets session parameters: RESET (one
// or ALL) and DISCARD ALL. A reset returns a
// parameter to its value from the startup packet, where Airlock puts the
// pinned values, so it cannot unpin one (role and session_authorization
// are not reset by RESET ALL at all, and DISCARD ALL resets the session
// user to the login role). Airlock still reads the pinned values back
// after it and ends the session if one differs.
func restoresPinned(st *Statement) bool {
	switch st.SQL.Command {
	case "RESET", "DISCARD ALL":
		return true
	}
	return false
}

// request builds the policy request for one statement; merged reports
// that it carries tables from the session model (EXECUTE's prepared
// statement, FETCH's cursor), so it is not the cached statement's alone.
func (s *session) request(st *Statement, f nameFacts, view *model) (policy.Request, bool) {
	req := policy.Request{Protocol: policy.ProtocolPostgres, Conn: s.conn, SQL: st.SQL, Guard: st.Guard}
	req.SQL.Database = s.h.cfg.Database
	if req.Guard == "" {
		for _, p := range st.SetParams {
			_, pinned := s.h.pinned[p]
			if (pinned || p == "all") && st.SQL.Command != "SHOW" && !restoresPinned(st) {
				req.Guard = "the session parameter " + p + " is pinned"
				break
			}
		}
	}
	merged := false
	if st.Execute != "" && req.Guard == "" {
		inner, ok := view.stmts[st.Execute]
		if !ok {
			req.Guard = "EXECUTE of " + st.Execute + ", which Airlock did not see prepared"
		} else {
			// Merge, never replace: CREATE TABLE x AS EXECUTE p writes x as
			// well as whatever p touches.
			req.SQL.Reads = union(req.SQL.Reads, inner.sql.Reads)
			req.SQL.Writes = union(req.SQL.Writes, inner.sql.Writes)
			req.SQL.Tables = union(req.SQL.Tables, inner.sql.Tables)
			req.SQL.Functions = union(req.SQL.Functions, inner.sql.Functions)
			req.SQL.Kinds = union(req.SQL.Kinds, inner.sql.Kinds)
			merged = true
		}
	}
	if (st.SQL.Command == "FETCH" || st.SQL.Command == "MOVE") && view != nil {
		// The decision made at DECLARE stands; the record names what the
		// rows come from.
		if p, ok := view.portals[f.cursor]; ok && f.cursor != "" {
			req.SQL.Reads = union(req.SQL.Reads, p.sql.Reads)
			req.SQL.Tables = union(req.SQL.Tables, p.sql.Tables)
			req.SQL.Functions = union(req.SQL.Functions, p.sql.Functions)
			merged = true
		} else if req.Guard == "" {
			// A cursor Airlock did not see declared was opened by code it
			// cannot see into (a function returning a refcursor): what its
			// rows come from was never checked.
			req.Guard = st.SQL.Command + " from a cursor Airlock did not see declared"
		}
	}
	return req, merged
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
