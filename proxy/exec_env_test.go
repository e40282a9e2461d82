package proxy_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/proxy"
)

// carriers are the ways a variable of Airlock's own environment may carry
// a secret: embedded, in a connection URL, percent-encoded (as a path, a
// query, with lower-case hex, twice), JSON-escaped. None has a name the
// prefix scrub catches.
func carriers(secret string) map[string]string {
	lower := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02x", c)
			}
		}
		return b.String()
	}
	return map[string]string{
		"CARRY_EMBEDDED":  "before-" + secret + "-after",
		"CARRY_URL":       "postgresql://admin:" + url.QueryEscape(secret) + "@db.internal:5432/app",
		"CARRY_USERINFO":  (&url.URL{Scheme: "postgres", User: url.UserPassword("admin", secret), Host: "db"}).String(),
		"CARRY_PATH":      "https://x/" + url.PathEscape(secret),
		"CARRY_LOWERHEX":  "k=" + lower(secret),
		"CARRY_TWICE":     url.QueryEscape(url.QueryEscape(secret)),
		"CARRY_JSON":      `{"password":"` + strings.ReplaceAll(secret, "/", `\/`) + `"}`,
		"CARRY_STRAY_PCT": "100%-" + lower(secret),
	}
}

// encodings lists forms the canary must not take in the child's
// environment either.
func encodings(secret string) []string {
	return []string{secret, url.QueryEscape(secret), url.PathEscape(secret), strings.ReplaceAll(secret, "/", `\/`)}
}

// TestChildEnvScrubsEverySource: for each credential source, a canary
// secret Airlock holds from it reaches the child in no form, whatever the
// variable that carries it is called. The child prints its environment.
func TestChildEnvScrubsEverySource(t *testing.T) {
	const canary = "Cn4ry/p@ss:w+rd%42&x=1"
	for _, tc := range []struct {
		name string
		// config returns the YAML of the credential sections; the canary
		// is what the source holds.
		config func(t *testing.T, dir string) string
	}{
		{"static postgres password_file", func(t *testing.T, dir string) string {
			f := writeSecret(t, dir, "pg-password", canary+"\n")
			return "postgres: {upstream: {host: db, database: app}, credentials: {source: static, user: u, password_file: " + f + "}}\n"
		}},
		{"static postgres password_env", func(t *testing.T, dir string) string {
			t.Setenv("MY_PG_PW", canary)
			return "postgres: {upstream: {host: db, database: app}, credentials: {source: static, user: u, password_env: MY_PG_PW}}\n"
		}},
		{"s3 static secret_access_key_file", func(t *testing.T, dir string) string {
			f := writeSecret(t, dir, "s3-secret", canary+"\n")
			return "s3: {upstream: {endpoint: 'http://127.0.0.1:1', region: us-east-1}, credentials: {source: static, access_key_id: AKIDEXAMPLE, secret_access_key_file: " + f + "}}\n"
		}},
		{"s3 assume-role static base and its session", func(t *testing.T, dir string) string {
			sts := fakeSTS(t, "Sess1on/Secret:"+canary, "T0ken+"+canary)
			f := writeSecret(t, dir, "base-secret", canary+"\n")
			return "s3: {upstream: {endpoint: 'http://127.0.0.1:1', region: us-east-1}, credentials: {source: assume-role, role_arn: 'arn:aws:iam::000000000000:role/etl', sts_endpoint: '" + sts + "', base: {source: static, access_key_id: AKIDEXAMPLE, secret_access_key_file: " + f + "}}}\n"
		}},
		{"vault token_file and its lease", func(t *testing.T, dir string) string {
			v := fakeVaultAPI(t, canary, "Lease/"+canary)
			f := writeSecret(t, dir, "vault-token", canary+"\n")
			return "postgres: {upstream: {host: db, database: app}, credentials: {source: vault, address: '" + v + "', role: etl, token_file: " + f + "}}\n"
		}},
		{"ephemeral-role admin DSN", func(t *testing.T, dir string) string {
			pg := pgtest.Start(t, pgtest.Options{})
			pg.CreateDB(t, "app")
			pg.Psql(t, "app", "ALTER ROLE postgres PASSWORD '"+strings.ReplaceAll(canary, "'", "''")+"'")
			dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password='%s' dbname=app sslmode=disable", pg.Port, canary)
			f := writeSecret(t, dir, "bootstrap", dsn+"\n")
			t.Setenv("CARRY_WHOLE_DSN", dsn) // the file's content as a whole
			return fmt.Sprintf("postgres: {upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}, credentials: {source: ephemeral-role, admin_dsn_file: %s, reassign_to: postgres}}\n", pg.Port, f)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range carriers(canary) {
				t.Setenv(k, v)
			}
			t.Setenv("HARMLESS", "keep-me")
			extra := tc.config(t, t.TempDir()) + "exec: {allow_same_uid: true}\n"
			srv, te := newServer(t, true, extra)
			envFile := filepath.Join(te.dir, "child-env")
			var out bytes.Buffer
			if code := srv.Exec([]string{"sh", "-c", "env > " + envFile}, nil, stdio(&out)); code != 0 {
				t.Fatalf("exit %d: %s\n%s", code, out.String(), te.diag.String())
			}
			env := string(mustRead(t, envFile))
			for _, form := range encodings(canary) {
				if strings.Contains(env, form) {
					t.Errorf("the child's environment holds the canary as %q:\n%s", form, env)
				}
			}
			for k := range carriers(canary) {
				if strings.Contains(env, k+"=") {
					t.Errorf("the child's environment has %s", k)
				}
			}
			if !strings.Contains(env, "HARMLESS=keep-me") {
				t.Errorf("the child's environment lost HARMLESS:\n%s", env)
			}
			for _, b := range [][]byte{te.diag.Bytes(), mustRead(t, te.auditPath)} {
				if bytes.Contains(b, []byte(canary)) {
					t.Fatalf("canary in Airlock's output: %s", b)
				}
			}
		})
	}
}

func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeSTS answers AssumeRole as STS does, with the given session secrets.
func fakeSTS(t *testing.T, secretKey, token string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") != "AssumeRole" {
			http.Error(w, "unexpected action", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAFAKESESSION</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/etl/s</Arn><AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>`, xmlEscape(secretKey), xmlEscape(token))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// fakeVaultAPI answers the database secrets engine's creds and lease
// revocation for the token given, handing out password.
func fakeVaultAPI(t *testing.T, token, password string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Token") != token {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/database/creds/etl":
			fmt.Fprintf(w, `{"lease_id":"database/creds/etl/l1","lease_duration":3600,"renewable":true,"data":{"username":"v-etl-1","password":%q}}`, password)
		case "/v1/sys/leases/revoke":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, `{"errors":["no handler"]}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestValidateExec: exec.user and exec.group must resolve to an
// unprivileged account, and changing user needs root.
func TestValidateExec(t *testing.T) {
	root := os.Geteuid() == 0
	for _, tc := range []struct {
		name, exec string
		want       string // a substring of the error; empty: valid
	}{
		{"no secrets, no exec section", "", ""},
		{"unknown user", "exec: {user: no-such-user-x}", "exec.user: no user"},
		{"root is refused", "exec: {user: root}", "exec.user"},
		{"unknown group", "exec: {user: nobody, group: no-such-group-x}", "exec.group"},
		{"user:group and group disagree", "exec: {user: 'nobody:nogroup', group: root}", "exec.group"},
		{"nobody", "exec: {user: nobody}", map[bool]string{true: "", false: "only root"}[root]},
		{"numeric uid:gid", "exec: {user: '65534:65534'}", map[bool]string{true: "", false: "only root"}[root]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := proxy.ParseConfig([]byte("task: {id: x}\n"+tc.exec+"\n"), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.ValidateExec()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
