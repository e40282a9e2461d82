package postgres

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Pinned parameters can change without a ParameterStatus: code the
// classifier cannot see into (a DO block, CALL, a user function) may call
// set_config, and PostgreSQL does not report every parameter (search_path
// is not reported before PostgreSQL 18). After a statement that can run
// such code, Airlock reads every pinned parameter with a query of its own,
// sent before the client's next message and swallowed, and ends the
// session if one changed. Statements that run no such code cost nothing.

// verifyQuery is the query reading the pinned parameters, in names' order.
func verifyQuery(names []string) string {
	if len(names) == 0 {
		return ""
	}
	cols := make([]string, len(names))
	for i, n := range names {
		cols[i] = "pg_catalog.current_setting('" + strings.ReplaceAll(n, "'", "''") + "', true)"
	}
	return "SELECT " + strings.Join(cols, ", ")
}

func pinnedNames(pinned map[string]string) []string {
	names := make([]string, 0, len(pinned))
	for k := range pinned {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// verifyIfDue runs the check when the last statement forwarded could have
// changed a pinned parameter, after reading the server's prepared
// statements and cursors when an error left it unclear whether a PREPARE
// or DEALLOCATE took effect or a cursor WITH HOLD survived. Called before forwarding a message that runs
// something (never inside COPY, never inside an extended-protocol span:
// the check is a simple Query, and the server would take it as the end of
// either).
func (s *session) verifyIfDue() error {
	if s.rep.needsResolve() {
		if err := s.ownQuery(resolveSQL, owed{kind: rStatement, hidden: true, resolve: true}); err != nil {
			return err
		}
	}
	if !s.verifyDue {
		return nil
	}
	s.verifyDue = false
	if s.h.verifySQL == "" || s.pinVals == nil {
		return nil
	}
	s.checks.Add(1)
	return s.ownQuery(s.h.verifySQL, owed{kind: rStatement, hidden: true, verify: true})
}

// resolveSQL lists the server's prepared statements and cursors.
const resolveSQL = "SELECT 's' || name FROM pg_catalog.pg_prepared_statements UNION ALL SELECT 'c' || name FROM pg_catalog.pg_cursors"

// ownQuery sends Airlock's own simple Query (its one statement's entry
// st), its replies hidden from the client, and waits for its end.
func (s *session) ownQuery(sql string, st owed) error {
	done := make(chan struct{})
	s.rep.push(st)
	s.rep.push(owed{kind: rQueryEnd, hidden: true, done: done})
	if err := writeQuery(s, sql); err != nil {
		return err
	}
	if err := s.uw.Flush(); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		return errEnded
	}
}

// noteOpaqueBind marks the span for a check when Bind names a statement
// that can run opaque code.
func (s *session) noteOpaqueBind(stmt string) {
	if s.rep.stmtOpaque(stmt) {
		s.opaque = true
	}
}

// checkVerifyRow compares the check's row with the values the session
// started with.
func (s *session) checkVerifyRow(body []byte) error {
	var row pgproto3.DataRow
	if err := row.Decode(body); err != nil {
		return s.endSession("the check of the pinned session parameters returned a malformed row")
	}
	if len(row.Values) != len(s.pinVals) {
		return s.endSession("the check of the pinned session parameters returned the wrong columns")
	}
	for i, v := range row.Values {
		if (v == nil) != (s.pinVals[i] == nil) || string(v) != string(s.pinVals[i]) {
			return s.endSession(fmt.Sprintf("pinned parameter %s changed from %q to %q",
				s.h.pinnedList[i], s.pinVals[i], v))
		}
	}
	return nil
}
