package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/conformance"
	"github.com/airlockproxy/airlock/internal/pgtest"
)

// fileLimit bounds one regression file's run.
const fileLimit = 3 * time.Minute

// TestPostgresRegress runs PostgreSQL's regression suite file by file,
// directly and through an allow-all Airlock, and compares the outputs.
// It runs only when AIRLOCK_CONFORMANCE_PG names src/test/regress (make
// conformance sets it, with AIRLOCK_BIN and AIRLOCK_CONFORMANCE_LIB, the
// directory holding the suite's regress.so).
func TestPostgresRegress(t *testing.T) {
	src := os.Getenv("AIRLOCK_CONFORMANCE_PG")
	if src == "" {
		t.Skip("AIRLOCK_CONFORMANCE_PG (src/test/regress of the server's version) not set: run make conformance")
	}
	bin := mustEnv(t, "AIRLOCK_BIN")
	lib := mustEnv(t, "AIRLOCK_CONFORMANCE_LIB")
	outDir := reportDir(t, "pg")
	sched, err := os.ReadFile(filepath.Join(src, "parallel_schedule"))
	if err != nil {
		t.Fatal(err)
	}
	only := map[string]bool{}
	for _, n := range strings.Fields(strings.ReplaceAll(os.Getenv("AIRLOCK_CONFORMANCE_ONLY"), ",", " ")) {
		only[n] = true
	}
	direct := newRegressSide(t, "direct", src, lib, "")
	via := newRegressSide(t, "airlock", src, lib, bin)
	sum := conformance.Summary{Suite: "PostgreSQL regression (" + direct.version(t) + ")"}
	for _, name := range conformance.Schedule(string(sched)) {
		if name == "test_setup" {
			sum.Skipped = append(sum.Skipped, "test_setup: run directly on both sides into the template every file starts from")
			continue
		}
		if len(only) > 0 && !only[name] {
			continue
		}
		script, err := os.ReadFile(filepath.Join(src, "sql", name+".sql"))
		if err != nil {
			sum.Skipped = append(sum.Skipped, name+": "+err.Error())
			continue
		}
		var outs [2]string
		var errs [2]error
		var wg sync.WaitGroup
		for i, side := range []*regressSide{direct, via} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = side.run(name, script)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			sum.Skipped = append(sum.Skipped, name+": "+strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		r := conformance.CompareFile(name, string(script), outs[0], outs[1])
		sum.Add(r)
		t.Logf("%-28s %s (%d differing statements)", name, r.Verdict, len(r.Diffs))
		var buf bytes.Buffer
		conformance.WriteDiff(&buf, r)
		writeReport(t, outDir, name+".diff", buf.String())
		writeReport(t, outDir, name+".direct.out", outs[0])
		writeReport(t, outDir, name+".airlock.out", outs[1])
	}
	var buf bytes.Buffer
	sum.Print(&buf)
	writeReport(t, outDir, "summary.txt", buf.String())
	fmt.Print(buf.String())
	fmt.Printf("   per-file outputs and differences: %s\n", outDir)
	if os.Getenv("AIRLOCK_CONFORMANCE_STRICT") != "" && sum.Counts[conformance.Otherwise] > 0 {
		t.Errorf("%d files differ otherwise", sum.Counts[conformance.Otherwise])
	}
}

// regressSide is one cluster and how psql reaches it: over TCP directly,
// or through `airlock run` in front of it.
type regressSide struct {
	name     string
	pg       *pgtest.Server
	src, lib string
	build    string
	port     int
	password string
}

func newRegressSide(t *testing.T, name, src, lib, airlockBin string) *regressSide {
	pg := pgtest.Start(t, pgtest.Options{})
	s := &regressSide{name: name, pg: pg, src: src, lib: lib, port: pg.Port, password: pg.Password}
	// The server writes and reads files in the build directory (COPY TO
	// a file): it runs as another user.
	s.build = t.TempDir()
	if err := os.Chmod(s.build, 0o777); err != nil {
		t.Fatal(err)
	}
	pg.Psql(t, "postgres", "CREATE DATABASE regtmpl")
	out := s.psql(t, "regtmpl", pg.Port, pg.Password, readFile(t, filepath.Join(src, "sql", "test_setup.sql")))
	if strings.Contains(out, "ERROR:") {
		t.Fatalf("%s: test_setup:\n%s", name, out)
	}
	if airlockBin != "" {
		s.port, s.password = startAirlock(t, airlockBin, pg)
	}
	return s
}

func (s *regressSide) version(t *testing.T) string {
	return "PostgreSQL " + s.pg.Psql(t, "postgres", "SHOW server_version")
}

// run gives the file a fresh database copied from the template, with the
// settings pg_regress makes, and runs it through psql -a.
func (s *regressSide) run(name string, script []byte) (string, error) {
	if err := s.reset(); err != nil {
		return "", fmt.Errorf("%s: fresh database for %s: %w", s.name, name, err)
	}
	return s.psql(nil, "regression", s.port, s.password, string(script)), nil
}

// reset drops the previous file's database, with what would keep it
// (subscriptions a file left behind), and copies the template.
func (s *regressSide) reset() error {
	var errs []error
	for _, sql := range []string{
		`SELECT format('ALTER SUBSCRIPTION %I DISABLE; ALTER SUBSCRIPTION %I SET (slot_name = NONE); DROP SUBSCRIPTION %I;', subname, subname, subname)
		   FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = 'regression' \gexec`,
		"DROP DATABASE IF EXISTS regression WITH (FORCE)",
		"CREATE DATABASE regression TEMPLATE regtmpl",
		"ALTER DATABASE regression SET lc_messages TO 'C'; ALTER DATABASE regression SET lc_monetary TO 'C'; " +
			"ALTER DATABASE regression SET lc_numeric TO 'C'; ALTER DATABASE regression SET lc_time TO 'C'; " +
			"ALTER DATABASE regression SET bytea_output TO 'hex'; ALTER DATABASE regression SET timezone_abbreviations TO 'Default'",
	} {
		db := "postgres"
		if strings.Contains(sql, "pg_subscription") {
			db = "regression"
		}
		if err := s.super(db, sql); err != nil {
			errs = append(errs, err)
			if !strings.Contains(sql, "pg_subscription") {
				return errors.Join(errs...)
			}
		}
	}
	return nil
}

// super runs sql as the superuser over the unix socket.
func (s *regressSide) super(db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", s.pg.SocketDir, "-p", strconv.Itoa(s.pg.Port), "-U", "postgres", "-d", db)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PGSSLMODE=disable"}
	cmd.Stdin = strings.NewReader(sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Fields(sql)[0], err, bytes.TrimSpace(out))
	}
	return nil
}

func (s *regressSide) psql(_ *testing.T, db string, port int, password, script string) string {
	ctx, cancel := context.WithTimeout(context.Background(), fileLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-a", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-U", "postgres", "-d", db)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PGPASSWORD=" + password, "PGSSLMODE=disable", "PGAPPNAME=pg_regress",
		"PG_ABS_SRCDIR=" + s.src, "PG_ABS_BUILDDIR=" + s.build, "PG_LIBDIR=" + s.lib, "PG_DLSUFFIX=.so",
		"LC_MESSAGES=C", "LANG=C", "PGTZ=America/Los_Angeles", "PGDATESTYLE=Postgres, MDY",
	}
	cmd.Dir = s.build
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	switch err := cmd.Run(); {
	case err != nil && ctx.Err() != nil:
		out.WriteString("\n[conformance: psql stopped after " + fileLimit.String() + "]\n")
	case err != nil:
		fmt.Fprintf(&out, "\n[conformance: psql: %v]\n", err)
	}
	return out.String()
}

// startAirlock runs `airlock run` with one rule allowing everything in
// front of pg, and returns its port and local token.
func startAirlock(t *testing.T, bin string, pg *pgtest.Server) (int, string) {
	dir := t.TempDir()
	port := freePort(t)
	local := filepath.Join(dir, "local")
	pw := writeFile(t, filepath.Join(dir, "pw"), pg.Password+"\n")
	key := writeFile(t, filepath.Join(dir, "key"), "conformance-key-0123456789abcdef0123")
	cfg := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: conformance, ttl: 6h}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:%d'}
local: {dir: %s}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: regression, sslmode: disable}
  plaintext: true
  session: {search_path: '"$user", public'}
  credentials: {source: static, user: postgres, password_file: %s}
audit: {path: %s, key_file: %s}
log: {level: error}
policy:
  rules:
    - {name: all, allow: 'true'}
`, port, local, pg.Port, pw, filepath.Join(dir, "audit.jsonl"), key))
	return port, runAirlock(t, bin, cfg, port, local, "pg-token")
}

// runAirlock starts `airlock run -c cfg`, waits for its port and local
// files, and returns the content of the local file named tokenFile.
func runAirlock(t *testing.T, bin, cfg string, port int, local, tokenFile string) string {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "run", "-c", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	for range 600 {
		if _, err := os.Stat(filepath.Join(local, "env")); err == nil {
			tok := strings.TrimSpace(readFile(t, filepath.Join(local, tokenFile)))
			return tok
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("airlock run did not start:\n%s", stderr.String())
	return ""
}

func mustEnv(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set", name)
	}
	return v
}

// reportDir is where a suite's per-item outputs go:
// $AIRLOCK_CONFORMANCE_OUT/<suite>, else a temporary directory.
func reportDir(t *testing.T, suite string) string {
	dir := os.Getenv("AIRLOCK_CONFORMANCE_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, suite)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeReport(t *testing.T, dir, name, content string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) string {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
