package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runProc is an `airlock run` started by a test.
type runProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *lockedBuf
	admin  string // http://host:port
	local  string
}

type lockedBuf struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newLockedBuf() *lockedBuf { return &lockedBuf{mu: make(chan struct{}, 1)} }

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.String()
}

// startRun runs `airlock run -c config` (argv0 may wrap it, e.g. a shell
// that lowers a limit first) and waits until it wrote its local files.
func startRun(t *testing.T, config, local string, adminPort int, wrap ...string) *runProc {
	t.Helper()
	argv := append(append([]string{}, wrap...), airlockBin, "run", "-c", config)
	cmd := exec.Command(argv[0], argv[1:]...)
	p := &runProc{cmd: cmd, done: make(chan struct{}), stderr: newLockedBuf(), local: local,
		admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("airlock log:\n%s", p.stderr.String())
		}
	})
	for range 300 {
		if _, err := os.Stat(filepath.Join(local, "env")); err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("airlock run exited during start: %s", p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("airlock run never became ready")
	return nil
}

func (p *runProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// shellWithEnv runs script under sh with the task's env file sourced.
func (p *runProc) shellWithEnv(ctx context.Context, script string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", "set -a; . "+filepath.Join(p.local, "env")+"; set +a; "+script)
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func auditRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 2<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

func needPsycopg2(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import psycopg2").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("psycopg2 missing (scripts/deps.sh installs python3-psycopg2): %v %s", err, out)
		}
		t.Skip("python3-psycopg2 is not installed; run scripts/deps.sh")
	}
	return py
}

// pgRunConfig writes an `airlock run` config in front of r's database.
func pgRunConfig(t *testing.T, r *pgRig, pgPort, adminPort int, extra string) (config, local string) {
	t.Helper()
	local = filepath.Join(r.dir, "local")
	pw := writeFile(t, filepath.Join(r.dir, "pg-password"), canaryPassword+"\n")
	config = writeFile(t, filepath.Join(r.dir, "run.yaml"), fmt.Sprintf(`
task: {id: faults, ttl: 5m}
listen: {admin: '127.0.0.1:%d', postgres: '127.0.0.1:%d'}
local: {dir: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  plaintext: true
  session: {search_path: sales}
  credentials: {source: static, user: etl, password_file: %s}
audit: {path: %s, key_file: %s}
policy:
  rules:
    - {name: read-sales, allow: 'sql.kind in ["select", "copy_to"] && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: write-events, allow: 'sql.kind in ["insert", "copy_from"] && sql.writes.all(t, t == "sales.events")'}
    - {name: tx, allow: 'sql.kind in ["transaction", "set"]'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}
%s`, adminPort, pgPort, local, r.pg.Port, pw, r.auditPath, r.keyFile, extra))
	return config, local
}

// TestSigkillLosesNoRecord: Airlock is SIGKILLed in the middle of a burst
// of INSERTs from 8 psycopg2 connections. Every row that reached the table
// has an allow record in the audit log: a statement is forwarded only
// after its record was written.
func TestSigkillLosesNoRecord(t *testing.T) {
	py := needPsycopg2(t)
	r := newPGRig(t, "")
	config, local := pgRunConfig(t, r, freePort(t), freePort(t), "")
	p := startRun(t, config, local, freePort(t))
	script := writeFile(t, filepath.Join(r.dir, "burst.py"), `
import sys, threading, psycopg2
def work(n):
    try:
        conn = psycopg2.connect("")
        conn.autocommit = True
        cur = conn.cursor()
        for i in range(100000):
            cur.execute("INSERT INTO events (what) VALUES (%s)", ("burst %d %d" % (n, i),))
    except psycopg2.Error:
        pass
ts = [threading.Thread(target=work, args=(n,)) for n in range(8)]
for t in ts: t.start()
for t in ts: t.join()
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	burst := p.shellWithEnv(ctx, py+" "+script)
	if err := burst.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once rows are flowing.
	for range 200 {
		if n := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events WHERE what LIKE 'burst%'"); n != "0" && len(n) >= 3 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	_ = burst.Wait()
	rows := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events WHERE what LIKE 'burst%'")
	var nrows int
	fmt.Sscan(rows, &nrows)
	allows := 0
	for _, rec := range auditRecords(t, r.auditPath) {
		if rec["event"] == "decision" && rec["decision"] == "allow" && rec["action"] == "insert" {
			allows++
		}
	}
	t.Logf("rows %d, allow records %d", nrows, allows)
	if nrows < 100 {
		t.Fatalf("only %d rows: the burst did not run", nrows)
	}
	if nrows > allows {
		t.Fatalf("%d rows reached the table but only %d allow records are in the audit log: %d statements ran unrecorded", nrows, allows, nrows-allows)
	}
	// The killed run's log verifies as an open log.
	if v := airlock(t, nil, "audit", "verify", "--allow-open", "--key-file", r.keyFile, r.auditPath); v.code != 0 {
		t.Fatalf("verify: %s %s", v.stdout, v.stderr)
	}
}

// TestAcceptSurvivesDescriptorExhaustion runs Airlock under a low
// RLIMIT_NOFILE and opens connections until its accepts fail with EMFILE.
// Airlock keeps running, counts the errors, and serves psql once
// descriptors are free again.
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	r := newPGRig(t, "")
	pgPort, adminPort := freePort(t), freePort(t)
	config, local := pgRunConfig(t, r, pgPort, adminPort, "")
	p := startRun(t, config, local, adminPort, "sh", "-c", `ulimit -n 64 && exec "$@"`, "sh")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", pgPort)
	// 64 descriptors cannot hold 100 connections: the kernel still
	// completes the handshakes (backlog), Airlock's accept4 fails.
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	time.Sleep(500 * time.Millisecond)
	if !p.alive() {
		t.Fatalf("airlock exited when its descriptors ran out:\n%s", p.stderr.String())
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	time.Sleep(1500 * time.Millisecond) // Airlock notices the closes; the backoff ends (≤ 1 s)
	if !p.alive() {
		t.Fatalf("airlock exited:\n%s", p.stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := p.shellWithEnv(ctx, "psql -XAtc 'SELECT count(*) FROM orders'").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "100" {
		t.Fatalf("psql after the exhaustion: %v %s", err, out)
	}
	m := scrape(t, p.admin)
	if !strings.Contains(m, `airlock_accept_errors_total{protocol="postgres"}`) {
		t.Fatalf("no accept errors counted (did the limit bite?):\n%s", grepLines(m, "airlock_"))
	}
	if !strings.Contains(p.stderr.String(), "accept failed; retrying") {
		t.Errorf("no warning logged:\n%s", p.stderr.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDevFullSinkRefused: the real binary refuses to start on a sink
// that takes no records, saying which and why, and listens on nothing.
func TestDevFullSinkRefused(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r := newPGRig(t, "")
	pgPort := freePort(t)
	config, _ := pgRunConfig(t, r, pgPort, freePort(t), "")
	b := strings.Replace(readFile(t, config), "audit: {path: "+r.auditPath, "audit: {path: /dev/full", 1)
	writeFile(t, config, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Run mode: nothing else (no child, no exit flush) would notice.
	res, err := exec.CommandContext(ctx, airlockBin, "run", "-c", config).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("airlock run kept running with /dev/full as its audit sink:\n%s", res)
	}
	if err == nil {
		t.Fatalf("airlock run exited 0 with /dev/full as its audit sink:\n%s", res)
	}
	mustContain(t, "airlock's error", string(res), "audit sink /dev/full does not take records", "no space left on device")
	if _, err := os.Stat(filepath.Join(r.dir, "local", "env")); err == nil {
		t.Error("airlock wrote the task's env (reported ready) before failing")
	}
}

// TestTornAuditTailContinues: a log whose last line a crash cut is
// continued by the next run (the torn bytes moved aside, a resume record),
// and `airlock audit verify` accepts it and reports the resume.
func TestTornAuditTailContinues(t *testing.T) {
	r := newPGRig(t, "")
	config, _ := pgRunConfig(t, r, freePort(t), freePort(t), "")
	if res := airlock(t, nil, "exec", "-c", config, "--", "psql", "-XAtc", "SELECT 1"); res.code != 0 {
		t.Fatalf("first run: %d %s", res.code, res.stderr)
	}
	good := readFile(t, r.auditPath)
	writeFile(t, r.auditPath, good+`{"time":"2026-12-03T08:00:00.1Z","seq":99,"event":"deci`)
	res := airlock(t, nil, "exec", "-c", config, "--", "psql", "-XAtc", "SELECT 2")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "2" {
		t.Fatalf("run after the torn tail: %d %s %s", res.code, res.stdout, res.stderr)
	}
	sides, _ := filepath.Glob(r.auditPath + ".torn-*")
	if len(sides) != 1 || !strings.Contains(readFile(t, sides[0]), `"event":"deci`) {
		t.Fatalf("torn bytes not moved aside: %v", sides)
	}
	v := airlock(t, nil, "audit", "verify", "--key-file", r.keyFile, r.auditPath)
	if v.code != 0 {
		t.Fatalf("verify: %s %s", v.stdout, v.stderr)
	}
	mustContain(t, "verify output", v.stdout, "1 resume record(s)", sides[0])
}

// TestMaxConnectionsPsql: psql over listen.max_connections.postgres is
// told "too many connections" (SQLSTATE 53300), as PostgreSQL tells it.
func TestMaxConnectionsPsql(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) { maxConnectionsPsql(t, tlsOn) })
	}
}

func maxConnectionsPsql(t *testing.T, tlsOn bool) {
	r := newPGRig(t, "")
	pgPort, adminPort := freePort(t), freePort(t)
	config, local := pgRunConfig(t, r, pgPort, adminPort, "")
	b := strings.Replace(readFile(t, config), "listen: {", "listen: {max_connections: {postgres: 1}, ", 1)
	if tlsOn {
		b = strings.Replace(b, "plaintext: true", "plaintext: false", 1)
	}
	writeFile(t, config, b)
	p := startRun(t, config, local, adminPort)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hold := p.shellWithEnv(ctx, "psql -XAtc 'SELECT pg_sleep(4)'")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer hold.Wait()
	waitFor := time.Now().Add(10 * time.Second)
	for !strings.Contains(scrape(t, p.admin), `airlock_connections{protocol="postgres"} 1`) {
		if time.Now().After(waitFor) {
			t.Fatal("the first psql never connected")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mode := "disable"
	if tlsOn {
		mode = "verify-full" // the refusal comes over TLS, as the session would
	}
	out, err := p.shellWithEnv(ctx, "PGSSLMODE="+mode+" psql -XAtc 'SELECT 1'").CombinedOutput()
	if err == nil {
		t.Fatalf("second psql was served: %s", out)
	}
	mustContain(t, "psql's error", string(out), "too many connections")
	if err := hold.Wait(); err != nil {
		t.Errorf("the first session failed: %v", err)
	}
}
