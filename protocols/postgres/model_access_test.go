package postgres

import "slices"

// airlockModel reads Airlock's model of a session: prepared statements
// (named ones: the server lists no unnamed one) and SQL cursors, each with
// the tables Airlock holds for it.
func airlockModel(s *session) (stmts, cursors map[string][]string) {
	m := s.rep.snapshot()
	stmts, cursors = map[string][]string{}, map[string][]string{}
	for k, v := range m.stmts {
		if k != "" {
			stmts[k] = slices.Clone(v.sql.Tables)
		}
	}
	for k, v := range m.portals {
		if v.cursor {
			cursors[k] = slices.Clone(v.sql.Tables)
		}
	}
	return stmts, cursors
}
