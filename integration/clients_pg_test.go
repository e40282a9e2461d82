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

// presetRules are task rules plus the presets a README-style rule file
// includes: no rule of its own for transactions, cursors or the catalog.
const presetRules = `
    - {name: read-sales, allow: 'sql.kind == "select" && sql.writes.size() == 0 && sql.reads.size() > 0 && sql.reads.all(t, t.startsWith("sales."))'}
    - {name: never-pii, deny: '"sales.customers_pii" in sql.tables'}
  include: [housekeeping, catalog-metadata]`

// TestClientsWithPresets: psycopg 3 (prepared statements, a server-side
// cursor, rollback's DEALLOCATE ALL) and SQLAlchemy (dialect start-up
// queries, table reflection) work under task rules plus the housekeeping
// and catalog-metadata presets, the statements they issue by themselves
// are recorded as allowed by the presets, and pg_stats / pg_stat_activity
// stay denied.
func TestClientsWithPresets(t *testing.T) {
	needPythonModule(t, "psycopg", "python3-psycopg")
	needPythonModule(t, "sqlalchemy", "python3-sqlalchemy")
	r := newPGRig(t, presetRules)
	script := writeFile(t, filepath.Join(r.dir, "task.py"), `
import psycopg, psycopg.errors, sqlalchemy as sa

with psycopg.connect("") as c:  # the PG* variables airlock exec sets
    print("count", c.execute("SELECT count(*) FROM orders WHERE id > %s", (10,), prepare=True).fetchone()[0])
    with c.cursor(name="srv") as cur:
        cur.execute("SELECT id FROM orders ORDER BY id")
        first = cur.fetchmany(3)
        cur.scroll(2)
        print("cursor", [r[0] for r in first], cur.fetchone()[0])
    c.rollback()  # DEALLOCATE ALL: the prepared statement above
    for q in ("SELECT * FROM pg_stats", "SELECT query FROM pg_stat_activity"):
        try:
            c.execute(q)
            print("NOT DENIED", q)
        except psycopg.errors.InsufficientPrivilege as e:
            print("denied", q, "|", e.diag.message_primary)
        c.rollback()

engine = sa.create_engine("postgresql+psycopg2://")  # libpq reads the PG* variables
with engine.connect() as conn:
    insp = sa.inspect(conn)
    print("has_table", insp.has_table("orders", schema="sales"))
    print("columns", [col["name"] for col in insp.get_columns("orders", schema="sales")])
    print("sum", conn.execute(sa.text("SELECT sum(id) FROM orders")).scalar())
`)
	res := r.exec(t, debianPython, script)
	if res.code != 0 {
		t.Fatalf("python exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	mustContain(t, "client output", res.stdout, "count 90", "cursor [1, 2, 3] 6",
		"denied SELECT * FROM pg_stats | airlock: no rule allows",
		"denied SELECT query FROM pg_stat_activity | airlock: no rule allows",
		"has_table True", "columns ['id', 'amount']", "sum 5050")
	byRule := map[string][]string{}
	for _, rec := range r.verify(t) {
		if rec["event"] != "decision" || rec["decision"] != "allow" {
			continue
		}
		rules, _ := rec["rules"].([]any)
		for _, rule := range rules {
			byRule[rule.(string)] = append(byRule[rule.(string)], rec["statement"].(string))
		}
	}
	for rule, wants := range map[string][]string{
		"preset.housekeeping":     {"DEALLOCATE ALL", `FETCH FORWARD $1 FROM "srv"`, `MOVE $1 FROM "srv"`, `CLOSE "srv"`, "BEGIN", "ROLLBACK"}, // constants recorded as $n
		"preset.catalog-metadata": {"select pg_catalog.version()", "show standard_conforming_strings", "select current_schema()"},
	} {
		got := strings.Join(byRule[rule], "\n")
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("no allow record of %q by %s; its records:\n%s", w, rule, got)
			}
		}
	}
}
