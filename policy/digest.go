package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"cel.dev/cel-go/cel"
)

// digestVersion begins the digested encoding; it changes if the encoding does.
const digestVersion = "airlock-policy-digest-v1"

// Digest returns the SHA-256, in hex, of the compiled rule set: what a
// reviewer needs to know which policy decided. It is taken over this
// encoding, each item a netstring (decimal length, ':', bytes, ','):
//
//	digestVersion, mode ("enforce" or "observe"), cost limit (decimal),
//	then for each rule in policy order (policy rules, then egress.allow
//	expressions as rules named egress.allow[i]):
//	name, effect ("allow" or "deny"), expression
//
// where the expression is CEL's canonical rendering of its parse tree, so
// that whitespace, comments, quote style and the YAML around the rules do
// not change the digest, while any change to a rule's name, effect, logic,
// order, the mode or the cost limit does. Descriptions are not part of it.
func (e *Engine) Digest() string { return e.digest }

// digestRules computes Digest for rules compiled with opts (already valid).
func digestRules(env *cel.Env, rules []Rule, opts Options, limit uint64) (string, error) {
	tracking, err := env.Extend(cel.EnableMacroCallTracking())
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	h := sha256.New()
	put := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s + ","))
	}
	mode := "enforce"
	if opts.Observe {
		mode = "observe"
	}
	put(digestVersion)
	put(mode)
	put(strconv.FormatUint(limit, 10))
	rule := func(name, effect, expr string) error {
		ast, iss := tracking.Parse(expr)
		if iss != nil && iss.Err() != nil {
			return fmt.Errorf("digest: rule %s: %w", name, iss.Err())
		}
		canon, err := cel.AstToString(ast)
		if err != nil {
			return fmt.Errorf("digest: rule %s: %w", name, err)
		}
		put(name)
		put(effect)
		put(canon)
		return nil
	}
	for _, r := range rules {
		effect, expr := "allow", r.Allow
		if r.Deny != "" {
			effect, expr = "deny", r.Deny
		}
		if err := rule(r.Name, effect, expr); err != nil {
			return "", err
		}
	}
	for i, expr := range opts.Egress {
		if err := rule(EgressRuleName(i), "allow", expr); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PolicyDigest is the Digest that rules compiled with opts have, without
// compiling them (the rules must compile).
func PolicyDigest(rules []Rule, opts Options) (string, error) {
	env, err := newEnv()
	if err != nil {
		return "", fmt.Errorf("build CEL environment: %w", err)
	}
	limit := opts.CostLimit
	if limit == 0 {
		limit = DefaultCostLimit
	}
	return digestRules(env, rules, opts, limit)
}
