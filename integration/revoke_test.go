package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRevokeFailureExitCodeAndRevokeTask: the bootstrap admin loses its
// login while the task runs, so the ephemeral role cannot be dropped at
// the end. Airlock retries within shutdown.drain, then exits with
// ExitRevokeFailed (125) and leaves a revoke-failed record naming the role;
// `airlock revoke-stale --task` drops it once the admin can log in again.
func TestRevokeFailureExitCodeAndRevokeTask(t *testing.T) {
	r := newEphemeralRig(t, "5m")
	r.pg.Psql(t, "app", "CREATE ROLE boot LOGIN SUPERUSER PASSWORD 'boot-pw-5e1f'")
	writeFile(t, filepath.Join(r.dir, "bootstrap"), fmt.Sprintf("host=127.0.0.1 port=%d user=boot password=boot-pw-5e1f dbname=app sslmode=disable", r.pg.Port))
	out := filepath.Join(r.dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, airlockBin, "exec", "-c", r.config, "--", "sh", "-c",
		`touch "$OUT/up"; while [ ! -e "$OUT/go" ]; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "OUT="+out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(out, "up")); err == nil {
			break
		}
		if i > 600 {
			t.Fatal("the task did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	role := r.roles(t)
	if !strings.HasPrefix(role, "airlock_nightly_load_42_") {
		t.Fatalf("roles while the task runs: %q", role)
	}
	r.pg.Psql(t, "app", "ALTER ROLE boot NOLOGIN")
	writeFile(t, filepath.Join(out, "go"), "")
	began := time.Now()
	err := cmd.Wait()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 125 {
		t.Fatalf("exit %d (%v), want 125 (a credential not revoked)\n%s", code, err, stderr.String())
	}
	if el := time.Since(began); el > 30*time.Second {
		t.Errorf("the retries took %s", el)
	}
	if n := strings.Count(stderr.String(), "credential not revoked; trying again"); n < 2 {
		t.Errorf("%d retries logged, want at least 2:\n%s", n, stderr.String())
	}
	audit := readFile(t, filepath.Join(r.dir, "audit.jsonl"))
	mustContain(t, "audit log", audit, `"id":"`+role+`"`, `"status":"revoke-failed"`, "(exit 125)")
	if got := r.roles(t); got != role {
		t.Fatalf("roles after the failed revocation: %q, want %q", got, role)
	}
	if s := airlock(t, nil, "audit", "summary", filepath.Join(r.dir, "audit.jsonl")); !strings.Contains(s.stdout, role+" (ephemeral-role): issued") || !strings.Contains(s.stdout, "revoke-failed") {
		t.Errorf("summary does not show the failed revocation:\n%s", s.stdout)
	}

	// The admin can log in again; the role is not expired, so only --task
	// drops it.
	r.pg.Psql(t, "app", "ALTER ROLE boot LOGIN")
	if s := airlock(t, nil, "revoke-stale", "-c", r.config); s.code != 0 || !strings.Contains(s.stdout, "0 stale roles dropped") {
		t.Fatalf("revoke-stale: %d %s %s", s.code, s.stdout, s.stderr)
	}
	s := airlock(t, nil, "revoke-stale", "-c", r.config, "--task", "Other-Task")
	if s.code != 0 || r.roles(t) != role {
		t.Fatalf("revoke-stale --task of another task: %d %s %s; roles %q", s.code, s.stdout, s.stderr, r.roles(t))
	}
	s = airlock(t, nil, "revoke-stale", "-c", r.config, "--task", "Nightly-Load/42")
	if s.code != 0 || !strings.Contains(s.stdout, "dropped "+role) || r.roles(t) != "" {
		t.Fatalf("revoke-stale --task: %d %s %s; roles left %q", s.code, s.stdout, s.stderr, r.roles(t))
	}
}
