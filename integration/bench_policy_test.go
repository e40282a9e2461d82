package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// TestBenchPolicyScale sends distinct statements (no remembered decision
// helps) through two Airlocks, one with the 10-rule bench policy and one
// with 1,000 more rules of the shapes an organisation generates (per
// schema, table, prefix and bucket, some deny rules), none of which match,
// and prints Airlock's CPU per statement. It runs only under `make bench`
// (AIRLOCK_BENCH=1); AIRLOCK_BENCH_STATEMENTS sets the count per round
// (default 5000).
func TestBenchPolicyScale(t *testing.T) {
	if os.Getenv("AIRLOCK_BENCH") == "" {
		t.Skip("a benchmark: run with make bench (AIRLOCK_BENCH=1)")
	}
	n := 5000
	if s := os.Getenv("AIRLOCK_BENCH_STATEMENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "bench")
	run(t, exec.Command("pgbench", "-i", "-s", "1", "-q", "-h", pg.SocketDir, "-p", fmt.Sprint(pg.Port), "-U", "postgres", "bench"))
	pg.Psql(t, "bench", "CREATE ROLE bench LOGIN PASSWORD 'bench-pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench")
	dir := t.TempDir()
	small := startAirlockRules(t, pg, filepath.Join(dir, "rules-10"), "")
	large := startAirlockRules(t, pg, filepath.Join(dir, "rules-1010"), generatedYAMLRules(1000))

	fmt.Printf("\n%d distinct statements per round through one psql connection; Airlock's CPU per statement\n", n)
	fmt.Printf("%-6s %-11s %14s %12s\n", "round", "policy", "CPU/stmt µs", "wall s")
	var cpu [2]time.Duration
	for round := range 3 {
		for i, al := range []airlockProc{small, large} {
			// New aliases each round: every statement is a new shape.
			file := filepath.Join(dir, fmt.Sprintf("stmts-%d-%d.sql", round, i))
			var b strings.Builder
			for j := range n {
				fmt.Fprintf(&b, "SELECT aid AS a%d_%d_%d FROM pgbench_accounts WHERE aid = %d;\n", round, i, j, j%1000+1)
			}
			writeFile(t, file, b.String())
			cpu0, start := procCPU(t, al.pid), time.Now()
			cmd := exec.Command("psql", "-X", "-q", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1",
				"-h", "127.0.0.1", "-p", fmt.Sprint(al.pgPort), "-U", "airlock", "-d", "bench", "-f", file)
			cmd.Env = append(os.Environ(), "PGPASSWORD="+al.token, "PGSSLMODE=disable")
			run(t, cmd)
			used := procCPU(t, al.pid) - cpu0
			cpu[i] += used
			fmt.Printf("%-6d %-11s %14.1f %12.2f\n", round, []string{"10 rules", "1,010 rules"}[i],
				float64(used.Microseconds())/float64(n), time.Since(start).Seconds())
		}
	}
	fmt.Printf("1,010 rules cost %.2fx the CPU of 10 (sum of the rounds; target ≤ 1.25x)\n", float64(cpu[1])/float64(cpu[0]))
}

// generatedYAMLRules returns n rules as YAML list items for the bench
// policy: per schema, table, prefix and bucket, one in five a deny rule;
// none names a pgbench table.
func generatedYAMLRules(n int) string {
	var b strings.Builder
	for i := range n {
		var kind, expr string
		switch i % 5 {
		case 0:
			kind, expr = "allow", fmt.Sprintf(`sql.kind == "select" && sql.reads.all(t, t.startsWith("schema%04d."))`, i)
		case 1:
			kind, expr = "allow", fmt.Sprintf(`sql.kind in ["insert", "update"] && sql.writes.all(t, t == "mart%04d.facts")`, i)
		case 2:
			kind, expr = "deny", fmt.Sprintf(`sql.tables.exists(t, t == "schema%04d.customers_pii")`, i)
		case 3:
			kind, expr = "allow", fmt.Sprintf(`s3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.startsWith("team%04d/")`, i)
		case 4:
			kind, expr = "allow", fmt.Sprintf(`s3.action == "PutObject" && s3.bucket == "bucket-%04d"`, i)
		}
		fmt.Fprintf(&b, "    - {name: gen-%04d, %s: '%s'}\n", i, kind, expr)
	}
	return b.String()
}
