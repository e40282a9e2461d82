package policy_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
)

// FuzzIndex compiles a rule from the fuzzer (as an allow and as a deny
// rule, next to a few fixed ones) and decides requests built from its
// values, with the index and by evaluating every rule: the decisions must
// be identical. Seeds are in testdata/fuzz/FuzzIndex.
func FuzzIndex(f *testing.F) {
	f.Add(`sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))`, "select", "sales.orders,hr.x", "lake", "raw/a")
	f.Fuzz(func(t *testing.T, expr, kind, tables, bucket, key string) {
		if len(expr) > 2000 {
			return
		}
		fixed := []policy.Rule{
			{Name: "fixed-kind", Allow: `sql.kind == "select"`},
			{Name: "fixed-label", Deny: `task.labels["env"] == "frozen"`},
			{Name: "fixed-key", Allow: `s3.key.startsWith("raw/") && s3.bucket == "lake"`},
		}
		var lists []string
		if tables != "" {
			lists = strings.Split(tables, ",")
		}
		reqs := []*policy.Request{
			{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: kind, Kinds: []string{kind}, Command: key, Reads: lists, Writes: lists, Tables: lists, Functions: lists, Database: bucket}},
			{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: kind, Command: bucket}},
			{Protocol: policy.ProtocolS3, S3: policy.S3{Action: kind, Bucket: bucket, Key: key, Prefix: key, SourceBucket: bucket, SourceKey: tables}},
			{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: kind, Host: bucket, Path: key}},
			{Protocol: "", SQL: policy.SQL{Kind: kind}, S3: policy.S3{Key: key}},
		}
		for _, deny := range []bool{false, true} {
			r := policy.Rule{Name: "fuzzed", Allow: expr}
			if deny {
				r = policy.Rule{Name: "fuzzed", Deny: expr}
			}
			for _, limit := range []uint64{0, 10} {
				e, err := policy.Compile(append([]policy.Rule{r}, fixed...), policy.Options{CostLimit: limit})
				if err != nil {
					return
				}
				for _, req := range reqs {
					req.Task = policy.Task{ID: "t1", Labels: map[string]string{"env": bucket}}
					if got, want := e.Decide(req), e.DecideFull(req); !reflect.DeepEqual(got, want) {
						t.Fatalf("rule %q (limit %d), request %+v:\nindexed %+v\nfull    %+v", expr, limit, req, got, want)
					}
				}
			}
		}
	})
}
