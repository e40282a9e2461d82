// Package policy compiles CEL access rules and decides requests against them.
//
// Rules are compiled and type-checked once (each must yield a bool) and
// evaluated with a cost limit. An explicit deny wins, an allow lets the
// request through, and anything else is denied. A rule that cannot be
// evaluated denies and says why. A decision evaluates only the rules an
// index on request fields says can match, and comes out as evaluating
// every rule would. The package decides; it does not log, audit
// or speak any protocol: the caller (proxy's gate) records every decision.
package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Rule is one named CEL expression: exactly one of Allow and Deny is set.
type Rule struct {
	// Name identifies the rule in decisions, audit records and metrics:
	// letters, digits, '-', '_' and '.', at most 64 characters.
	Name string `yaml:"name"`
	// Allow is a CEL expression; when true the request is allowed (unless a deny rule matches).
	Allow string `yaml:"allow,omitempty"`
	// Deny is a CEL expression; when true the request is denied, whatever else matches.
	Deny string `yaml:"deny,omitempty"`
	// Description is free text for people reading the policy.
	Description string `yaml:"description,omitempty"`
}

// Options tune an Engine. The zero value enforces with the default cost limit.
type Options struct {
	// Observe allows what would be denied and marks the decision WouldDeny.
	Observe bool
	// CostLimit bounds one rule's evaluation cost (CEL cost units);
	// 0 means DefaultCostLimit.
	CostLimit uint64
	// Egress holds the configuration's egress.allow expressions. Each
	// becomes an allow rule named egress.allow[i], after the rules, that
	// applies to http (egress) requests only, whatever variables it names;
	// a matching deny rule still wins over it.
	Egress []string
}

// EgressRuleName is the name of the allow rule Options.Egress[i] becomes.
// Rule names cannot hold brackets, so it never collides with one.
func EgressRuleName(i int) string { return fmt.Sprintf("egress.allow[%d]", i) }

// DefaultCostLimit is large enough for list macros over a few thousand
// elements and small enough to keep one evaluation well under a millisecond.
const DefaultCostLimit = 100_000

// Decision is the outcome of one request.
type Decision struct {
	// Allow says whether the request may proceed (in observe mode, always).
	Allow bool
	// WouldDeny is set in observe mode when enforce mode would have denied.
	WouldDeny bool
	// Rules names every rule that matched, allow and deny alike, in policy order.
	Rules []string
	// Reason says why, in a sentence fit for a client error message.
	Reason string
}

// Denied reports whether the policy denies the request, whatever the mode.
func (d Decision) Denied() bool { return !d.Allow || d.WouldDeny }

// Engine holds compiled rules. It is safe for concurrent use.
type Engine struct {
	rules   []compiledRule
	names   []string // rule names, in policy order
	observe bool
	acts    sync.Pool
	// memoOK is set when no rule reads conn or now: a decision is then a
	// function of what Request.Memo stands for.
	memoOK bool
	memo   memo
	digest string // see Digest
	index  ruleIndex
}

// memo keeps decisions by Request.Memo; it is cleared when full.
type memo struct {
	mu sync.RWMutex
	m  map[any]Decision
}

const memoEntries = 10000

func (m *memo) get(k any) (Decision, bool) {
	m.mu.RLock()
	d, ok := m.m[k]
	m.mu.RUnlock()
	return d, ok
}

func (m *memo) put(k any, d Decision) {
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoEntries {
		m.m = make(map[any]Decision, 256)
	}
	m.m[k] = d
	m.mu.Unlock()
}

type compiledRule struct {
	name      string
	deny      bool
	prg       cel.Program
	protocols protocolSet // the protocols the rule applies to
	dynamic   bool        // reads conn or now, which Request.Memo does not cover
	literals  []string    // string constants in the expression
	// readsHeaders: the rule reads s3.headers, so it can allow a request
	// carrying the configuration headers it names among its literals.
	readsHeaders bool
	// constraints are the index's: necessary conditions on request fields
	constraints []constraint
	tracked     bool   // evaluated with runtime cost tracking
	maxCost     uint64 // estimated worst case
	reason      string // "allowed by rule x" / "denied by rule x"
}

// protocolSet is a bit set of protocols; empty means every protocol.
type protocolSet uint8

const (
	forPostgres protocolSet = 1 << iota
	forS3
	forHTTP
)

func protocolBit(p string) protocolSet {
	switch p {
	case ProtocolPostgres:
		return forPostgres
	case ProtocolS3:
		return forS3
	case ProtocolHTTP:
		return forHTTP
	}
	return 0
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Compile type-checks and compiles rules. The error, if any, is a
// *CompileError listing every problem with its place in the policy.
func Compile(rules []Rule, opts Options) (*Engine, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	limit := opts.CostLimit
	if limit == 0 {
		limit = DefaultCostLimit
	}
	e := &Engine{observe: opts.Observe}
	e.acts.New = func() any { return new(activation) }
	exprs := make([]string, 0, len(rules)+len(opts.Egress))
	for _, r := range rules {
		expr := r.Allow + r.Deny
		if r.Allow != "" && r.Deny != "" {
			expr = "" // a problem of its own, below
		}
		exprs = append(exprs, expr)
	}
	compiled := compileAll(env, append(exprs, opts.Egress...), limit)
	var cerr CompileError
	seen := make(map[string]int, len(rules))
	for i, r := range rules {
		field, expr, deny := "allow", r.Allow, false
		if r.Deny != "" {
			field, expr, deny = "deny", r.Deny, true
		}
		switch {
		case r.Name == "":
			cerr.add(i, "name", "a rule needs a name (used in decisions and audit records)")
		case !ruleNameRE.MatchString(r.Name):
			cerr.add(i, "name", fmt.Sprintf("%q: use letters, digits, '-', '_' and '.', at most 64 characters", r.Name))
		default:
			if j, dup := seen[r.Name]; dup {
				cerr.add(i, "name", fmt.Sprintf("%q is already the name of rules[%d]", r.Name, j))
			}
			seen[r.Name] = i
		}
		if r.Allow != "" && r.Deny != "" {
			cerr.add(i, "", "set allow or deny, not both")
			continue
		}
		if strings.TrimSpace(expr) == "" {
			cerr.add(i, "", "set allow: or deny: to a CEL expression")
			continue
		}
		cr, issues := compiled[i].rule, compiled[i].issues
		if len(issues) > 0 {
			for _, is := range issues {
				cerr.Problems = append(cerr.Problems, Problem{Rule: i, Field: field, Line: is.line, Column: is.col, Msg: is.msg})
			}
			continue
		}
		cr.name, cr.deny = r.Name, deny
		if deny {
			cr.reason = "denied by rule " + r.Name
		} else {
			cr.reason = "allowed by rule " + r.Name
		}
		e.rules = append(e.rules, cr)
		e.names = append(e.names, r.Name)
	}
	for i, expr := range opts.Egress {
		if strings.TrimSpace(expr) == "" {
			cerr.Problems = append(cerr.Problems, Problem{Rule: i, Egress: true, Msg: "set a CEL expression over http (method, host, port, path)"})
			continue
		}
		cr, issues := compiled[len(rules)+i].rule, compiled[len(rules)+i].issues
		for _, is := range issues {
			cerr.Problems = append(cerr.Problems, Problem{Rule: i, Egress: true, Line: is.line, Column: is.col, Msg: is.msg})
		}
		if len(issues) > 0 {
			continue
		}
		cr.name, cr.protocols = EgressRuleName(i), forHTTP
		cr.reason = "allowed by rule " + cr.name
		e.rules = append(e.rules, cr)
		e.names = append(e.names, cr.name)
	}
	if len(cerr.Problems) > 0 {
		return nil, &cerr
	}
	if ip, ok := env.CELTypeProvider().(*internProvider); ok {
		var lits []string
		for _, r := range e.rules {
			lits = append(lits, r.literals...)
		}
		ip.intern(lits)
	}
	e.memoOK = !slices.ContainsFunc(e.rules, func(r compiledRule) bool { return r.dynamic })
	if e.digest, err = digestRules(env, rules, opts, limit); err != nil {
		return nil, err
	}
	e.index = buildIndex(e.rules)
	return e, nil
}

// Rules returns the names of the compiled rules, in policy order.
func (e *Engine) Rules() []string { return e.names }

// Observe reports whether the engine runs in observe mode.
func (e *Engine) Observe() bool { return e.observe }

// ReasonNoRule is the reason of a denial no rule asked for.
const ReasonNoRule = "no rule allows"

// Decide evaluates the rules that can match req: those that apply to its
// protocol and whose constraints on its fields it meets (see ruleIndex).
// The decision is the one evaluating every rule would give.
//
// The returned Rules may be shared with other decisions: do not modify it.
func (e *Engine) Decide(req *Request) Decision {
	if req.Memo == nil || !e.memoOK || req.Guard != "" {
		return e.decide(req)
	}
	if d, ok := e.memo.get(req.Memo); ok {
		return d
	}
	d := e.decide(req)
	e.memo.put(req.Memo, d)
	return d
}

func (e *Engine) decide(req *Request) Decision { return e.decideWith(req, true) }

// decideWith decides req, evaluating only the index's candidates when
// indexed is set and every rule of req's protocol otherwise.
func (e *Engine) decideWith(req *Request, indexed bool) Decision {
	act := e.acts.Get().(*activation)
	act.req, act.nowSet = req, false
	defer func() { act.req = nil; e.acts.Put(act) }()

	if req.Guard != "" {
		return Decision{Reason: "guard rail: " + req.Guard} // no rule, no mode lifts it
	}
	if why := checkBounds(req); why != "" {
		return e.finish(Decision{Reason: why})
	}
	bit := protocolBit(req.Protocol)
	order := act.all[:0]
	if indexed {
		act.cands = e.index.candidates(req, act.cands[:0])
		order = act.cands
	} else {
		for i := range e.rules {
			if r := &e.rules[i]; r.protocols == 0 || r.protocols&bit != 0 {
				order = append(order, int32(i))
			}
		}
		act.all = order
	}
	var (
		d               Decision
		allowAt, denyAt = -1, -1
		hitBuf          [8]int
		hits            = hitBuf[:0] // indexes of matching rules
		evalErr         string
	)
	for _, i32 := range order {
		i := int(i32)
		r := &e.rules[i]
		out, _, err := r.prg.Eval(act)
		if err != nil {
			if evalErr == "" {
				evalErr = "rule " + r.name + " could not be evaluated: " + err.Error()
			}
			continue
		}
		if out != types.True {
			continue
		}
		hits = append(hits, i)
		if r.deny && denyAt < 0 {
			denyAt = i
		}
		if !r.deny && allowAt < 0 && (!req.NamedOnly || slices.Contains(r.literals, req.Action())) && r.namesHeaders(req) {
			allowAt = i
		}
	}
	switch len(hits) {
	case 0:
	case 1:
		d.Rules = e.names[hits[0] : hits[0]+1 : hits[0]+1] // shared, no allocation
	default:
		d.Rules = make([]string, len(hits))
		for j, i := range hits {
			d.Rules[j] = e.names[i]
		}
	}
	switch {
	case denyAt >= 0:
		d.Reason = e.rules[denyAt].reason
	case evalErr != "":
		d.Reason = evalErr
	case allowAt >= 0:
		d.Allow, d.Reason = true, e.rules[allowAt].reason
	case req.NamedOnly && len(hits) > 0 && slices.ContainsFunc(hits, func(i int) bool {
		return !e.rules[i].deny && !slices.Contains(e.rules[i].literals, req.Action())
	}):
		d.Reason = "no rule names " + req.Action() + " (configuration operations must be named)"
	case len(req.S3.Headers) > 0 && len(hits) > 0:
		d.Reason = "no matching rule names " + unnamedHeader(e.rules, hits, req) +
			" in s3.headers (headers that set ACLs, tags, retention, storage class, encryption or redirects must be named)"
	default:
		d.Reason = ReasonNoRule
	}
	return e.finish(d)
}

// namesHeaders reports whether the rule may allow a request carrying its
// configuration headers: it reads s3.headers and names each of them.
func (r *compiledRule) namesHeaders(req *Request) bool {
	if len(req.S3.Headers) == 0 {
		return true
	}
	if !r.readsHeaders {
		return false
	}
	for name := range req.S3.Headers {
		if !slices.Contains(r.literals, name) {
			return false
		}
	}
	return true
}

// unnamedHeader returns, for a denial's reason, a configuration header of
// req that the first matching allow rule does not name.
func unnamedHeader(rules []compiledRule, hits []int, req *Request) string {
	names := make([]string, 0, len(req.S3.Headers))
	for name := range req.S3.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, i := range hits {
		if r := &rules[i]; !r.deny {
			for _, n := range names {
				if !r.readsHeaders || !slices.Contains(r.literals, n) {
					return n
				}
			}
		}
	}
	return names[0]
}

// finish applies observe mode.
func (e *Engine) finish(d Decision) Decision {
	if !d.Allow && e.observe {
		d.Allow, d.WouldDeny = true, true
	}
	return d
}

// activation resolves the CEL variables against one Request.
type activation struct {
	req    *Request
	now    types.Timestamp
	nowSet bool
	// buffers kept between decisions: the index's candidates, the rules
	// of a full evaluation
	cands, all []int32
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "task":
		return &a.req.Task, true
	case "conn":
		return &a.req.Conn, true
	case "sql":
		return &a.req.SQL, true
	case "s3":
		return &a.req.S3, true
	case "http":
		return &a.req.HTTP, true
	case "now":
		if !a.nowSet {
			t := a.req.Now
			if t.IsZero() {
				t = time.Now()
			}
			a.now, a.nowSet = types.Timestamp{Time: t}, true
		}
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Problem is one thing wrong with a policy.
type Problem struct {
	Rule   int    // index in the rules list (in Options.Egress when Egress is set)
	Egress bool   // the problem is in egress.allow[Rule], not policy.rules[Rule]
	Field  string // "name", "allow", "deny", or "" for the rule as a whole
	Line   int    // 1-based position in the expression; 0 when not about the expression
	Column int
	Msg    string
}

func (p Problem) String() string {
	path := fmt.Sprintf("policy.rules[%d]", p.Rule)
	if p.Egress {
		path = EgressRuleName(p.Rule)
	}
	if p.Field != "" {
		path += "." + p.Field
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s: %s at %d:%d", path, p.Msg, p.Line, p.Column)
	}
	return path + ": " + p.Msg
}

// CompileError lists every problem found in a policy.
type CompileError struct{ Problems []Problem }

func (e *CompileError) add(rule int, field, msg string) {
	e.Problems = append(e.Problems, Problem{Rule: rule, Field: field, Msg: msg})
}

func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ErrCompile matches any *CompileError with errors.Is.
var ErrCompile = errors.New("policy does not compile")

func (e *CompileError) Is(target error) bool { return target == ErrCompile }

// RuleInfo describes a compiled rule, for `airlock policy check`.
type RuleInfo struct {
	Name      string
	Deny      bool
	Protocols []string // empty: every protocol
	MaxCost   uint64   // estimated worst case at the request size bounds
	Tracked   bool     // the worst case exceeds the limit, so evaluation is metered
	// Indexed names the request fields Decide uses to skip the rule, e.g.
	// "sql.kind" or "sql.reads (all)". Empty: the rule is evaluated for
	// every request of its protocols.
	Indexed []string
}

// Describe lists the compiled rules.
func (e *Engine) Describe() []RuleInfo {
	out := make([]RuleInfo, len(e.rules))
	for i, r := range e.rules {
		info := RuleInfo{Name: r.name, Deny: r.deny, MaxCost: r.maxCost, Tracked: r.tracked}
		for _, c := range r.constraints {
			info.Indexed = append(info.Indexed, c.dim.String())
		}
		for _, p := range []string{ProtocolPostgres, ProtocolS3, ProtocolHTTP} {
			if r.protocols&protocolBit(p) != 0 {
				info.Protocols = append(info.Protocols, p)
			}
		}
		out[i] = info
	}
	return out
}
