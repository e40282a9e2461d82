package postgres

import (
	"strings"
)

// raiseSQL is the statement sent upstream in place of a denied one. The
// server raises the error itself, so the client sees an ordinary
// ErrorResponse (SQLSTATE 42501) and the transaction and pipeline state
// change exactly as they would for any failed statement: inside BEGIN the
// transaction is aborted, in a pipeline the server skips to Sync.
func raiseSQL(reason, requestID string) string {
	return "DO $airlock$BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = '" +
		literal("airlock: "+reason) + "', DETAIL = '" + literal("request_id="+requestID) +
		"', HINT = 'The Airlock policy decides what this task may run; the audit log has the decision.'; END$airlock$"
}

// literal makes s safe inside a single-quoted SQL literal within the dollar
// quoted DO body, whatever standard_conforming_strings says: no quotes
// doubled wrongly, no backslashes, no dollar signs, no control characters.
func literal(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\'':
			return '"'
		case r == '\\' || r == '$':
			return '_'
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, s)
}
