package proxy_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

func TestAdminEndpointsAndQuit(t *testing.T) {
	srv, te := newServer(t, false, "")
	for path, want := range map[string]string{
		"/startup": `"state":"ready"`, "/readyz": `"state":"ready"`, "/livez": `"state":"ready"`, "/credentials": `[]`,
	} {
		if code, body := get(t, te.admin+path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	srv.Gate().Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select"}})
	if _, body := get(t, te.admin+"/metrics"); !strings.Contains(body, `airlock_decisions_total{decision="allow",protocol="postgres",rule="sel"} 1`) {
		t.Errorf("metrics lack the decision:\n%s", body)
	}
	if code, _ := get(t, te.admin+"/quitquitquit"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /quitquitquit: %d, want 405", code)
	}
	resp, err := http.Post(te.admin+"/quitquitquit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := srv.Run(nil); code != 0 {
		t.Fatalf("run exit code %d after /quitquitquit", code)
	}
	recs := te.verify(t)
	var sawDecision bool
	for _, r := range recs {
		sawDecision = sawDecision || (r["event"] == "decision" && r["task"] == "t-1" && r["decision"] == "allow")
	}
	if !sawDecision {
		t.Fatalf("no decision record: %v", recs)
	}
}

func TestRunSigtermExitCode(t *testing.T) {
	srv, te := newServer(t, false, "shutdown: {sigterm_exit_code: 3}\n")
	_ = te
	signals := make(chan os.Signal, 1)
	signals <- syscall.SIGTERM
	if code := srv.Run(signals); code != 3 {
		t.Fatalf("exit code %d, want the configured 3", code)
	}
}

func TestRunWritesLocalFiles(t *testing.T) {
	srv, te := newServer(t, false, "")
	defer srv.Shutdown(proxy.StopReason{Kind: "test"})
	dir := filepath.Join(te.dir, "local")
	for _, f := range []string{"pg-token", "aws-credentials", "ca.pem", "ca-bundle.pem", "env"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	out, err := exec.Command("sh", "-c", ". "+filepath.Join(dir, "env")+" && echo $AIRLOCK_TASK_ID $AIRLOCK_CA_FILE").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "t-1 "+filepath.Join(dir, "ca.pem") {
		t.Fatalf("env file not sourceable: %v %q", err, out)
	}
	if code, body := get(t, te.admin+"/startup"); code != 200 || !strings.Contains(body, "local secrets written") {
		t.Fatalf("/startup: %d %s", code, body)
	}
}

// TestChildEnvCanary: no variable carrying an upstream secret reaches the
// child, whatever its name; the local-only ones do.
func TestChildEnvCanary(t *testing.T) {
	const canary = "canary-0f9e8d7c6b5a"
	t.Setenv("AWS_SECRET_ACCESS_KEY", canary)
	t.Setenv("AWS_SESSION_TOKEN", canary)
	t.Setenv("PGPASSWORD", canary)
	t.Setenv("VAULT_TOKEN", canary)
	t.Setenv("UPSTREAM_PW", canary)                      // named by password_env
	t.Setenv("SOME_URL", "postgres://u:"+canary+"@db/x") // carries the named secret's value
	t.Setenv("HARMLESS", "keep-me")
	boot := filepath.Join(t.TempDir(), "x")
	os.WriteFile(boot, []byte("x"), 0o600)
	srv, te := newServer(t, true, "postgres: {upstream: {host: db, database: sales}, credentials: {source: static, user: u, password_env: UPSTREAM_PW}}\nexec: {allow_same_uid: true}\n")
	envFile := filepath.Join(te.dir, "child-env")
	var out bytes.Buffer
	if code := srv.Exec([]string{"sh", "-c", "env > " + envFile}, nil, stdio(&out)); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), canary) {
		t.Fatalf("the child's environment holds the canary:\n%s", env)
	}
	for _, want := range []string{"HARMLESS=keep-me", "AIRLOCK_TASK_ID=t-1", "AIRLOCK_CA_FILE=", "SSL_CERT_FILE="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("child env lacks %s", want)
		}
	}
	for _, b := range [][]byte{te.diag.Bytes(), mustRead(t, te.auditPath)} {
		if bytes.Contains(b, []byte(canary)) {
			t.Fatalf("canary in Airlock's output: %s", b)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
