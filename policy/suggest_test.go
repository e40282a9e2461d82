package policy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

func sqlReq(kind string, kinds, reads, writes, funcs []string) policy.Request {
	if kinds == nil {
		kinds = []string{kind}
	}
	tables := slices.Concat(reads, writes)
	slices.Sort(tables)
	return policy.Request{Protocol: policy.ProtocolPostgres, Task: policy.Task{ID: "t1"}, SQL: policy.SQL{
		Kind: kind, Kinds: kinds, Command: strings.ToUpper(kind), Reads: reads, Writes: writes,
		Tables: slices.Compact(tables), Functions: funcs, Text: kind + " …",
	}}
}

func s3Req(task, action, bucket, key string) policy.Request {
	return policy.Request{Protocol: policy.ProtocolS3, Task: policy.Task{ID: task}, S3: policy.S3{Action: action, Bucket: bucket, Key: key}}
}

func listReq(task, bucket, prefix string) policy.Request {
	return policy.Request{Protocol: policy.ProtocolS3, Task: policy.Task{ID: task}, S3: policy.S3{Action: "ListObjectsV2", Bucket: bucket, Prefix: prefix}}
}

func httpReq(method, host string, port int, path string) policy.Request {
	return policy.Request{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: method, Host: host, Port: port, Path: path}}
}

func l(s ...string) []string { return s }

const noFuncs = ` && sql.functions.size() == 0`

// TestSuggestGrouping: which requests share a rule, and how each rule
// bounds them.
func TestSuggestGrouping(t *testing.T) {
	for _, tc := range []struct {
		name string
		reqs []policy.Request
		want []string // "name: allow"
	}{
		{"selects share a rule over the union of their tables", []policy.Request{
			sqlReq("select", nil, l("sales.orders"), nil, nil),
			sqlReq("select", nil, l("sales.orders", "sales.regions"), nil, l("pg_catalog.lower")),
		}, l(`suggested-postgres-select-1: sql.kind == "select" && sql.writes.size() == 0 && sql.reads.all(t, t in ["sales.orders", "sales.regions"]) && sql.functions.all(f, f in ["pg_catalog.lower"])`)},
		{"a write bounds kinds, writes and reads", []policy.Request{
			sqlReq("insert", l("insert", "select"), l("sales.orders"), l("staging.daily"), nil),
			sqlReq("insert", nil, nil, l("staging.log"), nil),
		}, l(`suggested-postgres-insert-1: sql.kind == "insert" && sql.kinds.all(k, k in ["insert", "select"]) && sql.writes.all(t, t in ["staging.daily", "staging.log"]) && sql.reads.all(t, t in ["sales.orders"])` + noFuncs)},
		{"a DELETE hidden in a SELECT gets its own rule", []policy.Request{
			sqlReq("select", l("delete", "select"), l("sales.orders"), l("sales.orders"), nil),
			sqlReq("select", nil, l("sales.items"), nil, nil),
		}, l(
			`suggested-postgres-select-1: sql.kind == "select" && sql.writes.size() == 0 && sql.reads.all(t, t in ["sales.items"])`+noFuncs,
			`suggested-postgres-select-2: sql.kind == "select" && sql.kinds.all(k, k in ["delete", "select"]) && sql.writes.all(t, t in ["sales.orders"]) && sql.reads.all(t, t in ["sales.orders"])`+noFuncs)},
		{"transactions and SET: one rule each on the kind", []policy.Request{
			sqlReq("transaction", nil, nil, nil, nil), sqlReq("set", nil, nil, nil, nil), sqlReq("transaction", nil, nil, nil, nil),
		}, l(`suggested-postgres-set-1: sql.kind == "set" && sql.text == "set …"`, `suggested-postgres-transaction-1: sql.kind == "transaction" && sql.command == "TRANSACTION"`)},
		{"functions are listed, built-ins included", []policy.Request{
			sqlReq("select", nil, nil, nil, l("pg_catalog.now", "etl.f")),
			sqlReq("call", nil, nil, nil, l("etl.p")),
		}, l(
			`suggested-postgres-call-1: sql.kind == "call" && sql.writes.size() == 0 && sql.reads.size() == 0 && sql.functions.all(f, f in ["etl.p"])`,
			`suggested-postgres-select-1: sql.kind == "select" && sql.writes.size() == 0 && sql.reads.size() == 0 && sql.functions.all(f, f in ["etl.f", "pg_catalog.now"])`)},
		{"many side-effect-free built-ins become f.pure(); others stay listed", []policy.Request{
			sqlReq("select", nil, nil, nil, l("pg_catalog.count", "pg_catalog.sum", "pg_catalog.avg", "pg_catalog.min", "pg_catalog.max")),
			sqlReq("select", nil, nil, nil, l("pg_catalog.lower", "pg_catalog.upper", "pg_catalog.btrim", "pg_catalog.date_trunc", "pg_catalog.abs", "pg_catalog.nextval", "etl.f")),
		}, l(`suggested-postgres-select-1: sql.kind == "select" && sql.writes.size() == 0 && sql.reads.size() == 0 && sql.functions.all(f, f in ["etl.f", "pg_catalog.nextval"] || f.pure())`)},
		{"a few built-ins stay listed", []policy.Request{
			sqlReq("select", nil, nil, nil, l("pg_catalog.count", "pg_catalog.sum", "pg_catalog.avg", "pg_catalog.min", "pg_catalog.max", "pg_catalog.lower", "pg_catalog.upper", "pg_catalog.trim")),
		}, l(`suggested-postgres-select-1: sql.kind == "select" && sql.writes.size() == 0 && sql.reads.size() == 0 && sql.functions.all(f, f in ["pg_catalog.avg", "pg_catalog.count", "pg_catalog.lower", "pg_catalog.max", "pg_catalog.min", "pg_catalog.sum", "pg_catalog.trim", "pg_catalog.upper"])`)},
		{"DDL is grouped by command", func() []policy.Request {
			c, d := sqlReq("ddl", nil, nil, l("staging.x"), nil), sqlReq("ddl", nil, nil, l("staging.x"), nil)
			c.SQL.Command, d.SQL.Command = "CREATE TABLE", "DROP TABLE"
			return []policy.Request{d, c}
		}(), l(
			`suggested-postgres-ddl-1: sql.kind == "ddl" && sql.command == "CREATE TABLE" && sql.kinds.all(k, k in ["ddl"]) && sql.writes.all(t, t in ["staging.x"]) && sql.reads.size() == 0`+noFuncs,
			`suggested-postgres-ddl-2: sql.kind == "ddl" && sql.command == "DROP TABLE" && sql.kinds.all(k, k in ["ddl"]) && sql.writes.all(t, t in ["staging.x"]) && sql.reads.size() == 0`+noFuncs)},
		{"keys under the task's directory", []policy.Request{
			s3Req("t1", "PutObject", "lake", "curated/t1/part-0.csv"),
			s3Req("t1", "PutObject", "lake", "curated/t1/sub/part-1.csv"),
		}, l(`suggested-s3-PutObject-1: s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`)},
		{"several runs of the task", []policy.Request{
			s3Req("run-7", "PutObject", "lake", "curated/run-7/part-0.csv"),
			s3Req("run-8", "PutObject", "lake", "curated/run-8/part-0.csv"),
		}, l(`suggested-s3-PutObject-1: s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`)},
		{"the task id as the first directory and as a file name", []policy.Request{
			s3Req("t1", "PutObject", "lake", "t1/out/a"),
			s3Req("t1", "GetObject", "lake", "in/t1"),
			s3Req("t1", "GetObject", "lake", "in/t1x/b"),
		}, l(
			`suggested-s3-GetObject-1: s3.action == "GetObject" && s3.bucket == "lake" && s3.key.startsWith("in/")`,
			`suggested-s3-PutObject-1: s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith(task.id + "/out/")`)},
		{"the common directory, cut at the last '/'", []policy.Request{
			s3Req("t1", "GetObject", "lake", "raw/2026-11-21/a.csv"),
			s3Req("t1", "GetObject", "lake", "raw/2026-11-22/b.csv"),
		}, l(`suggested-s3-GetObject-1: s3.action == "GetObject" && s3.bucket == "lake" && s3.key.startsWith("raw/")`)},
		{"one prefix per top-level directory; top-level keys whole", []policy.Request{
			s3Req("t1", "GetObject", "lake", "raw/x/a.csv"),
			s3Req("t1", "GetObject", "lake", "ref/regions.csv"),
			s3Req("t1", "GetObject", "lake", "manifest.json"),
			s3Req("t1", "GetObject", "lake", "_SUCCESS"),
			s3Req("t1", "GetObject", "lake", "raw/x/b.csv"),
		}, l(`suggested-s3-GetObject-1: s3.action == "GetObject" && s3.bucket == "lake" && (s3.key.startsWith("raw/x/") || s3.key.startsWith("ref/") || s3.key in ["_SUCCESS", "manifest.json"])`)},
		{"listings bound the prefix; a bucket-wide one is named", []policy.Request{
			listReq("t1", "lake", "curated/t1/part-"),
			listReq("t1", "lake", ""),
		}, l(`suggested-s3-ListObjectsV2-1: s3.action == "ListObjectsV2" && s3.bucket == "lake" && (s3.prefix.startsWith("curated/" + task.id + "/") || s3.prefix == "")`)},
		{"copies bound their source", []policy.Request{{
			Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"},
			S3: policy.S3{Action: "CopyObject", Bucket: "lake", Key: "curated/t1/a", SourceBucket: "landing", SourceKey: "in/a"},
		}}, l(`suggested-s3-CopyObject-1: s3.action == "CopyObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/") && s3.source_bucket == "landing" && s3.source_key.startsWith("in/")`)},
		{"one rule per bucket; bucket operations without a key", []policy.Request{
			s3Req("t1", "GetObject", "zone", "a/b"), s3Req("t1", "GetObject", "lake", "a/b"),
			{Protocol: policy.ProtocolS3, NamedOnly: true, S3: policy.S3{Action: "GetBucketPolicy", Bucket: "lake"}},
		}, l(
			`suggested-s3-GetBucketPolicy-1: s3.action == "GetBucketPolicy" && s3.bucket == "lake"`,
			`suggested-s3-GetObject-1: s3.action == "GetObject" && s3.bucket == "lake" && s3.key.startsWith("a/")`,
			`suggested-s3-GetObject-2: s3.action == "GetObject" && s3.bucket == "zone" && s3.key.startsWith("a/")`)},
		{"quotes in names and keys", []policy.Request{
			s3Req("t1", "GetObject", "lake", `we"ird\dir/k`),
		}, l(`suggested-s3-GetObject-1: s3.action == "GetObject" && s3.bucket == "lake" && s3.key.startsWith("we\"ird\\dir/")`)},
		{"egress by method, host and port; protocols in order", []policy.Request{
			httpReq("CONNECT", "pypi.org", 443, ""), httpReq("GET", "api.internal", 80, "/v1/a"),
			httpReq("CONNECT", "pypi.org", 443, ""), sqlReq("transaction", nil, nil, nil, nil),
		}, l(
			`suggested-postgres-transaction-1: sql.kind == "transaction" && sql.command == "TRANSACTION"`,
			`suggested-http-CONNECT-1: http.host == "pypi.org" && http.port == 443 && http.method == "CONNECT"`,
			`suggested-http-GET-1: http.host == "api.internal" && http.port == 80 && http.method == "GET"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := policy.Suggest(tc.reqs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, r.Name+": "+r.Allow)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkCovers(t, tc.reqs, rules)
		})
	}
}

// TestSuggestRequestsAndExamples: each rule lists the requests of its
// group in input order; the first is its example.
func TestSuggestRequestsAndExamples(t *testing.T) {
	reqs := []policy.Request{
		s3Req("t1", "GetObject", "lake", "raw/a.csv"),
		sqlReq("select", nil, l("sales.orders"), nil, nil),
		s3Req("t1", "GetObject", "lake", "raw/b.csv"),
		httpReq("GET", "api.internal", 8080, "/v1/x"),
	}
	reqs[1].SQL.Text = "SELECT *\n  FROM orders WHERE id = $1"
	rules, err := policy.Suggest(reqs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		requests []int
		example  string
	}{
		{[]int{1}, "SELECT * FROM orders WHERE id = $1"},
		{[]int{0, 2}, "lake/raw/a.csv"},
		{[]int{3}, "GET api.internal:8080/v1/x"},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rules), len(want))
	}
	for i, w := range want {
		if !slices.Equal(rules[i].Requests, w.requests) || rules[i].Example != w.example {
			t.Errorf("rule %s: requests %v, example %q; want %v, %q", rules[i].Name, rules[i].Requests, rules[i].Example, w.requests, w.example)
		}
	}
}

func TestSuggestRefuses(t *testing.T) {
	guard := sqlReq("select", nil, nil, nil, l("pg_catalog.pg_read_file"))
	guard.Guard = "pg_read_file() is never allowed"
	for _, tc := range []struct {
		req  policy.Request
		want string
	}{
		{guard, "request 1: trips a guard rail (pg_read_file() is never allowed)"},
		{policy.Request{Protocol: "ftp"}, `request 1: protocol "ftp" is not postgres, s3 or http`},
		{policy.Request{Protocol: policy.ProtocolPostgres}, "request 1: a statement without sql.kind"},
	} {
		_, err := policy.Suggest([]policy.Request{sqlReq("select", nil, nil, nil, nil), tc.req})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// checkCovers compiles the suggested rules and requires every request to
// be allowed, by (among others) the rule of its own group.
func checkCovers(t *testing.T, reqs []policy.Request, rules []policy.SuggestedRule) *policy.Engine {
	t.Helper()
	plain := make([]policy.Rule, len(rules))
	for i, r := range rules {
		plain[i] = r.Rule
	}
	e, err := policy.Compile(plain, policy.Options{})
	if err != nil {
		t.Fatalf("suggested rules do not compile: %v", err)
	}
	seen := 0
	for _, r := range rules {
		if strings.Join(r.Conditions, " && ") != r.Allow {
			t.Errorf("%s: conditions %q are not %q", r.Name, r.Conditions, r.Allow)
		}
		for _, c := range r.Conditions {
			if c != strings.TrimSpace(c) || strings.ContainsAny(c, "\r\n") {
				t.Errorf("%s: condition %q cannot be printed on a line of its own", r.Name, c)
			}
		}
		for _, i := range r.Requests {
			seen++
			req := reqs[i]
			if d := e.Decide(&req); !d.Allow || !slices.Contains(d.Rules, r.Name) {
				t.Errorf("request %d (%s %v) not allowed by its rule %s (%s): %s", i, req.Action(), req.Resources(), r.Name, r.Allow, d.Reason)
			}
		}
	}
	if seen != len(reqs) {
		t.Errorf("the rules cover %d requests, want %d", seen, len(reqs))
	}
	return e
}

// gen makes random request sets from small pools, so that groups share
// tables, directories and task ids.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) some(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if g.r.IntN(3) == 0 {
			out = append(out, x)
		}
	}
	return out
}

func (g gen) key(task string) string {
	n := g.r.IntN(4)
	segs := make([]string, 0, n+1)
	for range n {
		segs = append(segs, g.pick("raw", "curated", "2026-11-22", "2026-11-23", "x", task, task, "part-"))
	}
	return strings.Join(append(segs, g.pick("a.csv", "b.parquet", "_SUCCESS", "")), "/")
}

func (g gen) request() policy.Request {
	task := g.pick("t1", "run-7", "run-8")
	tables := []string{"sales.orders", "sales.items", "staging.daily", "staging.log", "public.ref"}
	switch g.r.IntN(3) {
	case 0:
		kind := g.pick("select", "select", "insert", "update", "delete", "copy_to", "copy_from", "ddl", "transaction", "set")
		var reads, writes, funcs []string
		if kind != "transaction" && kind != "set" {
			reads, writes = g.some(tables...), g.some(tables...)
			funcs = g.some("pg_catalog.lower", "pg_catalog.now", "etl.f", "etl.g")
		}
		kinds := slices.Compact(slices.Sorted(slices.Values(append(g.some("select", "delete", "update"), kind))))
		r := sqlReq(kind, kinds, reads, writes, funcs)
		r.Task.ID = task
		if kind == "ddl" {
			r.SQL.Command = g.pick("CREATE TABLE", "DROP TABLE", "TRUNCATE TABLE")
		}
		return r
	case 1:
		action := g.pick("GetObject", "PutObject", "ListObjectsV2", "CopyObject", "DeleteObject", "PutBucketPolicy")
		r := s3Req(task, action, g.pick("lake", "landing"), g.key(task))
		switch action {
		case "ListObjectsV2":
			r.S3.Prefix, r.S3.Key = r.S3.Key, ""
		case "CopyObject":
			r.S3.SourceBucket, r.S3.SourceKey = g.pick("lake", "landing"), g.key(task)
		case "PutBucketPolicy":
			r.S3.Key, r.NamedOnly = "", true
		}
		return r
	default:
		r := httpReq(g.pick("CONNECT", "GET", "POST"), g.pick("pypi.org", "api.internal", "files.internal"), 443+g.r.IntN(2), "/x")
		r.Task.ID = task
		return r
	}
}

// mutations are variants of req that reach something no generated
// request does: another table, function, bucket, directory, host or port.
func mutations(req policy.Request) []policy.Request {
	var out []policy.Request
	mutate := func(f func(r *policy.Request)) {
		r := req
		r.SQL.Reads, r.SQL.Writes = slices.Clone(r.SQL.Reads), slices.Clone(r.SQL.Writes)
		r.SQL.Functions = slices.Clone(r.SQL.Functions)
		f(&r)
		out = append(out, r)
	}
	switch req.Protocol {
	case policy.ProtocolPostgres:
		if req.SQL.Kind == "transaction" || req.SQL.Kind == "set" {
			mutate(func(r *policy.Request) { r.SQL.Kind = "select"; r.SQL.Reads = []string{"hr.salaries"} })
			mutate(func(r *policy.Request) { r.SQL.Command = "PREPARE TRANSACTION"; r.SQL.Text = "SET search_path = $1" })
			break
		}
		mutate(func(r *policy.Request) { r.SQL.Reads = append(r.SQL.Reads, "hr.salaries") })
		mutate(func(r *policy.Request) { r.SQL.Writes = append(r.SQL.Writes, "hr.salaries") })
		mutate(func(r *policy.Request) { r.SQL.Functions = append(r.SQL.Functions, "evil.f") })
		mutate(func(r *policy.Request) { r.SQL.Functions = append(r.SQL.Functions, "pg_catalog.nextval") })
		if len(req.SQL.Reads) > 0 {
			mutate(func(r *policy.Request) { r.SQL.Reads[0] = "hr.salaries" })
		}
	case policy.ProtocolS3:
		mutate(func(r *policy.Request) { r.S3.Bucket = "other-bucket" })
		if req.S3.Key != "" {
			mutate(func(r *policy.Request) { r.S3.Key = "elsewhere/" + r.S3.Key })
			mutate(func(r *policy.Request) { r.S3.Key = "unused-top-level.csv" })
			mutate(func(r *policy.Request) { r.S3.Key = "raw2/" + r.S3.Key })
		}
		if req.S3.Prefix != "" {
			mutate(func(r *policy.Request) { r.S3.Prefix = "elsewhere/" + r.S3.Prefix })
		}
		if req.S3.SourceKey != "" {
			mutate(func(r *policy.Request) { r.S3.SourceBucket = "other-bucket" })
			mutate(func(r *policy.Request) { r.S3.SourceKey = "elsewhere/" + r.S3.SourceKey })
		}
	case policy.ProtocolHTTP:
		mutate(func(r *policy.Request) { r.HTTP.Host = "evil.example" })
		mutate(func(r *policy.Request) { r.HTTP.Host = "evil." + r.HTTP.Host })
		mutate(func(r *policy.Request) { r.HTTP.Host += ".evil.example" })
		mutate(func(r *policy.Request) { r.HTTP.Port = 8443 })
	}
	return out
}

// TestSuggestSoundAndLeast: for random request sets, the suggested rules
// allow every request (each by its own rule), and deny the variants of
// each request that reach a table, function, bucket, directory, host or
// port that no request in the set reached.
func TestSuggestSoundAndLeast(t *testing.T) {
	for seed := range uint64(300) {
		g := gen{rand.New(rand.NewPCG(seed, 7))}
		reqs := make([]policy.Request, 1+g.r.IntN(25))
		for i := range reqs {
			reqs[i] = g.request()
		}
		rules, err := policy.Suggest(reqs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		e := checkCovers(t, reqs, rules)
		for i, req := range reqs {
			for _, m := range mutations(req) {
				if d := e.Decide(&m); d.Allow {
					t.Errorf("seed %d: a variant of request %d is allowed by %v: %+v", seed, i, d.Rules, m)
				}
			}
		}
		if t.Failed() {
			for _, r := range rules {
				t.Logf("%s: %s", r.Name, r.Allow)
			}
			t.FailNow()
		}
	}
}

// TestSuggestNoWholeBucket: a rule never reaches the whole bucket or a
// top-level directory the task did not use, unless the task itself used
// the whole bucket.
func TestSuggestNoWholeBucket(t *testing.T) {
	reqs := []policy.Request{
		s3Req("t1", "GetObject", "lake", "raw/2026/a.csv"),
		s3Req("t1", "GetObject", "lake", "raw/2027/b.csv"),
		s3Req("t1", "GetObject", "lake", "ref.csv"),
		listReq("t1", "lake", "raw/2026/"),
		listReq("t1", "lake", "raw/2027/"),
	}
	rules, err := policy.Suggest(reqs)
	if err != nil {
		t.Fatal(err)
	}
	e := checkCovers(t, reqs, rules)
	for _, tc := range []struct {
		req   policy.Request
		allow bool
	}{
		{s3Req("t1", "GetObject", "lake", "raw/2028/c.csv"), true},
		{s3Req("t1", "GetObject", "lake", "rawx/a.csv"), false},
		{s3Req("t1", "GetObject", "lake", "curated/a.csv"), false},
		{s3Req("t1", "GetObject", "lake", "ref2.csv"), false},
		{s3Req("t1", "GetObject", "lake", ""), false},
		{listReq("t1", "lake", ""), false},
		{listReq("t1", "lake", "r"), false},
		{listReq("t1", "lake", "raw/2028/"), true},
		{listReq("t1", "lake", "curated/"), false},
		{s3Req("t1", "GetObject", "archive", "raw/2026/a.csv"), false},
	} {
		if d := e.Decide(&tc.req); d.Allow != tc.allow {
			t.Errorf("%s %v: allow %v, want %v (%s)", tc.req.S3.Action, tc.req.Resources(), d.Allow, tc.allow, d.Reason)
		}
	}
	for _, r := range rules {
		if strings.Contains(r.Allow, `startsWith("")`) {
			t.Errorf("%s reaches the whole bucket: %s", r.Name, r.Allow)
		}
	}
}

// TestSuggestTaskDirectory: a rule made from runs' own directories lets
// a later run write its own directory and no other run's.
func TestSuggestTaskDirectory(t *testing.T) {
	reqs := []policy.Request{
		s3Req("run-7", "PutObject", "lake", "curated/run-7/part-0.csv"),
		s3Req("run-8", "PutObject", "lake", "curated/run-8/2026/part-0.csv"),
	}
	rules, err := policy.Suggest(reqs)
	if err != nil {
		t.Fatal(err)
	}
	e := checkCovers(t, reqs, rules)
	for _, tc := range []struct {
		req   policy.Request
		allow bool
	}{
		{s3Req("run-9", "PutObject", "lake", "curated/run-9/part-0.csv"), true},
		{s3Req("run-9", "PutObject", "lake", "curated/run-8/part-0.csv"), false},
		{s3Req("run-9", "PutObject", "lake", "curated/part-0.csv"), false},
		{s3Req("run-9", "PutObject", "lake", "run-9/part-0.csv"), false},
	} {
		if d := e.Decide(&tc.req); d.Allow != tc.allow {
			t.Errorf("task %s key %s: allow %v, want %v (%s)", tc.req.Task.ID, tc.req.S3.Key, d.Allow, tc.allow, d.Reason)
		}
	}
}

// TestSuggestStable: the order of the requests does not change the rules.
func TestSuggestStable(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	reqs := make([]policy.Request, 40)
	for i := range reqs {
		reqs[i] = g.request()
	}
	text := func(reqs []policy.Request) string {
		rules, err := policy.Suggest(reqs)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rules {
			fmt.Fprintf(&b, "%s: %s\n", r.Name, r.Allow)
		}
		return b.String()
	}
	want := text(reqs)
	g.r.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	if got := text(reqs); got != want {
		t.Errorf("shuffled input gave other rules:\n%s\nwant\n%s", got, want)
	}
}

// TestSuggestGeneralised: each rule says which dimensions it widened.
func TestSuggestGeneralised(t *testing.T) {
	for _, tc := range []struct {
		name string
		reqs []policy.Request
		want []string
	}{
		{"keys under the task's directory", []policy.Request{
			s3Req("t1", "PutObject", "lake", "curated/t1/a/part-0.csv"),
			s3Req("t1", "PutObject", "lake", "curated/t1/b/part-1.csv"),
			s3Req("t1", "PutObject", "lake", "manifest.json"),
		}, l(
			"s3.key: a directory named after the task id became task.id, so the rule fits every run and no other run's directory",
			`s3.key: widened to the prefix "curated/<task.id>/", the longest directory shared by the 2 distinct value(s) seen under "curated/"`,
		)},
		{"many built-ins", []policy.Request{
			sqlReq("select", nil, nil, nil, l("pg_catalog.count", "pg_catalog.sum", "pg_catalog.avg", "pg_catalog.min", "pg_catalog.max",
				"pg_catalog.lower", "pg_catalog.upper", "pg_catalog.btrim", "pg_catalog.abs")),
		}, l(
			"functions: the 9 side-effect-free built-ins seen became f.pure(), the class generated from pg_proc",
			"statements: any of this kind over these tables and functions, with any literal values (1 distinct normalised statements seen)",
		)},
		{"a bucket operation", []policy.Request{{Protocol: policy.ProtocolS3, S3: policy.S3{Action: "HeadBucket", Bucket: "lake"}}}, nil},
		{"egress", []policy.Request{httpReq("CONNECT", "pypi.org", 443, "")}, nil},
		{"statements", []policy.Request{
			sqlReq("select", nil, l("sales.orders"), nil, nil),
			sqlReq("select", nil, l("sales.items"), nil, nil),
		}, l(
			"statements: any of this kind over these tables and functions, with any literal values (1 distinct normalised statements seen)",
			"tables and functions: the union over the group; a statement may combine them",
		)},
	} {
		rules, err := policy.Suggest(tc.reqs)
		if err != nil || len(rules) != 1 {
			t.Fatalf("%s: %d rules, %v", tc.name, len(rules), err)
		}
		if !slices.Equal(rules[0].Generalised, tc.want) {
			t.Errorf("%s: got\n  %s\nwant\n  %s", tc.name, strings.Join(rules[0].Generalised, "\n  "), strings.Join(tc.want, "\n  "))
		}
	}
}
