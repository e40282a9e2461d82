package proxy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFullConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	boot := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(boot, []byte("postgres://admin@db/sales"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := proxy.ParseConfig(data, env(map[string]string{"AIRLOCK_TASK_ID": "run-7", "BOOTSTRAP_FILE": boot}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Task.ID != "run-7" || c.Task.TTL.D() != 2*time.Hour || c.Task.Labels["env"] != "prod" {
		t.Errorf("task: %+v", c.Task)
	}
	if c.Postgres.Credentials.AdminDSNFile != boot || c.Postgres.Upstream.Port != 5432 || c.Postgres.Session["search_path"] != "sales, pg_catalog" {
		t.Errorf("postgres: %+v", c.Postgres)
	}
	if c.S3.Credentials.Duration.D() != 15*time.Minute || c.Audit.KeyFile != "" || len(c.Policy.Rules) != 3 {
		t.Errorf("s3/audit/policy: %+v %+v", c.S3, c.Audit)
	}
	if c.Egress.IdleTimeout.D() != 10*time.Minute || c.Listen.HTTPProxy != proxy.DefaultHTTPProxy {
		t.Errorf("egress: %+v, listen %+v", c.Egress, c.Listen)
	}
	engine, err := c.CompilePolicy()
	if err != nil || !strings.Contains(strings.Join(engine.Rules(), " "), "egress.allow[0]") {
		t.Errorf("compiled rules %v (%v) lack egress.allow[0]", engine.Rules(), err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := proxy.ParseConfig([]byte("s3: {upstream: {endpoint: 'http://127.0.0.1:9'}, credentials: {source: default}}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Mode != "enforce" || c.Listen.Admin != "127.0.0.1:9901" || c.Listen.S3 != "127.0.0.1:9000" || c.Listen.Postgres != "" ||
		c.Task.TTL.D() != time.Hour || c.Audit.Path != "" || c.S3.Upstream.Region != "us-east-1" || c.Shutdown.Drain.D() != 10*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	empty, err := proxy.ParseConfig(nil, env(nil))
	if err != nil || empty.Validate() != nil {
		t.Fatalf("an empty config is valid (it serves only the admin endpoint): %v", err)
	}
}

// TestConfigErrors is the config-error table: each bad config names the
// field's path and what is wrong.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       []string
	}{
		{"undeclared CEL reference", `
policy:
  rules:
    - {name: a, allow: "true"}
    - {name: b, allow: "true"}
    - {name: c, allow: 'sq.kind == "select"'}
`, nil, []string{`policy.rules[2].allow: undeclared reference to 'sq' (did you mean 'sql'?) at 1:1`}},
		{"unknown field with suggestion", "listen: {postgress: 127.0.0.1:5432}\n", nil,
			[]string{`listen.postgress: unknown field (line 1); did you mean "listen.postgres"?`}},
		{"unknown top-level field", "polcy: {}\n", nil, []string{`polcy: unknown field (line 1); did you mean "policy"?`}},
		{"unknown nested in list", "policy: {rules: [{name: a, alow: 'true'}]}\n", nil,
			[]string{`policy.rules[0].alow: unknown field (line 1); did you mean "policy.rules[0].allow"?`}},
		{"unset env", "task: {id: '${NOPE}'}\n", nil, []string{"line 1: environment variable NOPE is not set"}},
		{"bad duration", "task: {ttl: 2 hours}\n", nil, []string{`"2 hours" is not a duration (write e.g. 90s, 15m or 2h)`}},
		{"bad mode", "mode: enforcing\n", nil, []string{`mode: "enforcing" is not one of enforce, observe`}},
		{"not loopback", "listen: {admin: '0.0.0.0:9901'}\n", nil, []string{"listen.admin: 0.0.0.0 is not a loopback address"}},
		{"listener without section", "listen: {postgres: '127.0.0.1:5432'}\n", nil, []string{"listen.postgres: set, but its section (postgres) is absent"}},
		{"postgres required fields", "postgres: {credentials: {source: static, user: u, password_env: PW}}\n", nil,
			[]string{"postgres.upstream.host: required", "postgres.upstream.database: required"}},
		{"source takes only its own fields", "postgres: {upstream: {host: h, database: d}, credentials: {source: static, user: u, password_env: PW, grant: [a]}}\n", nil,
			[]string{`postgres.credentials.grant: not a field of source "static" (it takes user, password_file, password_env)`}},
		{"unknown field in credentials", "postgres: {upstream: {host: h, database: d}, credentials: {source: static, user: u, password_env: PW, role_arn: x}}\n", nil,
			[]string{`postgres.credentials.role_arn: unknown field`}},
		{"unknown source", "s3: {upstream: {endpoint: 'https://s3'}, credentials: {source: iam}}\n", nil,
			[]string{`s3.credentials.source: "iam" is not one of assume-role, default, static, web-identity`}},
		{"static needs one secret", "s3: {upstream: {endpoint: 'https://s3'}, credentials: {source: static, access_key_id: A}}\n", nil,
			[]string{"s3.credentials: set exactly one of secret_access_key_file and secret_access_key_env"}},
		{"sts minimum", "s3: {upstream: {endpoint: 'https://s3'}, credentials: {source: assume-role, role_arn: r, duration: 5m}}\n", nil,
			[]string{"s3.credentials.duration: 5m0s is below STS's minimum of 15m"}},
		{"nested base cannot assume", "s3: {upstream: {endpoint: 'https://s3'}, credentials: {source: assume-role, role_arn: r, base: {source: assume-role, role_arn: q}}}\n", nil,
			[]string{`s3.credentials.base.source: "assume-role" cannot be a base identity`}},
		{"endpoint with path", "s3: {upstream: {endpoint: 'https://s3/bucket'}, credentials: {source: default}}\n", nil,
			[]string{`s3.upstream.endpoint: "https://s3/bucket" is not an http(s)://host[:port] URL`}},
		{"missing key file", "audit: {key_file: /nonexistent/key}\n", nil, []string{"audit.key_file: cannot open /nonexistent/key"}},
		{"egress expression", "egress: {allow: ['http.hots == \"x\"']}\n", nil, []string{"egress.allow[0]: undefined field 'hots'"}},
		{"egress idle timeout", "egress: {allow: ['true'], idle_timeout: -1s}\n", nil, []string{"egress.idle_timeout: must not be negative"}},
		{"sslmode", "postgres: {upstream: {host: h, database: d, sslmode: verify_full}, credentials: {source: rds-iam, user: u, region: r}}\n", nil,
			[]string{`postgres.upstream.sslmode: "verify_full" is not one of disable, require, verify-ca, verify-full`}},
		{"type mismatch", "postgres: {upstream: {port: abc}}\n", nil, []string{"cannot unmarshal !!str `abc` into int"}},
		{"audit sync", "audit: {sync: always}\n", nil, []string{`audit.sync: "always" is not one of write, fsync`}},
		{"max connections", "listen: {max_connections: {postgress: 5, s3: -1}}\n", nil,
			[]string{"listen.max_connections.postgress: is not a protocol listener", "listen.max_connections.s3: must not be negative"}},
		{"several problems at once", "mode: x\nlog: {level: loud}\n", nil, []string{"2 problems", `mode: "x"`, `log.level: "loud"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := proxy.ParseConfig([]byte(tc.yaml), env(tc.env))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	c, err := proxy.ParseConfig([]byte("task: {id: '${A}-$${B}-${C:-dflt}-${D:-x}', labels: {p: '${E}'}}\nshutdown: {sigterm_exit_code: '${CODE}'}\n"),
		env(map[string]string{"A": "a", "D": "d", "E": "e: {not: yaml}", "CODE": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Task.ID != "a-${B}-dflt-d" || c.Task.Labels["p"] != "e: {not: yaml}" || c.Shutdown.SigtermExitCode != 3 {
		t.Fatalf("expansion: %q %q %d", c.Task.ID, c.Task.Labels["p"], c.Shutdown.SigtermExitCode)
	}
}
