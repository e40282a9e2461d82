package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"
)

// Scope-down: an IAM session policy from the S3 allow rules, so that the
// short-lived S3 credential Airlock holds can do no more than the rules
// let the task do, even used past Airlock.
//
// The policy is a sound over-approximation of the rules: it allows every
// request an allow rule allows, and may allow more. Each allow rule that
// applies to S3 is read as a disjunction (||, at any depth) of
// conjunctions (&&) of conditions. These conditions are understood, the
// value being any expression of constants and task.id / task.labels,
// which are resolved from the task:
//
//	s3.action == "X", s3.action in ["X", "Y"], s3.action.startsWith("Get")
//	s3.bucket == "b", s3.bucket in [...], s3.bucket.startsWith("p"), s3.bucket.glob("p-*")
//	s3.key == "k", s3.key in [...], s3.key.startsWith("p"), s3.key.glob("p/**")
//	s3.prefix == "p", s3.prefix in [...], s3.prefix.startsWith("p"), s3.prefix.glob("p/*")
//
// A glob becomes the literal text before its first wildcard followed by
// IAM's '*' (which, unlike glob's, crosses '/'). A concatenation whose
// later parts do not resolve (no task, a missing label) keeps its start
// as a prefix. A condition on constants and the task alone
// (task.labels["env"] == "prod") is decided. Any other condition is left
// out of its conjunction, which widens it, and a note says so. A
// conjunction that bounds neither the action nor the bucket is an error:
// the policy would bound nothing. Deny rules are left out: Airlock
// enforces them, and a session policy can only narrow the role.
//
// s3ActionTable says which IAM actions each operation needs. Reads
// include the Version and Tagging actions (a GET of a version needs
// s3:GetObjectVersion; a copy reads its source's tags), writes include
// s3:PutObjectTagging (x-amz-tagging on a PUT needs it), and a bound
// s3.prefix becomes a StringLike condition on s3:prefix for s3:ListBucket
// and s3:ListBucketVersions only, the actions S3 sets that key for. A
// rule that does not bound s3.action covers the data operations and the
// operations named by its string literals, as in Airlock. An operation
// the table lacks becomes s3:* on the rule's buckets, with a note.

// s3ActionTable lists Airlock's S3 operations and the IAM actions S3
// checks for them. Columns: where the operation acts (object: on
// arn:aws:s3:::bucket/key; bucket: on arn:aws:s3:::bucket; listing: a
// bucket operation that sets s3.prefix; service: on *); "data" when a rule
// may allow it without naming it (protocols/s3's dataOps), "-" when the
// rule must name it; the operations; after '=', the IAM actions, "same"
// meaning s3:<operation>. Some bucket configuration actions (ACL, CORS,
// website, logging…) are AWS's and unknown to MinIO, which refuses a
// session policy naming them.
const s3ActionTable = `
object  data GetObject HeadObject = s3:GetObject s3:GetObjectVersion s3:GetObjectTagging s3:GetObjectVersionTagging
object  -    SelectObjectContent  = s3:GetObject s3:GetObjectVersion s3:GetObjectTagging s3:GetObjectVersionTagging
object  data GetObjectAttributes  = s3:GetObjectAttributes s3:GetObjectVersionAttributes s3:GetObject s3:GetObjectVersion s3:GetObjectTagging s3:GetObjectVersionTagging
object  data PutObject CreateMultipartUpload UploadPart CompleteMultipartUpload CopyObject UploadPartCopy = s3:PutObject s3:PutObjectTagging
object  data AbortMultipartUpload = same
object  data ListParts            = s3:ListMultipartUploadParts
object  data DeleteObject DeleteObjects = s3:DeleteObject s3:DeleteObjectVersion
object  data GetObjectTagging     = s3:GetObjectTagging s3:GetObjectVersionTagging
object  -    PutObjectTagging     = s3:PutObjectTagging s3:PutObjectVersionTagging
object  -    DeleteObjectTagging  = s3:DeleteObjectTagging s3:DeleteObjectVersionTagging
object  -    GetObjectAcl         = s3:GetObjectAcl s3:GetObjectVersionAcl
object  -    PutObjectAcl         = s3:PutObjectAcl s3:PutObjectVersionAcl
object  -    GetObjectTorrent     = s3:GetObjectTorrent s3:GetObjectVersionTorrent
object  -    GetObjectRetention PutObjectRetention GetObjectLegalHold PutObjectLegalHold RestoreObject = same
listing data ListObjects ListObjectsV2 = s3:ListBucket
listing data ListObjectVersions   = s3:ListBucketVersions
listing data ListMultipartUploads = s3:ListBucketMultipartUploads
bucket  data HeadBucket           = s3:ListBucket
bucket  data GetBucketLocation    = same
service data ListBuckets          = s3:ListAllMyBuckets
bucket  -    CreateBucket DeleteBucket GetBucketPolicy PutBucketPolicy DeleteBucketPolicy GetBucketPolicyStatus = same
bucket  -    GetBucketAcl PutBucketAcl GetBucketVersioning PutBucketVersioning GetBucketTagging PutBucketTagging = same
bucket  -    GetBucketWebsite PutBucketWebsite DeleteBucketWebsite GetBucketLogging PutBucketLogging = same
bucket  -    GetBucketRequestPayment PutBucketRequestPayment GetBucketOwnershipControls PutBucketOwnershipControls = same
bucket  -    DeleteBucketTagging  = s3:PutBucketTagging
bucket  -    DeleteBucketOwnershipControls = s3:PutBucketOwnershipControls
bucket  -    GetBucketCors        = s3:GetBucketCORS
bucket  -    PutBucketCors DeleteBucketCors = s3:PutBucketCORS
bucket  -    GetBucketLifecycleConfiguration = s3:GetLifecycleConfiguration
bucket  -    PutBucketLifecycleConfiguration DeleteBucketLifecycle = s3:PutLifecycleConfiguration
bucket  -    GetBucketEncryption  = s3:GetEncryptionConfiguration
bucket  -    PutBucketEncryption DeleteBucketEncryption = s3:PutEncryptionConfiguration
bucket  -    GetBucketNotificationConfiguration = s3:GetBucketNotification
bucket  -    PutBucketNotificationConfiguration = s3:PutBucketNotification
bucket  -    GetObjectLockConfiguration = s3:GetBucketObjectLockConfiguration
bucket  -    PutObjectLockConfiguration = s3:PutBucketObjectLockConfiguration
bucket  -    GetBucketReplication = s3:GetReplicationConfiguration
bucket  -    PutBucketReplication DeleteBucketReplication = s3:PutReplicationConfiguration
bucket  -    GetPublicAccessBlock = s3:GetBucketPublicAccessBlock
bucket  -    PutPublicAccessBlock DeletePublicAccessBlock = s3:PutBucketPublicAccessBlock
bucket  -    GetBucketAccelerateConfiguration = s3:GetAccelerateConfiguration
bucket  -    PutBucketAccelerateConfiguration = s3:PutAccelerateConfiguration
bucket  -    GetBucketAnalyticsConfiguration ListBucketAnalyticsConfigurations = s3:GetAnalyticsConfiguration
bucket  -    PutBucketAnalyticsConfiguration DeleteBucketAnalyticsConfiguration = s3:PutAnalyticsConfiguration
bucket  -    GetBucketMetricsConfiguration ListBucketMetricsConfigurations = s3:GetMetricsConfiguration
bucket  -    PutBucketMetricsConfiguration DeleteBucketMetricsConfiguration = s3:PutMetricsConfiguration
bucket  -    GetBucketInventoryConfiguration ListBucketInventoryConfigurations = s3:GetInventoryConfiguration
bucket  -    PutBucketInventoryConfiguration DeleteBucketInventoryConfiguration = s3:PutInventoryConfiguration
bucket  -    GetBucketIntelligentTieringConfiguration ListBucketIntelligentTieringConfigurations = s3:GetIntelligentTieringConfiguration
bucket  -    PutBucketIntelligentTieringConfiguration DeleteBucketIntelligentTieringConfiguration = s3:PutIntelligentTieringConfiguration
`

// MaxSessionPolicy is the longest session policy STS accepts, in
// characters of its plain text.
const MaxSessionPolicy = 2048

// maxAlternatives bounds the conjunctions one rule expands to.
const maxAlternatives = 64

// s3Action is one row of s3ActionTable.
type s3Action struct {
	level string // object, bucket, listing or service
	data  bool
	iam   []string
}

// iamPrefixKey are the IAM actions S3 sets the s3:prefix condition key for.
var iamPrefixKey = map[string]bool{"s3:ListBucket": true, "s3:ListBucketVersions": true}

var s3Actions = parseActionTable(s3ActionTable)

func parseActionTable(table string) map[string]s3Action {
	out := map[string]s3Action{}
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		ops, iam, ok := strings.Cut(line, "=")
		f := strings.Fields(ops)
		if !ok || len(f) < 3 {
			panic("policy: bad s3ActionTable line: " + line)
		}
		for _, op := range f[2:] {
			a := s3Action{level: f[0], data: f[1] == "data", iam: strings.Fields(iam)}
			if a.iam[0] == "same" {
				a.iam = []string{"s3:" + op}
			}
			out[op] = a
		}
	}
	return out
}

// ScopeDownPolicy returns an IAM session policy (JSON, compact, sorted,
// the same for the same input) that allows at least what rules allow on
// S3, and notes on where it is wider than the rules. task resolves task.id
// and task.labels references; nil leaves them unresolved, which widens.
// It fails when a rule cannot be bounded (see the top of this file) or
// the policy exceeds MaxSessionPolicy. Rules that are not about S3 are
// skipped.
func ScopeDownPolicy(rules []Rule, task *Task) (doc string, notes []string, err error) {
	env, err := newEnv()
	if err != nil {
		return "", nil, fmt.Errorf("build CEL environment: %w", err)
	}
	g := newGrants()
	for i, r := range rules {
		expr := r.Allow
		if r.Deny != "" {
			expr = r.Deny
		}
		checked, iss := env.Compile(expr)
		if iss != nil && iss.Err() != nil {
			return "", nil, fmt.Errorf("policy.rules[%d] (%s): %w", i, r.Name, iss.Err())
		}
		a := checked.NativeRep()
		if p := referencedProtocols(a); p != 0 && p&forS3 == 0 {
			continue // not about S3
		}
		if r.Deny != "" {
			notes = append(notes, fmt.Sprintf("rule %s: deny rules are not in the session policy; Airlock enforces them", r.Name))
			continue
		}
		tr := &translator{rule: r.Name, task: task, env: env, ast: a, info: a.SourceInfo()}
		alts, err := tr.expr(a.Expr())
		if err != nil {
			return "", nil, fmt.Errorf("scope_down: rule %s: %w", r.Name, err)
		}
		notes = append(notes, tr.notes...)
		if len(alts) == 0 {
			notes = append(notes, fmt.Sprintf("rule %s: never matches for this task; not in the session policy", r.Name))
			continue
		}
		named := namedActions(a)
		for _, c := range alts {
			n, err := g.add(r.Name, c, named)
			if err != nil {
				return "", nil, fmt.Errorf("scope_down: rule %s: %w", r.Name, err)
			}
			notes = append(notes, n...)
		}
	}
	if g.empty() {
		notes = append(notes, "no S3 allow rule: the session policy allows nothing")
	}
	doc, err = g.document()
	if err != nil {
		return "", nil, err
	}
	if n := len(doc); n > MaxSessionPolicy {
		return "", notes, fmt.Errorf("scope_down: the session policy is %d characters; STS takes at most %d: "+
			"use fewer, broader S3 rules, or a session_policy_file", n, MaxSessionPolicy)
	}
	return doc, dedupe(notes), nil
}

// namedActions are the operations named by a rule's string literals: a
// rule that does not bound s3.action may allow them.
func namedActions(a *ast.AST) []string {
	var out []string
	for _, s := range stringLiterals(a) {
		if _, ok := s3Actions[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// pat is one string (exact) or every string starting with s (prefix).
type pat struct {
	s      string
	prefix bool
}

func (p pat) admitsEmpty() bool    { return p.s == "" }
func (p pat) admitsNonEmpty() bool { return p.prefix || p.s != "" }

// and is the intersection of p and q, if not empty.
func (p pat) and(q pat) (pat, bool) {
	switch {
	case !p.prefix && !q.prefix:
		return p, p.s == q.s
	case !p.prefix:
		return p, strings.HasPrefix(p.s, q.s)
	case !q.prefix:
		return q, strings.HasPrefix(q.s, p.s)
	case strings.HasPrefix(p.s, q.s):
		return p, true
	case strings.HasPrefix(q.s, p.s):
		return q, true
	}
	return pat{}, false
}

// field bounds one s3 field: unbound, or one of pats (none: nothing).
type field struct {
	bound bool
	pats  []pat
}

func (f field) and(g field) field {
	if !f.bound {
		return g
	}
	if !g.bound {
		return f
	}
	out := field{bound: true}
	for _, p := range f.pats {
		for _, q := range g.pats {
			if r, ok := p.and(q); ok && !slices.Contains(out.pats, r) {
				out.pats = append(out.pats, r)
			}
		}
	}
	return out
}

// bounds reports whether f rules anything out.
func (f field) bounds() bool {
	return f.bound && !slices.Contains(f.pats, pat{prefix: true})
}

func (f field) admitsEmpty() bool {
	return !f.bound || slices.ContainsFunc(f.pats, pat.admitsEmpty)
}

func (f field) admitsNonEmpty() bool {
	return !f.bound || slices.ContainsFunc(f.pats, pat.admitsNonEmpty)
}

// conj is a conjunction of bounds on the s3 fields.
type conj struct {
	action, bucket, key, prefix field
}

func (c conj) and(d conj) (conj, bool) {
	out := conj{action: c.action.and(d.action), bucket: c.bucket.and(d.bucket), key: c.key.and(d.key), prefix: c.prefix.and(d.prefix)}
	for _, f := range []field{out.action, out.bucket, out.key, out.prefix} {
		if f.bound && len(f.pats) == 0 {
			return conj{}, false // nothing satisfies it
		}
	}
	return out, true
}

// translator reads one rule's expression as a disjunction of conj.
type translator struct {
	rule  string
	task  *Task
	env   *cel.Env
	ast   *ast.AST
	info  *ast.SourceInfo
	notes []string
}

func (t *translator) notef(format string, args ...any) {
	t.notes = append(t.notes, "rule "+t.rule+": "+fmt.Sprintf(format, args...))
}

func (t *translator) text(e ast.Expr) string {
	s, err := parser.Unparse(e, t.info)
	if err != nil {
		return "an expression"
	}
	return "`" + s + "`"
}

var errTooManyAlternatives = fmt.Errorf("more than %d alternatives (|| spread by &&): split the rule", maxAlternatives)

// expr returns e's alternatives; none means e is never true.
func (t *translator) expr(e ast.Expr) ([]conj, error) {
	if e.Kind() == ast.CallKind {
		call := e.AsCall()
		switch call.FunctionName() {
		case operators.LogicalAnd:
			out := []conj{{}}
			for _, arg := range call.Args() {
				alts, err := t.expr(arg)
				if err != nil {
					return nil, err
				}
				var next []conj
				for _, a := range out {
					for _, b := range alts {
						if c, ok := a.and(b); ok {
							next = append(next, c)
						}
					}
				}
				if len(next) > maxAlternatives {
					return nil, errTooManyAlternatives
				}
				out = next
			}
			return out, nil
		case operators.LogicalOr:
			var out []conj
			for _, arg := range call.Args() {
				alts, err := t.expr(arg)
				if err != nil {
					return nil, err
				}
				out = append(out, alts...)
			}
			if len(out) > maxAlternatives {
				return nil, errTooManyAlternatives
			}
			return out, nil
		}
	}
	if v, ok := t.fold(e); ok {
		if b, isBool := v.(bool); isBool {
			if b {
				return []conj{{}}, nil
			}
			return nil, nil
		}
	}
	if c, ok := t.atom(e); ok {
		return []conj{c}, nil
	}
	t.notef("%s is not in the session policy (it is wider there)", t.text(e))
	return []conj{{}}, nil
}

// atom reads one condition on an s3 field.
func (t *translator) atom(e ast.Expr) (conj, bool) {
	if e.Kind() != ast.CallKind {
		return conj{}, false
	}
	call := e.AsCall()
	args := call.Args()
	var (
		name string
		f    field
	)
	switch fn := call.FunctionName(); {
	case fn == operators.Equals && len(args) == 2:
		name = s3Field(args[0])
		val := args[1]
		if name == "" {
			name, val = s3Field(args[1]), args[0]
		}
		p, ok := t.pattern(val)
		if !ok {
			return conj{}, false
		}
		f = field{bound: true, pats: []pat{p}}
	case fn == operators.In && len(args) == 2 && args[1].Kind() == ast.ListKind:
		name = s3Field(args[0])
		f.bound = true
		for _, el := range args[1].AsList().Elements() {
			p, ok := t.pattern(el)
			if !ok {
				return conj{}, false
			}
			f.pats = append(f.pats, p)
		}
	case (fn == "startsWith" || fn == "glob") && call.IsMemberFunction() && len(args) == 1:
		name = s3Field(call.Target())
		known, complete := t.prefix(args[0])
		if !complete && name != "" {
			t.notef("%s is not fully resolved (no task, or a label it lacks): the session policy uses its known start %q", t.text(args[0]), known)
		}
		p := pat{s: known, prefix: true}
		if fn == "glob" {
			p = globPat(known, complete)
		}
		f = field{bound: true, pats: []pat{p}}
	default:
		return conj{}, false
	}
	var c conj
	switch name {
	case "action":
		c.action = f
	case "bucket":
		c.bucket = f
	case "key":
		c.key = f
	case "prefix":
		c.prefix = f
	default:
		return conj{}, false
	}
	return c, true
}

// s3Field names the field of an s3.<field> expression, or "".
func s3Field(e ast.Expr) string {
	if e.Kind() != ast.SelectKind {
		return ""
	}
	sel := e.AsSelect()
	if sel.IsTestOnly() || sel.Operand().Kind() != ast.IdentKind || sel.Operand().AsIdent() != "s3" {
		return ""
	}
	return sel.FieldName()
}

// pattern is what a string value can be: itself when it resolves,
// else a prefix of the part that does.
func (t *translator) pattern(e ast.Expr) (pat, bool) {
	known, complete := t.prefix(e)
	if !complete && known == "" {
		return pat{}, false
	}
	if !complete {
		t.notef("%s is not fully resolved (no task, or a label it lacks): the session policy uses its known start %q", t.text(e), known)
	}
	return pat{s: known, prefix: !complete}, true
}

// globPat is the pattern of the strings a glob matches: the literal text
// before its first wildcard, as a prefix, or the whole as one string.
// complete says whether pattern is all of the glob or its known start.
// A byte outside valid UTF-8 also ends the literal text: a JSON policy
// cannot hold it, so the prefix stops before it (wider, still sound).
func globPat(pattern string, complete bool) pat {
	var b strings.Builder
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		i += n
		switch r {
		case '*', '?':
			return pat{s: b.String(), prefix: true}
		case '\\':
			if i >= len(pattern) {
				return pat{s: b.String(), prefix: true} // the escaped rune is past the known part
			}
			r, n = utf8.DecodeRuneInString(pattern[i:])
			i += n
		}
		if r == utf8.RuneError && n == 1 {
			return pat{s: b.String(), prefix: true}
		}
		b.WriteRune(r)
	}
	return pat{s: b.String(), prefix: !complete}
}

// prefix resolves a string expression: its value and true, or the value
// of its resolvable start and false.
func (t *translator) prefix(e ast.Expr) (string, bool) {
	if v, ok := t.fold(e); ok {
		s, isStr := v.(string)
		return s, isStr
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.Add {
		var b strings.Builder
		for _, arg := range e.AsCall().Args() {
			s, complete := t.prefix(arg)
			b.WriteString(s)
			if !complete {
				return b.String(), false
			}
		}
		return b.String(), true
	}
	return "", false
}

// fold evaluates e when it depends on constants and the task alone, with
// CEL itself: a string, a bool or a []string. It reports false for
// anything else, without a task, and when evaluation fails (a label the
// task lacks is an error at run time too).
func (t *translator) fold(e ast.Expr) (any, bool) {
	if e.Kind() == ast.LiteralKind {
		s, ok := e.AsLiteral().(types.String)
		return string(s), ok
	}
	for _, id := range ast.MatchDescendants(ast.NavigateExpr(t.ast, e), ast.KindMatcher(ast.IdentKind)) {
		if id.AsIdent() != "task" || t.task == nil {
			return nil, false
		}
	}
	text, err := parser.Unparse(e, t.info)
	if err != nil {
		return nil, false
	}
	checked, iss := t.env.Compile(text)
	if iss != nil && iss.Err() != nil {
		return nil, false
	}
	prg, err := t.env.Program(checked, cel.CostLimit(DefaultCostLimit))
	if err != nil {
		return nil, false
	}
	out, _, err := prg.Eval(map[string]any{"task": t.task})
	if err != nil || types.IsError(out) {
		return nil, false
	}
	switch {
	case checked.OutputType().IsExactType(types.StringType), checked.OutputType().IsExactType(types.BoolType):
		return out.Value(), true
	case checked.OutputType().IsExactType(types.NewListType(types.StringType)):
		list, err := out.ConvertToNative(reflect.TypeFor[[]string]())
		return list, err == nil
	}
	return nil, false
}
