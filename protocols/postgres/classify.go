// SQL classification: statement text in, one policy.SQL per statement out,
// from PostgreSQL's own parser (pg_query, PostgreSQL 17 grammar).
//
// What it does: splits the text into statements, walks each parse tree
// (protobuf) for every relation and function it names, wherever it names
// them, and normalises each statement's text. It trips the built-in guard
// rails below, which no rule can lift. It refuses, before the parser runs,
// text that could crash the parser (see MaxNesting), cost it too much
// memory (MaxTokens, MaxStatements), or that PostgreSQL would lex another
// way with standard_conforming_strings off (see prescan).
//
// What it does not do: it knows no catalog. It cannot see what a view,
// trigger, rule or function body touches when it runs, what an operator
// does, or what a DO block runs; a prepared statement's tables are the
// caller's to remember (Statement.Prepare, .Execute).
//
// Guard rails (Statement.Guard):
//
//	COPY … TO/FROM PROGRAM                  "COPY … PROGRAM is never allowed"
//	COPY … TO/FROM 'file' (server file)     "COPY to or from a server file is never allowed"
//	SET/RESET ROLE, SET/RESET SESSION
//	  AUTHORIZATION (also in a function's
//	  or role's SET clause)                 "SET ROLE is never allowed" …
//	ALTER SYSTEM                            "ALTER SYSTEM is never allowed"
//	writes to pg_catalog.pg_settings        "writing pg_settings changes session parameters …"
//	LOAD                                    "LOAD is never allowed" (loads native code)
//	the functions funcList marks as guard rails (classify_funcs.go): those
//	  that run SQL text (query_to_xml*, ts_stat, ts_rewrite, crosstab*,
//	  connectby, xpath_table, dblink*), read every table of a schema or
//	  database, change session parameters (set_config), reach server
//	  files, the WAL or logical decoding
//	a listed function whose relation argument is not a constant (size and
//	  property functions excepted), or names a relation the classifier
//	  cannot read (an OID)
//	db.schema.name where db is not Classifier.Database
//	                                        "cross-database reference …"
//
// Functions that read or write a relation named by an argument
// (table_to_xml('t'), nextval('s'), pgstattuple('t'), …) and regclass
// constants ('t'::regclass) record that relation in reads or writes; the
// large-object functions read or write pg_catalog.pg_largeobject.
//
// Function guards match the bare function name in any schema. CREATE
// EXTENSION, GRANT, CREATE FUNCTION and the like are not guard rails: they
// are kind "ddl", for rules to decide.
//
// Choices rules depend on:
//   - UPDATE, DELETE and MERGE targets are in both writes and reads (they
//     select rows by the target's contents and RETURNING shows them); an
//     INSERT target is also read when it has RETURNING or ON CONFLICT.
//   - INSERT … ON CONFLICT DO UPDATE adds "update" to kinds; MERGE adds the
//     kinds of its WHEN actions.
//   - SELECT … INTO and CREATE TABLE AS are kind "ddl" (with "select" in
//     kinds), never "select".
//   - Plain EXPLAIN is kind "explain"; its statement's kinds and tables are
//     still recorded. EXPLAIN ANALYZE (unless ANALYZE false/off/0) takes the
//     kind of its statement, with "explain" in kinds.
//   - DECLARE … CURSOR takes the kind of its query; FETCH, MOVE and CLOSE
//     are "utility".
//   - GRANT/REVOKE, COMMENT, SECURITY LABEL, TRUNCATE are "ddl"; their tables
//     are writes. VACUUM, ANALYZE, CLUSTER, REINDEX and REFRESH MATERIALIZED
//     VIEW are "utility" with their tables as writes. LOCK is "lock" with
//     its tables as reads. SET CONSTRAINTS is "transaction".
//   - Schema-wide DDL writes "schema.*": CREATE/DROP/ALTER SCHEMA, GRANT …
//     ON ALL … IN SCHEMA, IMPORT FOREIGN SCHEMA … INTO. DROP OWNED,
//     REASSIGN OWNED and ALTER … ALL IN TABLESPACE write "*".
//   - CREATE VIEW reads what the view's query reads (a view runs with its
//     owner's rights); CREATE TABLE … (LIKE t) and REFERENCES t read t;
//     INHERITS/PARTITION OF/ATTACH PARTITION write the parent.
//   - SetParams holds "all" for RESET ALL, SHOW ALL and DISCARD ALL: every
//     parameter, pinned ones included. ALTER ROLE/DATABASE … SET list their
//     parameter too (later sessions of the role start with it).
//   - Catalog relations that hold data (pg_stats, pg_statistic,
//     pg_stat_activity, pg_authid, pg_largeobject, …: dataRelations) and
//     the functions behind them are listed in reads twice: by name, and
//     marked "data:pg_catalog.pg_stats" (DataMark), so a rule allowing the
//     catalog by prefix does not reach them unless it names them.
//
// Names are rendered as PostgreSQL quotes them (keywords aside): an
// identifier that is not all lower-case letters, digits, _ and $ is
// double-quoted ("My.Schema".t), so a dot always separates schema from name. Unqualified names resolve
// with the pinned search path (Classifier.SearchPath):
//   - a name resolves to the first schema of the path that holds it, and
//     the classifier cannot see which does, so every schema of the path is
//     listed: with search_path "sales, public", FROM orders reads both
//     sales.orders and public.orders (a rule must allow each; a rule that
//     denies either denies the statement). Creating an unqualified object
//     lists every schema too;
//   - pg_catalog is searched first unless the path lists it (PostgreSQL
//     adds it in front). Built-in catalog relations and common built-in
//     functions (the lists in classify_names.go) are found there: when
//     pg_catalog is searched first, they are "pg_catalog.name" only; when
//     it is listed later, the schemas before it are candidates too. Other
//     names are taken to be absent from pg_catalog. A function of another
//     schema that overloads a built-in name with a better-matching
//     signature is not seen: constrain CREATE FUNCTION;
//   - "$user" (the classifier does not know the session's user; creating a
//     schema of that name is DDL rules decide) and pg_temp (the session's
//     own temporary tables, which hold only what its checked statements
//     put there) are not listed; with no schema left, the name is in
//     public;
//   - CREATE TEMP TABLE t writes pg_temp.t; later unqualified references to
//     t are reported in the path's schemas.
//   - unqualified names in CREATE SCHEMA s CREATE TABLE … resolve to s.

package postgres

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/airlockproxy/airlock/policy"
)

// DefaultMaxLen is Classifier.MaxLen when it is zero.
const DefaultMaxLen = 256 << 10

// MaxNesting bounds the pre-scan's estimate of how deep the parse tree of
// a text can be (see nesting). Text above it is refused before the parser
// runs: libpg_query recurses without a stack check (its stack_base_ptr is
// never set) when it serialises the tree (Parse) and when it normalises
// (Normalize), and the process dies of SIGSEGV, which recover cannot catch.
// (Classify no longer calls Normalize; its column is kept for reference.)
//
// Measured with pg_query_go v6.2.5 (libpg_query 17.x) on linux/amd64, glibc;
// first crashing n (TestParserCrashThresholds, in child processes). Go runs
// cgo calls on the thread's own stack, whose size glibc takes from ulimit -s
// (8 MiB by default):
//
//	8 MiB stack                    Parse    Normalize
//	SELECT 1+1+…+1 (n ×+1)         23 797   21 820
//	SELECT 1::int::int…            23 804   21 823
//	SELECT 'a'||'a'||…             23 799   21 822
//	SELECT 1 IS NULL IS NULL…      23 810   26 185
//	SELECT x AT TIME ZONE 'UTC'…   23 804   10 911
//	SELECT 1 UNION SELECT 1…       47 606   26 173
//	FROM t0 JOIN t ON true JOIN…   23 800   21 823
//
// Constructs that nest to the right (brackets, NOT, CASE, ARRAY[, f(,
// subqueries, CTEs) do not crash at 8 MiB: bison's stack limit (YYMAXDEPTH
// 10 000, "memory exhausted") refuses them first. With a 1 MiB stack the
// first crashes come at 2 700–2 960 levels of the chains above, 1 480 of
// NOT, ARRAY[ or f(, 985 of (SELECT …), 740 of json_object(, 770 of nested
// WITH. None of the 42 shapes measured crashes below an estimate of 2 700,
// and the worst costs 388 bytes of stack per unit of the estimate
// (Normalize of 1+1, JOIN and f( chains). MaxNesting = 1 000 therefore
// needs at most ≈0.4 MiB: 21× below the crash at 8 MiB, 2.7× at 1 MiB
// (TestNestingBoundIsSafe runs every shape at the bound in a child with a
// 1 MiB stack). musl's default thread stack (128 KiB) is too small: a musl
// build must raise it (-ldflags=-extldflags=-Wl,-z,stack-size=8388608).
const MaxNesting = 1000

// Classification errors; Classify wraps them. Any error means deny.
var (
	ErrTooLong = errors.New("statement text too long")
	ErrTooDeep = errors.New("statement nested too deeply")
	ErrSyntax  = errors.New("statement does not parse")
)

// Classifier turns SQL text into one policy.SQL per statement. Classify is
// safe for concurrent use (one Classifier serves every connection); do not
// change the fields while it may run.
type Classifier struct {
	// SearchPath is the pinned search_path; unqualified names resolve with
	// it (see the file comment). Empty means "public".
	SearchPath []string
	// Database is the database served; it fills policy.SQL.Database, and a
	// three-part name naming another database trips a guard rail.
	Database string
	// MaxLen bounds the text, in bytes; zero means DefaultMaxLen. Values
	// above DefaultMaxLen are allowed: MaxNesting, not MaxLen, is what keeps
	// the parser safe.
	MaxLen int
}

// NewClassifier returns a Classifier for the pinned search path and database.
func NewClassifier(searchPath []string, database string) *Classifier {
	return &Classifier{SearchPath: slices.Clone(searchPath), Database: database}
}

// Statement is one classified statement.
type Statement struct {
	// SQL is what rules see. Kind, Kinds, Command, Reads, Writes, Tables,
	// Functions, Database and Text (normalised: literals replaced by $n)
	// are set; lists are sorted and free of duplicates.
	SQL policy.SQL
	// Guard, when set, is a built-in guard rail the statement trips, no rule
	// can lift it; the reason, e.g. "COPY … PROGRAM is never allowed".
	Guard string
	// Prepare is set for PREPARE name AS …: the name and the inner
	// statement's classification, for the caller to remember.
	Prepare *Prepared
	// Execute is the prepared statement an EXECUTE names (also under
	// EXPLAIN and CREATE TABLE AS): the caller adds what it remembered of
	// it to this statement's own kinds, tables and functions (CREATE TABLE
	// x AS EXECUTE p still writes x).
	Execute string
	// Deallocate is the prepared statement DEALLOCATE drops; "*" for
	// DEALLOCATE ALL and DISCARD ALL.
	Deallocate string
	// SetParams are the parameters named by SET, RESET, SHOW and
	// set_config (lower-case), so the caller can enforce pinned ones. "all"
	// stands for every parameter (RESET ALL, SHOW ALL, DISCARD ALL).
	SetParams []string

	// byValue is set when the classification depends on a constant's
	// value (a relation named by a string), so its shape does not decide it.
	byValue bool
}

// Prepared is a statement prepared with PREPARE.
type Prepared struct {
	Name  string
	Inner policy.SQL
}

// Classify parses text (one or more statements separated by ';') and
// returns one Statement per statement, in order; text with no statement
// (empty, only comments or semicolons) gives none. An error means "deny":
// text too long, too deeply nested, or does not parse.
func (c *Classifier) Classify(text string) ([]Statement, error) {
	maxLen := c.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	if len(text) > maxLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(text), maxLen)
	}
	if strings.IndexByte(text, 0) >= 0 {
		// The C parser would stop at the NUL and see less than we do.
		return nil, fmt.Errorf("%w: text contains a NUL byte", ErrSyntax)
	}
	if d := nesting(text, MaxNesting); d > MaxNesting {
		return nil, fmt.Errorf("%w: nesting estimate above %d", ErrTooDeep, MaxNesting)
	}
	n, stmts, backslash := prescan(text)
	if n > MaxTokens || stmts > MaxStatements {
		return nil, fmt.Errorf("%w: more than %d tokens or %d statements", ErrTooManyTokens, MaxTokens, MaxStatements)
	}
	if backslash >= 0 {
		return nil, fmt.Errorf("%w: the '…' string at byte %d holds a backslash before a quote, and PostgreSQL would end it at another quote with standard_conforming_strings off; write it as E'…' with the backslash doubled", ErrAmbiguous, backslash)
	}
	tree, err := pg_query.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	out := make([]Statement, 0, len(tree.GetStmts()))
	for _, raw := range tree.GetStmts() {
		src := stmtSource(text, raw)
		st := c.classify(raw.GetStmt())
		st.SQL.Text = normalize(src)
		if st.Prepare != nil {
			if inner, ok := preparedQuery(src); ok {
				st.Prepare.Inner.Text = normalize(inner)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// stmtSource is the statement's own text, located by the parser.
func stmtSource(text string, raw *pg_query.RawStmt) string {
	start := int(raw.GetStmtLocation())
	end := len(text)
	if n := int(raw.GetStmtLen()); n > 0 && start+n <= len(text) {
		end = start + n
	}
	if start < 0 || start > end {
		start = 0
	}
	return strings.TrimSpace(text[start:end])
}

// preparedQuery finds the statement of PREPARE name [(types)] AS statement.
func preparedQuery(src string) (string, bool) {
	lx := lexer{s: src}
	depth := 0
	for {
		t := lx.next()
		switch t.kind {
		case tokEOF, tokBad:
			return "", false
		case tokPunct:
			switch src[t.start] {
			case '(', '[':
				depth++
			case ')', ']':
				depth--
			}
		case tokWord:
			if depth == 0 && strings.EqualFold(src[t.start:t.end], "as") {
				return src[t.end:], true
			}
		}
	}
}

// classify builds the Statement for one parsed statement.
func (c *Classifier) classify(n *pg_query.Node) Statement {
	w := walker{c: c, mode: modeWrite}
	if fd := n.ProtoReflect().WhichOneof(nodeOneof); fd != nil {
		w.top = n.ProtoReflect().Get(fd).Message().Interface()
	}
	w.visit(n)
	reads, writes := sorted(w.reads), sorted(w.writes)
	st := Statement{
		SQL: policy.SQL{
			Kind:      topKind(n),
			Kinds:     sorted(w.kinds),
			Command:   command(n),
			Reads:     reads,
			Writes:    writes,
			Tables:    sorted(append(slices.Clone(reads), writes...)),
			Functions: sorted(w.funcs),
			Database:  c.Database,
		},
		Guard:      w.guard,
		Execute:    w.execute,
		Deallocate: w.dealloc,
		SetParams:  sorted(w.params),
		byValue:    w.byValue,
	}
	if p := n.GetPrepareStmt(); p != nil {
		st.Prepare = &Prepared{Name: p.GetName(), Inner: c.classify(p.GetQuery()).SQL}
	}
	return st
}

func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
