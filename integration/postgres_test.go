package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// canaryPassword is the upstream password: it must never appear in
// anything Airlock writes or in the task's environment.
const canaryPassword = "CANARY-pg-upstream-7c1f0e"

type pgRig struct {
	pg        *pgtest.Server
	dir       string
	config    string
	auditPath string
	keyFile   string
}

// newPGRig starts PostgreSQL with a sales schema and an upstream role whose
// password is the canary, and writes an airlock config for it.
func newPGRig(t *testing.T, rules string) *pgRig {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric);
CREATE TABLE sales.customers_pii (id int, email text);
CREATE TABLE sales.events (id serial, what text);
INSERT INTO sales.orders SELECT g, g FROM generate_series(1, 100) g;
CREATE ROLE etl LOGIN PASSWORD '`+canaryPassword+`';
GRANT USAGE ON SCHEMA sales TO etl;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sales TO etl;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA sales TO etl;
`)
	dir := t.TempDir()
	r := &pgRig{pg: pg, dir: dir, auditPath: filepath.Join(dir, "audit.jsonl"), keyFile: filepath.Join(dir, "audit-key")}
	writeFile(t, r.keyFile, "integration-test-key-0123456789abcdef")
	pwFile := writeFile(t, filepath.Join(dir, "pg-password"), canaryPassword+"\n")
	if rules == "" {
		rules = `
    - {name: read-sales, allow: 'sql.kind in ["select", "copy_to"] && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: write-events, allow: 'sql.kind in ["insert", "copy_from"] && sql.writes.all(t, t == "sales.events")'}
    - {name: tx, allow: 'sql.kind in ["transaction", "set"]'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}`
	}
	r.config = writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: it-1, ttl: 5m}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:%d'}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  session: {search_path: sales}
  credentials: {source: static, user: etl, password_file: %s}
audit: {path: %s, key_file: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
policy:
  rules:%s
`, freePort(t), pg.Port, pwFile, r.auditPath, r.keyFile, rules))
	return r
}

// exec runs CMD under airlock exec.
func (r *pgRig) exec(t *testing.T, cmd ...string) result {
	t.Helper()
	return airlock(t, nil, append([]string{"exec", "-c", r.config, "--"}, cmd...)...)
}

func (r *pgRig) verify(t *testing.T) []map[string]any {
	t.Helper()
	v := airlock(t, nil, "audit", "verify", "--key-file", r.keyFile, r.auditPath)
	if v.code != 0 {
		t.Fatalf("audit verify: %s %s", v.stdout, v.stderr)
	}
	data, err := os.ReadFile(r.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), canaryPassword) {
		t.Fatal("the upstream password is in the audit log")
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	return recs
}

func countDecisions(recs []map[string]any, decision string) int {
	n := 0
	for _, r := range recs {
		if r["event"] == "decision" && r["decision"] == decision {
			n++
		}
	}
	return n
}

func TestPsqlThroughAirlock(t *testing.T) {
	r := newPGRig(t, "")
	data := writeFile(t, filepath.Join(r.dir, "events.txt"), "one\ntwo\nthree\n")
	out := filepath.Join(r.dir, "orders.csv")
	res := r.exec(t, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-A", "-t",
		"-c", "SELECT count(*) FROM orders; SELECT max(id) FROM sales.orders",
		"-c", `\copy sales.events(what) FROM '`+data+`'`,
		"-c", `\copy (SELECT id, amount FROM sales.orders ORDER BY id) TO '`+out+`' CSV`,
		"-c", "BEGIN", "-c", "INSERT INTO events(what) VALUES ('four')", "-c", "COMMIT")
	if res.code != 0 {
		t.Fatalf("psql exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	mustContain(t, "psql output", res.stdout, "100\n100")
	csv, err := os.ReadFile(out)
	if err != nil || strings.Count(string(csv), "\n") != 100 {
		t.Fatalf("\\copy out: %v %d lines", err, strings.Count(string(csv), "\n"))
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events"); got != "4" {
		t.Fatalf("events: %s", got)
	}
	// Denied statements: psql reports the 42501 error and fails.
	res = r.exec(t, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT * FROM customers_pii")
	if res.code == 0 {
		t.Fatal("psql succeeded on a denied statement")
	}
	mustContain(t, "psql stderr", res.stderr, "airlock: denied by rule never-pii", "request_id=")
	res = r.exec(t, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1 FROM orders LIMIT 1; DELETE FROM orders")
	if res.code == 0 || !strings.Contains(res.stderr, "no rule allows") {
		t.Fatalf("multi-statement with a denied part: %d %s", res.code, res.stderr)
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.orders"); got != "100" {
		t.Fatalf("orders after denied delete: %s", got)
	}
	recs := r.verify(t)
	if countDecisions(recs, "deny") != 2 {
		t.Errorf("%d denial records, want 2", countDecisions(recs, "deny"))
	}
	if countDecisions(recs, "allow") < 6 {
		t.Errorf("%d allow records, want at least 6", countDecisions(recs, "allow"))
	}
}

func TestPgbenchModes(t *testing.T) {
	r := newPGRig(t, `
    - {name: bench-read, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("public.pgbench_"))'}
    - {name: bench-set, allow: 'sql.kind in ["set", "transaction"]'}`)
	r.pg.Psql(t, "app", "SELECT 1")
	init := exec.Command("pgbench", "-i", "-s", "1", "-q", "-h", r.pg.SocketDir, "-p", fmt.Sprint(r.pg.Port), "-U", "postgres", "app")
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	r.pg.Psql(t, "app", "GRANT USAGE ON SCHEMA public TO etl; GRANT SELECT ON ALL TABLES IN SCHEMA public TO etl")
	// pgbench names unqualified tables: pin search_path to public.
	cfg, _ := os.ReadFile(r.config)
	os.WriteFile(r.config, []byte(strings.Replace(string(cfg), "search_path: sales", "search_path: public", 1)), 0o600)
	for _, mode := range []string{"simple", "extended", "prepared"} {
		res := r.exec(t, "pgbench", "-n", "-S", "-M", mode, "-c", "2", "-j", "2", "-t", "200")
		if res.code != 0 {
			t.Fatalf("pgbench -M %s: exit %d\n%s\n%s", mode, res.code, res.stdout, res.stderr)
		}
		mustContain(t, "pgbench -M "+mode, res.stdout, "number of transactions actually processed: 400/400")
	}
	r.verify(t)
}

func TestPsycopg2ThroughAirlock(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import psycopg2").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("psycopg2 missing (scripts/deps.sh installs python3-psycopg2): %v %s", err, out)
		}
		t.Skip("python3-psycopg2 is not installed; run scripts/deps.sh")
	}
	r := newPGRig(t, "")
	script := writeFile(t, filepath.Join(r.dir, "task.py"), `
import os, psycopg2, psycopg2.errors
conn = psycopg2.connect("")  # PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE from airlock exec
cur = conn.cursor()
cur.execute("SELECT count(*) FROM orders WHERE id > %s", (10,))
print("count", cur.fetchone()[0])
cur.execute("INSERT INTO events (what) VALUES (%s)", ("from python",))
conn.commit()
try:
    cur.execute("SELECT * FROM customers_pii")
    print("NOT DENIED")
except psycopg2.Error as e:
    print("denied", e.pgcode, e.diag.message_primary)
    conn.rollback()
cur.execute("SELECT 1 FROM orders LIMIT 1")
print("still usable", cur.fetchone()[0])
print("password visible:", os.environ.get("PGPASSWORD") == "`+canaryPassword+`")
`)
	res := r.exec(t, py, script)
	if res.code != 0 {
		t.Fatalf("python exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	mustContain(t, "python output", res.stdout, "count 90", "denied 42501 airlock: denied by rule never-pii", "still usable 1", "password visible: False")
	if strings.Contains(res.stdout+res.stderr, canaryPassword) {
		t.Fatal("canary in the task's or Airlock's output")
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events WHERE what = 'from python'"); got != "1" {
		t.Fatalf("python insert: %s", got)
	}
	r.verify(t)
}

// TestUnixSocketListener: with listen.postgres_socket, psql reaches Airlock
// through the socket directory, as libpq does with host=DIR.
func TestUnixSocketListener(t *testing.T) {
	r := newPGRig(t, "")
	sock, err := os.MkdirTemp("", "als")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sock)
	cfg, _ := os.ReadFile(r.config)
	os.WriteFile(r.config, []byte(strings.Replace(string(cfg), "listen: {", "listen: {postgres_socket: "+sock+", ", 1)), 0o600)
	res := r.exec(t, "sh", "-c", `psql -X -A -t -h "$0" -c "SELECT count(*) FROM orders"`, sock)
	if res.code != 0 || strings.TrimSpace(res.stdout) != "100" {
		t.Fatalf("psql over the unix socket: %d %q %s", res.code, res.stdout, res.stderr)
	}
	if entries, _ := os.ReadDir(sock); len(entries) != 0 {
		t.Errorf("the socket file outlived airlock: %v", entries)
	}
}
