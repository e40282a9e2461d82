package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The IAM side of scope-down: grants collected from the translated rules,
// folded, and written as a session policy document.

// grants collects IAM grants: per (action, resource), either no condition
// or the s3:prefix patterns it is limited to.
type grants struct {
	m map[grantKey]*grantCond
}

type grantKey struct{ action, resource string }

type grantCond struct {
	always   bool
	prefixes []string
}

func newGrants() *grants { return &grants{m: map[grantKey]*grantCond{}} }

func (g *grants) empty() bool { return len(g.m) == 0 }

// grant adds action on resource, limited to prefixes unless nil.
func (g *grants) grant(action, resource string, prefixes []string) {
	k := grantKey{action, resource}
	c := g.m[k]
	if c == nil {
		c = &grantCond{}
		g.m[k] = c
	}
	if prefixes == nil {
		c.always = true
		return
	}
	for _, p := range prefixes {
		if !slices.Contains(c.prefixes, p) {
			c.prefixes = append(c.prefixes, p)
		}
	}
}

// add grants what one conjunction of a rule allows.
func (g *grants) add(rule string, c conj, named []string) (notes []string, err error) {
	if !c.action.bounds() && !c.bucket.bounds() {
		return nil, errors.New("an alternative of it bounds neither s3.action nor s3.bucket, " +
			"so no session policy can follow it: name the actions or buckets, or drop scope_down")
	}
	notef := func(format string, args ...any) {
		notes = append(notes, "rule "+rule+": "+fmt.Sprintf(format, args...))
	}
	// The operations it may allow. One whose name the rule does not
	// give as a literal must be a data operation (Airlock's rule).
	var ops []string
	unknown := false
	for name, a := range s3Actions {
		if a.data || slices.Contains(named, name) {
			ops = append(ops, name)
		}
	}
	if c.action.bound {
		ops = slices.DeleteFunc(ops, func(name string) bool {
			return !slices.ContainsFunc(c.action.pats, func(p pat) bool { _, ok := p.and(pat{s: name}); return ok })
		})
		for _, p := range c.action.pats {
			if _, ok := s3Actions[p.s]; !ok && !p.prefix {
				notef("S3 operation %q is not in the scope-down table: the session policy allows s3:* where the rule applies", p.s)
				unknown = true
			} else if !p.prefix && !slices.Contains(ops, p.s) {
				ops = append(ops, p.s) // named, but not as a literal
			}
		}
	}
	buckets := g.patterns(c.bucket, notef)
	keys := g.patterns(c.key, notef)
	var prefixCond []string // nil: none
	if c.prefix.bound && !c.prefix.admitsEmpty() {
		prefixCond = g.patterns(c.prefix, notef)
	}
	objectOK := c.bucket.admitsNonEmpty() && c.key.admitsNonEmpty() && c.prefix.admitsEmpty()
	bucketOK := c.bucket.admitsNonEmpty() && c.key.admitsEmpty()
	if !c.bucket.bounds() && (objectOK || bucketOK) && slices.ContainsFunc(ops, func(op string) bool { return s3Actions[op].level != "service" }) {
		notef("no bucket named: the session policy allows it on every bucket")
	}
	if unknown && (objectOK || bucketOK) {
		for _, b := range buckets {
			g.grant("s3:*", "arn:aws:s3:::"+b, nil)
			g.grant("s3:*", "arn:aws:s3:::"+b+"/*", nil)
		}
	}
	for _, op := range ops {
		a := s3Actions[op]
		switch a.level {
		case "service":
			if c.bucket.admitsEmpty() && c.key.admitsEmpty() && c.prefix.admitsEmpty() {
				for _, act := range a.iam {
					g.grant(act, "*", nil)
				}
			}
		case "bucket", "listing":
			listing := a.level == "listing"
			if !bucketOK || (!listing && !c.prefix.admitsEmpty()) {
				continue
			}
			for _, act := range a.iam {
				cond := prefixCond
				if !listing || !iamPrefixKey[act] {
					cond = nil // S3 sets no s3:prefix here: a condition on it would deny
				}
				for _, b := range buckets {
					g.grant(act, "arn:aws:s3:::"+b, cond)
				}
			}
		case "object":
			if !objectOK {
				continue
			}
			for _, act := range a.iam {
				for _, b := range buckets {
					for _, k := range keys {
						g.grant(act, "arn:aws:s3:::"+b+"/"+k, nil)
					}
				}
			}
		}
	}
	return notes, nil
}

// patterns turns a field's bound into IAM patterns (unbound: "*"),
// leaving out the empty string, which names no bucket, object or prefix.
func (g *grants) patterns(f field, notef func(string, ...any)) []string {
	if !f.bound {
		return []string{"*"}
	}
	var out []string
	for _, p := range f.pats {
		if !p.admitsNonEmpty() {
			continue
		}
		s := iamPattern(p, notef)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// iamPattern writes p in IAM's wildcard syntax. IAM reads '*' and '?' as
// wildcards and "${" as a variable: a value holding one is cut there and
// widened with '*'.
func iamPattern(p pat, notef func(string, ...any)) string {
	s := p.s
	if i := strings.IndexAny(s, "*?$"); i >= 0 {
		notef("%q holds '*', '?' or '$', which IAM reads as special: the session policy allows the wider %q", s, s[:i]+"*")
		return s[:i] + "*"
	}
	if p.prefix {
		return s + "*"
	}
	return s
}

// covers reports whether IAM pattern a (with '*' wildcards) matches every
// string pattern b matches: b, read literally, matches a.
func covers(a, b string) bool {
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(b) {
		switch {
		case i < len(a) && a[i] == '*':
			star, mark = i, j
			i++
		case i < len(a) && a[i] == b[j]:
			i++
			j++
		case star >= 0:
			i, mark = star+1, mark+1
			j = mark
		default:
			return false
		}
	}
	for i < len(a) && a[i] == '*' {
		i++
	}
	return i == len(a)
}

// iamStatement is one statement of the session policy.
type iamStatement struct {
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// document writes the grants as a policy: grants covered by wider ones
// dropped, actions with the same resources and condition in one
// statement, everything sorted.
func (g *grants) document() (string, error) {
	type stmtKey struct{ resource, cond string }
	byResource := map[stmtKey][]string{}
	for k, c := range g.m {
		if g.covered(k, c) {
			continue
		}
		cond := ""
		if !c.always {
			var kept []string
			for _, p := range c.prefixes {
				if !slices.ContainsFunc(c.prefixes, func(q string) bool { return q != p && covers(q, p) }) {
					kept = append(kept, p)
				}
			}
			slices.Sort(kept)
			cond = strings.Join(kept, "\x00")
		}
		sk := stmtKey{k.resource, cond}
		byResource[sk] = append(byResource[sk], k.action)
	}
	type groupKey struct{ actions, cond string }
	groups := map[groupKey][]string{}
	for sk, actions := range byResource {
		slices.Sort(actions)
		gk := groupKey{strings.Join(actions, "\x00"), sk.cond}
		groups[gk] = append(groups[gk], sk.resource)
	}
	stmts := make([]iamStatement, 0, len(groups))
	for gk, resources := range groups {
		slices.Sort(resources)
		st := iamStatement{Effect: "Allow", Action: strings.Split(gk.actions, "\x00"), Resource: resources}
		if gk.cond != "" {
			st.Condition = map[string]map[string][]string{"StringLike": {"s3:prefix": strings.Split(gk.cond, "\x00")}}
		}
		stmts = append(stmts, st)
	}
	if len(stmts) == 0 {
		stmts = append(stmts, iamStatement{Effect: "Deny", Action: []string{"s3:*"}, Resource: []string{"*"}})
	}
	slices.SortFunc(stmts, func(a, b iamStatement) int {
		if c := slices.Compare(a.Action, b.Action); c != 0 {
			return c
		}
		if c := slices.Compare(a.Resource, b.Resource); c != 0 {
			return c
		}
		return strings.Compare(fmt.Sprint(a.Condition), fmt.Sprint(b.Condition))
	})
	b, err := json.Marshal(struct {
		Version   string         `json:"Version"`
		Statement []iamStatement `json:"Statement"`
	}{"2012-10-17", stmts})
	if err != nil {
		return "", fmt.Errorf("scope_down: write the policy: %w", err)
	}
	return asciiJSON(b), nil
}

// covered reports whether another grant of the same action (or s3:*)
// allows all that grant k, with condition c, does.
func (g *grants) covered(k grantKey, c *grantCond) bool {
	for k2, c2 := range g.m {
		if k2 == k || (k2.action != k.action && k2.action != "s3:*") || !covers(k2.resource, k.resource) {
			continue
		}
		if c2.always || (!c.always && !slices.ContainsFunc(c.prefixes, func(p string) bool {
			return !slices.ContainsFunc(c2.prefixes, func(q string) bool { return covers(q, p) })
		})) {
			return true
		}
	}
	return false
}

// asciiJSON escapes every non-ASCII rune of a JSON text as \uXXXX: STS
// takes policy text in U+0020–U+00FF only. Outside strings JSON is ASCII.
func asciiJSON(b []byte) string {
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out.WriteRune(r)
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}

// dedupe drops repeated notes, keeping the first of each.
func dedupe(notes []string) []string {
	var out []string
	for _, n := range notes {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
