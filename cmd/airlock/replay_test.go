package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// recordDecisions writes an audit log the way Airlock does (the gate over
// a compiled policy), for the given requests.
func recordDecisions(t *testing.T, rules string, reqs []policy.Request) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "old.yaml")
	os.WriteFile(cfgPath, []byte(rules), 0o600)
	cfg, err := proxy.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := cfg.CompilePolicy()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.jsonl")
	log, err := audit.Open(path, audit.Options{Task: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	g := proxy.NewGate(proxy.GateOptions{Engine: engine, Recorder: log, Task: policy.Task{ID: "t1"}})
	for i := range reqs {
		g.Check(&reqs[i])
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyReplay(t *testing.T) {
	cl := postgres.NewClassifier([]string{"sales"}, "app")
	sql := func(text string) policy.Request {
		sts, err := cl.Classify(text)
		if err != nil {
			t.Fatal(err)
		}
		return policy.Request{Protocol: policy.ProtocolPostgres, SQL: sts[0].SQL, Guard: sts[0].Guard}
	}
	s3req := func(action, bucket, key, prefix string) policy.Request {
		return policy.Request{Protocol: policy.ProtocolS3, S3: policy.S3{Action: action, Bucket: bucket, Key: key, Prefix: prefix}}
	}
	old := `
postgres: {upstream: {host: db, database: app}, session: {search_path: sales}, credentials: {source: static, user: u, password_env: PW}}
policy:
  rules:
    - {name: read-sales, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: write-curated, allow: 's3.action == "PutObject" && s3.key.startsWith("curated/")'}
    - {name: list, allow: 's3.action == "ListObjectsV2" && s3.prefix.startsWith("curated/")'}
`
	log := recordDecisions(t, old, []policy.Request{
		sql("SELECT * FROM orders WHERE id = 1"),         // allowed; the new rules deny it
		sql("SELECT * FROM customers_pii"),               // allowed; the new rules deny it by name
		sql("DELETE FROM orders"),                        // denied before and after
		sql("SELECT pg_read_file('/etc/passwd')"),        // a guard rail: skipped
		s3req("PutObject", "lake", "curated/a.csv", ""),  // allowed before and after
		s3req("PutObject", "lake", "raw/a.csv", ""),      // denied; the new rules allow it
		s3req("ListObjectsV2", "lake", "", "curated/x/"), // allowed before and after
	})
	dir := t.TempDir()
	newCfg := filepath.Join(dir, "new.yaml")
	os.WriteFile(newCfg, []byte(`
postgres: {upstream: {host: db, database: app}, session: {search_path: sales}, credentials: {source: static, user: u, password_env: PW}}
policy:
  rules:
    - {name: read-public-only, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("public."))'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}
    - {name: write-lake, allow: 's3.action == "PutObject" && s3.bucket == "lake"'}
    - {name: list, allow: 's3.action == "ListObjectsV2" && s3.prefix.startsWith("curated/")'}
`), 0o600)
	code, out, errs := run(t, "policy", "replay", "-c", newCfg, log)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (changes)\n%s%s", code, out, errs)
	}
	wantLines(t, "output", out,
		"postgres select sales.orders: was allow (allowed by rule read-sales), now deny (no rule allows)",
		"postgres select sales.customers_pii: was allow (allowed by rule read-sales), now deny (denied by rule never-pii)",
		"s3 PutObject lake/raw/a.csv: was deny (no rule allows), now allow (allowed by rule write-lake)",
		"6 decisions replayed, 3 would change; skipped: 1 guard rails (no rule decides them)",
	)
	if strings.Count(out, "\n") != 4 {
		t.Errorf("want 3 changes and the summary:\n%s", out)
	}
	// The same rules replay without change: exit 0.
	code, out, _ = run(t, "policy", "replay", "-c", filepath.Join(filepath.Dir(log), "old.yaml"), log)
	if code != 0 || !strings.Contains(out, "6 decisions replayed, 0 would change") {
		t.Fatalf("replay with the recording rules: exit %d\n%s", code, out)
	}
}

// TestPolicyReplayEgress: egress decisions replay from their method and
// host:port/path against the new egress.allow rules and deny rules.
func TestPolicyReplayEgress(t *testing.T) {
	h := func(method, host string, port int, path string) policy.Request {
		return policy.Request{Protocol: policy.ProtocolHTTP, HTTP: policy.HTTP{Method: method, Host: host, Port: port, Path: path}}
	}
	log := recordDecisions(t, `
egress: {allow: ['http.host.endsWith(".internal")']}
`, []policy.Request{
		h("GET", "api.internal", 80, "/v1/admin"), // allowed; a new deny rule denies it
		h("CONNECT", "pypi.org", 443, ""),         // denied; the new egress.allow[1] allows it
		h("GET", "2001:db8::1", 8080, "/x"),       // denied before and after
		h("CONNECT", "api.internal", 443, ""),     // allowed before and after
	})
	newCfg := filepath.Join(t.TempDir(), "new.yaml")
	os.WriteFile(newCfg, []byte(`
egress: {allow: ['http.host.endsWith(".internal")', 'http.method == "CONNECT" && http.host == "pypi.org" && http.port == 443']}
policy:
  rules:
    - {name: no-admin, deny: 'http.path.startsWith("/v1/admin")'}
`), 0o600)
	code, out, errs := run(t, "policy", "replay", "-c", newCfg, log)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (changes)\n%s%s", code, out, errs)
	}
	wantLines(t, "output", out,
		"http GET api.internal:80/v1/admin: was allow (allowed by rule egress.allow[0]), now deny (denied by rule no-admin)",
		"http CONNECT pypi.org:443: was deny (no rule allows), now allow (allowed by rule egress.allow[1])",
		"4 decisions replayed, 2 would change",
	)
}
