package policy_test

import (
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

// tenRules is a realistic 10-rule ETL policy: SQL and S3 rules, a deny guard,
// list macros and glob.
var tenRules = []policy.Rule{
	{Name: "read-sales", Allow: `sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))`},
	{Name: "tx", Allow: `sql.kind == "transaction"`},
	{Name: "set", Allow: `sql.kind == "set"`},
	{Name: "load-staging", Allow: `sql.kind in ["insert", "copy_from"] && sql.writes.all(t, t.glob("staging.load_*"))`},
	{Name: "never-pii", Deny: `sql.tables.exists(t, t == "sales.customers_pii")`},
	{Name: "no-delete", Deny: `"delete" in sql.kinds`},
	{Name: "write-curated", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/" + task.id + "/")`},
	{Name: "read-raw", Allow: `s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.glob("raw/**")`},
	{Name: "list-raw", Allow: `s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("raw/")`},
	{Name: "pipeline", Deny: `task.labels["env"] == "frozen"`},
}

func benchDecide(b *testing.B, req *policy.Request, wantAllow bool) {
	e, err := policy.Compile(tenRules, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if d := e.Decide(req); d.Allow != wantAllow {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}

func BenchmarkDecide10Rules(b *testing.B) {
	labels := map[string]string{"env": "prod"}
	b.Run("sql-allow", func(b *testing.B) {
		benchDecide(b, &policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t1", Labels: labels},
			SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"sales.orders", "sales.items"}, Tables: []string{"sales.orders", "sales.items"}}}, true)
	})
	b.Run("sql-deny", func(b *testing.B) {
		benchDecide(b, &policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t1", Labels: labels},
			SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"sales.customers_pii"}, Tables: []string{"sales.customers_pii"}}}, false)
	})
	b.Run("s3-allow", func(b *testing.B) {
		benchDecide(b, &policy.Request{Protocol: "s3", Task: policy.Task{ID: "t1", Labels: labels},
			S3: policy.S3{Action: "GetObject", Bucket: "lake", Key: "raw/2026/11/22/part-0001.json"}}, true)
	})
}

// BenchmarkDecideMemo is a repeated statement shape: the decision is
// remembered by Request.Memo (the PostgreSQL path sets it to the cached
// classification).
func BenchmarkDecideMemo(b *testing.B) {
	benchDecide(b, &policy.Request{Protocol: "postgres", Memo: new(int), Task: policy.Task{ID: "t1", Labels: map[string]string{"env": "prod"}},
		SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"sales.orders"}, Tables: []string{"sales.orders"}}}, true)
}
