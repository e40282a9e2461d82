package integration_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// TestBenchPostgres compares pgbench -S through nothing, PgBouncer (session
// mode) and Airlock (10-rule policy, audit log on), in each query mode, and
// COPY TO STDOUT throughput. It runs only under `make bench`
// (AIRLOCK_BENCH=1); AIRLOCK_BENCH_SECONDS sets the pgbench duration
// (default 20), AIRLOCK_BENCH_PG=tps, single or copy runs only that
// part. It prints a table; targets are checked by reading it.
func TestBenchPostgres(t *testing.T) {
	if os.Getenv("AIRLOCK_BENCH") == "" {
		t.Skip("a benchmark: run with make bench (AIRLOCK_BENCH=1)")
	}
	secs := 20
	if s := os.Getenv("AIRLOCK_BENCH_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	pg := pgtest.Start(t, pgtest.Options{Conf: map[string]string{"max_connections": "200", "shared_buffers": "128MB"}})
	pg.CreateDB(t, "bench")
	run(t, exec.Command("pgbench", "-i", "-s", "10", "-q", "-h", pg.SocketDir, "-p", fmt.Sprint(pg.Port), "-U", "postgres", "bench"))
	pg.Psql(t, "bench", "CREATE ROLE bench LOGIN PASSWORD 'bench-pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench; VACUUM ANALYZE")
	dir := t.TempDir()

	bouncerPort, bouncerPID := startBouncer(t, pg, dir)
	al := startAirlockRun(t, pg, filepath.Join(dir, "airlock"))
	// The same with one P: no second thread to wake or hand work to.
	al1 := startAirlockRun(t, pg, filepath.Join(dir, "airlock-1p"), "GOMAXPROCS=1")

	targets := []benchTarget{
		{"direct", "127.0.0.1", fmt.Sprint(pg.Port), "bench", "bench-pw", 0},
		{"pgbouncer", "127.0.0.1", fmt.Sprint(bouncerPort), "bench", "bench-pw", bouncerPID},
		{"go-relay", "127.0.0.1", fmt.Sprint(startGoRelay(t, pg.Port)), "bench", "bench-pw", os.Getpid()},
		{"airlock", "127.0.0.1", fmt.Sprint(al.pgPort), "airlock", al.token, al.pid},
		{"airlock-1p", "127.0.0.1", fmt.Sprint(al1.pgPort), "airlock", al1.token, al1.pid},
	}
	only := os.Getenv("AIRLOCK_BENCH_PG") // "tps", "single" or "copy": only that part
	if only == "" || only == "tps" {
		benchThroughput(t, secs, targets)
	}
	if only == "" || only == "single" {
		benchSingle(t, secs, targets)
	}
	if only == "" || only == "copy" {
		fmt.Printf("\nCOPY pgbench_accounts TO STDOUT (1,000,000 rows), 5 alternating pairs\n")
		dRate, aRate, ratio := copyRatio(t, targets[0], targets[3])
		fmt.Printf("best: direct %.1f MB/s, airlock %.1f MB/s; median pair ratio %.2fx (target ≥ 0.9x)\n", dRate, aRate, ratio)
	}
}

func benchSingle(t *testing.T, secs int, targets []benchTarget) {
	fmt.Printf("\nsingle client, -M prepared -S -c 1 -T %d: latency per query (pgbench's average)\n", secs/2)
	var dLat float64
	for i, tg := range targets {
		_, lat, _ := pgbench(t, tg.host, tg.port, tg.user, tg.password, "-S", "-M", "prepared", "-c", "1", "-T", fmt.Sprint(secs/2))
		if i == 0 {
			dLat = lat
			fmt.Printf("%-10s %6.1f µs\n", tg.name, lat*1000)
			continue
		}
		fmt.Printf("%-10s %6.1f µs, added %5.1f µs\n", tg.name, lat*1000, (lat-dLat)*1000)
	}
	fmt.Println("target: Airlock adds ≤ 15 µs (PgBouncer's added latency is the practical floor here)")
}

// benchTarget is where pgbench connects; pid is the proxy process whose
// CPU is charged per transaction (0: none).
type benchTarget struct {
	name, host, port, user, password string
	pid                              int
}

func benchThroughput(t *testing.T, secs int, targets []benchTarget) {
	fmt.Printf("\npgbench -S -c 8 -j 2 -T %d (2 cores shared by client, proxy and server)\n", secs)
	fmt.Printf("go-relay: two goroutines per connection copying bytes through net.Conn, no parsing\n")
	fmt.Printf("airlock-1p: the same Airlock build and config, run with GOMAXPROCS=1\n")
	fmt.Printf("%-9s %-10s %10s %12s %10s %18s\n", "mode", "target", "tps", "latency ms", "vs direct", "proxy CPU/txn µs")
	for _, mode := range []string{"simple", "extended", "prepared"} {
		var direct float64
		for _, tg := range targets {
			var cpu0 time.Duration
			if tg.pid != 0 {
				cpu0 = procCPU(t, tg.pid)
			}
			tps, lat, n := pgbench(t, tg.host, tg.port, tg.user, tg.password, "-S", "-M", mode, "-c", "8", "-j", "2", "-T", fmt.Sprint(secs))
			if tg.name == "direct" {
				direct = tps
			}
			perTxn := "-"
			if tg.pid != 0 && n > 0 {
				perTxn = fmt.Sprintf("%.1f", float64((procCPU(t, tg.pid)-cpu0).Microseconds())/float64(n))
			}
			fmt.Printf("%-9s %-10s %10.0f %12.3f %9.2fx %18s\n", mode, tg.name, tps, lat, tps/direct, perTxn)
		}
	}
}
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return string(out)
}

var (
	tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	latRE = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	txRE  = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
)

// pgbench runs pgbench against a target and returns tps, mean latency (ms)
// and the transaction count.
func pgbench(t *testing.T, host, port, user, password string, args ...string) (float64, float64, int) {
	t.Helper()
	cmd := exec.Command("pgbench", append([]string{"-n", "-h", host, "-p", port, "-U", user, "bench"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE=disable")
	out := run(t, cmd)
	m1, m2, m3 := tpsRE.FindStringSubmatch(out), latRE.FindStringSubmatch(out), txRE.FindStringSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil {
		t.Fatalf("unexpected pgbench output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(m1[1], 64)
	lat, _ := strconv.ParseFloat(m2[1], 64)
	n, _ := strconv.Atoi(m3[1])
	return tps, lat, n
}

// copyRatio runs COPY TO STDOUT through psql direct and through Airlock,
// alternately, five times each, and returns the best MB/s of each and the
// median of the five pairwise ratios: on a shared 2-core VM the machine's
// speed drifts between runs, and pairs see the same drift.
func copyRatio(t *testing.T, direct, airlock benchTarget) (float64, float64, float64) {
	t.Helper()
	var dBest, aBest float64
	var ratios []float64
	for range 5 {
		d := copyOut(t, direct.port, direct.user, direct.password)
		cpu0 := procCPU(t, airlock.pid)
		a := copyOut(t, airlock.port, airlock.user, airlock.password)
		cpu := procCPU(t, airlock.pid) - cpu0
		dBest, aBest = max(dBest, d), max(aBest, a)
		ratios = append(ratios, a/d)
		fmt.Printf("  pair: direct %.1f MB/s, airlock %.1f MB/s: %.2fx; airlock CPU %d ms\n", d, a, a/d, cpu.Milliseconds())
	}
	slices.Sort(ratios)
	return dBest, aBest, ratios[len(ratios)/2]
}

// copyOut returns the MB/s of one COPY TO STDOUT through psql.
func copyOut(t *testing.T, port, user, password string) float64 {
	t.Helper()
	cmd := exec.Command("psql", "-X", "-h", "127.0.0.1", "-p", port, "-U", user, "-d", "bench", "-c", "COPY pgbench_accounts TO STDOUT")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE=disable")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n, _ := bufio.NewReaderSize(stdout, 1<<20).WriteTo(discardCounter{})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("psql COPY: %v", err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}

type discardCounter struct{}

func (discardCounter) Write(p []byte) (int, error) { return len(p), nil }

// procCPU returns a process's user+system CPU time from /proc.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// startGoRelay listens on a free loopback port and relays each connection
// to the server with two goroutines copying through 64 KiB buffers: no
// parsing, no checks. Its CPU per transaction is what Go's netpoller and
// scheduler cost on this machine, the floor for any Go proxy built on
// net.Conn. (Not io.Copy: between two TCP connections that splices through
// a pipe, which costs more per small message.)
func startGoRelay(t *testing.T, upstreamPort int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := fmt.Sprintf("127.0.0.1:%d", upstreamPort)
	serveRelay(t, ln, func() (net.Conn, error) { return net.Dial("tcp", up) })
	return ln.Addr().(*net.TCPAddr).Port
}

// serveRelay accepts on ln until t ends, relaying each connection to a
// new one from dial in both directions.
func serveRelay(t *testing.T, ln net.Listener, dial func() (net.Conn, error)) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				u, err := dial()
				if err != nil {
					c.Close()
					return
				}
				go pump(u, c)
				pump(c, u)
			}()
		}
	}()
}

func pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func startBouncer(t *testing.T, pg *pgtest.Server, dir string) (port, pid int) {
	t.Helper()
	// Not under t.TempDir(): its parents are private to this user, and
	// PgBouncer runs as the unprivileged server user.
	bdir, err := os.MkdirTemp("", "bouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bdir) })
	port = freePort(t)
	writeFile(t, filepath.Join(bdir, "userlist.txt"), `"bench" "bench-pw"`+"\n")
	ini := writeFile(t, filepath.Join(bdir, "pgbouncer.ini"), fmt.Sprintf(`[databases]
bench = host=127.0.0.1 port=%d dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s/userlist.txt
pool_mode = session
max_client_conn = 100
default_pool_size = 20
logfile = %s/pgbouncer.log
`, pg.Port, port, bdir, bdir))
	cmd := exec.Command("pgbouncer", ini)
	pgtest.Unprivileged(t, cmd, bdir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitPort(t, port)
	return port, cmd.Process.Pid
}

type airlockProc struct {
	pid    int
	pgPort int
	token  string
}

// startAirlockRun runs `airlock run` with a 10-rule policy and a keyed
// audit log, plaintext listener (as the other targets), in front of pg.
func startAirlockRun(t *testing.T, pg *pgtest.Server, dir string, env ...string) airlockProc {
	t.Helper()
	return startAirlockRules(t, pg, dir, "", env...)
}

// startAirlockRules is startAirlockRun with more rules (YAML list items,
// indented by four spaces) after the ten.
func startAirlockRules(t *testing.T, pg *pgtest.Server, dir, moreRules string, env ...string) airlockProc {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pgPort := freePort(t)
	local := filepath.Join(dir, "local")
	key := writeFile(t, filepath.Join(dir, "key"), "bench-key-0123456789abcdef0123456789")
	pw := writeFile(t, filepath.Join(dir, "pw"), "bench-pw")
	cfg := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: bench, ttl: 1h}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:%d'}
local: {dir: %s}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: bench, sslmode: disable}
  plaintext: true
  credentials: {source: static, user: bench, password_file: %s}
audit: {path: %s, key_file: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
log: {level: warn}
policy:
  rules:
    - {name: bench-read, allow: 'sql.kind == "select" && sql.writes.size() == 0 && sql.reads.all(t, t.startsWith("public.pgbench_"))'}
    - {name: copy-out, allow: 'sql.kind == "copy_to" && sql.reads.all(t, t.startsWith("public.pgbench_"))'}
    - {name: tx, allow: 'sql.kind in ["transaction", "set"]'}
    - {name: no-pii, deny: 'sql.tables.exists(t, t.endsWith("_pii"))'}
    - {name: no-delete, deny: '"delete" in sql.kinds'}
    - {name: no-ddl, deny: 'sql.kind == "ddl" && !(task.labels["ddl"] == "ok")'}
    - {name: staging, allow: 'sql.kind == "insert" && sql.writes.all(t, t.glob("staging.*"))'}
    - {name: fn-guard, deny: 'sql.functions.exists(f, f.startsWith("pg_catalog.pg_read"))'}
    - {name: s3-read, allow: 's3.action == "GetObject" && s3.bucket == "lake"'}
    - {name: s3-write, allow: 's3.action == "PutObject" && s3.key.startsWith("out/" + task.id + "/")'}
%s`, pgPort, local, pg.Port, pw, filepath.Join(dir, "audit.jsonl"), key, moreRules))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, airlockBin, "run", "-c", cfg)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	waitPort(t, pgPort)
	waitLocal(t, local)
	tok, err := os.ReadFile(filepath.Join(local, "pg-token"))
	if err != nil {
		t.Fatal(err)
	}
	return airlockProc{pid: cmd.Process.Pid, pgPort: pgPort, token: strings.TrimSpace(string(tok))}
}
