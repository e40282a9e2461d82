package policy_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

// TestCompileLargePolicy compiles a policy large enough to be compiled on
// every CPU: the rules keep their order, problems their rule index, and the
// decisions are those of evaluating every rule.
func TestCompileLargePolicy(t *testing.T) {
	rules := generatedRules(600)
	e, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range e.Describe() {
		if info.Name != rules[i].Name {
			t.Fatalf("rule %d is %s, want %s", i, info.Name, rules[i].Name)
		}
	}
	r := newRand(7)
	for range 500 {
		req := randomRequest(r)
		if got, want := e.Decide(req), e.DecideFull(req); !reflect.DeepEqual(got, want) {
			t.Fatalf("request %+v:\nindexed %+v\nfull    %+v", req, got, want)
		}
	}
	bad := append([]policy.Rule(nil), rules...)
	bad[417].Allow = `sql.kind == 1 +`
	_, err = policy.Compile(bad, policy.Options{})
	var cerr *policy.CompileError
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || cerr.Problems[0].Rule != 417 {
		t.Fatalf("want one problem in rules[417], got %v", err)
	}
}
