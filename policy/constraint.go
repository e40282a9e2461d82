package policy

import (
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// A constraint is a necessary condition a rule puts on one request field:
// when the request's value satisfies none of its alternatives, the rule
// evaluates to false, without an error, whatever the rest of the rule says.
// The index relies on that to skip the rule.
//
// Why skipping is exact: a constraint comes from one term of the rule's
// top-level conjunction (a && b && …). CEL's && is commutative with respect
// to errors: false && error and error && false are both false, so one false
// term makes the whole rule false even when another term would fail (a
// missing map key, a bad glob pattern). A constraint is only taken from a
// term that cannot itself fail (a field compared with constants, a list
// macro over a list field whose predicate compares the element with
// constants), so "the value satisfies no alternative" means the term is
// false, not an error. The one failure && does not absorb is the cost
// limit, which stops the evaluation outright; rules evaluated under it take
// constraints only from the leading terms, and only while their cost,
// bounded generously, stays within the limit: evaluation then reaches the
// false term before it can be stopped.
type constraint struct {
	dim      dim
	exact    []string // the value equals one of these, or
	prefixes []string // starts with one of these (never ""), or
	suffixes []string // ends with one of these (never "")
}

// dim is one request field the index can test, in the order the index
// tests them: the fields nearly every rule constrains (kind, action,
// method) first, then the fields with many values.
type dim uint8

const (
	dimSQLKind dim = iota
	dimS3Action
	dimHTTPMethod
	dimSQLCommand
	dimS3Bucket
	dimHTTPHost
	dimS3SourceBucket
	dimSQLDatabase
	dimReadsAll // every element of sql.reads satisfies the constraint
	dimWritesAll
	dimTablesAll
	dimKindsAny // some element of sql.kinds satisfies the constraint
	dimReadsAny
	dimWritesAny
	dimTablesAny
	dimFunctionsAny
	dimFunctionsAll
	dimKindsAll
	dimS3Key
	dimS3Prefix
	dimS3SourceKey
	dimHTTPPath
	numDims
)

// isList reports whether d tests a list field, and whether all its
// elements (rather than one of them) must satisfy the constraint.
func (d dim) isList() (list, all bool) {
	switch d {
	case dimReadsAll, dimWritesAll, dimTablesAll, dimFunctionsAll, dimKindsAll:
		return true, true
	case dimKindsAny, dimReadsAny, dimWritesAny, dimTablesAny, dimFunctionsAny:
		return true, false
	}
	return false, false
}

// scalarDims maps variable.field to the dimension of a string field.
// Fields not listed here (including any added later) are not indexed.
var scalarDims = map[[2]string]dim{
	{"sql", "kind"}: dimSQLKind, {"sql", "command"}: dimSQLCommand, {"sql", "database"}: dimSQLDatabase,
	{"s3", "action"}: dimS3Action, {"s3", "bucket"}: dimS3Bucket, {"s3", "source_bucket"}: dimS3SourceBucket,
	{"s3", "key"}: dimS3Key, {"s3", "prefix"}: dimS3Prefix, {"s3", "source_key"}: dimS3SourceKey,
	{"http", "method"}: dimHTTPMethod, {"http", "host"}: dimHTTPHost, {"http", "path"}: dimHTTPPath,
}

// listDims maps an sql list field to its (all, any) dimensions.
var listDims = map[string][2]dim{
	"reads": {dimReadsAll, dimReadsAny}, "writes": {dimWritesAll, dimWritesAny},
	"tables": {dimTablesAll, dimTablesAny}, "kinds": {dimKindsAll, dimKindsAny},
	"functions": {dimFunctionsAll, dimFunctionsAny},
}

// String names the field, as a rule writes it.
func (d dim) String() string {
	for k, v := range scalarDims {
		if v == d {
			return k[0] + "." + k[1]
		}
	}
	for f, ds := range listDims {
		switch d {
		case ds[0]:
			return "sql." + f + " (all)"
		case ds[1]:
			return "sql." + f + " (exists)"
		}
	}
	return "?"
}

// scalar returns the request's value of a scalar dimension.
func (d dim) scalar(r *Request) string {
	switch d {
	case dimSQLKind:
		return r.SQL.Kind
	case dimSQLCommand:
		return r.SQL.Command
	case dimSQLDatabase:
		return r.SQL.Database
	case dimS3Action:
		return r.S3.Action
	case dimS3Bucket:
		return r.S3.Bucket
	case dimS3SourceBucket:
		return r.S3.SourceBucket
	case dimS3Key:
		return r.S3.Key
	case dimS3Prefix:
		return r.S3.Prefix
	case dimS3SourceKey:
		return r.S3.SourceKey
	case dimHTTPMethod:
		return r.HTTP.Method
	case dimHTTPHost:
		return r.HTTP.Host
	case dimHTTPPath:
		return r.HTTP.Path
	}
	return ""
}

// list returns the request's value of a list dimension.
func (d dim) list(r *Request) []string {
	switch d {
	case dimReadsAll, dimReadsAny:
		return r.SQL.Reads
	case dimWritesAll, dimWritesAny:
		return r.SQL.Writes
	case dimTablesAll, dimTablesAny:
		return r.SQL.Tables
	case dimKindsAll, dimKindsAny:
		return r.SQL.Kinds
	case dimFunctionsAll, dimFunctionsAny:
		return r.SQL.Functions
	}
	return nil
}

// maxConstraintValues bounds one constraint's values: a rule is filed once per
// alternative in the index.
const maxConstraintValues = 64

// extractConstraints returns the constraints of a checked rule, at most one
// per dimension. For a rule evaluated under the cost limit (tracked), only
// the leading terms count, while their total cost bound fits limit.
func extractConstraints(a *ast.AST, tracked bool, limit uint64) []constraint {
	var terms []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd && len(e.AsCall().Args()) == 2 {
			flatten(e.AsCall().Args()[0])
			flatten(e.AsCall().Args()[1])
			return
		}
		terms = append(terms, e)
	}
	flatten(a.Expr())
	refs := a.ReferenceMap()
	var out []constraint
	var spent uint64
	for _, t := range terms {
		c, ok := termConstraint(t, refs)
		if tracked {
			if !ok {
				break
			}
			cost, ok := termCostBound(a, t)
			if list, _ := c.dim.isList(); list || !ok {
				break // a list macro's cost grows with the request
			}
			if spent += cost; spent > limit {
				break
			}
		}
		if !ok || slices.ContainsFunc(out, func(o constraint) bool { return o.dim == c.dim }) {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y constraint) int { return int(x.dim) - int(y.dim) })
	return out
}

// termCostBound bounds the runtime cost of a scalar constraint term without
// concatenation. In CEL's cost model, comparing strings and startsWith cost
// a tenth of the constant's length (== takes the shorter operand), `in` the
// list's length, and every other node at most 1; so n nodes with constants
// of L bytes in all cost at most n × (2 + L/10).
func termCostBound(a *ast.AST, e ast.Expr) (uint64, bool) {
	nodes := ast.MatchDescendants(ast.NavigateExpr(a, e), func(ast.NavigableExpr) bool { return true })
	var lits uint64
	for _, n := range nodes {
		if n.Kind() == ast.CallKind && n.AsCall().FunctionName() == operators.Add {
			return 0, false // a concatenation's cost grows with the request's strings
		}
		if s, ok := stringLiteral(n); ok {
			lits += uint64(len(s))
		}
	}
	return uint64(len(nodes)) * (2 + lits/10), true
}

// termConstraint recognises the terms that compare a request field with
// constants and cannot fail:
//
//	F == "c", "c" == F, F in ["a", "b"], F.startsWith(P), F.endsWith("c"),
//	F.glob("lit*…"), and || of these over the same F; and for a list field L,
//	L.all(x, p(x)), L.exists(x, p(x)), "c" in L,
//
// where F is a string field, P a constant or a concatenation of error-free
// string expressions starting with one, and p(x) one of the scalar forms
// over the element x.
func termConstraint(e ast.Expr, refs map[int64]*ast.ReferenceInfo) (constraint, bool) {
	if e.Kind() == ast.ComprehensionKind {
		return quantifierConstraint(e.AsComprehension(), refs)
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.In && len(e.AsCall().Args()) == 2 {
		// "c" in L
		args := e.AsCall().Args()
		if lit, ok := stringLiteral(args[0]); ok {
			if v, f, ok := varField(args[1], refs); ok && v == "sql" {
				if ds, ok := listDims[f]; ok {
					return constraint{dim: ds[1], exact: []string{lit}}, true
				}
			}
		}
	}
	return scalarConstraint(e, func(x ast.Expr) (dim, bool) {
		v, f, ok := varField(x, refs)
		if !ok {
			return 0, false
		}
		d, ok := scalarDims[[2]string{v, f}]
		return d, ok
	}, refs)
}

// quantifierConstraint recognises L.all(x, p(x)) and L.exists(x, p(x)) as
// the parser expands them, over an sql list field.
func quantifierConstraint(c ast.ComprehensionExpr, refs map[int64]*ast.ReferenceInfo) (constraint, bool) {
	if c.HasIterVar2() || c.AccuInit().Kind() != ast.LiteralKind || c.Result().Kind() != ast.IdentKind ||
		c.Result().AsIdent() != c.AccuVar() || c.LoopStep().Kind() != ast.CallKind {
		return constraint{}, false
	}
	v, f, ok := varField(c.IterRange(), refs)
	ds, known := listDims[f]
	if !ok || v != "sql" || !known {
		return constraint{}, false
	}
	step := c.LoopStep().AsCall()
	if len(step.Args()) != 2 || step.Args()[0].Kind() != ast.IdentKind || step.Args()[0].AsIdent() != c.AccuVar() {
		return constraint{}, false
	}
	var d dim
	switch {
	case c.AccuInit().AsLiteral() == types.True && step.FunctionName() == operators.LogicalAnd:
		d = ds[0]
	case c.AccuInit().AsLiteral() == types.False && step.FunctionName() == operators.LogicalOr:
		d = ds[1]
	default:
		return constraint{}, false
	}
	iter := c.IterVar()
	out, ok := scalarConstraint(step.Args()[1], func(x ast.Expr) (dim, bool) {
		return d, x.Kind() == ast.IdentKind && x.AsIdent() == iter
	}, refs)
	return out, ok
}

// scalarConstraint recognises the scalar forms over a subject: F == "c",
// "c" == F, F in [...], F.startsWith(P), F.endsWith("c"), F.glob("…"), and
// || of these over the same subject. subject returns the dimension of an expression it
// accepts as one.
func scalarConstraint(e ast.Expr, subject func(ast.Expr) (dim, bool), refs map[int64]*ast.ReferenceInfo) (constraint, bool) {
	if e.Kind() != ast.CallKind {
		return constraint{}, false
	}
	call := e.AsCall()
	args := call.Args()
	var c constraint
	var ok2 bool
	switch fn := call.FunctionName(); {
	case fn == operators.LogicalOr && len(args) == 2:
		l, ok1 := scalarConstraint(args[0], subject, refs)
		r, ok2 := scalarConstraint(args[1], subject, refs)
		if !ok1 || !ok2 || l.dim != r.dim {
			return c, false
		}
		c.dim = l.dim
		c.exact = append(l.exact, r.exact...)
		c.prefixes = append(l.prefixes, r.prefixes...)
		c.suffixes = append(l.suffixes, r.suffixes...)
	case fn == operators.Equals && len(args) == 2:
		x, lit := args[0], args[1]
		if _, ok := stringLiteral(x); ok {
			x, lit = lit, x
		}
		s, ok := stringLiteral(lit)
		if c.dim, ok2 = subject(x); !ok || !ok2 {
			return c, false
		}
		c.exact = []string{s}
	case fn == operators.In && len(args) == 2:
		if c.dim, ok2 = subject(args[0]); !ok2 || args[1].Kind() != ast.ListKind || len(args[1].AsList().OptionalIndices()) > 0 {
			return c, false
		}
		for _, el := range args[1].AsList().Elements() {
			s, ok := stringLiteral(el)
			if !ok {
				return c, false
			}
			c.exact = append(c.exact, s)
		}
	case fn == "startsWith" && call.IsMemberFunction() && len(args) == 1:
		p, ok := leadingLiteral(args[0], refs)
		if c.dim, ok2 = subject(call.Target()); !ok || !ok2 {
			return c, false
		}
		c.prefixes = []string{p}
	case fn == "endsWith" && call.IsMemberFunction() && len(args) == 1:
		x, ok := stringLiteral(args[0])
		if c.dim, ok2 = subject(call.Target()); !ok || !ok2 {
			return c, false
		}
		c.suffixes = []string{x}
	case fn == "glob" && call.IsMemberFunction() && len(args) == 1:
		pat, ok := stringLiteral(args[0])
		if c.dim, ok2 = subject(call.Target()); !ok || !ok2 {
			return c, false
		}
		// A string the pattern matches starts with the pattern's
		// characters before the first special one, byte for byte.
		c.prefixes = []string{pat[:strings.IndexAny(pat+"*", `*?\`)]}
	default:
		return c, false
	}
	// A prefix or suffix "" admits everything: the term says nothing.
	if slices.Contains(c.prefixes, "") || slices.Contains(c.suffixes, "") ||
		len(c.exact)+len(c.prefixes)+len(c.suffixes) > maxConstraintValues {
		return c, false
	}
	slices.Sort(c.exact)
	c.exact = slices.Compact(c.exact)
	return c, true
}

// leadingLiteral returns the constant a string expression starts with: the
// expression itself when it is a constant, or the leftmost constant of a
// concatenation whose every operand is error-free.
func leadingLiteral(e ast.Expr, refs map[int64]*ast.ReferenceInfo) (string, bool) {
	if s, ok := stringLiteral(e); ok {
		return s, true
	}
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != operators.Add || len(e.AsCall().Args()) != 2 {
		return "", false
	}
	if !errorFreeString(e.AsCall().Args()[1], refs) {
		return "", false
	}
	return leadingLiteral(e.AsCall().Args()[0], refs)
}

// errorFreeString reports whether e is a string expression that cannot
// fail: constants, string fields of the request and their concatenations.
func errorFreeString(e ast.Expr, refs map[int64]*ast.ReferenceInfo) bool {
	if _, ok := stringLiteral(e); ok {
		return true
	}
	if v, f, ok := varField(e, refs); ok {
		_, scalar := scalarDims[[2]string{v, f}]
		return scalar || (v == "task" && f == "id") || (v == "conn" && f != "")
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.Add && len(e.AsCall().Args()) == 2 {
		return errorFreeString(e.AsCall().Args()[0], refs) && errorFreeString(e.AsCall().Args()[1], refs)
	}
	return false
}

// varField matches variable.field, where variable is one of the request
// variables (as the type checker resolved it, not a comprehension's own).
func varField(e ast.Expr, refs map[int64]*ast.ReferenceInfo) (string, string, bool) {
	if e.Kind() != ast.SelectKind || e.AsSelect().IsTestOnly() {
		return "", "", false
	}
	op := e.AsSelect().Operand()
	if op.Kind() != ast.IdentKind {
		return "", "", false
	}
	ref, ok := refs[op.ID()]
	if !ok || ref.Name != op.AsIdent() || !slices.Contains(Variables, ref.Name) {
		return "", "", false
	}
	return ref.Name, e.AsSelect().FieldName(), true
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}
