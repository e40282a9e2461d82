package policy_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

// The vocabulary random policies and requests draw from: small, so that
// rules and requests meet, with the edge cases of the index (empty
// strings and lists, shared prefixes, a byte outside UTF-8).
var (
	vKinds    = []string{"select", "insert", "delete", "transaction", "ddl", ""}
	vCommands = []string{"SELECT", "CREATE TABLE", "INSERT", ""}
	vTables   = []string{"sales.orders", "sales.items", "sales.customers_pii", "hr.people", "staging.load_1", "s", ""}
	vPrefixes = []string{"sales.", "sales.o", "hr.", "staging.load_", "s", "x"}
	vActions  = []string{"GetObject", "PutObject", "ListObjectsV2", "PutBucketPolicy", ""}
	vBuckets  = []string{"lake", "lake2", "raw", ""}
	vKeys     = []string{"raw/a.json", "raw/", "curated/t1/x", "curated/t2/y", "raw/secret/k", "\x80x", "r", ""}
	vKeyPfx   = []string{"raw/", "raw/secret/", "curated/", "r", "\x80", "cur"}
	vGlobs    = []string{"raw/**", "raw/*.json", "cur?ted/**", `raw\/a.json`, "sales.*", "sales.o*", "*", "hr.people", "r*"}
	vMethods  = []string{"GET", "POST", "CONNECT", ""}
	vHosts    = []string{"api.internal", "example.com", ""}
	vDBs      = []string{"sales", "hr", ""}
	vSuffixes = []string{"_pii", "s", ".json", "/", "\x80x", "ders", "people"}
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func quoteList(r *rand.Rand, s []string) string {
	n := 1 + r.IntN(3)
	var out []string
	for range n {
		out = append(out, fmt.Sprintf("%q", pick(r, s)))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// scalarTerm is a term over one string field, indexable or not.
func scalarTerm(r *rand.Rand, field string, vals, pfx []string) string {
	switch r.IntN(12) {
	case 10:
		return fmt.Sprintf("%s.endsWith(%q)", field, pick(r, vSuffixes))
	case 11:
		return fmt.Sprintf("%s.endsWith(%q) || %s.startsWith(%q) || %s == %q", field, pick(r, vSuffixes), field, pick(r, pfx), field, pick(r, vals))
	case 0:
		return fmt.Sprintf("%s == %q", field, pick(r, vals))
	case 1:
		return fmt.Sprintf("%q == %s", pick(r, vals), field)
	case 2:
		return fmt.Sprintf("%s in %s", field, quoteList(r, vals))
	case 3:
		return fmt.Sprintf("%s.startsWith(%q)", field, pick(r, pfx))
	case 4:
		return fmt.Sprintf("%s.startsWith(%q + task.id + \"/\")", field, pick(r, pfx))
	case 5:
		return fmt.Sprintf("%s.glob(%q)", field, pick(r, vGlobs))
	case 6:
		return fmt.Sprintf("%s == %q || %s.startsWith(%q)", field, pick(r, vals), field, pick(r, pfx))
	case 7:
		return fmt.Sprintf("%s != %q", field, pick(r, vals))
	case 8:
		return fmt.Sprintf("!(%s.startsWith(%q))", field, pick(r, pfx))
	default:
		return fmt.Sprintf("%s.startsWith(task.labels[%q])", field, pick(r, []string{"env", "missing"}))
	}
}

// listTerm is a term over an sql list field.
func listTerm(r *rand.Rand) string {
	list := pick(r, []string{"sql.reads", "sql.writes", "sql.tables", "sql.functions"})
	vals, pfx := vTables, vPrefixes
	if r.IntN(4) == 0 {
		list, vals, pfx = "sql.kinds", vKinds, []string{"sel", "d", "tr"}
	}
	pred := scalarTerm(r, "x", vals, pfx)
	switch r.IntN(6) {
	case 0, 1:
		return fmt.Sprintf("%s.all(x, %s)", list, pred)
	case 2, 3:
		return fmt.Sprintf("%s.exists(x, %s)", list, pred)
	case 4:
		return fmt.Sprintf("%q in %s", pick(r, vals), list)
	default:
		return fmt.Sprintf("%s.exists_one(x, %s)", list, pred)
	}
}

// randomTerm is one term of a rule: over a field, a list, or something the
// index cannot describe (errors included: a missing label is an error).
func randomTerm(r *rand.Rand) string {
	switch r.IntN(16) {
	case 0, 1:
		return scalarTerm(r, "sql.kind", vKinds, []string{"sel", "d"})
	case 2:
		return scalarTerm(r, "sql.command", vCommands, []string{"CREATE", "S"})
	case 3:
		return scalarTerm(r, "sql.database", vDBs, []string{"s"})
	case 4, 5:
		return listTerm(r)
	case 6:
		return scalarTerm(r, "s3.action", vActions, []string{"Get", "Put"})
	case 7:
		return scalarTerm(r, "s3.bucket", vBuckets, []string{"lake", "r"})
	case 8:
		return scalarTerm(r, pick(r, []string{"s3.key", "s3.prefix", "s3.source_key"}), vKeys, vKeyPfx)
	case 9:
		return scalarTerm(r, "s3.source_bucket", vBuckets, []string{"lake"})
	case 10:
		return scalarTerm(r, pick(r, []string{"http.method", "http.host", "http.path"}), append(vMethods, vHosts...), []string{"api.", "/v1", "P"})
	case 11:
		return fmt.Sprintf("task.labels[%q] == %q", pick(r, []string{"env", "missing"}), pick(r, []string{"prod", "dev"}))
	case 12:
		return fmt.Sprintf("conn.user == %q", pick(r, []string{"etl", "bob"}))
	case 13:
		return fmt.Sprintf("(%s || %s)", randomTerm(r), randomTerm(r))
	case 14:
		return fmt.Sprintf("sql.reads.size() < %d", r.IntN(3))
	default:
		return fmt.Sprintf("sql.text.contains(%q) == %v", "FROM", r.IntN(2) == 0)
	}
}

func randomRule(r *rand.Rand, i int) policy.Rule {
	n := 1 + r.IntN(4)
	terms := make([]string, n)
	for j := range terms {
		terms[j] = randomTerm(r)
	}
	expr := strings.Join(terms, " && ")
	switch r.IntN(10) {
	case 0:
		expr = "!(" + expr + ")"
	case 1:
		expr = "(" + expr + ") || " + randomTerm(r)
	}
	rule := policy.Rule{Name: fmt.Sprintf("r%d", i)}
	if r.IntN(4) == 0 {
		rule.Deny = expr
	} else {
		rule.Allow = expr
	}
	return rule
}

func someOf(r *rand.Rand, s []string) []string {
	var out []string
	for range r.IntN(4) {
		out = append(out, pick(r, s))
	}
	return out
}

func randomRequest(r *rand.Rand) *policy.Request {
	req := &policy.Request{
		Protocol: pick(r, []string{policy.ProtocolPostgres, policy.ProtocolS3, policy.ProtocolHTTP, ""}),
		Task:     policy.Task{ID: pick(r, []string{"t1", "t2"}), Labels: map[string]string{"env": pick(r, []string{"prod", "dev"})}},
		Conn:     policy.Conn{User: pick(r, []string{"etl", "bob"})},
	}
	if r.IntN(8) == 0 {
		req.NamedOnly = true
	}
	if r.IntN(40) == 0 {
		req.Guard = "COPY to a program"
	}
	// Fields of every protocol, whatever the protocol says: the index
	// must hold for any request.
	req.SQL = policy.SQL{Kind: pick(r, vKinds), Kinds: someOf(r, vKinds), Command: pick(r, vCommands),
		Reads: someOf(r, vTables), Writes: someOf(r, vTables), Functions: someOf(r, vTables), Database: pick(r, vDBs),
		Text: pick(r, []string{"SELECT * FROM t", "BEGIN"})}
	req.SQL.Tables = append(append([]string(nil), req.SQL.Reads...), req.SQL.Writes...)
	req.S3 = policy.S3{Action: pick(r, vActions), Bucket: pick(r, vBuckets), Key: pick(r, vKeys), Prefix: pick(r, vKeys),
		SourceBucket: pick(r, vBuckets), SourceKey: pick(r, vKeys)}
	req.HTTP = policy.HTTP{Method: pick(r, vMethods), Host: pick(r, vHosts), Path: pick(r, []string{"/v1/x", "/", ""}), Port: 443}
	return req
}

// TestIndexAgreesWithFullEvaluation decides random requests against random
// policies with the index and by evaluating every rule: the decisions
// (verdict, matching rules in order, reason) must be identical, in both
// modes, under tight cost limits (rules metered and stopped), with runtime
// errors, NamedOnly, guard rails and remembered decisions.
func TestIndexAgreesWithFullEvaluation(t *testing.T) {
	seed := uint64(23) // fixed, so a failure repeats; AIRLOCK_PROPERTY_SEED tries others
	if s := os.Getenv("AIRLOCK_PROPERTY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	r := newRand(seed)
	policies, requests := 150, 60
	if testing.Short() {
		policies = 60
	}
	var evaluated, full, skipped, allowed, errored, matched int
	for p := range policies {
		rules := make([]policy.Rule, 1+r.IntN(12))
		for i := range rules {
			rules[i] = randomRule(r, i)
		}
		opts := policy.Options{Observe: r.IntN(4) == 0, CostLimit: pick(r, []uint64{0, 0, 5, 12, 30, 80})}
		if r.IntN(3) == 0 {
			opts.Egress = []string{scalarTerm(r, "http.host", vHosts, []string{"api."}), randomTerm(r)}
		}
		e, err := policy.Compile(rules, opts)
		if err != nil {
			t.Fatalf("policy %d does not compile: %v\n%v", p, err, rules)
		}
		for range requests {
			req := randomRequest(r)
			want := e.DecideFull(req)
			got := e.Decide(req)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("policy %d (%+v), request %+v:\nindexed %+v\nfull    %+v", p, rules, req, got, want)
			}
			// Remembered decisions: decided once, then looked up.
			req.Memo = req
			for range 2 {
				if got := e.Decide(req); !reflect.DeepEqual(got, want) {
					t.Fatalf("policy %d (%+v), remembered request %+v:\nindexed %+v\nfull    %+v", p, rules, req, got, want)
				}
			}
			n, all := e.Candidates(req), e.FullCandidates(req)
			evaluated, full = evaluated+n, full+all
			if n < all {
				skipped++
			}
			if want.Allow && !want.WouldDeny {
				allowed++
			}
			if strings.Contains(want.Reason, "could not be evaluated") {
				errored++
			}
			if len(want.Rules) > 0 {
				matched++
			}
		}
	}
	t.Logf("%d decisions: %d allowed, %d with a matching rule, %d with an evaluation error; the index skipped rules in %d, evaluating %d of %d rules",
		policies*requests, allowed, matched, errored, skipped, evaluated, full)
	// The comparison means something only if the cases are varied and the
	// index leaves rules out.
	if allowed == 0 || errored == 0 || matched == 0 || skipped*4 < policies*requests {
		t.Errorf("the random cases are too uniform or the index skips too little")
	}
}

// TestIndexedFields: which terms the index takes a rule's constraints from.
func TestIndexedFields(t *testing.T) {
	cases := []struct {
		expr  string
		limit uint64
		want  string // RuleInfo.Indexed, joined
	}{
		{`sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))`, 0, "sql.kind, sql.reads (all)"},
		{`"select" == sql.kind`, 0, "sql.kind"},
		{`sql.kind in ["insert", "update"] && sql.command == "INSERT"`, 0, "sql.kind, sql.command"},
		{`sql.tables.exists(t, t == "a.b" || t.startsWith("c."))`, 0, "sql.tables (exists)"},
		{`"delete" in sql.kinds`, 0, "sql.kinds (exists)"},
		{`s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`, 0, "s3.action, s3.bucket, s3.key"},
		{`s3.key.glob("raw/**") && s3.prefix.glob("*")`, 0, "s3.key"}, // "*" starts with nothing
		{`http.host == "a" || http.host.startsWith("b.")`, 0, "http.host"},
		{`sql.tables.exists(t, t.endsWith("_pii") || t.startsWith("pii."))`, 0, "sql.tables (exists)"},
		{`http.host.endsWith(".internal") && http.method == "GET"`, 0, "http.method, http.host"},
		// Not constraints: other operators, fields, or terms that can fail.
		{`sql.kind == "select" || s3.bucket == "lake"`, 0, ""},
		{`!(sql.kind == "select")`, 0, ""},
		{`sql.kind != "select"`, 0, ""},
		{`s3.key.startsWith(task.labels["prefix"])`, 0, ""},
		{`s3.key.startsWith("a/" + task.labels["prefix"])`, 0, ""},
		{`s3.key.startsWith("")`, 0, ""},
		{`s3.key.endsWith("")`, 0, ""},
		{`s3.key.endsWith(task.id)`, 0, ""},
		{`sql.reads.exists_one(t, t == "a.b")`, 0, ""},
		{`sql.reads.all(t, t.endsWith(".b"))`, 0, "sql.reads (all)"},
		{`sql.reads.all(t, t.contains(".b"))`, 0, ""},
		{`conn.user == "etl" && task.id == "t1"`, 0, ""},
		{`(sql.kind == "select" || sql.kind == "x") && sql.reads.all(t, t.glob("a.*"))`, 0, "sql.kind"}, // glob over a list: metered
		// Metered rules: only leading scalar terms, within the limit.
		{`sql.kind == "insert" && sql.writes.all(t, t.glob("staging.*")) && sql.command == "INSERT"`, 0, "sql.kind"},
		{`sql.writes.all(t, t.glob("staging.*")) && sql.kind == "insert"`, 0, ""},
		{`sql.kind == "insert" && sql.writes.all(t, t.glob("staging.*"))`, 5, ""},
		{`sql.kind == "insert" && sql.command == "INSERT" && sql.writes.all(t, t.glob("staging.*"))`, 10, "sql.kind"},
	}
	for _, c := range cases {
		e, err := policy.Compile([]policy.Rule{{Name: "r", Allow: c.expr}}, policy.Options{CostLimit: c.limit})
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := strings.Join(e.Describe()[0].Indexed, ", "); got != c.want {
			t.Errorf("%s (limit %d): indexed by %q, want %q", c.expr, c.limit, got, c.want)
		}
	}
}

// TestIndexKeepsCostLimitErrors: a metered rule stopped at the cost limit
// denies with an error, and CEL's && does not absorb that error the way it
// absorbs a failing term's: the index must not skip a metered rule on a
// constraint evaluation may never reach.
func TestIndexKeepsCostLimitErrors(t *testing.T) {
	reads := make([]string, 50)
	for i := range reads {
		reads[i] = fmt.Sprintf("a.t%d", i)
	}
	rules := []policy.Rule{
		{Name: "late-kind", Allow: `sql.reads.all(t, t.glob("a.*")) && sql.kind == "select"`},
		{Name: "early-kind", Allow: `sql.kind == "copy_to" && sql.reads.all(t, t.glob("a.*"))`},
	}
	e, err := policy.Compile(rules, policy.Options{CostLimit: 40})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind, reason string
	}{
		// late-kind runs out of budget before it reads sql.kind: an error.
		{"insert", "rule late-kind could not be evaluated: operation cancelled: actual cost limit exceeded"},
		// early-kind's leading term is false: skipped, as evaluation
		// stops there; late-kind still errs.
		{"select", "rule late-kind could not be evaluated: operation cancelled: actual cost limit exceeded"},
	} {
		req := &policy.Request{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: c.kind, Reads: reads, Tables: reads}}
		got, want := e.Decide(req), e.DecideFull(req)
		if !reflect.DeepEqual(got, want) || got.Reason != c.reason {
			t.Errorf("kind %s: indexed %+v, full %+v, want reason %q", c.kind, got, want, c.reason)
		}
	}
	if n := e.Candidates(&policy.Request{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: "insert", Reads: reads}}); n != 1 {
		t.Errorf("an insert should leave out early-kind and keep late-kind: %d candidates", n)
	}
}
