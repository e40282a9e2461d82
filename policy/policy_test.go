package policy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
)

// policyFile is the shape of testdata/<case>/policy.yaml.
type policyFile struct {
	Mode  string        `yaml:"mode"`
	Rules []policy.Rule `yaml:"rules"`
}

func loadPolicy(t *testing.T, path string) *policy.Engine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pf policyFile
	if err := yaml.Unmarshal(data, &pf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	e, err := policy.Compile(pf.Rules, policy.Options{Observe: pf.Mode == "observe"})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// TestCases runs every testdata/<case>/cases.yaml against its policy.yaml.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/policy.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test policies found: %v", err)
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			e := loadPolicy(t, p)
			data, err := os.ReadFile(filepath.Join(dir, "cases.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cases, err := policy.ParseTests(data)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			passed, failed := e.RunTests(cases, &out)
			if failed != 0 || passed != len(cases) {
				t.Errorf("%d passed, %d failed of %d:\n%s", passed, failed, len(cases), out.String())
			}
		})
	}
}

// TestRunTestsReportsFailures checks that the runner can fail: every case
// here is wrong on purpose.
func TestRunTestsReportsFailures(t *testing.T) {
	e := loadPolicy(t, "testdata/etl-basic/policy.yaml")
	cases, err := policy.ParseTests([]byte(`
cases:
  - name: wrong verdict
    request: {sql: {kind: select, reads: [hr.x]}}
    expect: allow
  - name: wrong rule
    request: {sql: {kind: select, reads: [sales.x]}}
    expect: allow
    rule: tx
  - name: wrong reason
    request: {sql: {kind: select, reads: [sales.x]}}
    expect: allow
    reason: nope
`))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	passed, failed := e.RunTests(cases, &out)
	if passed != 0 || failed != 3 {
		t.Fatalf("got %d passed, %d failed; want 0, 3\n%s", passed, failed, out.String())
	}
	for _, want := range []string{
		"FAIL  wrong verdict: expected allow, got deny (no rule allows)",
		"FAIL  wrong rule: expected rule tx among the matches, got [read-sales]",
		`FAIL  wrong reason: expected reason containing "nope"`,
		"0 passed, 3 failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseTestsErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "no cases"},
		{"no list", `foo: 1`, "field foo not found"},
		{"bad expect", "cases:\n- name: a\n  request: {sql: {kind: select}}\n  expect: maybe", `cases[0] (a).expect: "maybe" is not allow or deny`},
		{"ambiguous protocol", "cases:\n- request: {sql: {kind: select}, s3: {action: GetObject}}\n  expect: deny", "cannot be inferred"},
		{"unknown request field", "cases:\n- request: {sq: {kind: select}}\n  expect: deny", "field sq not found"},
		{"bad protocol", "cases:\n- request: {protocol: ftp}\n  expect: deny", `"ftp" is not postgres, s3 or http`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseTests([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []policy.Rule
		want  string
	}{
		{"undeclared with suggestion", []policy.Rule{{Name: "a", Allow: `true`}, {Name: "b", Allow: `true`}, {Name: "c", Allow: `sq.kind == "select"`}},
			`policy.rules[2].allow: undeclared reference to 'sq' (did you mean 'sql'?) at 1:1`},
		{"unknown field", []policy.Rule{{Name: "a", Allow: `sql.kidn == "select"`}},
			`policy.rules[0].allow: undefined field 'kidn' at 1:4`},
		{"not bool", []policy.Rule{{Name: "a", Deny: `sql.kind`}},
			`policy.rules[0].deny: the expression yields string; a rule must yield bool at 1:1`},
		{"syntax", []policy.Rule{{Name: "a", Allow: `sql.kind == `}},
			`policy.rules[0].allow: Syntax error`},
		{"both", []policy.Rule{{Name: "a", Allow: `true`, Deny: `true`}},
			`policy.rules[0]: set allow or deny, not both`},
		{"neither", []policy.Rule{{Name: "a"}},
			`policy.rules[0]: set allow: or deny: to a CEL expression`},
		{"no name", []policy.Rule{{Allow: `true`}},
			`policy.rules[0].name: a rule needs a name`},
		{"bad name", []policy.Rule{{Name: "read sales", Allow: `true`}},
			`policy.rules[0].name: "read sales": use letters`},
		{"duplicate", []policy.Rule{{Name: "a", Allow: `true`}, {Name: "a", Deny: `false`}},
			`policy.rules[1].name: "a" is already the name of rules[0]`},
		{"bad glob", []policy.Rule{{Name: "a", Allow: `s3.key.glob("x\\")`}},
			`policy.rules[0].allow: glob pattern ends with an unfinished escape '\' at 1:13`},
		{"wrong arg type", []policy.Rule{{Name: "a", Allow: `s3.key.glob(1)`}},
			`found no matching overload for 'glob'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Compile(tc.rules, policy.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDecisionRulesAndReasons(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{
		{Name: "sel", Allow: `sql.kind == "select"`},
		{Name: "any-sales", Allow: `sql.tables.exists(t, t.startsWith("sales."))`},
		{Name: "no-pii", Deny: `"sales.pii" in sql.tables`},
		{Name: "everyone", Allow: `task.id == "t"`},
	}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		req    policy.Request
		allow  bool
		rules  string
		reason string
	}{
		{"two allows and a task rule", policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t"}, SQL: policy.SQL{Kind: "select", Tables: []string{"sales.a"}}},
			true, "sel,any-sales,everyone", "allowed by rule sel"},
		{"deny wins", policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select", Tables: []string{"sales.pii"}}},
			false, "sel,any-sales,no-pii", "denied by rule no-pii"},
		{"nothing matches", policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "update"}},
			false, "", "no rule allows"},
		{"protocol-neutral rule applies to s3", policy.Request{Protocol: "s3", Task: policy.Task{ID: "t"}, S3: policy.S3{Action: "GetObject"}},
			true, "everyone", "allowed by rule everyone"},
		{"sql rules skip s3", policy.Request{Protocol: "s3", S3: policy.S3{Action: "GetObject"}},
			false, "", "no rule allows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.Decide(&tc.req)
			if d.Allow != tc.allow || strings.Join(d.Rules, ",") != tc.rules || d.Reason != tc.reason {
				t.Fatalf("got allow=%v rules=%q reason=%q; want %v %q %q", d.Allow, strings.Join(d.Rules, ","), d.Reason, tc.allow, tc.rules, tc.reason)
			}
		})
	}
}

func TestObserveMode(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{{Name: "sel", Allow: `sql.kind == "select"`}}, policy.Options{Observe: true})
	if err != nil {
		t.Fatal(err)
	}
	d := e.Decide(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "delete"}})
	if !d.Allow || !d.WouldDeny || !d.Denied() || d.Reason != "no rule allows" {
		t.Fatalf("observe: got %+v", d)
	}
	d = e.Decide(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select"}})
	if !d.Allow || d.WouldDeny || d.Denied() {
		t.Fatalf("observe allow: got %+v", d)
	}
}

func TestCostLimitDenies(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{{Name: "heavy",
		Allow: `sql.reads.all(a, sql.reads.all(b, sql.reads.all(c, a + b + c != "")))`}},
		policy.Options{CostLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	reads := make([]string, 100)
	for i := range reads {
		reads[i] = "s.t"
	}
	d := e.Decide(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select", Reads: reads}})
	if d.Allow || !strings.Contains(d.Reason, "rule heavy could not be evaluated") || !strings.Contains(d.Reason, "cost limit") {
		t.Fatalf("got %+v", d)
	}
}

func TestNowVariable(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{{Name: "weekday", Allow: `now.getDayOfWeek("UTC") in [1, 2, 3, 4, 5]`}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases, err := policy.ParseTests([]byte(`
cases:
  - name: sunday
    request: {protocol: s3, now: 2026-11-22T10:00:00Z}
    expect: deny
  - name: monday
    request: {protocol: s3, now: 2026-11-23T10:00:00Z}
    expect: allow
`))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, failed := e.RunTests(cases, &out); failed != 0 {
		t.Fatal(out.String())
	}
}

func TestSizeBoundsDeny(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{{Name: "sel", Allow: `sql.kind == "select"`}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := e.Describe()
	if len(info) != 1 || info[0].Tracked || info[0].MaxCost == 0 || strings.Join(info[0].Protocols, ",") != "postgres" {
		t.Fatalf("describe: %+v", info)
	}
	d := e.Decide(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select", Tables: make([]string, policy.MaxListLen+1)}})
	if d.Allow || !strings.Contains(d.Reason, "sql.tables has 1001 entries (limit 1000)") {
		t.Fatalf("got %+v", d)
	}
	heavy, err := policy.Compile([]policy.Rule{{Name: "h", Allow: `sql.reads.all(a, sql.reads.all(b, a != b))`}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !heavy.Describe()[0].Tracked {
		t.Fatalf("a quadratic rule over 1000-entry lists should be metered: %+v", heavy.Describe())
	}
}

func TestGuardRailsBeatRulesAndObserve(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{{Name: "all", Allow: `true`}}, policy.Options{Observe: true})
	if err != nil {
		t.Fatal(err)
	}
	d := e.Decide(&policy.Request{Protocol: "postgres", Guard: "COPY ... PROGRAM is never allowed", SQL: policy.SQL{Kind: "copy_to"}})
	if d.Allow || d.WouldDeny || d.Reason != "guard rail: COPY ... PROGRAM is never allowed" {
		t.Fatalf("got %+v", d)
	}
}

func TestNamedOnly(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{
		{Name: "lake", Allow: `s3.bucket == "lake"`},
		{Name: "acl", Allow: `s3.action in ["GetBucketAcl"] && s3.bucket == "lake"`},
	}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := e.Decide(&policy.Request{Protocol: "s3", NamedOnly: true, S3: policy.S3{Action: "PutBucketPolicy", Bucket: "lake"}})
	if put.Allow || !strings.Contains(put.Reason, "no rule names PutBucketPolicy") {
		t.Fatalf("a broad rule reached a configuration operation: %+v", put)
	}
	acl := e.Decide(&policy.Request{Protocol: "s3", NamedOnly: true, S3: policy.S3{Action: "GetBucketAcl", Bucket: "lake"}})
	if !acl.Allow || acl.Reason != "allowed by rule acl" {
		t.Fatalf("a naming rule should allow: %+v", acl)
	}
	get := e.Decide(&policy.Request{Protocol: "s3", S3: policy.S3{Action: "GetObject", Bucket: "lake", Key: "k"}})
	if !get.Allow {
		t.Fatalf("ordinary operations are unaffected: %+v", get)
	}
}

// TestEgressRules: Options.Egress expressions become allow rules named
// egress.allow[i] after the rules, for http requests only (even one that
// names no variable), under the rules' deny rules; their compile errors
// name egress.allow[i].
func TestEgressRules(t *testing.T) {
	e, err := policy.Compile([]policy.Rule{
		{Name: "no-metadata", Deny: `http.host == "169.254.169.254"`},
		{Name: "frozen", Deny: `"env" in task.labels && task.labels["env"] == "frozen"`},
	}, policy.Options{Egress: []string{`http.host.endsWith(".internal")`, `true`}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Rules(), " "); got != "no-metadata frozen egress.allow[0] egress.allow[1]" {
		t.Fatalf("rules: %s", got)
	}
	for _, info := range e.Describe() {
		if strings.HasPrefix(info.Name, "egress.") && (info.Deny || len(info.Protocols) != 1 || info.Protocols[0] != policy.ProtocolHTTP) {
			t.Errorf("%+v: want an allow rule for http only", info)
		}
	}
	for _, tc := range []struct {
		req    policy.Request
		allow  bool
		rules  string
		reason string
	}{
		{policy.Request{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: "GET", Host: "api.internal", Port: 80}}, true, "egress.allow[0] egress.allow[1]", "allowed by rule egress.allow[0]"},
		{policy.Request{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: "CONNECT", Host: "169.254.169.254", Port: 80}}, false, "no-metadata egress.allow[1]", "denied by rule no-metadata"},
		{policy.Request{Protocol: policy.ProtocolHTTP, Task: policy.Task{Labels: map[string]string{"env": "frozen"}}, HTTP: policy.HTTP{Host: "x"}}, false, "frozen egress.allow[1]", "denied by rule frozen"},
		{policy.Request{Protocol: policy.ProtocolS3, S3: policy.S3{Action: "GetObject", Bucket: "b", Key: "k"}}, false, "", policy.ReasonNoRule},
		{policy.Request{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: "select"}}, false, "", policy.ReasonNoRule},
	} {
		d := e.Decide(&tc.req)
		if d.Allow != tc.allow || strings.Join(d.Rules, " ") != tc.rules || d.Reason != tc.reason {
			t.Errorf("%s %+v: got %+v, want allow=%v rules=%q reason=%q", tc.req.Protocol, tc.req.HTTP, d, tc.allow, tc.rules, tc.reason)
		}
	}
	_, err = policy.Compile([]policy.Rule{{Name: "a", Allow: `sql.kind == "x"`}}, policy.Options{Egress: []string{`http.host == "a"`, `http.hots == "b"`, ` `}})
	for _, want := range []string{"egress.allow[1]: undefined field 'hots' at 1:5", "egress.allow[2]: set a CEL expression"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
}

// TestMemo shows a decision reused for requests with the same Memo, and
// not reused when a rule reads a variable Memo does not cover (conn, now)
// or the request trips a guard rail.
func TestMemo(t *testing.T) {
	key := new(int)
	sel := func(kind, user string) *policy.Request {
		return &policy.Request{Protocol: "postgres", Memo: key, Conn: policy.Conn{User: user},
			SQL: policy.SQL{Kind: kind, Reads: []string{"public.t"}}}
	}

	e, err := policy.Compile([]policy.Rule{{Name: "sel", Allow: `sql.kind == "select"`}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Decide(sel("select", "a")); !d.Allow {
		t.Fatalf("first decision: %+v", d)
	}
	// Breaking Memo's contract (same key, other content) exposes the reuse.
	if d := e.Decide(sel("delete", "a")); !d.Allow {
		t.Fatalf("same Memo, decided again: %+v; want the remembered allow", d)
	}
	r := sel("delete", "a")
	r.Memo = new(int)
	if d := e.Decide(r); d.Allow {
		t.Fatalf("other Memo: %+v; want a fresh deny", d)
	}
	r = sel("select", "a")
	r.Guard = "tripped"
	if d := e.Decide(r); d.Allow || d.Reason != "guard rail: tripped" {
		t.Fatalf("guard with a remembered Memo: %+v; want the guard's deny", d)
	}

	for _, rule := range []string{`sql.kind == "select" && conn.user == "a"`, `sql.kind == "select" && now > timestamp("2000-01-01T00:00:00Z")`} {
		e, err := policy.Compile([]policy.Rule{{Name: "dyn", Allow: rule}}, policy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		key = new(int)
		if d := e.Decide(sel("select", "a")); !d.Allow {
			t.Fatalf("%s: first decision %+v", rule, d)
		}
		if d := e.Decide(sel("delete", "b")); d.Allow {
			t.Fatalf("%s: same Memo reused a decision although the rule reads conn or now: %+v", rule, d)
		}
	}
}
