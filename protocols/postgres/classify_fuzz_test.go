// This file is in package postgres, not postgres_test: FuzzClassify checks
// the unexported pre-scan lexer against PostgreSQL's own (pg_query.Scan),
// and Nesting exports the pre-scan's estimate to the black-box tests.

package postgres

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Nesting is the pre-scan's estimate of text's parse-tree depth, for tests.
func Nesting(text string) int { return nesting(text, 1<<30) }

// FuzzClassify: Classify never panics or crashes; a statement it accepts
// has a kind, a command and sorted, duplicate-free lists; the pre-scan
// lexer never hides (as a string, quoted identifier or comment) text that
// PostgreSQL's lexer sees as tokens; and every table pg_query's Summary
// finds is in the statement's tables.
func FuzzClassify(f *testing.F) {
	c := NewClassifier([]string{"sales"}, "app")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4<<10 || strings.IndexByte(text, 0) >= 0 {
			return
		}
		checkLexer(t, text)
		stmts, err := c.Classify(text)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLong) &&
				!errors.Is(err, ErrTooManyTokens) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("Classify(%q): unexpected error %v", text, err)
			}
			return
		}
		for _, st := range stmts {
			if st.SQL.Kind == "" || st.SQL.Command == "" || len(st.SQL.Kinds) == 0 {
				t.Fatalf("Classify(%q): empty kind or command: %+v", text, st.SQL)
			}
			for _, l := range [][]string{st.SQL.Kinds, st.SQL.Reads, st.SQL.Writes, st.SQL.Tables, st.SQL.Functions, st.SetParams} {
				for i, x := range l {
					if x == "" || i > 0 && l[i-1] >= x {
						t.Fatalf("Classify(%q): list not sorted, unique and non-empty: %q", text, l)
					}
				}
			}
		}
		checkSummary(t, text, stmts)
	})
}

// checkLexer compares the pre-scan's hidden spans with pg_query.Scan's: each
// string, quoted identifier and comment the lexer skips must be one that
// PostgreSQL skips too, and where the lexer gives up (unterminated), so
// must PostgreSQL.
func checkLexer(t *testing.T, text string) {
	res, err := pg_query.Scan(text)
	hidden := map[[2]int]bool{}
	if err == nil {
		for _, tok := range res.Tokens {
			switch tok.Token {
			case pg_query.Token_SCONST, pg_query.Token_USCONST, pg_query.Token_BCONST, pg_query.Token_XCONST,
				pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT, pg_query.Token_UIDENT:
				hidden[[2]int{int(tok.Start), int(tok.End)}] = true
			case pg_query.Token_IDENT:
				if text[tok.Start] == '"' {
					hidden[[2]int{int(tok.Start), int(tok.End)}] = true
				}
			}
		}
	}
	lx := lexer{s: text}
	for {
		tok := lx.next()
		switch tok.kind {
		case tokEOF:
			return
		case tokBad:
			if err == nil {
				t.Fatalf("lexer: %q: unterminated at %d, PostgreSQL's lexer accepts it", text, tok.start)
			}
			return
		case tokString, tokQuoted, tokComment:
			if err == nil && !hidden[[2]int{tok.start, tok.end}] {
				t.Fatalf("lexer: %q: hides %q [%d,%d), PostgreSQL's lexer does not", text, text[tok.start:tok.end], tok.start, tok.end)
			}
		}
	}
}

// checkSummary: the tables pg_query's Summary reports (less CTE names) are
// in the classified tables, by name.
func checkSummary(t *testing.T, text string, stmts []Statement) {
	sum, err := pg_query.Summary(text, -1)
	if err != nil {
		return
	}
	ctes := map[string]bool{}
	for _, n := range sum.CteNames {
		ctes[n] = true
	}
	var all []string
	for _, st := range stmts {
		all = append(all, st.SQL.Tables...)
	}
	for _, tb := range sum.Tables {
		if tb.SchemaName == "" && ctes[tb.TableName] {
			continue
		}
		found := false
		for _, have := range all {
			if tb.SchemaName != "" && have == ident(tb.SchemaName)+"."+ident(tb.TableName) ||
				tb.SchemaName == "" && strings.HasSuffix(have, "."+ident(tb.TableName)) {
				found = true
			}
		}
		if !found {
			t.Fatalf("Classify(%q): Summary finds table %q, tables are %q", text, tb.Name, all)
		}
	}
}

// TestLexerMatchesPostgres runs checkLexer on random soups of the lexemes
// where lexers disagree: quotes of every kind, escapes, dollar tags,
// comment openers and closers, newlines.
func TestLexerMatchesPostgres(t *testing.T) {
	pieces := []string{"'", "''", `E'`, `e'`, `\`, `\'`, `B'`, `X'`, `N'`, `U&'`, `U&"`, `"`, `""`,
		"$$", "$a$", "$b$", "$1", "a$", "$", "--", "/*", "*/", "/**/", "\n", "\r", " ", "\t", "\v", "\f",
		"x", "sel", "1", "1.5", ".5", "1e5", "_", "é", "+", "-", "*", "/", "<>", "::", ";", ",", "(", ")",
		"[", "]", "AND", "case", "end", ".", ":", "&", "|", "?", "@", "#", "%", "^", "~", "!", "=", "<", ">"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkLexer(t, b.String())
	}
}

// TestNestingBoundsTreeDepth generates random expressions and statements
// and checks that the pre-scan's estimate keeps up with the real depth of
// the parse tree (counted in protobuf messages, about two per level): a
// separator that wrongly resets the estimate would show as a tree far
// deeper than its estimate.
func TestNestingBoundsTreeDepth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := exprGen{rng: rng}
	worst := 0.0
	parsed := 0
	const generated = 5000
	for range generated {
		g.budget = 10 + rng.IntN(150)
		text := g.stmt()
		est := nesting(text, 1<<30)
		if est > MaxNesting {
			continue
		}
		tree, err := pg_query.Parse(text)
		if err != nil {
			continue
		}
		parsed++
		d := messageDepth(tree.ProtoReflect())
		if ratio := float64(d) / float64(est+10); ratio > worst {
			worst = ratio
		}
		if d > 2*(est+10) {
			t.Fatalf("tree depth %d, estimate %d: %s", d, est, text)
		}
	}
	t.Logf("%d statements parsed; worst depth/(estimate+10) %.2f", parsed, worst)
	if parsed < generated/4 {
		t.Fatalf("only %d of %d generated statements parse: fix the generator", parsed, generated)
	}
}

func messageDepth(m protoreflect.Message) int {
	deepest := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				deepest = max(deepest, messageDepth(v.List().Get(i).Message()))
			}
		} else {
			deepest = max(deepest, messageDepth(v.Message()))
		}
		return true
	})
	return deepest + 1
}

// exprGen writes random SQL, favouring long chains and nesting.
type exprGen struct {
	rng    *rand.Rand
	budget int
	b      strings.Builder
}

func (g *exprGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

func (g *exprGen) stmt() string {
	g.b.Reset()
	g.sel()
	for g.budget > 0 && g.rng.IntN(4) == 0 {
		g.b.WriteString(g.pick(" UNION ", " UNION ALL ", " EXCEPT ", " INTERSECT "))
		g.sel()
	}
	return g.b.String()
}

func (g *exprGen) sel() {
	g.b.WriteString("SELECT ")
	g.expr()
	for g.budget > 0 && g.rng.IntN(3) == 0 {
		g.b.WriteString(", ")
		g.expr()
	}
	g.b.WriteString(" FROM t0")
	for g.budget > 0 && g.rng.IntN(3) == 0 {
		g.b.WriteString(g.pick(" JOIN t ON ", " LEFT JOIN t USING (a) AND ", " CROSS JOIN t WHERE ", " JOIN t ON "))
		g.expr()
	}
	if g.rng.IntN(2) == 0 {
		g.b.WriteString(" WHERE ")
		g.expr()
	}
}

func (g *exprGen) expr() {
	g.term()
	for g.budget > 0 && g.rng.IntN(5) != 0 {
		g.budget--
		switch g.rng.IntN(10) {
		case 0:
			g.b.WriteString(g.pick(" IS NULL", " IS NOT TRUE", "::int", " COLLATE \"C\"", " AT TIME ZONE 'UTC'", "[1]"))
		case 1:
			g.b.WriteString(" BETWEEN ")
			g.term()
			g.b.WriteString(" AND ")
			g.term()
		case 2:
			g.b.WriteString(g.pick(" AND ", " OR ", " AND NOT "))
			g.term()
		default:
			g.b.WriteString(g.pick(" + ", " - ", " * ", " || ", " = ", " < ", " -> ", " ~ ", " @> "))
			g.term()
		}
	}
}

func (g *exprGen) term() {
	if g.budget <= 0 {
		g.b.WriteString(g.pick("1", "x", "'s'", "t.and", "$1"))
		return
	}
	g.budget--
	switch g.rng.IntN(14) {
	case 0:
		g.b.WriteString("(")
		g.expr()
		g.b.WriteString(")")
	case 1:
		g.b.WriteString(g.pick("NOT ", "- ", "~ "))
		g.term()
	case 2:
		g.b.WriteString("CASE WHEN ")
		g.expr()
		g.b.WriteString(" THEN ")
		g.expr()
		g.b.WriteString(" ELSE ")
		g.expr()
		g.b.WriteString(" END")
	case 3:
		g.b.WriteString("(")
		g.sel()
		g.b.WriteString(")")
	case 4:
		g.b.WriteString(g.pick("f(", "coalesce(", "ROW(", "ARRAY[", "json_array(", "EXISTS (SELECT "))
		open := g.b.String()
		g.expr()
		switch {
		case strings.HasSuffix(open, "ARRAY["):
			g.b.WriteString("]")
		default:
			g.b.WriteString(")")
		}
	case 5:
		g.b.WriteString("x IN (")
		g.expr()
		g.b.WriteString(", ")
		g.expr()
		g.b.WriteString(")")
	default:
		g.b.WriteString(g.pick("1", "x", "'s'", "t.and", "$1", "t.case", "t.end", "2.5", "now()", "\"Q\""))
	}
}
