package policy

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

type issue struct {
	line, col int
	msg       string
}

type compileResult struct {
	rule   compiledRule
	issues []issue
}

// parallelFrom is the policy size from which Compile uses every CPU:
// parsing dominates, and a cel.Env compiles concurrently.
const parallelFrom = 64

// compileAll compiles each expression; blank ones are left alone.
func compileAll(env *cel.Env, exprs []string, costLimit uint64) []compileResult {
	out := make([]compileResult, len(exprs))
	one := func(i int) {
		if strings.TrimSpace(exprs[i]) != "" {
			out[i].rule, out[i].issues = compileRule(env, exprs[i], costLimit)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(exprs)/parallelFrom+1)
	if workers <= 1 {
		for i := range exprs {
			one(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(exprs); i = int(next.Add(1) - 1) {
				one(i)
			}
		})
	}
	wg.Wait()
	return out
}

// compileRule parses, type-checks and plans one expression.
func compileRule(env *cel.Env, expr string, costLimit uint64) (compiledRule, []issue) {
	checked, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		var out []issue
		for _, e := range iss.Errors() {
			msg := strings.TrimSuffix(e.Message, " (in container '')")
			out = append(out, issue{line: e.Location.Line(), col: e.Location.Column() + 1, msg: msg})
		}
		return compiledRule{}, out
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return compiledRule{}, []issue{{line: 1, col: 1,
			msg: fmt.Sprintf("the expression yields %s; a rule must yield bool", checked.OutputType())}}
	}
	if bad := badGlobPatterns(checked.NativeRep()); len(bad) > 0 {
		return compiledRule{}, bad
	}
	// A rule whose worst case, with requests at their size bounds, fits the
	// limit runs without runtime cost tracking (which costs more than most
	// rules do); any other rule is tracked and stopped at the limit.
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	est, err := env.EstimateCost(checked, sizeBounds{})
	tracked := err != nil || est.Max > costLimit
	if tracked {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	prg, err := env.Program(checked, opts...)
	if err != nil {
		return compiledRule{}, []issue{{line: 1, col: 1, msg: "plan: " + err.Error()}}
	}
	a := checked.NativeRep()
	return compiledRule{prg: prg, tracked: tracked, maxCost: est.Max, protocols: referencedProtocols(a),
		dynamic: readsDynamic(a), literals: stringLiterals(a), readsHeaders: readsS3Headers(a),
		constraints: extractConstraints(a, tracked, costLimit)}, nil
}

// readsS3Headers reports whether the rule reads s3.headers.
func readsS3Headers(a *ast.AST) bool {
	sel := ast.MatchDescendants(ast.NavigateAST(a), func(e ast.NavigableExpr) bool {
		if e.Kind() != ast.SelectKind || e.AsSelect().FieldName() != "headers" {
			return false
		}
		op := e.AsSelect().Operand()
		return op.Kind() == ast.IdentKind && op.AsIdent() == "s3"
	})
	return len(sel) > 0
}

// readsDynamic reports whether the rule reads conn or now: the variables
// that differ between requests Request.Memo calls the same.
func readsDynamic(a *ast.AST) bool {
	for _, ref := range a.ReferenceMap() {
		if ref.Name == "conn" || ref.Name == "now" {
			return true
		}
	}
	return false
}

// referencedProtocols returns the protocols whose variables (sql, s3, http)
// the rule names. A rule that names none of them applies to every protocol;
// one that names sql applies only to PostgreSQL requests, and so on, so a
// rule written for one protocol never matches another's zero values.
func referencedProtocols(a *ast.AST) protocolSet {
	var set protocolSet
	for _, ref := range a.ReferenceMap() {
		switch ref.Name {
		case "sql":
			set |= forPostgres
		case "s3":
			set |= forS3
		case "http":
			set |= forHTTP
		}
	}
	return set
}

// badGlobPatterns checks the constant patterns given to glob at compile time.
func badGlobPatterns(a *ast.AST) []issue {
	var out []issue
	info := a.SourceInfo()
	visit := func(e ast.NavigableExpr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		if call.FunctionName() != "glob" || len(call.Args()) != 1 || call.Args()[0].Kind() != ast.LiteralKind {
			return
		}
		s, ok := call.Args()[0].AsLiteral().(types.String)
		if !ok {
			return
		}
		if _, err := Glob("", string(s)); err != nil {
			loc := info.GetStartLocation(call.Args()[0].ID())
			out = append(out, issue{line: loc.Line(), col: loc.Column() + 1, msg: err.Error()})
		}
	}
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), func(ast.NavigableExpr) bool { return true }) {
		visit(e)
	}
	return out
}

// stringLiterals lists the string constants of an expression.
func stringLiterals(a *ast.AST) []string {
	var out []string
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), ast.ConstantValueMatcher()) {
		if s, ok := e.AsLiteral().(types.String); ok {
			out = append(out, string(s))
		}
	}
	return out
}
