package postgres

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

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
	byValue bool          // a relation was named by a constant's value
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
	case *pg_query.TypeCast:
		// 'name'::regclass looks the relation up; whatever receives the
		// OID (a function the list below does not know) may read it.
		if isRegclass(n.TypeName) {
			if s, ok := constString(n.Arg); ok {
				w.relationString("a regclass constant", s, modeRead)
			}
		}
		w.fields(n)
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
	case *pg_query.AlterRoleSetStmt:
		// Applies to later sessions of the role, Airlock's own included.
		w.kind("ddl")
		w.persistentSet(n.Setstmt)
		w.in(modeWrite, n)
	case *pg_query.AlterDatabaseSetStmt:
		w.kind("ddl")
		w.persistentSet(n.Setstmt)
		w.in(modeWrite, n)
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
		if slices.Contains(names, "pg_catalog.pg_settings") {
			// Its UPDATE rule calls set_config.
			w.trip("writing pg_settings changes session parameters: never allowed")
		}
	} else {
		w.reads = append(w.reads, withDataMarks(names)...)
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
	f, ok := funcList[name]
	switch {
	case !ok:
	case f.effect == fxReadTable:
		w.reads = append(w.reads, withDataMarks([]string{f.table})...)
	case f.effect == fxWriteTable:
		w.writes = append(w.writes, f.table)
	case f.effect == fxRead || f.effect == fxWrite || f.effect == fxMeta:
		md := modeRead
		if f.effect == fxWrite {
			md = modeWrite
		}
		w.namedRelation(name, fc.Args, f.arg, md, f.effect == fxMeta)
	}
}

// namedRelation records the relation a function's argument names (see
// funcList), or trips a guard rail when the classifier cannot read it.
func (w *walker) namedRelation(fn string, args []*pg_query.Node, at int, md mode, meta bool) {
	for _, a := range args {
		if meta {
			break
		}
		if a.GetNamedArgExpr() != nil {
			w.trip(fn + "() with named arguments is not allowed: pass the relation as a positional constant")
			return
		}
	}
	if at >= len(args) {
		return // not this overload: PostgreSQL refuses the call
	}
	s, ok := constString(args[at])
	if !ok && meta {
		return
	}
	if !ok {
		w.trip(fn + "() names its relation with a value the classifier cannot see: pass a constant")
		return
	}
	w.relationString(fn+"()", s, md)
}

// relationString records the relation a string names, as regclass input
// and textToQualifiedNameList read it.
func (w *walker) relationString(what, s string, md mode) {
	w.byValue = true
	parts, ok := parseRelationName(s)
	if !ok || strings.IndexByte(s, '\\') >= 0 { // a backslash reads differently with standard_conforming_strings off
		ok = false
	}
	if !ok {
		w.trip(what + " names a relation the classifier cannot read (" + quoteForReason(s) + ")")
		return
	}
	rv := &pg_query.RangeVar{Relname: parts[len(parts)-1]}
	if len(parts) > 1 {
		rv.Schemaname = parts[len(parts)-2]
	}
	if len(parts) > 2 {
		rv.Catalogname = parts[len(parts)-3]
	}
	w.rel(rv, md)
}

// constString returns the value of a string constant, also under casts
// ('t'::regclass, CAST('t' AS text)).
func constString(n *pg_query.Node) (string, bool) {
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().GetArg()
	}
	c := n.GetAConst()
	if c == nil || c.GetSval() == nil {
		return "", false
	}
	return c.GetSval().GetSval(), true
}

// isRegclass reports whether a type name is regclass (or pg_catalog.regclass).
func isRegclass(t *pg_query.TypeName) bool {
	names := t.GetNames()
	if len(names) == 0 || len(t.GetArrayBounds()) > 0 {
		return false
	}
	last := names[len(names)-1].GetString_().GetSval()
	return last == "regclass" && (len(names) == 1 || names[0].GetString_().GetSval() == "pg_catalog")
}

func quoteForReason(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// parseRelationName splits a relation name given as a string the way
// PostgreSQL's regclass input and textToQualifiedNameList do: one to three
// dot-separated identifiers, each either double-quoted ("" is a quote,
// kept as written) or bare (ASCII letters folded to lower case), with
// whitespace around them. A string of digits (regclass reads it as an
// OID) and anything else is refused.
func parseRelationName(s string) ([]string, bool) {
	var parts []string
	i, firstQuoted := 0, false
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return nil, false
		}
		var b strings.Builder
		if s[i] == '"' {
			firstQuoted = firstQuoted || len(parts) == 0
			i++
			for {
				if i >= len(s) {
					return nil, false
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if b.Len() == 0 {
				return nil, false
			}
		} else {
			start := i
			for i < len(s) && s[i] != '.' && !isSpace(s[i]) && s[i] != '"' {
				c := s[i]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
				i++
			}
			if i == start {
				return nil, false
			}
		}
		parts = append(parts, b.String())
		skip()
		if i >= len(s) {
			break
		}
		if s[i] != '.' {
			return nil, false
		}
		i++
	}
	if len(parts) > 3 || len(parts) == 1 && !firstQuoted && strings.Trim(parts[0], "0123456789") == "" {
		return nil, false // an OID
	}
	for _, p := range parts {
		if strings.IndexByte(p, 0) >= 0 {
			return nil, false
		}
	}
	return parts, true
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

// persistentSet records the parameter ALTER ROLE/DATABASE … SET or RESET
// names ("all" for RESET ALL), so the caller can refuse pinned ones.
func (w *walker) persistentSet(n *pg_query.VariableSetStmt) {
	if n == nil {
		return
	}
	if n.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
		w.params = append(w.params, "all")
		return
	}
	if n.Name != "" {
		w.params = append(w.params, strings.ToLower(n.Name))
	}
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

// resolve lists every schema-qualified name an unqualified relation or
// function name could resolve to under the pinned search path, in the
// order PostgreSQL searches (see the file comment): pg_catalog first
// unless the path lists it; a built-in name (in builtins) stops the search
// at pg_catalog; every other schema of the path is a candidate, as the
// classifier cannot see which of them holds the name. "$user" and pg_temp
// are skipped; with no schema left, the name is in public.
func (c *Classifier) resolve(name string, builtins map[string]bool) []string {
	q := ident(name)
	builtin := builtins[name]
	if builtin && !slices.Contains(c.SearchPath, "pg_catalog") {
		return []string{"pg_catalog." + q}
	}
	var out []string
	for _, s := range c.SearchPath {
		switch {
		case s == "pg_catalog":
			if builtin {
				return append(out, "pg_catalog."+q)
			}
		case s == "$user" || s == "pg_temp" || strings.HasPrefix(s, "pg_temp_") || s == "":
		default:
			out = append(out, ident(s)+"."+q)
		}
	}
	if len(out) == 0 {
		out = []string{"public." + q}
	}
	return out
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
