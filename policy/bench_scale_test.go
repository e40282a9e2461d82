package policy_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/policy"
)

// generatedRules returns the 10-rule policy followed by n-10 rules of the
// shapes an organisation generates per schema, table, prefix and bucket,
// one in ten a deny rule. None of them names the tables, buckets and
// prefixes of the 10-rule policy.
func generatedRules(n int) []policy.Rule {
	rules := append([]policy.Rule(nil), tenRules...)
	for i := 0; len(rules) < n; i++ {
		var r policy.Rule
		switch i % 10 {
		case 0:
			r.Allow = fmt.Sprintf(`sql.kind == "select" && sql.reads.all(t, t.startsWith("schema%04d."))`, i)
		case 1:
			r.Allow = fmt.Sprintf(`sql.kind in ["insert", "update", "delete"] && sql.writes.all(t, t == "mart%04d.facts") && sql.reads.all(t, t.startsWith("mart%04d."))`, i, i)
		case 2:
			r.Allow = fmt.Sprintf(`s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.startsWith("team%04d/")`, i)
		case 3:
			r.Allow = fmt.Sprintf(`s3.action == "PutObject" && s3.bucket == "bucket-%04d" && s3.key.startsWith("out/" + task.id + "/")`, i)
		case 4:
			r.Deny = fmt.Sprintf(`sql.tables.exists(t, t == "schema%04d.customers_pii")`, i)
		case 5:
			r.Allow = fmt.Sprintf(`s3.action == "ListObjectsV2" && s3.bucket == "lake" && s3.prefix.startsWith("team%04d/")`, i)
		case 6:
			r.Allow = fmt.Sprintf(`sql.command == "CREATE TABLE" && sql.writes.all(t, t.glob("scratch%04d.*"))`, i)
		case 7:
			r.Deny = fmt.Sprintf(`s3.bucket == "lake" && s3.key.startsWith("team%04d/secret/")`, i)
		case 8:
			r.Allow = fmt.Sprintf(`s3.action in ["GetObject", "PutObject", "DeleteObject"] && s3.bucket == "bucket-%04d" && s3.key.glob("shared/**")`, i)
		case 9:
			r.Allow = fmt.Sprintf(`sql.kind == "copy_to" && sql.reads.all(t, t == "schema%04d.export")`, i)
		}
		r.Name = fmt.Sprintf("gen-%05d", i)
		rules = append(rules, r)
	}
	return rules
}

// BenchmarkDecideRules is the cost of a decision as the policy grows. The
// requests are those of BenchmarkDecide10Rules, plus one a generated rule
// allows (from 100 rules on). cpu-ns/op is the process's CPU time per
// decision (garbage collection included): on a machine shared with other
// work it moves less than ns/op.
func BenchmarkDecideRules(b *testing.B) {
	labels := map[string]string{"env": "prod"}
	reqs := []struct {
		name  string
		req   *policy.Request
		allow bool
		from  int
	}{
		{"sql-allow", &policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t1", Labels: labels},
			SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"sales.orders", "sales.items"}, Tables: []string{"sales.orders", "sales.items"}}}, true, 0},
		{"sql-deny", &policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t1", Labels: labels},
			SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"sales.customers_pii"}, Tables: []string{"sales.customers_pii"}}}, false, 0},
		{"s3-allow", &policy.Request{Protocol: "s3", Task: policy.Task{ID: "t1", Labels: labels},
			S3: policy.S3{Action: "GetObject", Bucket: "lake", Key: "raw/2026/11/22/part-0001.json"}}, true, 0},
		{"sql-generated", &policy.Request{Protocol: "postgres", Task: policy.Task{ID: "t1", Labels: labels},
			SQL: policy.SQL{Kind: "select", Kinds: []string{"select"}, Reads: []string{"schema0050.orders"}, Tables: []string{"schema0050.orders"}}}, true, 100},
		{"s3-generated", &policy.Request{Protocol: "s3", Task: policy.Task{ID: "t1", Labels: labels},
			S3: policy.S3{Action: "GetObject", Bucket: "lake", Key: "team0052/2026/part-0001.json"}}, true, 100},
	}
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			e, err := policy.Compile(generatedRules(n), policy.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, rq := range reqs {
				if n < rq.from {
					continue
				}
				b.Run(rq.name, func(b *testing.B) {
					if d := e.Decide(rq.req); d.Allow != rq.allow {
						b.Fatalf("decision %+v", d)
					}
					b.ReportAllocs()
					cpu := cpuTime()
					for b.Loop() {
						e.Decide(rq.req)
					}
					b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}

// BenchmarkCompile10000Rules reports the time and the heap it takes to
// compile a 10,000-rule policy: ms/compile (wall clock), cpu-ms/compile
// (the process's CPU time, every thread: on a shared machine the steadier
// figure) and MB-heap (what the engine keeps).
func BenchmarkCompile10000Rules(b *testing.B) {
	rules := generatedRules(10000)
	var heap uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start, cpu := time.Now(), cpuTime()
		e, err := policy.Compile(rules, policy.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/compile")
		b.ReportMetric(float64((cpuTime() - cpu).Milliseconds()), "cpu-ms/compile")
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(e)
	}
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
