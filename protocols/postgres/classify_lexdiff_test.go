package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/protocols/postgres"
)

// FuzzLexDifferential runs the classifier against a real PostgreSQL 15 on
// text where lexers can disagree: string constants of every form ('…',
// E'…', U&'…' with and without UESCAPE, N'…', B'…', X'…', continuations
// across newlines, dollar quotes), Unicode escapes, backslashes, nested
// and line comments. For every text the classifier accepts as constant-only
// SELECTs, the server must see the same statements as the classifier (one
// result per classified statement, each a SELECT), return for each plain
// string constant the value PostgreSQL's parser gave the classifier, and
// see the same statements again with standard_conforming_strings off (the
// classifier refuses text that would lex differently there). Without a
// PostgreSQL server it skips. Seeds: testdata/fuzz/FuzzLexDifferential.
func FuzzLexDifferential(f *testing.F) {
	for _, s := range []string{
		`SELECT 'a''b', E'c\'d', E'\\', 'e\f'`,
		`SELECT U&'\0041\+000042', U&'!0043' UESCAPE '!', U&"a"`,
		"SELECT 'a'\n'b', 'c' \n\t 'd'",
		`SELECT $$a'b$$, $t$ $$ ' $t$, $1a$`,
		"SELECT /* a /* b */ c */ 'x' -- 'y\n; SELECT 2",
		`SELECT E'\u00e9\x41\101', 'C:\dir', '\d+'`,
		`SELECT N'n', B'101', X'1f', 'x\\'`,
		`SELECT 'a\'' ; SELECT 2; --'`,
		`SELECT 'x\\\' ; SELECT 'y'`,
	} {
		f.Add(s)
	}
	pg := pgtest.Start(f, pgtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	f.Cleanup(cancel)
	conns := map[string]*pgconn.PgConn{}
	for _, scs := range []string{"on", "off"} {
		c, err := pgconn.Connect(ctx, pg.DSN("postgres"))
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { c.Close(context.Background()) })
		if _, err := c.Exec(ctx, "SET standard_conforming_strings = "+scs+"; SET statement_timeout = '2s'").ReadAll(); err != nil {
			f.Fatal(err)
		}
		conns[scs] = c
	}
	cl := postgres.NewClassifier(nil, "postgres")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 2048 {
			return
		}
		stmts, err := cl.Classify(text)
		if err != nil || len(stmts) == 0 {
			return
		}
		for _, st := range stmts {
			if st.SQL.Kind != "select" || st.Guard != "" || len(st.SQL.Tables) > 0 || len(st.SQL.Functions) > 0 ||
				len(st.SQL.Kinds) != 1 || bytes.ContainsAny([]byte(text), "\x00") {
				return // run only constant-only SELECTs on the server
			}
		}
		want := constants(text)
		for _, scs := range []string{"on", "off"} {
			results, err := conns[scs].Exec(ctx, text).ReadAll()
			var pe *pgconn.PgError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("%q: %v", text, err)
			}
			if pe != nil {
				// A statement the server refuses (a bad escape, UESCAPE, an
				// invalid code point): it ran nothing after the error. The
				// classifier's parse is PostgreSQL 17's; skip.
				if pe.Code == "57014" {
					t.Fatalf("%q (standard_conforming_strings %s): timed out", text, scs)
				}
				return
			}
			if len(results) != len(stmts) {
				t.Fatalf("%q (standard_conforming_strings %s): the server ran %d statements, the classifier saw %d",
					text, scs, len(results), len(stmts))
			}
			for i, r := range results {
				if tag := r.CommandTag.String(); len(tag) < 6 || tag[:6] != "SELECT" {
					t.Fatalf("%q (standard_conforming_strings %s): statement %d ran as %q", text, scs, i, tag)
				}
				if scs != "on" || i >= len(want) || len(r.Rows) != 1 {
					continue
				}
				for j, v := range want[i] {
					if v.ok && j < len(r.Rows[0]) && string(r.Rows[0][j]) != v.s {
						t.Fatalf("%q: statement %d column %d: the server returned %q, the classifier's parser read %q",
							text, i, j, r.Rows[0][j], v.s)
					}
				}
			}
		}
	})
}

type constant struct {
	s  string
	ok bool // a plain string constant in the select list
}

// constants returns, per statement, the select list's plain string
// constants as PostgreSQL's parser (pg_query) reads them.
func constants(text string) [][]constant {
	tree, err := pg_query.Parse(text)
	if err != nil {
		return nil
	}
	var out [][]constant
	for _, raw := range tree.GetStmts() {
		var row []constant
		for _, tl := range raw.GetStmt().GetSelectStmt().GetTargetList() {
			c := tl.GetResTarget().GetVal().GetAConst()
			if c != nil && c.GetSval() != nil {
				row = append(row, constant{c.GetSval().GetSval(), true})
			} else {
				row = append(row, constant{})
			}
		}
		out = append(out, row)
	}
	return out
}
