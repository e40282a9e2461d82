// SQL classification: statement text in, one policy.SQL per statement out,
// from PostgreSQL's own parser (pg_query, PostgreSQL 17 grammar).
//
// What it does: splits the text into statements, walks each parse tree
// (protobuf) for every relation and function it names, wherever it names
// them, and normalises each statement's text. It trips the built-in guard
// rails below, which no rule can lift. It refuses, before the parser runs,
// text that could crash the parser (see MaxNesting).
//
// What it does not do: it knows no catalog. It cannot see which schema an
// unqualified name resolves to at run time, what a view, trigger, rule or
// function body touches when it runs (nextval is a function, not a write to
// its sequence), what an operator does, or what a DO block runs; a prepared
// statement's tables are the caller's to remember (Statement.Prepare,
// .Execute).
//
// Guard rails (Statement.Guard):
//
//	COPY … TO/FROM PROGRAM                  "COPY … PROGRAM is never allowed"
//	COPY … TO/FROM 'file' (server file)     "COPY to or from a server file is never allowed"
//	SET/RESET ROLE, SET/RESET SESSION
//	  AUTHORIZATION (also in a function's
//	  or role's SET clause)                 "SET ROLE is never allowed" …
//	set_config(…), anywhere                 "set_config() is never allowed"
//	ALTER SYSTEM                            "ALTER SYSTEM is never allowed"
//	LOAD                                    "LOAD is never allowed" (loads native code)
//	server file access: pg_read_file, pg_read_binary_file, pg_stat_file,
//	  pg_ls_dir, pg_ls_*dir, lo_import, lo_export, adminpack's pg_file_*
//	  and pg_logdir_ls
//	SQL the classifier cannot see: query_to_xml*, table_to_xml*,
//	  schema_to_xml*, database_to_xml*, ts_stat (they run a query or read
//	  a table named in a string)
//	other servers: dblink* (any function whose name starts with dblink)
//	replication: pg_create_{logical,physical}_replication_slot,
//	  pg_logical_slot_* (logical decoding reads every change)
//	db.schema.name where db is not Classifier.Database
//	                                        "cross-database reference …"
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
//     parameter, pinned ones included.
//
// Names are rendered as PostgreSQL quotes them (keywords aside): an
// identifier that is not all lower-case letters, digits, _ and $ is
// double-quoted ("My.Schema".t), so a dot always separates schema from name. Unqualified names resolve
// with the pinned search path (Classifier.SearchPath):
//   - the user schema is its first entry other than "$user" (which the
//     classifier cannot resolve), pg_catalog and pg_temp; "public" if none;
//   - a relation or function resolves to the user schema, except built-in
//     catalog relations and common built-in functions (the lists below),
//     which resolve to pg_catalog when pg_catalog is searched first (not
//     listed, or listed before the user schema), as PostgreSQL does. When
//     pg_catalog is listed after the user schema, a built-in name could be
//     shadowed there, so both "user.name" and "pg_catalog.name" are listed.
//     A built-in function missing from the list is reported in the user
//     schema: a rule may deny it, never wrongly allow a user function.
//   - CREATE TEMP TABLE t writes pg_temp.t; later unqualified references to
//     t are reported in the user schema.
//   - unqualified names in CREATE SCHEMA s CREATE TABLE … resolve to s.

package postgres

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/airlockproxy/airlock/policy"
)

// DefaultMaxLen is Classifier.MaxLen when it is zero.
const DefaultMaxLen = 256 << 10

// MaxNesting bounds the pre-scan's estimate of how deep the parse tree of
// a text can be (see nesting). Text above it is refused before the parser
// runs: libpg_query recurses without a stack check (its stack_base_ptr is
// never set) when it serialises the tree (Parse) and when it normalises
// (Normalize), and the process dies of SIGSEGV, which recover cannot catch.
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
	tree, err := pg_query.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	out := make([]Statement, 0, len(tree.GetStmts()))
	for _, raw := range tree.GetStmts() {
		src := stmtSource(text, raw)
		st := c.classify(raw.GetStmt())
		if st.SQL.Text, err = normalize(src); err != nil {
			return nil, err
		}
		if st.Prepare != nil {
			if inner, ok := preparedQuery(src); ok {
				if st.Prepare.Inner.Text, err = normalize(inner); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func normalize(src string) (string, error) {
	n, err := pg_query.Normalize(src)
	if err != nil {
		return "", fmt.Errorf("%w: normalize: %w", ErrSyntax, err)
	}
	return strings.TrimSpace(n), nil
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

// ---- parse-tree walk ----

type mode uint8

const (
	modeRead mode = iota
	modeWrite
)

// walker collects what one statement's tree names. Relations met in the
// generic walk are recorded in the current mode; statements set the mode
// for their parts.
type walker struct {
	c       *Classifier
	mode    mode
	ctes    []string // CTE names in scope (innermost last)
	schema  string   // CREATE SCHEMA s: unqualified names resolve to s
	kinds   []string
	reads   []string
	writes  []string
	funcs   []string
	params  []string
	guard   string
	execute string
	dealloc string
	top     proto.Message // the statement itself, to tell it from nested ones
}

var nodeOneof = (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().ByName("node")

func (w *walker) visit(m proto.Message) {
	switch n := m.(type) {
	case nil:
	case *pg_query.Node:
		if n == nil {
			return
		}
		r := n.ProtoReflect()
		if fd := r.WhichOneof(nodeOneof); fd != nil {
			w.visit(r.Get(fd).Message().Interface())
		}

	// Leaves: nothing below them names a relation or calls a function.
	case *pg_query.ColumnRef, *pg_query.A_Const, *pg_query.String, *pg_query.Integer,
		*pg_query.Float, *pg_query.Boolean, *pg_query.BitString, *pg_query.TypeName,
		*pg_query.ParamRef, *pg_query.A_Star, *pg_query.RoleSpec, *pg_query.Alias,
		*pg_query.SQLValueFunction, *pg_query.LockingClause:
	case *pg_query.DoStmt:
		w.kind("do")

	case *pg_query.RangeVar:
		if w.mode == modeRead && n.Schemaname == "" && n.Catalogname == "" && slices.Contains(w.ctes, n.Relname) {
			return // a CTE, not a table
		}
		w.rel(n, w.mode)
	case *pg_query.FuncCall:
		w.call(n)
		w.fields(n, "funcname")
	case *pg_query.TableLikeClause:
		w.rel(n.Relation, modeRead)
	case *pg_query.Constraint:
		w.rel(n.Pktable, modeRead)
		w.fields(n, "pktable")

	case *pg_query.SelectStmt:
		w.kind("select")
		defer w.scope(n.WithClause)()
		if n.IntoClause != nil {
			w.kind("ddl")
			w.rel(n.IntoClause.Rel, modeWrite)
		}
		w.in(modeRead, n, "with_clause", "into_clause")
	case *pg_query.InsertStmt:
		w.kind("insert")
		defer w.scope(n.WithClause)()
		w.rel(n.Relation, modeWrite)
		if len(n.ReturningList) > 0 || n.OnConflictClause != nil {
			w.rel(n.Relation, modeRead)
		}
		if n.OnConflictClause.GetAction() == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			w.kind("update")
		}
		if v := n.SelectStmt.GetSelectStmt(); v != nil && len(v.ValuesLists) > 0 && v.WithClause == nil {
			// INSERT … VALUES: the rows are not a select of their own
			// (a subquery inside them is).
			w.in(modeRead, v)
			w.in(modeRead, n, "with_clause", "relation", "select_stmt")
			return
		}
		w.in(modeRead, n, "with_clause", "relation")
	case *pg_query.UpdateStmt:
		w.kind("update")
		defer w.scope(n.WithClause)()
		w.target(n.Relation)
		w.in(modeRead, n, "with_clause", "relation")
	case *pg_query.DeleteStmt:
		w.kind("delete")
		defer w.scope(n.WithClause)()
		w.target(n.Relation)
		w.in(modeRead, n, "with_clause", "relation")
	case *pg_query.MergeStmt:
		w.kind("merge")
		defer w.scope(n.WithClause)()
		w.target(n.Relation)
		for _, c := range n.MergeWhenClauses {
			switch c.GetMergeWhenClause().GetCommandType() {
			case pg_query.CmdType_CMD_INSERT:
				w.kind("insert")
			case pg_query.CmdType_CMD_UPDATE:
				w.kind("update")
			case pg_query.CmdType_CMD_DELETE:
				w.kind("delete")
			}
		}
		w.in(modeRead, n, "with_clause", "relation")
	case *pg_query.CopyStmt:
		switch {
		case n.IsProgram:
			w.trip("COPY … PROGRAM is never allowed")
		case n.Filename != "":
			w.trip("COPY to or from a server file is never allowed")
		}
		if n.IsFrom {
			w.kind("copy_from")
			w.rel(n.Relation, modeWrite)
		} else {
			w.kind("copy_to")
			w.rel(n.Relation, modeRead)
		}
		w.in(modeRead, n, "relation")

	case *pg_query.ExplainStmt:
		w.kind("explain")
		w.fields(n)
	case *pg_query.PrepareStmt:
		w.kind("prepare")
		w.in(modeRead, n)
	case *pg_query.ExecuteStmt:
		w.kind("execute")
		w.execute = n.Name
		w.in(modeRead, n)
	case *pg_query.DeallocateStmt:
		w.kind("deallocate")
		w.dealloc = n.Name
		if n.Isall || n.Name == "" {
			w.dealloc = "*"
		}
	case *pg_query.DiscardStmt:
		w.kind("utility")
		if n.Target == pg_query.DiscardMode_DISCARD_ALL {
			w.dealloc = "*"
			w.params = append(w.params, "all")
		}
	case *pg_query.VariableSetStmt:
		if proto.Message(n) != w.top {
			// A SET clause of CREATE/ALTER FUNCTION or ALTER ROLE/DATABASE:
			// it applies inside the function or to later sessions, not to
			// this one. The role guard rails still hold.
			w.roleRails(strings.ToLower(n.Name), "SET ")
			break
		}
		w.kind("set")
		w.set(n)
	case *pg_query.VariableShowStmt:
		w.kind("set")
		w.params = append(w.params, strings.ToLower(n.Name))
	case *pg_query.AlterSystemStmt:
		w.kind("utility")
		w.trip("ALTER SYSTEM is never allowed")
		w.fields(n)
	case *pg_query.LoadStmt:
		w.kind("utility")
		w.trip("LOAD is never allowed")
	case *pg_query.LockStmt:
		w.kind("lock")
		w.in(modeRead, n)
	case *pg_query.DeclareCursorStmt:
		w.in(modeRead, n)

	case *pg_query.CreateTableAsStmt:
		w.kind("ddl")
		w.rel(n.Into.GetRel(), modeWrite)
		w.in(modeRead, n, "into")
	case *pg_query.ViewStmt:
		w.kind("ddl")
		w.rel(n.View, modeWrite)
		w.in(modeRead, n, "view")
	case *pg_query.CreateTrigStmt:
		w.kind("ddl")
		w.funcName(n.Funcname)
		w.rel(n.Constrrel, modeRead)
		w.in(modeWrite, n, "constrrel")
	case *pg_query.DropStmt:
		w.kind("ddl")
		for _, o := range n.Objects {
			w.object(n.RemoveType, o)
		}
	case *pg_query.CommentStmt:
		w.kind("ddl")
		w.object(n.Objtype, n.Object)
	case *pg_query.SecLabelStmt:
		w.kind("ddl")
		w.object(n.Objtype, n.Object)
	case *pg_query.GrantStmt:
		w.kind("ddl")
		if n.Targtype == pg_query.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA {
			for _, o := range n.Objects {
				w.writes = append(w.writes, ident(o.GetString_().GetSval())+".*")
			}
			return
		}
		w.in(modeWrite, n)
	case *pg_query.RenameStmt:
		w.kind("ddl")
		w.rel(n.Relation, modeWrite)
		switch {
		case n.RenameType == pg_query.ObjectType_OBJECT_SCHEMA:
			w.writes = append(w.writes, ident(n.Subname)+".*", ident(n.Newname)+".*")
		case n.Relation != nil && isRelationType(n.RenameType):
			renamed := &pg_query.RangeVar{Catalogname: n.Relation.Catalogname, Schemaname: n.Relation.Schemaname, Relname: n.Newname}
			w.rel(renamed, modeWrite)
		}
		w.object(n.RenameType, n.Object)
	case *pg_query.AlterObjectSchemaStmt:
		w.kind("ddl")
		if n.Relation != nil {
			w.rel(n.Relation, modeWrite)
			w.rel(&pg_query.RangeVar{Schemaname: n.Newschema, Relname: n.Relation.Relname}, modeWrite)
		}
	case *pg_query.CreateSchemaStmt:
		w.kind("ddl")
		w.writes = append(w.writes, ident(n.Schemaname)+".*")
		saved := w.schema
		w.schema = n.Schemaname
		w.in(modeWrite, n)
		w.schema = saved
	case *pg_query.ImportForeignSchemaStmt:
		w.kind("ddl")
		w.writes = append(w.writes, ident(n.LocalSchema)+".*")
	case *pg_query.AlterTableMoveAllStmt, *pg_query.DropOwnedStmt, *pg_query.ReassignOwnedStmt:
		w.kind("ddl")
		w.writes = append(w.writes, "*") // every relation of a tablespace or role

	default:
		r := m.ProtoReflect()
		name := string(r.Descriptor().Name())
		if strings.HasSuffix(name, "Stmt") {
			w.kind(ownKind(m))
			w.in(modeWrite, m)
			return
		}
		w.fields(m)
	}
}

// in walks m's fields, except skip, with relations recorded in mode md.
func (w *walker) in(md mode, m proto.Message, skip ...string) {
	saved := w.mode
	w.mode = md
	w.fields(m, skip...)
	w.mode = saved
}

// fields walks every message field of m except those named in skip.
func (w *walker) fields(m proto.Message, skip ...string) {
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || slices.Contains(skip, string(fd.Name())) {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				w.visit(l.Get(i).Message().Interface())
			}
		} else if !fd.IsMap() {
			w.visit(v.Message().Interface())
		}
		return true
	})
}

// scope brings a WITH clause's CTE names into scope, walks the CTE bodies,
// and returns the function that ends the scope. A non-recursive CTE sees
// the CTEs before it; a recursive WITH sees all of them everywhere.
func (w *walker) scope(wc *pg_query.WithClause) func() {
	mark := len(w.ctes)
	if wc == nil {
		return func() {}
	}
	if wc.Recursive {
		for _, c := range wc.Ctes {
			w.ctes = append(w.ctes, c.GetCommonTableExpr().GetCtename())
		}
	}
	for _, c := range wc.Ctes {
		cte := c.GetCommonTableExpr()
		w.in(modeRead, cte)
		if !wc.Recursive {
			w.ctes = append(w.ctes, cte.GetCtename())
		}
	}
	return func() { w.ctes = w.ctes[:mark] }
}

func (w *walker) kind(k string) { w.kinds = append(w.kinds, k) }

func (w *walker) trip(reason string) {
	if w.guard == "" {
		w.guard = reason
	}
}

// target records the target of UPDATE, DELETE and MERGE: written, and read.
func (w *walker) target(rv *pg_query.RangeVar) {
	w.rel(rv, modeWrite)
	w.rel(rv, modeRead)
}

func (w *walker) rel(rv *pg_query.RangeVar, md mode) {
	if rv == nil || rv.Relname == "" {
		return
	}
	w.crossDB(rv.Catalogname)
	var names []string
	switch {
	case rv.Schemaname != "":
		names = []string{ident(rv.Schemaname) + "." + ident(rv.Relname)}
	case rv.Relpersistence == "t":
		names = []string{"pg_temp." + ident(rv.Relname)}
	case w.schema != "":
		names = []string{ident(w.schema) + "." + ident(rv.Relname)}
	default:
		names = w.c.resolve(rv.Relname, catalogRelations)
	}
	if md == modeWrite {
		w.writes = append(w.writes, names...)
	} else {
		w.reads = append(w.reads, names...)
	}
}

func (w *walker) crossDB(catalog string) {
	if catalog != "" && catalog != w.c.Database {
		w.trip("cross-database reference to " + ident(catalog))
	}
}

// object records the relation a DROP, COMMENT or SECURITY LABEL names
// (a list of name parts; for a column, the last part is the column).
func (w *walker) object(t pg_query.ObjectType, o *pg_query.Node) {
	parts := nameParts(o)
	if t == pg_query.ObjectType_OBJECT_COLUMN && len(parts) > 1 {
		parts, t = parts[:len(parts)-1], pg_query.ObjectType_OBJECT_TABLE
	}
	switch {
	case t == pg_query.ObjectType_OBJECT_SCHEMA:
		if len(parts) == 0 {
			if s := o.GetString_().GetSval(); s != "" {
				parts = []string{s}
			}
		}
		if len(parts) == 1 {
			w.writes = append(w.writes, ident(parts[0])+".*")
		}
	case isRelationType(t) && len(parts) > 0:
		rv := &pg_query.RangeVar{Relname: parts[len(parts)-1]}
		if len(parts) > 1 {
			rv.Schemaname = parts[len(parts)-2]
		}
		if len(parts) > 2 {
			rv.Catalogname = parts[len(parts)-3]
		}
		w.rel(rv, modeWrite)
	}
}

func nameParts(o *pg_query.Node) []string {
	var parts []string
	for _, p := range o.GetList().GetItems() {
		parts = append(parts, p.GetString_().GetSval())
	}
	return parts
}

func isRelationType(t pg_query.ObjectType) bool {
	switch t {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW,
		pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX,
		pg_query.ObjectType_OBJECT_SEQUENCE, pg_query.ObjectType_OBJECT_FOREIGN_TABLE:
		return true
	}
	return false
}

// call records a function call and trips the function guard rails.
func (w *walker) call(fc *pg_query.FuncCall) {
	name := w.funcName(fc.Funcname)
	if name == "set_config" {
		if len(fc.Args) > 0 {
			if s := fc.Args[0].GetAConst().GetSval(); s != nil && s.Sval != "" {
				w.params = append(w.params, strings.ToLower(s.Sval))
			}
		}
	}
	if reason := guardedFunction(name); reason != "" {
		w.trip(reason)
	}
}

// funcName records a function name and returns its bare name.
func (w *walker) funcName(parts []*pg_query.Node) string {
	var names []string
	for _, p := range parts {
		names = append(names, p.GetString_().GetSval())
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		w.funcs = append(w.funcs, w.c.resolve(names[0], builtinFunctions)...)
	default:
		if len(names) > 2 {
			w.crossDB(names[len(names)-3])
		}
		w.funcs = append(w.funcs, ident(names[len(names)-2])+"."+ident(names[len(names)-1]))
	}
	return names[len(names)-1]
}

// set records the parameters of SET/RESET and trips the role guard rails.
func (w *walker) set(n *pg_query.VariableSetStmt) {
	name := strings.ToLower(n.Name)
	switch {
	case n.Kind == pg_query.VariableSetKind_VAR_RESET_ALL:
		name = "all"
	case n.Kind == pg_query.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION …, SET SESSION CHARACTERISTICS AS TRANSACTION …
		prefix := ""
		if name == "session characteristics" {
			prefix = "default_"
		}
		for _, a := range n.Args {
			if d := a.GetDefElem(); d != nil {
				w.params = append(w.params, prefix+strings.ToLower(d.Defname))
			}
		}
		if name == "transaction snapshot" {
			w.params = append(w.params, "transaction_snapshot")
		}
		return
	}
	w.params = append(w.params, name)
	verb := "SET "
	if n.Kind == pg_query.VariableSetKind_VAR_RESET {
		verb = "RESET "
	}
	w.roleRails(name, verb)
}

// roleRails trips the guard rails on changing the role.
func (w *walker) roleRails(name, verb string) {
	switch name {
	case "role":
		w.trip(verb + "ROLE is never allowed")
	case "session_authorization":
		w.trip(verb + "SESSION AUTHORIZATION is never allowed")
	}
}

// resolve qualifies an unqualified relation or function name (see the file
// comment).
func (c *Classifier) resolve(name string, builtins map[string]bool) []string {
	user, catalogFirst := "public", true
	userAt, catalogAt := -1, -1
	for i, s := range c.SearchPath {
		switch {
		case s == "pg_catalog":
			if catalogAt < 0 {
				catalogAt = i
			}
		case s == "$user" || s == "pg_temp" || strings.HasPrefix(s, "pg_temp_") || s == "":
		case userAt < 0:
			user, userAt = s, i
		}
	}
	if catalogAt >= 0 && userAt >= 0 && catalogAt > userAt {
		catalogFirst = false
	}
	q := ident(user) + "." + ident(name)
	switch {
	case !builtins[name]:
		return []string{q}
	case catalogFirst:
		return []string{"pg_catalog." + ident(name)}
	default:
		return []string{q, "pg_catalog." + ident(name)}
	}
}

// ident renders an identifier as PostgreSQL prints it: quoted unless it is
// lower-case letters, digits, _ and $ (not starting with a digit or $).
func ident(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// ---- kinds and command tags ----

// topKind is a statement's kind (policy.SQL.Kind).
func topKind(n *pg_query.Node) string {
	switch s := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			return "ddl"
		}
	case *pg_query.Node_ExplainStmt:
		if explainAnalyze(s.ExplainStmt.Options) {
			return topKind(s.ExplainStmt.Query)
		}
	case *pg_query.Node_DeclareCursorStmt:
		return topKind(s.DeclareCursorStmt.Query)
	case nil:
		return "utility"
	}
	r := n.ProtoReflect()
	fd := r.WhichOneof(nodeOneof)
	return ownKind(r.Get(fd).Message().Interface())
}

// ownKind is the kind a statement node adds to Kinds.
func ownKind(m proto.Message) string {
	switch n := m.(type) {
	case *pg_query.SelectStmt:
		return "select"
	case *pg_query.InsertStmt:
		return "insert"
	case *pg_query.UpdateStmt:
		return "update"
	case *pg_query.DeleteStmt:
		return "delete"
	case *pg_query.MergeStmt:
		return "merge"
	case *pg_query.CopyStmt:
		if n.IsFrom {
			return "copy_from"
		}
		return "copy_to"
	case *pg_query.ExplainStmt:
		return "explain"
	case *pg_query.PrepareStmt:
		return "prepare"
	case *pg_query.ExecuteStmt:
		return "execute"
	case *pg_query.DeallocateStmt:
		return "deallocate"
	case *pg_query.VariableSetStmt, *pg_query.VariableShowStmt:
		return "set"
	case *pg_query.TransactionStmt, *pg_query.ConstraintsSetStmt:
		return "transaction"
	case *pg_query.CallStmt:
		return "call"
	case *pg_query.DoStmt:
		return "do"
	case *pg_query.LockStmt:
		return "lock"
	case *pg_query.AlterSystemStmt, *pg_query.LoadStmt, *pg_query.VacuumStmt,
		*pg_query.ClusterStmt, *pg_query.ReindexStmt, *pg_query.RefreshMatViewStmt,
		*pg_query.DiscardStmt, *pg_query.CheckPointStmt, *pg_query.ListenStmt,
		*pg_query.UnlistenStmt, *pg_query.NotifyStmt, *pg_query.FetchStmt,
		*pg_query.ClosePortalStmt, *pg_query.DeclareCursorStmt:
		return "utility"
	}
	name := string(m.ProtoReflect().Descriptor().Name())
	for _, p := range []string{"Create", "Alter", "Drop", "Define", "Comment", "SecLabel",
		"Grant", "Rename", "Reassign", "Import", "Rule", "Truncate", "Index", "View", "CompositeType"} {
		if strings.HasPrefix(name, p) {
			return "ddl"
		}
	}
	return "utility"
}

func explainAnalyze(opts []*pg_query.Node) bool {
	analyze := false
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "analyze" {
			continue
		}
		analyze = true
		switch a := d.Arg; {
		case a.GetString_() != nil:
			switch strings.ToLower(a.GetString_().Sval) {
			case "false", "off", "0", "no":
				analyze = false
			}
		case a.GetInteger() != nil:
			analyze = a.GetInteger().Ival != 0
		case a.GetBoolean() != nil:
			analyze = a.GetBoolean().Boolval
		case a.GetAConst() != nil:
			if a.GetAConst().GetIval() != nil && a.GetAConst().GetIval().Ival == 0 && !a.GetAConst().Isnull {
				analyze = false
			}
		}
	}
	return analyze
}

// command is the statement's command tag style name.
func command(n *pg_query.Node) string {
	switch s := n.GetNode().(type) {
	case nil:
		return ""
	case *pg_query.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			return "SELECT INTO"
		}
		return "SELECT"
	case *pg_query.Node_CreateStmt:
		return "CREATE TABLE"
	case *pg_query.Node_CreateTableAsStmt:
		switch {
		case s.CreateTableAsStmt.IsSelectInto:
			return "SELECT INTO"
		case s.CreateTableAsStmt.Objtype == pg_query.ObjectType_OBJECT_MATVIEW:
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE TABLE AS"
	case *pg_query.Node_DropStmt:
		return "DROP " + objectName(s.DropStmt.RemoveType)
	case *pg_query.Node_AlterTableStmt:
		return "ALTER " + objectName(s.AlterTableStmt.Objtype)
	case *pg_query.Node_RenameStmt:
		t := s.RenameStmt.RenameType
		if t == pg_query.ObjectType_OBJECT_COLUMN || t == pg_query.ObjectType_OBJECT_TABCONSTRAINT {
			t = s.RenameStmt.RelationType
		}
		return "ALTER " + objectName(t)
	case *pg_query.Node_AlterObjectSchemaStmt:
		return "ALTER " + objectName(s.AlterObjectSchemaStmt.ObjectType)
	case *pg_query.Node_AlterOwnerStmt:
		return "ALTER " + objectName(s.AlterOwnerStmt.ObjectType)
	case *pg_query.Node_TruncateStmt:
		return "TRUNCATE TABLE"
	case *pg_query.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg_query.Node_ViewStmt:
		return "CREATE VIEW"
	case *pg_query.Node_CreateFunctionStmt:
		if s.CreateFunctionStmt.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.Node_GrantStmt:
		if s.GrantStmt.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.Node_GrantRoleStmt:
		if s.GrantRoleStmt.IsGrant {
			return "GRANT ROLE"
		}
		return "REVOKE ROLE"
	case *pg_query.Node_TransactionStmt:
		return transactionTags[s.TransactionStmt.Kind]
	case *pg_query.Node_VariableSetStmt:
		if k := s.VariableSetStmt.Kind; k == pg_query.VariableSetKind_VAR_RESET || k == pg_query.VariableSetKind_VAR_RESET_ALL {
			return "RESET"
		}
		return "SET"
	case *pg_query.Node_DiscardStmt:
		return "DISCARD " + strings.TrimPrefix(s.DiscardStmt.Target.String(), "DISCARD_")
	case *pg_query.Node_DeallocateStmt:
		if s.DeallocateStmt.Isall || s.DeallocateStmt.Name == "" {
			return "DEALLOCATE ALL"
		}
		return "DEALLOCATE"
	case *pg_query.Node_VacuumStmt:
		if s.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.Node_FetchStmt:
		if s.FetchStmt.Ismove {
			return "MOVE"
		}
		return "FETCH"
	case *pg_query.Node_ClosePortalStmt:
		if s.ClosePortalStmt.Portalname == "" {
			return "CLOSE CURSOR ALL"
		}
		return "CLOSE CURSOR"
	case *pg_query.Node_CommentStmt:
		return "COMMENT"
	case *pg_query.Node_SecLabelStmt:
		return "SECURITY LABEL"
	case *pg_query.Node_ConstraintsSetStmt:
		return "SET CONSTRAINTS"
	case *pg_query.Node_RefreshMatViewStmt:
		return "REFRESH MATERIALIZED VIEW"
	case *pg_query.Node_CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.Node_AlterSeqStmt:
		return "ALTER SEQUENCE"
	case *pg_query.Node_CreateForeignTableStmt:
		return "CREATE FOREIGN TABLE"
	case *pg_query.Node_CreatedbStmt:
		return "CREATE DATABASE"
	case *pg_query.Node_DropdbStmt:
		return "DROP DATABASE"
	case *pg_query.Node_RuleStmt:
		return "CREATE RULE"
	case *pg_query.Node_CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg_query.Node_CreatePlangStmt:
		return "CREATE LANGUAGE"
	case *pg_query.Node_CreateStatsStmt:
		return "CREATE STATISTICS"
	case *pg_query.Node_CreateAmStmt:
		return "CREATE ACCESS METHOD"
	case *pg_query.Node_CreateFdwStmt:
		return "CREATE FOREIGN DATA WRAPPER"
	case *pg_query.Node_CreateForeignServerStmt:
		return "CREATE SERVER"
	case *pg_query.Node_DefineStmt:
		return "CREATE " + objectName(s.DefineStmt.Kind)
	case *pg_query.Node_CompositeTypeStmt, *pg_query.Node_CreateEnumStmt, *pg_query.Node_CreateRangeStmt:
		return "CREATE TYPE"
	case *pg_query.Node_AlterEnumStmt:
		return "ALTER TYPE"
	case *pg_query.Node_CheckPointStmt:
		return "CHECKPOINT"
	}
	r := n.ProtoReflect()
	name := string(r.Get(r.WhichOneof(nodeOneof)).Message().Descriptor().Name())
	if tag, ok := simpleTags[name]; ok {
		return tag
	}
	return tagFromType(name)
}

var transactionTags = map[pg_query.TransactionStmtKind]string{
	pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:             "BEGIN",
	pg_query.TransactionStmtKind_TRANS_STMT_START:             "START TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:            "COMMIT",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:          "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:         "SAVEPOINT",
	pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:           "RELEASE",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:       "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:           "PREPARE TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:   "COMMIT PREPARED",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}

var simpleTags = map[string]string{
	"InsertStmt": "INSERT", "UpdateStmt": "UPDATE", "DeleteStmt": "DELETE", "MergeStmt": "MERGE",
	"CopyStmt": "COPY", "ExplainStmt": "EXPLAIN", "PrepareStmt": "PREPARE", "ExecuteStmt": "EXECUTE",
	"VariableShowStmt": "SHOW", "CallStmt": "CALL", "DoStmt": "DO", "LockStmt": "LOCK TABLE",
	"ListenStmt": "LISTEN", "UnlistenStmt": "UNLISTEN", "NotifyStmt": "NOTIFY", "LoadStmt": "LOAD",
	"DeclareCursorStmt": "DECLARE CURSOR", "AlterSystemStmt": "ALTER SYSTEM", "ClusterStmt": "CLUSTER",
	"ReindexStmt": "REINDEX", "CreateSchemaStmt": "CREATE SCHEMA", "CreateExtensionStmt": "CREATE EXTENSION",
	"AlterExtensionStmt": "ALTER EXTENSION", "CreateRoleStmt": "CREATE ROLE", "AlterRoleStmt": "ALTER ROLE",
	"AlterRoleSetStmt": "ALTER ROLE", "DropRoleStmt": "DROP ROLE", "CreateDomainStmt": "CREATE DOMAIN",
	"AlterDomainStmt": "ALTER DOMAIN", "CreatePolicyStmt": "CREATE POLICY", "AlterPolicyStmt": "ALTER POLICY",
	"CreatePublicationStmt": "CREATE PUBLICATION", "AlterPublicationStmt": "ALTER PUBLICATION",
	"CreateSubscriptionStmt": "CREATE SUBSCRIPTION", "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
	"DropSubscriptionStmt": "DROP SUBSCRIPTION", "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA",
	"CreateUserMappingStmt": "CREATE USER MAPPING", "AlterUserMappingStmt": "ALTER USER MAPPING",
	"DropUserMappingStmt": "DROP USER MAPPING", "DropOwnedStmt": "DROP OWNED", "ReassignOwnedStmt": "REASSIGN OWNED",
	"AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES", "AlterFunctionStmt": "ALTER FUNCTION",
	"CreateEventTrigStmt": "CREATE EVENT TRIGGER", "AlterEventTrigStmt": "ALTER EVENT TRIGGER",
	"CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
	"AlterDatabaseStmt": "ALTER DATABASE", "AlterDatabaseSetStmt": "ALTER DATABASE",
	"CreateCastStmt": "CREATE CAST", "CreateConversionStmt": "CREATE CONVERSION",
	"CreateTransformStmt": "CREATE TRANSFORM", "CreateOpClassStmt": "CREATE OPERATOR CLASS",
	"CreateOpFamilyStmt": "CREATE OPERATOR FAMILY", "AlterOpFamilyStmt": "ALTER OPERATOR FAMILY",
	"AlterOperatorStmt": "ALTER OPERATOR", "AlterTypeStmt": "ALTER TYPE", "AlterStatsStmt": "ALTER STATISTICS",
	"AlterCollationStmt": "ALTER COLLATION", "AlterTableMoveAllStmt": "ALTER TABLE",
}

// tagFromType turns an unlisted node name into a tag: "AlterFdwStmt" → "ALTER FDW".
func tagFromType(name string) string {
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func objectName(t pg_query.ObjectType) string {
	switch t {
	case pg_query.ObjectType_OBJECT_MATVIEW:
		return "MATERIALIZED VIEW"
	case pg_query.ObjectType_OBJECT_FDW:
		return "FOREIGN DATA WRAPPER"
	case pg_query.ObjectType_OBJECT_FOREIGN_SERVER:
		return "SERVER"
	case pg_query.ObjectType_OBJECT_OPCLASS:
		return "OPERATOR CLASS"
	case pg_query.ObjectType_OBJECT_OPFAMILY:
		return "OPERATOR FAMILY"
	case pg_query.ObjectType_OBJECT_LARGEOBJECT:
		return "LARGE OBJECT"
	case pg_query.ObjectType_OBJECT_STATISTIC_EXT:
		return "STATISTICS"
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT, pg_query.ObjectType_OBJECT_DOMCONSTRAINT:
		return "CONSTRAINT"
	case pg_query.ObjectType_OBJECT_TSCONFIGURATION:
		return "TEXT SEARCH CONFIGURATION"
	case pg_query.ObjectType_OBJECT_TSDICTIONARY:
		return "TEXT SEARCH DICTIONARY"
	case pg_query.ObjectType_OBJECT_TSPARSER:
		return "TEXT SEARCH PARSER"
	case pg_query.ObjectType_OBJECT_TSTEMPLATE:
		return "TEXT SEARCH TEMPLATE"
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}

// ---- guarded and built-in names ----

func guardedFunction(name string) string {
	switch {
	case guardedFunctions[name]:
		return name + "() is never allowed"
	case strings.HasPrefix(name, "dblink"):
		return name + "() is never allowed (dblink reaches other servers)"
	case strings.HasPrefix(name, "pg_logical_slot_"):
		return name + "() is never allowed (logical decoding)"
	case strings.HasPrefix(name, "pg_ls_") && strings.HasSuffix(name, "dir"):
		return name + "() is never allowed (server file access)"
	}
	return ""
}

var guardedFunctions = set(`set_config
	lo_import lo_export pg_read_file pg_read_binary_file pg_stat_file pg_ls_dir
	pg_file_write pg_file_rename pg_file_unlink pg_file_sync pg_logdir_ls
	query_to_xml query_to_xmlschema query_to_xml_and_xmlschema
	table_to_xml table_to_xmlschema table_to_xml_and_xmlschema
	schema_to_xml schema_to_xmlschema schema_to_xml_and_xmlschema
	database_to_xml database_to_xmlschema database_to_xml_and_xmlschema ts_stat
	pg_create_logical_replication_slot pg_create_physical_replication_slot`)

// catalogRelations are pg_catalog's tables and views (PostgreSQL 17).
var catalogRelations = set(`pg_aggregate pg_am pg_amop pg_amproc pg_attrdef
	pg_attribute pg_auth_members pg_authid pg_cast pg_class pg_collation
	pg_constraint pg_conversion pg_database pg_db_role_setting pg_default_acl
	pg_depend pg_description pg_enum pg_event_trigger pg_extension
	pg_foreign_data_wrapper pg_foreign_server pg_foreign_table pg_index
	pg_inherits pg_init_privs pg_language pg_largeobject pg_largeobject_metadata
	pg_namespace pg_opclass pg_operator pg_opfamily pg_parameter_acl
	pg_partitioned_table pg_policy pg_proc pg_publication pg_publication_namespace
	pg_publication_rel pg_range pg_replication_origin pg_rewrite pg_seclabel
	pg_sequence pg_shdepend pg_shdescription pg_shseclabel pg_statistic
	pg_statistic_ext pg_statistic_ext_data pg_subscription pg_subscription_rel
	pg_tablespace pg_transform pg_trigger pg_ts_config pg_ts_config_map pg_ts_dict
	pg_ts_parser pg_ts_template pg_type pg_user_mapping
	pg_available_extension_versions pg_available_extensions
	pg_backend_memory_contexts pg_config pg_cursors pg_file_settings pg_group
	pg_hba_file_rules pg_ident_file_mappings pg_indexes pg_locks pg_matviews
	pg_policies pg_prepared_statements pg_prepared_xacts pg_publication_tables
	pg_replication_origin_status pg_replication_slots pg_roles pg_rules
	pg_seclabels pg_sequences pg_settings pg_shadow pg_shmem_allocations pg_stats
	pg_stats_ext pg_stats_ext_exprs pg_tables pg_timezone_abbrevs
	pg_timezone_names pg_user pg_user_mappings pg_views pg_wait_events
	pg_stat_activity pg_stat_all_indexes pg_stat_all_tables pg_stat_archiver
	pg_stat_bgwriter pg_stat_checkpointer pg_stat_database
	pg_stat_database_conflicts pg_stat_gssapi pg_stat_io
	pg_stat_progress_analyze pg_stat_progress_basebackup
	pg_stat_progress_cluster pg_stat_progress_copy pg_stat_progress_create_index
	pg_stat_progress_vacuum pg_stat_recovery_prefetch pg_stat_replication
	pg_stat_replication_slots pg_stat_slru pg_stat_ssl pg_stat_subscription
	pg_stat_subscription_stats pg_stat_sys_indexes pg_stat_sys_tables
	pg_stat_user_functions pg_stat_user_indexes pg_stat_user_tables pg_stat_wal
	pg_stat_wal_receiver pg_stat_xact_all_tables pg_stat_xact_sys_tables
	pg_stat_xact_user_functions pg_stat_xact_user_tables pg_statio_all_indexes
	pg_statio_all_sequences pg_statio_all_tables pg_statio_sys_indexes
	pg_statio_sys_sequences pg_statio_sys_tables pg_statio_user_indexes
	pg_statio_user_sequences pg_statio_user_tables`)

// builtinFunctions are common pg_catalog functions. The list only saves
// false denials: a built-in missing here is reported in the user schema.
var builtinFunctions = set(`
	array_agg avg bit_and bit_or bit_xor bool_and bool_or count every json_agg
	json_agg_strict json_object_agg jsonb_agg jsonb_agg_strict jsonb_object_agg
	max min range_agg range_intersect_agg string_agg sum xmlagg any_value corr
	covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2
	regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp variance
	var_pop var_samp mode percentile_cont percentile_disc rank dense_rank
	percent_rank cume_dist row_number ntile lag lead first_value last_value
	nth_value
	abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10
	min_scale mod pi power radians random random_normal round scale sign sqrt
	trim_scale trunc width_bucket setseed acos acosd asin asind atan atand atan2
	atan2d cos cosd cot cotd sin sind tan tand sinh cosh tanh asinh acosh atanh
	erf erfc
	ascii bit_length btrim char_length character_length chr concat concat_ws
	convert convert_from convert_to decode encode format initcap left length
	lower lpad ltrim md5 normalize octet_length overlay parse_ident position
	quote_ident quote_literal quote_nullable regexp_count regexp_instr
	regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array
	regexp_split_to_table regexp_substr repeat replace reverse right rpad rtrim
	split_part starts_with string_to_array string_to_table strpos substr
	substring to_ascii to_hex to_bin to_oct translate unistr upper sha224 sha256
	sha384 sha512 get_bit get_byte set_bit set_byte bit_count crc32 crc32c
	age clock_timestamp date_add date_bin date_part date_subtract date_trunc
	extract isfinite justify_days justify_hours justify_interval make_date
	make_interval make_time make_timestamp make_timestamptz now
	statement_timestamp timeofday transaction_timestamp to_timestamp to_char
	to_date to_number timezone
	to_json to_jsonb array_to_json row_to_json json_build_array
	jsonb_build_array json_build_object jsonb_build_object json_object
	jsonb_object json_array_elements jsonb_array_elements
	json_array_elements_text jsonb_array_elements_text json_array_length
	jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text
	json_extract_path jsonb_extract_path json_extract_path_text
	jsonb_extract_path_text json_object_keys jsonb_object_keys
	json_populate_record jsonb_populate_record json_populate_recordset
	jsonb_populate_recordset json_to_record jsonb_to_record json_to_recordset
	jsonb_to_recordset json_strip_nulls jsonb_strip_nulls jsonb_set
	jsonb_set_lax jsonb_insert jsonb_pretty json_typeof jsonb_typeof
	jsonb_path_exists jsonb_path_match jsonb_path_query jsonb_path_query_array
	jsonb_path_query_first jsonb_path_exists_tz jsonb_path_match_tz
	jsonb_path_query_tz jsonb_path_query_array_tz jsonb_path_query_first_tz
	array_append array_cat array_dims array_fill array_length array_lower
	array_ndims array_position array_positions array_prepend array_remove
	array_replace array_to_string array_upper cardinality trim_array unnest
	array_sample array_shuffle generate_subscripts generate_series num_nulls
	num_nonnulls
	current_database current_query current_schema current_schemas
	current_setting inet_client_addr inet_client_port inet_server_addr
	inet_server_port pg_backend_pid pg_blocking_pids pg_conf_load_time
	pg_current_logfile pg_my_temp_schema pg_is_other_temp_schema
	pg_jit_available pg_listening_channels pg_notification_queue_usage
	pg_postmaster_start_time pg_safe_snapshot_blocking_pids pg_trigger_depth
	version has_table_privilege has_column_privilege has_database_privilege
	has_function_privilege has_schema_privilege has_sequence_privilege
	has_any_column_privilege has_language_privilege has_tablespace_privilege
	has_type_privilege has_parameter_privilege
	has_foreign_data_wrapper_privilege has_server_privilege pg_has_role
	row_security_active pg_table_is_visible pg_type_is_visible
	pg_function_is_visible pg_get_constraintdef pg_get_expr pg_get_functiondef
	pg_get_function_arguments pg_get_function_identity_arguments
	pg_get_function_result pg_get_indexdef pg_get_keywords pg_get_ruledef
	pg_get_serial_sequence pg_get_statisticsobjdef pg_get_triggerdef
	pg_get_userbyid pg_get_viewdef pg_get_partkeydef pg_index_column_has_property
	pg_index_has_property pg_indexam_has_property pg_options_to_table
	pg_tablespace_databases pg_tablespace_location pg_typeof to_regclass
	to_regcollation to_regnamespace to_regoper to_regoperator to_regproc
	to_regprocedure to_regrole to_regtype to_regtypemod format_type
	obj_description col_description shobj_description pg_describe_object
	pg_identify_object pg_column_size pg_column_compression pg_database_size
	pg_indexes_size pg_relation_size pg_size_bytes pg_size_pretty pg_table_size
	pg_tablespace_size pg_total_relation_size pg_relation_filenode
	pg_relation_filepath pg_filenode_relation pg_encoding_to_char
	pg_char_to_encoding pg_client_encoding pg_partition_tree
	pg_partition_ancestors pg_partition_root pg_input_is_valid
	pg_input_error_info pg_settings_get_flags
	txid_current txid_current_if_assigned txid_current_snapshot
	txid_snapshot_xmax txid_snapshot_xmin txid_snapshot_xip
	txid_visible_in_snapshot txid_status pg_current_xact_id
	pg_current_xact_id_if_assigned pg_current_snapshot pg_snapshot_xip
	pg_snapshot_xmax pg_snapshot_xmin pg_visible_in_snapshot pg_xact_status
	pg_xact_commit_timestamp pg_last_committed_xact pg_is_in_recovery
	pg_last_wal_receive_lsn pg_last_wal_replay_lsn
	pg_last_xact_replay_timestamp pg_current_wal_lsn pg_current_wal_insert_lsn
	pg_current_wal_flush_lsn pg_wal_lsn_diff pg_walfile_name pg_sleep
	pg_sleep_for pg_sleep_until pg_advisory_lock pg_advisory_lock_shared
	pg_advisory_unlock pg_advisory_unlock_all pg_advisory_unlock_shared
	pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_lock
	pg_try_advisory_lock_shared pg_try_advisory_xact_lock
	pg_try_advisory_xact_lock_shared pg_notify pg_cancel_backend
	pg_terminate_backend pg_reload_conf pg_rotate_logfile
	nextval currval setval lastval gen_random_uuid uuid_extract_timestamp
	uuid_extract_version
	int2 int4 int8 float4 float8 numeric text varchar bpchar date time
	timestamp timestamptz interval bool char name oid regclass inet cidr
	macaddr bytea json jsonb uuid xml money
	xmlcomment xmltext xpath xpath_exists xml_is_well_formed
	xml_is_well_formed_document xml_is_well_formed_content
	to_tsvector to_tsquery plainto_tsquery phraseto_tsquery
	websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight strip
	numnode querytree ts_rewrite tsvector_to_array array_to_tsvector ts_delete
	ts_filter get_current_ts_config ts_debug ts_lexize ts_parse ts_token_type
	host hostmask masklen netmask network set_masklen abbrev broadcast family
	inet_merge inet_same_family isempty lower_inc upper_inc lower_inf
	upper_inf range_merge multirange int4range int8range numrange tsrange
	tstzrange daterange int4multirange int8multirange nummultirange
	tsmultirange tstzmultirange datemultirange enum_first enum_last enum_range
	point box circle polygon area center diameter height width radius
	lo_create lo_creat lo_unlink lo_get lo_put lo_from_bytea lo_open lo_close
	loread lowrite lo_lseek lo_lseek64 lo_tell lo_tell64 lo_truncate
	lo_truncate64
	set_config cursor_to_xml cursor_to_xmlschema lo_import lo_export
	pg_read_file pg_read_binary_file pg_stat_file pg_ls_dir pg_ls_logdir
	pg_ls_waldir pg_ls_tmpdir pg_ls_archive_statusdir pg_ls_logicalsnapdir
	pg_ls_logicalmapdir pg_ls_replslotdir query_to_xml query_to_xmlschema
	query_to_xml_and_xmlschema table_to_xml table_to_xmlschema
	table_to_xml_and_xmlschema schema_to_xml schema_to_xmlschema
	schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema
	database_to_xml_and_xmlschema ts_stat pg_create_logical_replication_slot
	pg_create_physical_replication_slot pg_logical_slot_get_changes
	pg_logical_slot_peek_changes pg_logical_slot_get_binary_changes
	pg_logical_slot_peek_binary_changes`)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// ---- pre-scan: a bound on the parse tree's depth, before parsing ----

// nesting returns an upper-bound estimate of the depth of the parse tree
// PostgreSQL builds for text, scanning tokens with PostgreSQL's lexical
// rules; it stops early once the estimate passes limit.
//
// Every token that can add a tree level (a word, a quoted identifier, an
// operator character, '.', ':', a bracket) adds 1 to the current element
// of its bracket level; constants, parameters and comments add nothing.
// Elements that are siblings in the tree are separated by ',', ';', AND,
// OR, ON, WHERE, SELECT, HAVING, RETURNING and, inside CASE … END, WHEN,
// THEN, ELSE: the estimate keeps the deepest finished element and adds the
// current one, so a later token that wraps the whole earlier element (the
// IS NULL in "x BETWEEN a AND b IS NULL") is still counted on top of it.
// JOIN, UNION, INTERSECT and EXCEPT wrap everything before them at their
// level (left-deep JoinExpr and set-operation trees) and are never reset
// within it. A bracket's contents, when it closes, count in full toward
// the element it closes in, so left-recursive chains after it
// ("(…)+1+1…") stack on it. A word after '.' is a column label, never one
// of these keywords (t.and is a column).
func nesting(text string, limit int) int {
	lx := lexer{s: text}
	fs := make([]frame, 1, 8)
	deepest, afterDot := 0, false
	for {
		t := lx.next()
		top := &fs[len(fs)-1]
		dot := false
		switch t.kind {
		case tokEOF, tokBad:
			return deepest
		case tokComment:
			dot = afterDot
		case tokString, tokNumber, tokParam:
		case tokWord:
			if afterDot {
				top.cur++
				break
			}
			class, units := keyword(text[t.start:t.end])
			switch class {
			case kwSep:
				top.sep()
				top.cur += units
			case kwCaseSep:
				if top.isCase {
					top.sep()
				} else {
					top.cur++
				}
			case kwWrap:
				top.wraps++
			case kwCase:
				fs = push(fs, true)
			case kwEnd:
				if top.isCase && len(fs) > 1 {
					fs = pop(fs)
				} else {
					top.cur++
				}
			default:
				top.cur += units
			}
		case tokPunct:
			switch text[t.start] {
			case '(', '[':
				fs = push(fs, false)
			case ')', ']':
				fs = closeBracket(fs)
			case ',':
				top.sep()
			case ';':
				top.sep()
				if len(fs) == 1 { // a new statement
					top.wraps, top.prev = 0, 0
				}
			case '.':
				top.cur++
				dot = true
			default:
				top.cur++
			}
		default: // tokQuoted, tokOp
			top.cur++
		}
		afterDot = dot
		top = &fs[len(fs)-1]
		if rel := top.wraps + top.prev + top.cur; rel > top.max {
			top.max = rel
		}
		if d := top.base + top.max; d > deepest {
			deepest = d
			if d > limit {
				return d
			}
		}
	}
}

// frame is one bracket (or CASE … END) level of the pre-scan.
type frame struct {
	base   int  // estimate where the level starts
	wraps  int  // JOIN, UNION, INTERSECT, EXCEPT at this level
	prev   int  // deepest finished element
	cur    int  // the current element
	max    int  // deepest point inside, relative to base
	isCase bool // CASE … END rather than a bracket
}

func (f *frame) sep() {
	f.prev = max(f.prev, f.cur)
	f.cur = 0
}

func push(fs []frame, isCase bool) []frame {
	p := &fs[len(fs)-1]
	p.cur++
	return append(fs, frame{base: p.base + p.wraps + p.prev + p.cur, isCase: isCase})
}

// pop closes the innermost level; its depth counts in its parent's element.
func pop(fs []frame) []frame {
	c := fs[len(fs)-1]
	fs = fs[:len(fs)-1]
	fs[len(fs)-1].cur += c.max
	return fs
}

// closeBracket closes levels up to and including the innermost bracket
// (an unclosed CASE inside it closes too); a stray one counts as a token.
func closeBracket(fs []frame) []frame {
	for len(fs) > 1 {
		isCase := fs[len(fs)-1].isCase
		fs = pop(fs)
		if !isCase {
			return fs
		}
	}
	fs[0].cur++
	return fs
}

const (
	kwOther   = iota
	kwSep     // separates sibling elements
	kwCaseSep // separates them inside CASE … END
	kwWrap    // wraps everything before it at its level
	kwCase
	kwEnd
)

// keyword classifies a word for the pre-scan, and says how many units it
// adds to the current element. SELECT, NOT and the SQL/JSON constructors
// (JSON_OBJECT, JSON_ARRAY, …: any word starting with "json") count 2: a
// level of them costs the parser about twice the stack of a 1+1 level.
func keyword(w string) (class, units int) {
	if len(w) >= 4 && strings.EqualFold(w[:4], "json") {
		return kwOther, 2
	}
	if len(w) < 2 || len(w) > 9 {
		return kwOther, 1
	}
	var b [9]byte
	for i := 0; i < len(w); i++ {
		b[i] = w[i] | 0x20 // ASCII letters to lower case; others cannot match
	}
	switch string(b[:len(w)]) {
	case "and", "or", "on", "where", "having", "returning":
		return kwSep, 0
	case "select":
		return kwSep, 2
	case "when", "then", "else":
		return kwCaseSep, 0
	case "join", "union", "intersect", "except":
		return kwWrap, 0
	case "case":
		return kwCase, 0
	case "end":
		return kwEnd, 0
	case "not":
		return kwOther, 2
	}
	return kwOther, 1
}

// ---- lexer: PostgreSQL's token boundaries (scan.l), without the grammar ----

type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokWord            // identifier or keyword
	tokQuoted          // "quoted identifier", U&"…"
	tokString          // '…', E'…', B'…', X'…', U&'…', $tag$…$tag$
	tokNumber          // numeric constant
	tokParam           // $1
	tokComment         // -- … and /* … */ (nested)
	tokOp              // one operator character
	tokPunct           // any other single byte
	tokBad             // unterminated string, identifier or comment: a syntax error
)

type token struct {
	kind       tokKind
	start, end int
}

// lexer splits text into tokens as PostgreSQL's lexer does, with
// standard_conforming_strings on (libpg_query's setting). Where it must not
// differ is what it hides: a string, quoted identifier or comment ends
// exactly where PostgreSQL's does (FuzzClassify checks this against
// pg_query.Scan). Operators are split into single characters, so it never
// sees fewer operator tokens than PostgreSQL does.
type lexer struct {
	s string
	i int
}

func (l *lexer) next() token {
	s := l.s
	for l.i < len(s) && isSpace(s[l.i]) {
		l.i++
	}
	start := l.i
	if start >= len(s) {
		return token{tokEOF, start, start}
	}
	c := s[start]
	switch {
	case c == '-' && start+1 < len(s) && s[start+1] == '-':
		j := start + 2
		for j < len(s) && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		return l.tok(tokComment, start, j)
	case c == '/' && start+1 < len(s) && s[start+1] == '*':
		return l.comment(start)
	case c == '\'':
		return l.str(start, start+1, 'q')
	case c == '"':
		return l.quoted(start, start+1)
	case c == '$':
		return l.dollar(start)
	case isDigit(c) || c == '.' && start+1 < len(s) && isDigit(s[start+1]):
		return l.tok(tokNumber, start, number(s, start))
	case isLetter(c):
		j := start + 1
		for j < len(s) && (isLetter(s[j]) || isDigit(s[j]) || s[j] == '$') {
			j++
		}
		if j == start+1 && j < len(s) { // E'…', B'…', X'…', U&'…', U&"…" (N'…' is NCHAR '…')
			switch c | 0x20 {
			case 'e':
				if s[j] == '\'' {
					return l.str(start, j+1, 'e')
				}
			case 'b', 'x':
				if s[j] == '\'' {
					return l.str(start, j+1, 'b')
				}
			case 'u':
				if s[j] == '&' && j+1 < len(s) {
					switch s[j+1] {
					case '\'':
						return l.str(start, j+2, 'q')
					case '"':
						return l.quoted(start, j+2)
					}
				}
			}
		}
		return l.tok(tokWord, start, j)
	case strings.IndexByte("~!@#^&|`?+-*/%<>=", c) >= 0:
		return l.tok(tokOp, start, start+1)
	}
	return l.tok(tokPunct, start, start+1)
}

// number returns the end of the numeric constant at j: digits, one
// fraction, an exponent, then any letters and digits (0x1F; junk that
// PostgreSQL refuses).
func number(s string, j int) int {
	digits := func() {
		for j < len(s) && (isDigit(s[j]) || s[j] == '_') {
			j++
		}
	}
	digits()
	if j < len(s) && s[j] == '.' && (j+1 >= len(s) || s[j+1] != '.') {
		j++
		digits()
	}
	if j < len(s) && s[j]|0x20 == 'e' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			j = k
			digits()
		}
	}
	for j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
		j++
	}
	return j
}

func (l *lexer) tok(k tokKind, start, end int) token {
	l.i = end
	return token{k, start, end}
}

// comment scans a /* */ comment; they nest.
func (l *lexer) comment(start int) token {
	s := l.s
	depth := 0
	for j := start + 2; j+1 < len(s); {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			if depth == 0 {
				return l.tok(tokComment, start, j+2)
			}
			depth--
			j += 2
		default:
			j++
		}
	}
	return l.tok(tokBad, start, len(s))
}

// str scans a string constant whose body starts at j. In an E'…' string
// (kind 'e') a backslash escapes the next byte; in B'…' and X'…' (kind 'b')
// a doubled quote ends the string and starts another; elsewhere it stands
// for one quote. A string continues across whitespace holding a newline
// into a following '…', in the same kind.
func (l *lexer) str(start, j int, kind byte) token {
	s := l.s
	for {
	body:
		for {
			if j >= len(s) {
				return l.tok(tokBad, start, len(s))
			}
			switch s[j] {
			case '\\':
				if kind == 'e' {
					j++
				}
			case '\'':
				j++
				if kind != 'b' && j < len(s) && s[j] == '\'' { // '' is a quote
					break
				}
				break body
			}
			j++
		}
		k, ok := continuation(s, j)
		if !ok {
			return l.tok(tokString, start, j)
		}
		j = k
	}
}

// continuation reports whether a string closed at j continues: whitespace
// holding a newline, then a quote (libpg_query, unlike PostgreSQL's own
// lexer, allows no comment in between). It returns the position after
// that quote.
func continuation(s string, j int) (int, bool) {
	newline := false
	for ; j < len(s) && isSpace(s[j]); j++ {
		newline = newline || s[j] == '\n' || s[j] == '\r'
	}
	if newline && j < len(s) && s[j] == '\'' {
		return j + 1, true
	}
	return 0, false
}

// quoted scans a quoted identifier whose body starts at j.
func (l *lexer) quoted(start, j int) token {
	s := l.s
	for ; j < len(s); j++ {
		if s[j] == '"' {
			if j+1 < len(s) && s[j+1] == '"' {
				j++
				continue
			}
			return l.tok(tokQuoted, start, j+1)
		}
	}
	return l.tok(tokBad, start, len(s))
}

// dollar scans $n, a $tag$…$tag$ string, or a lone '$'.
func (l *lexer) dollar(start int) token {
	s := l.s
	j := start + 1
	if j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return l.tok(tokParam, start, j)
	}
	if j < len(s) && isLetter(s[j]) {
		for j++; j < len(s) && (isLetter(s[j]) || isDigit(s[j])); j++ {
		}
	}
	if j < len(s) && s[j] == '$' {
		delim := s[start : j+1]
		k := strings.Index(s[j+1:], delim)
		if k < 0 {
			return l.tok(tokBad, start, len(s))
		}
		return l.tok(tokString, start, j+1+k+len(delim))
	}
	return l.tok(tokPunct, start, start+1)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isLetter: what may start an identifier (bytes ≥ 0x80 included).
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_' || c >= 0x80 }
