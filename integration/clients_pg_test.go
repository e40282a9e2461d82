package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// debianPython is Debian's own interpreter: python3-* packages (asyncpg,
// psycopg2, psycopg 3) install for it, not for a python3 earlier on PATH.
const debianPython = "/usr/bin/python3"

// needPythonModule skips t (fails it under CI) when Debian's python3 lacks
// module; scripts/deps.sh installs the package that has it.
func needPythonModule(t *testing.T, module, pkg string) {
	t.Helper()
	if out, err := exec.Command(debianPython, "-c", "import "+module).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (scripts/deps.sh installs %s): %v %s", module, pkg, err, out)
		}
		t.Skipf("%s is not installed; run scripts/deps.sh", pkg)
	}
}

// TestAsyncpgThroughAirlock: asyncpg, which names its encoding 'utf-8'
// (quoted) in the startup packet, connects with nothing but the PG*
// variables airlock exec sets, queries, copies records in (after its
// SELECT … LIMIT 1 probe of the target's columns) and sees a denial as
// asyncpg's InsufficientPrivilegeError naming the rule.
func TestAsyncpgThroughAirlock(t *testing.T) {
	needPythonModule(t, "asyncpg", "python3-asyncpg")
	r := newPGRig(t, "")
	script := writeFile(t, filepath.Join(r.dir, "task.py"), `
import asyncio, asyncpg

async def main():
    conn = await asyncpg.connect()  # PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
    print("count", await conn.fetchval("SELECT count(*) FROM orders WHERE id > $1", 10))
    print("encoding", conn.get_settings().client_encoding)
    await conn.copy_records_to_table("events", records=[("a",), ("b",)], columns=["what"], schema_name="sales")
    try:
        await conn.fetch("SELECT * FROM customers_pii")
        print("NOT DENIED")
    except asyncpg.exceptions.InsufficientPrivilegeError as e:
        print("denied", e.sqlstate, e.args[0])
    print("still usable", await conn.fetchval("SELECT 1 FROM orders LIMIT 1"))
    await conn.close()

asyncio.run(main())
`)
	res := r.exec(t, debianPython, script)
	if res.code != 0 {
		t.Fatalf("python exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	mustContain(t, "asyncpg output", res.stdout, "count 90", "encoding UTF8",
		"denied 42501 airlock: denied by rule never-pii", "still usable 1")
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events WHERE what IN ('a', 'b')"); got != "2" {
		t.Fatalf("asyncpg copy: %s rows", got)
	}
	if strings.Contains(res.stdout+res.stderr, canaryPassword) {
		t.Fatal("canary in the task's or Airlock's output")
	}
	r.verify(t)
}
