package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/protocols/s3"
)

// TestHostileCorpusClassified: every hostile statement is classified by
// the gate's classifier the way its entry claims (kind, functions, tables,
// guard rail), and every hostile S3 request is made for a task's bucket.
func TestHostileCorpusClassified(t *testing.T) {
	corpus, err := policy.LoadHostileCorpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus.SQL) < 20 || len(corpus.S3) < 10 {
		t.Fatalf("corpus has %d statements and %d S3 requests", len(corpus.SQL), len(corpus.S3))
	}
	cl := postgres.NewClassifier([]string{"public"}, "")
	const table = "sales.orders"
	for _, e := range corpus.SQL {
		text, ok := e.Text(table)
		if !ok {
			t.Errorf("%s: no text with a table", e.Name)
			continue
		}
		if _, ok := e.Text(""); ok != !strings.Contains(e.SQL, "{table}") {
			t.Errorf("%s: made without a table: %v", e.Name, ok)
		}
		sts, err := cl.Classify(text)
		if err != nil || len(sts) != 1 {
			t.Errorf("%s: %q: %d statements, %v", e.Name, text, len(sts), err)
			continue
		}
		st, x := sts[0], e.Expect
		sub := func(want []string) []string {
			var out []string
			for _, w := range want {
				out = append(out, strings.ReplaceAll(w, "{table}", table))
			}
			return out
		}
		contains := func(have, want []string) bool {
			return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(have, w) })
		}
		switch {
		case (st.Guard != "") != x.Guard:
			t.Errorf("%s: guard %q, want a guard rail: %v", e.Name, st.Guard, x.Guard)
		case x.Kind != "" && st.SQL.Kind != x.Kind:
			t.Errorf("%s: kind %q, want %q", e.Name, st.SQL.Kind, x.Kind)
		case !contains(st.SQL.Functions, x.Functions):
			t.Errorf("%s: functions %q, want %q among them", e.Name, st.SQL.Functions, x.Functions)
		case !contains(st.SQL.Reads, sub(x.Reads)) || !contains(st.SQL.Writes, sub(x.Writes)):
			t.Errorf("%s: reads %q writes %q, want %q and %q among them", e.Name, st.SQL.Reads, st.SQL.Writes, x.Reads, x.Writes)
		case !x.Guard && x.Kind == "":
			t.Errorf("%s: an entry no guard rail stops names no kind", e.Name)
		}
	}
	observed := []policy.Request{
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "PutObject", Bucket: "lake", Key: "curated/t1/daily/part-0"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "GetObject", Bucket: "landing", Key: "in/a.csv"}},
	}
	for _, e := range corpus.S3 {
		reqs := e.Requests(observed)
		if len(reqs) == 0 {
			t.Errorf("%s: no request made", e.Name)
		}
		for _, r := range reqs {
			if strings.Contains(r.S3.Bucket+r.S3.Key+r.S3.Prefix, "{") {
				t.Errorf("%s: placeholder left: %+v", e.Name, r.S3)
			}
			if r.S3.Action != "ListBuckets" && r.S3.Bucket == "" {
				t.Errorf("%s: no bucket: %+v", e.Name, r.S3)
			}
			if !s3.NamedOnly(r.S3.Action) && r.S3.Action != "ListBuckets" && r.S3.Key == "" && r.S3.Prefix == "" && r.S3.Action != "ListObjectsV2" {
				t.Errorf("%s: a data request without key: %+v", e.Name, r.S3)
			}
		}
	}
}

// TestHostileS3Requests: the placeholders, and requests the task made
// itself are left out.
func TestHostileS3Requests(t *testing.T) {
	observed := []policy.Request{
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "PutObject", Bucket: "lake", Key: "curated/t1/daily/part-1"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "PutObject", Bucket: "lake", Key: "curated/t1/daily/part-0"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "DeleteObject", Bucket: "lake", Key: "curated/t1/daily/part-0"}},
		{Protocol: policy.ProtocolS3, Task: policy.Task{ID: "t1"}, S3: policy.S3{Action: "GetObject", Bucket: "landing", Key: "top.csv"}},
	}
	for _, tc := range []struct {
		req  policy.S3
		want []string // bucket/key or bucket/prefix per request
	}{
		{policy.S3{Action: "GetObject", Bucket: "{bucket}", Key: "{dir}../x"}, []string{"lake/curated/t1/daily/../x"}},
		{policy.S3{Action: "PutObject", Bucket: "{bucket}", Key: "{key_other_task}"}, []string{"lake/curated/airlock-hostile-task/daily/part-0"}},
		{policy.S3{Action: "DeleteObject", Bucket: "{bucket}", Key: "{key}"}, []string{"landing/top.csv"}},
		{policy.S3{Action: "GetObject", Bucket: "other", Key: "{key}"}, []string{"other/curated/t1/daily/part-0", "other/top.csv"}},
		{policy.S3{Action: "ListObjectsV2", Bucket: "{bucket}", Prefix: "{task}/"}, []string{"lake/t1/", "landing/t1/"}},
	} {
		var got []string
		for _, r := range (policy.HostileS3{Request: tc.req}).Requests(observed) {
			got = append(got, strings.Join(r.Resources(), " "))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %q, want %q", tc.req, got, tc.want)
		}
	}
}

// TestPolicySuggestStrict: a suggestion made from a task that sleeps
// allows a hostile sleep; it is printed, and --strict fails. The hostile
// statement the task ran itself is left out.
func TestPolicySuggestStrict(t *testing.T) {
	rq := suggestRequests{t, postgres.NewClassifier([]string{"public"}, "")}
	log := recordDecisions(t, "mode: observe\n", []policy.Request{
		rq.sql("SELECT pg_sleep(1), id FROM orders"),
		rq.sql("SELECT pg_sleep(2)"), // as the hostile "sleep": left out
		rq.s3("ListObjectsV2", "lake", ""),
	})
	code, out, errs := run(t, "policy", "suggest", log)
	if code != 0 || !strings.Contains(out, `sql.functions.all(f, f in ["pg_catalog.pg_sleep"])`) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	wantLines(t, "stderr", errs,
		`1 statements left out as the task ran them), 1 allowed by the suggestion`,
		`sql "sleep beside a read" (a wait added to a query the task runs): SELECT pg_sleep($1) FROM public.orders allowed by suggested-postgres-select-1`,
	)
	code, _, errs = run(t, "policy", "suggest", "--strict", log)
	if code != 1 || !strings.Contains(errs, "--strict: the suggestion allows 1 requests of the hostile corpus") {
		t.Errorf("--strict: exit %d\n%s", code, errs)
	}
}
