package postgres

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// cursorOptHold is PostgreSQL's CURSOR_OPT_HOLD (DECLARE … WITH HOLD).
const cursorOptHold = 0x0020

// nameFacts are the names a statement gives to session state that the
// classification does not carry: cursors and savepoints.
type nameFacts struct {
	cursor     string // DECLARE, FETCH, MOVE, CLOSE
	hold       bool   // DECLARE … WITH HOLD
	savepoint  string // SAVEPOINT, RELEASE, ROLLBACK TO
	rollbackTo bool
	release    bool
}

// needsFacts reports whether a statement's command names a cursor or a
// savepoint, so that the text must be parsed for the name.
func needsFacts(command string) bool {
	switch command {
	case "DECLARE CURSOR", "FETCH", "MOVE", "CLOSE CURSOR", "SAVEPOINT", "RELEASE", "ROLLBACK":
		return true
	}
	return false
}

// factsOf parses text (already classified) again for the names its
// statements give to cursors and savepoints, one entry per statement; nil
// when none needs them or the text does not parse the same way.
func factsOf(text string, stmts []Statement) []nameFacts {
	need := false
	for i := range stmts {
		need = need || needsFacts(stmts[i].SQL.Command)
	}
	if !need {
		return nil
	}
	tree, err := pg_query.Parse(text)
	if err != nil || len(tree.GetStmts()) != len(stmts) {
		return nil
	}
	out := make([]nameFacts, len(stmts))
	for i, raw := range tree.GetStmts() {
		n := raw.GetStmt()
		switch {
		case n.GetDeclareCursorStmt() != nil:
			d := n.GetDeclareCursorStmt()
			out[i] = nameFacts{cursor: d.GetPortalname(), hold: d.GetOptions()&cursorOptHold != 0}
		case n.GetFetchStmt() != nil:
			out[i] = nameFacts{cursor: n.GetFetchStmt().GetPortalname()}
		case n.GetClosePortalStmt() != nil:
			out[i] = nameFacts{cursor: n.GetClosePortalStmt().GetPortalname()}
		case n.GetTransactionStmt() != nil:
			t := n.GetTransactionStmt()
			switch t.GetKind() {
			case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
				out[i] = nameFacts{savepoint: t.GetSavepointName()}
			case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
				out[i] = nameFacts{savepoint: t.GetSavepointName(), release: true}
			case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
				out[i] = nameFacts{savepoint: t.GetSavepointName(), rollbackTo: true}
			}
		}
	}
	return out
}
