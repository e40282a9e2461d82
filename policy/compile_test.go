package policy_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

// TestCompileLargePolicy compiles a policy large enough to be compiled on
// every CPU: the rules keep their order, problems their rule index, and the
// decisions are those of evaluating every rule.
func TestCompileLargePolicy(t *testing.T) {
	rules := generatedRules(300)
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
	bad[217].Allow = `sql.kind == 1 +`
	_, err = policy.Compile(bad, policy.Options{})
	var cerr *policy.CompileError
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || cerr.Problems[0].Rule != 217 {
		t.Fatalf("want one problem in rules[217], got %v", err)
	}
}

// TestDecideConcurrently decides from several goroutines at once, with
// task labels that change between requests (the engine keeps the last
// label set boxed): every decision is the one made alone.
func TestDecideConcurrently(t *testing.T) {
	rules := append(generatedRules(200), policy.Rule{Name: "label", Allow: `task.labels["env"] == "dev" && sql.kind == "select"`})
	e, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRand(11)
	reqs := make([]*policy.Request, 200)
	want := make([]policy.Decision, len(reqs))
	for i := range reqs {
		reqs[i] = randomRequest(r)
		want[i] = e.DecideFull(reqs[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 3 * len(reqs) {
				i := (k*7 + g*13) % len(reqs)
				if got := e.Decide(reqs[i]); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("request %d: got %+v, want %+v", i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
