package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// ephemeralRig is PostgreSQL with a bootstrap admin and an airlock config
// whose PostgreSQL credential is an ephemeral role.
type ephemeralRig struct {
	pg     *pgtest.Server
	dir    string
	config string
}

func newEphemeralRig(t *testing.T, ttl string) *ephemeralRig {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int);
INSERT INTO sales.orders SELECT generate_series(1, 10);
CREATE ROLE etl_reader NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA sales TO etl_reader;
GRANT SELECT ON sales.orders TO etl_reader;
CREATE ROLE etl_owner NOLOGIN;
`)
	dir := t.TempDir()
	admin := writeFile(t, filepath.Join(dir, "bootstrap"), fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s dbname=app sslmode=disable", pg.Port, pg.Password))
	r := &ephemeralRig{pg: pg, dir: dir}
	r.config = writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: "Nightly-Load/42", ttl: %s}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:%d'}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  session: {search_path: sales}
  credentials: {source: ephemeral-role, admin_dsn_file: %s, grant: [etl_reader], reassign_to: etl_owner, connection_limit: 5}
audit: {path: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
shutdown: {drain: 2s}
policy:
  rules:
    - {name: all-sales, allow: 'sql.tables.all(t, t.startsWith("sales.")) && !("pg_catalog.pg_sleep" in sql.functions) || sql.kind == "select" && sql.tables.size() == 0'}
`, ttl, freePort(t), pg.Port, admin, filepath.Join(dir, "audit.jsonl")))
	return r
}

func (r *ephemeralRig) roles(t *testing.T) string {
	return r.pg.Psql(t, "app", "SELECT coalesce(string_agg(rolname, ','), '') FROM pg_roles WHERE rolname LIKE 'airlock\\_%'")
}

func TestEphemeralRoleLifecycle(t *testing.T) {
	r := newEphemeralRig(t, "5m")
	// The task sees the role: it logs in as it, has the group's grants, and
	// creates a table, which must not make revocation fail.
	res := airlock(t, nil, "exec", "-c", r.config, "--", "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-c", "SELECT current_user", "-c", "SELECT count(*) FROM orders", "-c", "CREATE TABLE sales.scratch (x int)")
	if res.code != 0 {
		t.Fatalf("exec: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	user := strings.SplitN(strings.TrimSpace(res.stdout), "\n", 2)[0]
	if !strings.HasPrefix(user, "airlock_nightly_load_42_") || len(user) > 63 {
		t.Fatalf("logged in as %q", user)
	}
	mustContain(t, "psql", res.stdout, "\n10")
	if left := r.roles(t); left != "" {
		t.Fatalf("roles left after exec: %s", left)
	}
	if owner := r.pg.Psql(t, "app", "SELECT tableowner FROM pg_tables WHERE tablename = 'scratch'"); owner != "etl_owner" {
		t.Fatalf("scratch belongs to %q, want etl_owner", owner)
	}
	audit, _ := os.ReadFile(filepath.Join(r.dir, "audit.jsonl"))
	mustContain(t, "audit log", string(audit), `"status":"issued"`, `"status":"revoked"`, `"source":"ephemeral-role"`)
}

func TestEphemeralRoleRevokedOnSigtermAndDeadline(t *testing.T) {
	for _, tc := range []struct {
		name, ttl string
		signal    bool
		wantCode  int
	}{
		{"sigterm", "5m", true, 143},
		{"deadline", "4s", false, 124},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newEphemeralRig(t, tc.ttl)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// The task holds a session open (it sleeps inside psql) so that
			// revocation must terminate it.
			cmd := exec.CommandContext(ctx, airlockBin, "exec", "-c", r.config, "--",
				"sh", "-c", `psql -X -c "SELECT 1" -c "\! sleep 60" ; sleep 60`)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for r.roles(t) == "" && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if r.roles(t) == "" {
				t.Fatalf("no ephemeral role appeared:\n%s", out.String())
			}
			for r.pg.Psql(t, "app", "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'airlock\\_%'") == "0" && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if tc.signal {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, out.String())
			}
			if left := r.roles(t); left != "" {
				t.Fatalf("role left after %s: %s\n%s", tc.name, left, out.String())
			}
			if n := r.pg.Psql(t, "app", "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'airlock\\_%'"); n != "0" {
				t.Fatalf("%s sessions of the role survive", n)
			}
		})
	}
}

// TestKilledAirlockRevokeStale: a SIGKILLed Airlock leaves its role, whose
// VALID UNTIL ends its logins at the deadline; revoke-stale drops it then.
func TestKilledAirlockRevokeStale(t *testing.T) {
	r := newEphemeralRig(t, "3s")
	cfg, _ := os.ReadFile(r.config) // validity = ttl + margin: keep the margin short
	os.WriteFile(r.config, bytes.Replace(cfg, []byte("connection_limit: 5}"), []byte("connection_limit: 5, margin: 1s}"), 1), 0o600)
	// Until VALID UNTIL passes the role keeps its logins; a live role is never dropped.
	cmd := exec.Command(airlockBin, "run", "-c", r.config, "--local-dir", filepath.Join(r.dir, "local"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.roles(t) == "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	role := r.roles(t)
	if role == "" {
		t.Fatal("no role was created")
	}
	if res := airlock(t, nil, "revoke-stale", "-c", r.config); res.code != 0 || !strings.Contains(res.stdout, "0 stale roles dropped") {
		t.Fatalf("revoke-stale before the deadline: %d %s %s", res.code, res.stdout, res.stderr)
	}
	// The role's VALID UNTIL is at least a minute out (the broker's least
	// validity); look from two minutes ahead rather than wait.
	res := airlock(t, nil, "revoke-stale", "-c", r.config, "--at", time.Now().Add(2*time.Minute).Format(time.RFC3339))
	if res.code != 0 || !strings.Contains(res.stdout, "dropped "+role) {
		t.Fatalf("revoke-stale: %d %s %s", res.code, res.stdout, res.stderr)
	}
	if left := r.roles(t); left != "" {
		t.Fatalf("left: %s", left)
	}
}
