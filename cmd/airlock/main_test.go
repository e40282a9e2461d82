package main

import (
	"bytes"
	"github.com/airlockproxy/airlock/proxy"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// wantLines reports each of wants that text (the command's stream named
// what) does not contain.
func wantLines(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

func TestPolicyTest(t *testing.T) {
	code, out, errs := run(t, "policy", "test", "-c", "testdata/policy.yaml", "testdata/cases.yaml")
	if code != 0 || !strings.Contains(out, "PASS  reads sales: allow (allowed by rule read-sales)") || !strings.Contains(out, "2 passed, 0 failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, "policy", "test", "-c", "testdata/policy.yaml", "testdata/cases.yaml", "testdata/failing-cases.yaml")
	if code != 1 || !strings.Contains(out, "FAIL  wrongly expects allow: expected allow, got deny (no rule allows)") || !strings.Contains(out, "total: 2 passed, 1 failed") {
		t.Fatalf("a failing case must exit 1: %d\n%s", code, out)
	}
}

func TestPolicyCheck(t *testing.T) {
	code, out, errs := run(t, "policy", "check", "-c", "testdata/policy.yaml")
	if code != 0 || !strings.Contains(out, "ok: 2 rules compiled (mode enforce)") || !strings.Contains(out, "never-pii") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "indexed by sql.kind, sql.reads (all)") || strings.Contains(out, "not indexed") {
		t.Errorf("both rules are indexed:\n%s", out)
	}
}

// TestPolicyScopeDown prints the session policy scope_down would attach,
// resolved for the config's task.
func TestPolicyScopeDown(t *testing.T) {
	code, out, errs := run(t, "policy", "scope-down", "-c", "../../examples/quickstart/airlock.yaml")
	if code != 0 || !strings.Contains(out, `"arn:aws:s3:::lake/curated/2026-11-22/*"`) || !strings.Contains(out, `"s3:PutObject"`) ||
		strings.Contains(out, "GetObject") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// Rules that bound no bucket and no action cannot be scoped down.
	dir := t.TempDir()
	wide := filepath.Join(dir, "wide.yaml")
	os.WriteFile(wide, []byte("policy:\n  rules:\n    - {name: any, allow: 's3.key != \"\"'}\n"), 0o600)
	if code, _, errs := run(t, "policy", "scope-down", "-c", wide); code != 1 || !strings.Contains(errs, "scope-down") {
		t.Fatalf("unbounded rule: exit %d, %s", code, errs)
	}
}

// TestConfigErrorsExit2: a bad config exits 2 naming the field.
func TestConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("policy:\n  rules:\n    - {name: a, allow: 'true'}\n    - {name: b, allow: 'true'}\n    - {name: c, allow: 'sq.kind == \"x\"'}\n"), 0o600)
	badMode := filepath.Join(dir, "mode.yaml")
	os.WriteFile(badMode, []byte("mode: enforcing\npolicy:\n  rules:\n    - {name: a, allow: 'true'}\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"policy", "check", "-c", badMode}, 2, `mode: "enforcing" is not one of enforce, observe`},
		{[]string{"policy", "check", "-c", bad}, 1, "policy.rules[2].allow: undeclared reference to 'sq' (did you mean 'sql'?) at 1:1"},
		{[]string{"run", "-c", bad}, 2, "policy.rules[2].allow: undeclared reference to 'sq' (did you mean 'sql'?) at 1:1"},
		{[]string{"run", "-c", "testdata/policy.yaml", "--mode", "enforcing"}, 2, `mode: "enforcing" is not one of enforce, observe`},
		{[]string{"run", "-c", "testdata/policy.yaml", "--ttl", "soon"}, 2, `--ttl: "soon" is not a duration`},
		{[]string{"run"}, 2, "name a config file with -c"},
		{[]string{"exec", "-c", "testdata/policy.yaml"}, 2, "exec needs a command"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "-c", filepath.Join(dir, "missing.yaml")}, 2, "no such file"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("AIRLOCK_MODE", "sideways")
	code, _, errs := run(t, "run", "-c", "testdata/policy.yaml")
	if code != 2 || !strings.Contains(errs, `mode: "sideways" is not one of`) {
		t.Fatalf("AIRLOCK_MODE not applied: %d %s", code, errs)
	}
	// A flag beats the environment.
	code, _, errs = run(t, "run", "-c", "testdata/policy.yaml", "--mode", "upside")
	if code != 2 || !strings.Contains(errs, `"upside"`) {
		t.Fatalf("--mode not preferred: %d %s", code, errs)
	}
}

// TestExecExit7: `airlock exec -c … -- sh -c 'exit 7'` exits 7 and its
// audit log verifies.
func TestExecExit7(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y"), 0o600)
	auditPath := filepath.Join(dir, "audit.jsonl")
	code, _, errs := run(t, "exec", "-c", "testdata/policy.yaml", "--admin", "127.0.0.1:0", "--audit", auditPath,
		"--audit-key-file", key, "--", "sh", "-c", "exit 7")
	if code != 7 {
		t.Fatalf("exit %d, want 7\n%s", code, errs)
	}
	code, out, errs := run(t, "audit", "verify", "--key-file", key, auditPath)
	if code != 0 || !strings.Contains(out, "ok: 4 records, seq 1-4, 1 runs, keyed HMAC-SHA256 chain, ends with its exit checkpoint") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	// verify and summary name the rule set that decided: the digest of the
	// policy in the config.
	yml, _ := os.ReadFile("testdata/policy.yaml")
	cfg, err := proxy.ParseConfig(yml, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := cfg.PolicyDigest()
	if err != nil || len(digest) != 64 {
		t.Fatalf("digest %q: %v", digest, err)
	}
	if !strings.Contains(out, "policy_sha256 "+digest) {
		t.Fatalf("verify does not show the rule set's digest %s:\n%s", digest, out)
	}
	if code, out, errs := run(t, "audit", "summary", auditPath); code != 0 || !strings.Contains(out, "policy_sha256 "+digest) {
		t.Fatalf("summary does not show the rule set's digest %s: %d\n%s%s", digest, code, out, errs)
	}
	// Tamper: change the exit detail; verify must fail and name the line.
	data, _ := os.ReadFile(auditPath)
	os.WriteFile(auditPath, bytes.Replace(data, []byte("exit 7"), []byte("exit 0"), 1), 0o600)
	code, _, errs = run(t, "audit", "verify", "--key-file", key, auditPath)
	if code != 1 || !strings.Contains(errs, "modified") {
		t.Fatalf("tampered log: %d %s", code, errs)
	}
	// Without the key, a keyed log is reported as such.
	os.WriteFile(auditPath, data, 0o600)
	code, _, errs = run(t, "audit", "verify", auditPath)
	if code != 1 || !strings.Contains(errs, "key") {
		t.Fatalf("keyless verify of a keyed log: %d %s", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "airlock ") {
		t.Fatalf("%d %q", code, out)
	}
}

// TestRunWaitShutdown: `airlock run` serves until `airlock shutdown`;
// `airlock wait` returns once it is ready; the exit code is the configured
// one for a requested stop (0).
func TestRunWaitShutdown(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()
	done := make(chan int, 1)
	go func() {
		code, _, _ := run(t, "run", "-c", "testdata/policy.yaml", "--admin", admin, "--local-dir", filepath.Join(dir, "local"),
			"--audit", filepath.Join(dir, "audit.jsonl"))
		done <- code
	}()
	if code, out, errs := run(t, "wait", "--admin", admin, "--timeout", "20s"); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("wait: %d %s %s", code, out, errs)
	}
	if code, out, errs := run(t, "shutdown", "--admin", admin); code != 0 || !strings.Contains(out, "stopping") {
		t.Fatalf("shutdown: %d %s %s", code, out, errs)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after shutdown")
	}
	if code, _, errs := run(t, "wait", "--admin", admin, "--timeout", "300ms"); code != 1 || !strings.Contains(errs, "not ready after 300ms") {
		t.Fatalf("wait on a stopped sidecar: %d %s", code, errs)
	}
}

// TestPolicyEgressRules: policy check and policy test see egress.allow as
// the allow rules egress.allow[i], for http requests only, under the deny
// rules of policy.rules.
func TestPolicyEgressRules(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "airlock.yaml")
	os.WriteFile(cfg, []byte(`
egress:
  allow: ['http.host.endsWith(".internal")', 'http.method == "CONNECT" && http.port == 443', 'http.port == 8080']
policy:
  rules:
    - {name: no-vault, deny: 'http.host == "vault.internal"'}
`), 0o600)
	cases := filepath.Join(dir, "cases.yaml")
	os.WriteFile(cases, []byte(`
cases:
  - name: internal host
    request: {http: {method: GET, host: api.internal, port: 80, path: /v1}}
    expect: allow
    rule: egress.allow[0]
  - name: tls anywhere
    request: {http: {method: CONNECT, host: example.com, port: 443}}
    expect: allow
    rule: egress.allow[1]
  - name: deny rule wins
    request: {http: {method: GET, host: vault.internal, port: 80, path: /}}
    expect: deny
    rule: no-vault
  - name: other host
    request: {http: {method: GET, host: example.com, port: 80, path: /}}
    expect: deny
    reason: no rule allows
`), 0o600)
	code, out, errs := run(t, "policy", "check", "-c", cfg)
	if code != 0 || !strings.Contains(out, "allow  egress.allow[0]") || !strings.Contains(out, "egress.allow[1]") ||
		!strings.Contains(out, "ok: 4 rules compiled") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "not indexed, evaluated for every http request: egress.allow[2]\n") ||
		!strings.Contains(out, "egress.allow[0]          http; worst-case cost 3; indexed by http.host") {
		t.Errorf("check does not name the rule it cannot index:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "allow") && strings.Contains(line, "egress.allow[") && !strings.Contains(line, " http;") {
			t.Errorf("an egress rule applies beyond http: %s", line)
		}
	}
	if code, out, errs := run(t, "policy", "test", "-c", cfg, cases); code != 0 || !strings.Contains(out, "4 passed, 0 failed") {
		t.Fatalf("test: exit %d\n%s%s", code, out, errs)
	}
	os.WriteFile(cfg, []byte("egress: {allow: ['http.hots == \"x\"']}\n"), 0o600)
	if code, _, errs := run(t, "policy", "check", "-c", cfg); code != 1 || !strings.Contains(errs, "egress.allow[0]: undefined field 'hots'") {
		t.Fatalf("bad egress expression: exit %d, %s", code, errs)
	}
}
