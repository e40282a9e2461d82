package postgres

import (
	"maps"
	"slices"
	"strings"

	"github.com/airlockproxy/airlock/policy"
)

// The session model: what Airlock knows of the upstream session's prepared
// statements (SQL PREPARE and protocol Parse share one namespace, as they
// do in the server), portals (SQL cursors and protocol portals, likewise)
// and open savepoints. It changes only when the server confirms a change
// (see replies.go), with PostgreSQL's transaction rules: prepared
// statements are not transactional; a portal lives until its transaction
// ends unless it is a cursor WITH HOLD and the transaction commits; rolling
// back to a savepoint drops the portals created after it.

// stmtInfo is one prepared statement.
type stmtInfo struct {
	sql    policy.SQL  // what it does when executed (for EXECUTE's check)
	fx     []sqlEffect // its effects on the session when executed
	opaque bool        // it can run code the classifier cannot see into
}

// portalInfo is one portal: a cursor (DECLARE) or a protocol portal (Bind).
type portalInfo struct {
	sql    policy.SQL
	fx     []sqlEffect
	opaque bool
	cursor bool // pg_cursors lists it: DECLAREd or Bound (a simple Query's portal is not)
	hold   bool // WITH HOLD: survives its transaction's commit
	inTxn  bool // created in the transaction in progress
	depth  int  // savepoints open when it was created
}

type sqlOp uint8

const (
	opPrepare sqlOp = iota + 1
	opDeallocate
	opDeallocateAll
	opDeclare
	opClose
	opCloseAll
	opDiscardAll
	opSavepoint
	opRelease
	opRollbackTo
)

// sqlEffect is one SQL statement's effect on the session, applied when the
// server completes the statement.
type sqlEffect struct {
	op     sqlOp
	name   string
	sql    policy.SQL
	hold   bool
	opaque bool
}

// model is the session state. Its methods are not safe for concurrent use;
// replies guards it.
type model struct {
	stmts      map[string]stmtInfo
	portals    map[string]portalInfo
	savepoints []string
	failed     bool // an error since the last ReadyForQuery
}

func newModel() *model {
	return &model{stmts: map[string]stmtInfo{}, portals: map[string]portalInfo{}}
}

func (m *model) clone() *model {
	return &model{stmts: maps.Clone(m.stmts), portals: maps.Clone(m.portals),
		savepoints: slices.Clone(m.savepoints), failed: m.failed}
}

// effectsOf turns a checked statement into its effects on the session.
func effectsOf(st *Statement, f nameFacts, req *policy.SQL, opaque bool) []sqlEffect {
	switch {
	case st.Prepare != nil:
		inner := st.Prepare.Inner
		return []sqlEffect{{op: opPrepare, name: st.Prepare.Name, sql: inner, opaque: isOpaque(&inner)}}
	case st.SQL.Command == "DISCARD ALL":
		return []sqlEffect{{op: opDiscardAll}}
	case st.Deallocate == "*":
		return []sqlEffect{{op: opDeallocateAll}}
	case st.Deallocate != "":
		return []sqlEffect{{op: opDeallocate, name: st.Deallocate}}
	}
	switch st.SQL.Command {
	case "DECLARE CURSOR":
		if f.cursor != "" {
			return []sqlEffect{{op: opDeclare, name: f.cursor, sql: *req, hold: f.hold, opaque: opaque}}
		}
	case "CLOSE CURSOR":
		if f.cursor != "" {
			return []sqlEffect{{op: opClose, name: f.cursor}}
		}
	case "CLOSE CURSOR ALL":
		return []sqlEffect{{op: opCloseAll}}
	case "SAVEPOINT":
		return []sqlEffect{{op: opSavepoint, name: f.savepoint}}
	case "RELEASE":
		return []sqlEffect{{op: opRelease, name: f.savepoint}}
	case "ROLLBACK":
		if f.rollbackTo {
			return []sqlEffect{{op: opRollbackTo, name: f.savepoint}}
		}
	}
	return nil
}

// isOpaque reports whether running sql can run code the classifier cannot
// see into: a DO block, CALL, or a function outside pg_catalog.
func isOpaque(sql *policy.SQL) bool {
	if slices.Contains(sql.Kinds, "do") || slices.Contains(sql.Kinds, "call") ||
		sql.Kind == "do" || sql.Kind == "call" {
		return true
	}
	for _, f := range sql.Functions {
		if !strings.HasPrefix(f, "pg_catalog.") {
			return true
		}
	}
	return false
}

// complete applies a completed SQL statement's effects and its command tag
// (COMMIT and ROLLBACK end the transaction).
func (m *model) complete(fx []sqlEffect, tag string) {
	rolledBackTo := false
	for _, e := range fx {
		m.apply(e)
		rolledBackTo = rolledBackTo || e.op == opRollbackTo
	}
	switch {
	case tag == "COMMIT" || tag == "PREPARE TRANSACTION":
		m.endTxn(false)
	case tag == "ROLLBACK" && !rolledBackTo:
		m.endTxn(true)
	}
}

func (m *model) apply(e sqlEffect) {
	switch e.op {
	case opPrepare:
		m.stmts[e.name] = stmtInfo{sql: e.sql, opaque: e.opaque}
	case opDeallocate:
		delete(m.stmts, e.name)
	case opDeallocateAll:
		for k := range m.stmts {
			if k != "" { // the unnamed statement is not in the server's table
				delete(m.stmts, k)
			}
		}
	case opDeclare:
		m.portals[e.name] = portalInfo{sql: e.sql, opaque: e.opaque, cursor: true, hold: e.hold,
			inTxn: true, depth: len(m.savepoints)}
	case opClose:
		delete(m.portals, e.name)
	case opCloseAll:
		clear(m.portals)
	case opDiscardAll:
		clear(m.portals)
		for k := range m.stmts {
			if k != "" {
				delete(m.stmts, k)
			}
		}
	case opSavepoint:
		m.savepoints = append(m.savepoints, e.name)
	case opRelease, opRollbackTo:
		at := -1
		for j := len(m.savepoints) - 1; j >= 0; j-- {
			if m.savepoints[j] == e.name {
				at = j
				break
			}
		}
		if at < 0 {
			return
		}
		for k, p := range m.portals {
			if !p.inTxn || p.depth <= at {
				continue
			}
			if e.op == opRollbackTo {
				delete(m.portals, k)
			} else {
				p.depth = at
				m.portals[k] = p
			}
		}
		if e.op == opRollbackTo {
			m.savepoints = m.savepoints[:at+1]
		} else {
			m.savepoints = m.savepoints[:at]
		}
	}
}

// endTxn ends the transaction in progress: every portal but the cursors
// WITH HOLD of a committed transaction (or of an earlier one) goes.
func (m *model) endTxn(rollback bool) {
	for k, p := range m.portals {
		switch {
		case !p.hold, rollback && p.inTxn:
			delete(m.portals, k)
		default:
			p.inTxn = false
			m.portals[k] = p
		}
	}
	m.savepoints = nil
}

// ready applies ReadyForQuery's transaction status: idle means the
// transaction (implicit or not) has ended, rolled back if it failed.
//
// A failed transaction's cursors WITH HOLD are returned rather than
// applied: when the failure is the commit's (a cursor being materialised),
// the server may already have persisted some of them, in an order Airlock
// cannot see; the caller settles them with the server's own list.
func (m *model) ready(status byte) (held map[string]portalInfo) {
	if status == 'I' {
		if m.failed {
			for k, p := range m.portals {
				if p.hold && p.inTxn {
					if held == nil {
						held = map[string]portalInfo{}
					}
					p.inTxn = false
					held[k] = p
				}
			}
		}
		m.endTxn(m.failed)
	}
	m.failed = false
	return held
}

// bind creates a portal from a prepared statement.
func (m *model) bind(portal, stmt string) {
	s := m.stmts[stmt]
	m.portals[portal] = portalInfo{sql: s.sql, fx: s.fx, opaque: s.opaque, cursor: true,
		inTxn: true, depth: len(m.savepoints)}
}

// simpleQuery applies what every simple Query does: it runs in the
// unnamed statement and portal, so those of the extended protocol are gone.
func (m *model) simpleQuery() {
	delete(m.stmts, "")
	delete(m.portals, "")
}
