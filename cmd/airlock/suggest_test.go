package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden.* from the test's output")

// suggestBase is the config the logs are recorded with and the suggested
// rules are added to: its search_path classifies the statements.
const suggestBase = `postgres: {upstream: {host: db, database: app}, session: {search_path: sales}, credentials: {source: static, user: u, password_env: PW}}
`

// suggestRequests are requests as the protocols would make them, for
// recordDecisions.
type suggestRequests struct {
	t  *testing.T
	cl *postgres.Classifier
}

func (s suggestRequests) sql(text string) policy.Request {
	s.t.Helper()
	sts, err := s.cl.Classify(text)
	if err != nil || len(sts) != 1 {
		s.t.Fatalf("%s: %v", text, err)
	}
	return policy.Request{Protocol: policy.ProtocolPostgres, SQL: sts[0].SQL, Guard: sts[0].Guard}
}

func (s suggestRequests) s3(action, bucket, key string) policy.Request {
	r := policy.Request{Protocol: policy.ProtocolS3, S3: policy.S3{Action: action, Bucket: bucket, Key: key}}
	if listings[action] {
		r.S3.Prefix, r.S3.Key = key, ""
	}
	return r
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPolicySuggest records a task's run through the real gate in observe
// mode (and a run in enforce mode), suggests rules from the logs, and
// checks them the way a security team would: replay the logs with the
// rules in enforce mode (nothing may become a denial), run the generated
// cases, and replay a later run that strays (each stray is denied).
func TestPolicySuggest(t *testing.T) {
	rq := suggestRequests{t, postgres.NewClassifier([]string{"sales"}, "app")}
	observe := recordDecisions(t, suggestBase+"mode: observe\n", []policy.Request{
		rq.sql("BEGIN"),
		rq.sql("SET statement_timeout = 60000"),
		rq.sql("SELECT o.id, r.name FROM orders o JOIN regions r ON r.id = o.region WHERE o.day = '2026-11-22'"),
		rq.sql("SELECT count(*) FROM orders WHERE day = '2026-11-22'"),
		rq.sql("INSERT INTO staging.daily_sales (day, total) VALUES ('2026-11-22', 0)"),
		rq.sql("WITH recent AS (SELECT day, total FROM orders WHERE day >= '2026-11-22') INSERT INTO staging.daily_sales SELECT day, sum(total) FROM recent GROUP BY day"),
		rq.sql("COMMIT"),
		rq.sql("SELECT n.nspname FROM pg_catalog.pg_namespace n"), // catalog metadata: left to the preset
		rq.s3("HeadBucket", "lake", ""),                           // a bucket probe: left to the preset
		rq.sql("SELECT pg_read_file('/etc/passwd')"),              // a guard rail: skipped
		rq.s3("GetObject", "lake", "raw/2026-11-22/orders.csv"),
		rq.s3("GetObject", "lake", "raw/2026-11-22/regions.csv"),
		rq.s3("PutObject", "lake", "curated/t1/daily/part-0.parquet"),
		rq.s3("PutObject", "lake", "curated/t1/daily/part-1.parquet"),
		rq.s3("ListObjectsV2", "lake", "curated/t1/daily/"),
		{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: "CONNECT", Host: "pypi.org", Port: 443}},
	})
	// A run in enforce mode: what was denied stays out of the rules.
	enforce := recordDecisions(t, suggestBase+`policy:
  rules:
    - {name: read-orders, allow: 'sql.kind == "select" && sql.reads.all(t, t == "sales.orders")'}
`, []policy.Request{
		rq.sql("SELECT count(*) FROM orders WHERE day = '2026-11-23'"),
		rq.sql("DELETE FROM orders WHERE day < '2026-01-01'"),
	})
	dir := t.TempDir()
	base := writeFile(t, filepath.Join(dir, "base.yaml"), suggestBase)
	cases := filepath.Join(dir, "cases.yaml")

	code, out, errs := run(t, "policy", "suggest", "-c", base, "--cases", cases, observe, enforce)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	caseText, err := os.ReadFile(cases)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stderr:\n%s\ncases:\n%s", errs, caseText)
	rules := regexp.MustCompile(`(?m)^    - name: `).FindAllString(out, -1)
	wantLines(t, "stderr", errs,
		"18 decision records read from 2 audit log(s); 16 to suggest rules from",
		"skipped 1: guard rails (no rule decides them)",
		"skipped 1: denials of enforce mode (--include-denied adds them)",
		"4 records left to presets (housekeeping 2, catalog-metadata 1, s3-bucket-probes 1)",
		"7 rules suggested; self-check: covers 16 of 16 records",
		"hostile corpus: 39 requests tried (7 stopped by guard rails, 0 statements left out as the task ran them), 0 allowed by the suggestion",
	)
	golden := filepath.Join("testdata", "suggest.golden.yaml")
	if *updateGolden {
		writeFile(t, golden, out)
	}
	if want, err := os.ReadFile(golden); err != nil || string(want) != out {
		t.Errorf("suggested rules differ from %s (go test -run TestPolicySuggest -update rewrites it): %v\n%s", golden, err, out)
	}

	// The rules in enforce mode: every recorded decision stays allowed or
	// becomes allowed (the observe run's would-denies); none becomes a denial.
	withRules := writeFile(t, filepath.Join(dir, "suggested.yaml"), suggestBase+"mode: enforce\n"+out)
	code, replayed, errs := run(t, "policy", "replay", "-c", withRules, observe)
	if code != 1 || strings.Contains(replayed, "now deny") || strings.Count(replayed, "was deny (no rule allows), now allow (allowed by rule suggested-") != 11 ||
		strings.Count(replayed, "was deny (no rule allows), now allow (allowed by rule preset.") != 4 ||
		!strings.Contains(replayed, "15 decisions replayed, 15 would change; skipped: 1 guard rails") {
		t.Errorf("replay of the observed run: exit %d\n%s%s", code, replayed, errs)
	}
	code, replayed, errs = run(t, "policy", "replay", "-c", withRules, enforce)
	if code != 0 || !strings.Contains(replayed, "2 decisions replayed, 0 would change") {
		t.Errorf("replay of the enforced run: exit %d\n%s%s", code, replayed, errs)
	}

	// The generated cases pass, one per rule.
	code, tested, errs := run(t, "policy", "test", "-c", withRules, cases)
	if code != 0 || !strings.Contains(tested, "0 failed") || strings.Count(tested, "PASS  suggested-") != len(rules) || len(rules) == 0 {
		t.Errorf("policy test of the generated cases (%d rules): exit %d\n%s%s", len(rules), code, tested, errs)
	}

	// A later run that strays from what was learned is denied, statement
	// by statement and request by request; what it repeats is allowed.
	later := recordDecisions(t, suggestBase+"policy: {rules: [{name: anything, allow: 'true'}]}\n", []policy.Request{
		rq.sql("SELECT count(*) FROM orders WHERE day = '2026-11-24'"),
		rq.sql("SELECT * FROM customers_pii"),
		rq.sql("SELECT o.id FROM orders o JOIN customers_pii c ON c.id = o.customer"),
		rq.sql("INSERT INTO staging.other SELECT * FROM orders"),
		rq.sql("WITH gone AS (DELETE FROM staging.daily_sales RETURNING *) INSERT INTO staging.daily_sales SELECT * FROM gone"),
		rq.sql("DELETE FROM orders WHERE day < '2026-01-01'"),
		rq.s3("PutObject", "lake", "curated/t1/daily/part-2.parquet"),
		rq.s3("PutObject", "lake", "curated/t2/daily/part-0.parquet"),
		rq.s3("GetObject", "lake", "raw/2026-11-21/orders.csv"),
		rq.s3("GetObject", "archive", "raw/2026-11-22/orders.csv"),
		rq.s3("DeleteObject", "lake", "curated/t1/daily/part-0.parquet"),
		rq.s3("ListObjectsV2", "lake", "raw/"),
		{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: "CONNECT", Host: "evil.example", Port: 443}},
	})
	code, replayed, errs = run(t, "policy", "replay", "-c", withRules, later)
	if code != 1 || strings.Count(replayed, "was allow (allowed by rule anything), now deny (no rule allows)") != 11 ||
		!strings.Contains(replayed, "13 decisions replayed, 11 would change") {
		t.Errorf("replay of a straying run: exit %d\n%s%s", code, replayed, errs)
	}
}

// TestPolicySuggestOptions: --include-denied, no config (search_path
// public), -h, and a command line without logs.
func TestPolicySuggestOptions(t *testing.T) {
	rq := suggestRequests{t, postgres.NewClassifier([]string{"public"}, "")}
	log := recordDecisions(t, "policy: {rules: [{name: read-orders, allow: 'sql.kind == \"select\" && \"public.orders\" in sql.reads'}]}\n", []policy.Request{
		rq.sql("SELECT * FROM orders"),
		rq.sql("DELETE FROM orders"),
	})
	code, out, errs := run(t, "policy", "suggest", log)
	if code != 0 || !strings.Contains(out, `sql.reads.all(t, t in ["public.orders"])`) || strings.Contains(out, "delete") ||
		!strings.Contains(errs, "self-check: covers 1 of 1 records") {
		t.Errorf("without -c: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "policy", "suggest", "--include-denied", log)
	if code != 0 || !strings.Contains(out, "- name: suggested-postgres-delete-1") || !strings.Contains(errs, "self-check: covers 2 of 2 records") {
		t.Errorf("--include-denied: exit %d\n%s%s", code, out, errs)
	}
	// Presets: what a preset allows is left to it, unless --no-presets.
	tx := recordDecisions(t, "mode: observe\n", []policy.Request{rq.sql("BEGIN"), rq.sql("SELECT * FROM orders"), rq.sql("COMMIT")})
	code, out, errs = run(t, "policy", "suggest", tx)
	if code != 0 || !strings.Contains(out, "\n  include: [housekeeping]\n") || strings.Contains(out, "transaction") ||
		!strings.Contains(errs, "2 records left to presets (housekeeping 2)") || !strings.Contains(errs, "covers 3 of 3 records") {
		t.Errorf("presets: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "policy", "suggest", "--no-presets", tx)
	if code != 0 || strings.Contains(out, "include:") || !strings.Contains(out, `sql.kind == "transaction" && sql.command in ["BEGIN", "COMMIT"]`) {
		t.Errorf("--no-presets: exit %d\n%s%s", code, out, errs)
	}
	// Keys that YAML or CEL would misread unquoted print so that they read back.
	odd := recordDecisions(t, "mode: observe\n", []policy.Request{
		rq.s3("GetObject", "lake", "a: b/x.csv"),
		rq.s3("PutObject", "lake", "we \"ird\\ #1/\tx\ny.csv"),
		rq.s3("PutObject", "lake", "it's"),
	})
	cases := filepath.Join(t.TempDir(), "cases.yaml")
	code, out, errs = run(t, "policy", "suggest", "--cases", cases, odd)
	if code != 0 || !strings.Contains(errs, "self-check: covers 3 of 3 records") {
		t.Fatalf("odd keys: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("odd keys:\n%s", out)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "odd.yaml"), out)
	if code, tested, errs := run(t, "policy", "test", "-c", cfg, cases); code != 0 || !strings.Contains(tested, "2 passed, 0 failed") {
		t.Errorf("odd keys' cases: exit %d\n%s%s\n%s", code, tested, errs, out)
	}
	if code, _, errs := run(t, "policy", "suggest", "-h"); code != 2 || !strings.Contains(errs, `search_path "public"`) || !strings.Contains(errs, "-include-denied") {
		t.Errorf("-h: exit %d\n%s", code, errs)
	}
	if code, _, errs := run(t, "policy", "suggest"); code != 2 || !strings.Contains(errs, "policy suggest needs audit logs") {
		t.Errorf("no logs: exit %d\n%s", code, errs)
	}
	empty := writeFile(t, filepath.Join(t.TempDir(), "empty.jsonl"), "")
	if code, _, errs := run(t, "policy", "suggest", empty); code != 1 || !strings.Contains(errs, "no decision records to suggest rules from") {
		t.Errorf("empty log: exit %d\n%s", code, errs)
	}
}

// TestPolicySuggestSelfCheck: rules that do not allow a record they were
// made from fail the self-check, naming the record.
func TestPolicySuggestSelfCheck(t *testing.T) {
	rq := suggestRequests{t, postgres.NewClassifier([]string{"public"}, "")}
	log := recordDecisions(t, "mode: observe\n", []policy.Request{rq.s3("GetObject", "lake", "raw/a.csv"), rq.sql("SELECT * FROM orders")})
	in, err := readSuggestInput(&proxy.Config{}, []string{log}, false)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := policy.Suggest(in.reqs)
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := checkSuggestion(suggestionYAML(rules, len(in.reqs), nil, nil), rules, in); n != 2 || err != nil {
		t.Fatalf("the suggested rules: cover %d, %v", n, err)
	}
	rules[1].Conditions = append(rules[1].Conditions, `s3.key.startsWith("cooked/")`)
	rules[1].Allow = strings.Join(rules[1].Conditions, " && ")
	_, n, err := checkSuggestion(suggestionYAML(rules, len(in.reqs), nil, nil), rules, in)
	if n != 1 || err == nil || !strings.Contains(err.Error(), log+":1 (seq 1) s3 GetObject lake/raw/a.csv: not allowed by suggested-s3-GetObject-1 (no rule allows)") {
		t.Errorf("narrowed rule: cover %d, %v", n, err)
	}
}

// TestSuggestAvoidsTakenNames: a suggested rule whose name the config
// already uses gets the next number no other rule has.
func TestSuggestAvoidsTakenNames(t *testing.T) {
	rules := []policy.SuggestedRule{
		{Rule: policy.Rule{Name: "suggested-s3-GetObject-1"}},
		{Rule: policy.Rule{Name: "suggested-s3-GetObject-2"}},
		{Rule: policy.Rule{Name: "suggested-postgres-select-1"}},
	}
	renameTaken(rules, []policy.Rule{{Name: "suggested-s3-GetObject-1"}, {Name: "suggested-s3-GetObject-3"}, {Name: "read-sales"}})
	var got []string
	for _, r := range rules {
		got = append(got, r.Name)
	}
	want := []string{"suggested-s3-GetObject-4", "suggested-s3-GetObject-2", "suggested-postgres-select-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}
