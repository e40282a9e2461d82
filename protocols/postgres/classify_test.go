package postgres_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/protocols/postgres"
)

// classifyCase is one entry of testdata/classify.yaml: a text and what each
// of its statements must classify as. Omitted lists must be empty.
type classifyCase struct {
	SQL   string          `yaml:"sql"`
	Error string          `yaml:"error"` // the text must be refused with an error containing this
	Want  []wantStatement `yaml:"want"`
}

type wantStatement struct {
	Kind       string   `yaml:"kind"`
	Kinds      []string `yaml:"kinds"`
	Command    string   `yaml:"command"`
	Reads      []string `yaml:"reads"`
	Writes     []string `yaml:"writes"`
	Functions  []string `yaml:"functions"`
	Guard      string   `yaml:"guard"` // substring; empty means no guard
	Params     []string `yaml:"params"`
	Execute    string   `yaml:"execute"`
	Deallocate string   `yaml:"deallocate"`
	Text       string   `yaml:"text"` // checked when set
	Prepare    *struct {
		Name   string   `yaml:"name"`
		Kind   string   `yaml:"kind"`
		Reads  []string `yaml:"reads"`
		Writes []string `yaml:"writes"`
		Text   string   `yaml:"text"`
	} `yaml:"prepare"`
}

// TestClassify runs the table in testdata/classify.yaml with the search
// path [sales] and the database "app".
func TestClassify(t *testing.T) {
	b, err := os.ReadFile("testdata/classify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []classifyCase
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	c := postgres.NewClassifier([]string{"sales"}, "app")
	for _, tc := range cases {
		t.Run(tc.SQL, func(t *testing.T) {
			got, err := c.Classify(tc.SQL)
			if tc.Error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.Error) {
					t.Fatalf("error = %v, want one containing %q", err, tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if len(got) != len(tc.Want) {
				t.Fatalf("%d statements, want %d: %+v", len(got), len(tc.Want), got)
			}
			for i, w := range tc.Want {
				checkStatement(t, i, got[i], w)
			}
		})
	}
}

func checkStatement(t *testing.T, i int, got postgres.Statement, w wantStatement) {
	t.Helper()
	s := got.SQL
	eq := func(field string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("statement %d: %s = %v, want %v", i, field, got, want)
		}
	}
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	eq("kind", s.Kind, w.Kind)
	eq("kinds", list(s.Kinds), list(w.Kinds))
	eq("command", s.Command, w.Command)
	eq("reads", list(s.Reads), list(w.Reads))
	eq("writes", list(s.Writes), list(w.Writes))
	tables := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(w.Reads), w.Writes...))))
	eq("tables", list(s.Tables), list(tables))
	eq("functions", list(s.Functions), list(w.Functions))
	eq("params", list(got.SetParams), list(w.Params))
	eq("execute", got.Execute, w.Execute)
	eq("deallocate", got.Deallocate, w.Deallocate)
	eq("database", s.Database, "app")
	if w.Text != "" {
		eq("text", s.Text, w.Text)
	}
	if (got.Guard == "") != (w.Guard == "") || !strings.Contains(got.Guard, w.Guard) {
		t.Errorf("statement %d: guard = %q, want %q", i, got.Guard, w.Guard)
	}
	switch {
	case w.Prepare == nil && got.Prepare != nil:
		t.Errorf("statement %d: unexpected Prepare %+v", i, got.Prepare)
	case w.Prepare != nil && got.Prepare == nil:
		t.Errorf("statement %d: no Prepare", i)
	case w.Prepare != nil:
		p := got.Prepare
		eq("prepare.name", p.Name, w.Prepare.Name)
		eq("prepare.kind", p.Inner.Kind, w.Prepare.Kind)
		eq("prepare.reads", list(p.Inner.Reads), list(w.Prepare.Reads))
		eq("prepare.writes", list(p.Inner.Writes), list(w.Prepare.Writes))
		if w.Prepare.Text != "" {
			eq("prepare.text", p.Inner.Text, w.Prepare.Text)
		}
	}
}

// TestClassifySearchPath: unqualified names under different pinned paths.
func TestClassifySearchPath(t *testing.T) {
	const q = "SELECT now(), my_fn() FROM orders, pg_class"
	for _, tc := range []struct {
		path       []string
		reads, fns []string
	}{
		{nil, []string{"pg_catalog.pg_class", "public.orders"}, []string{"pg_catalog.now", "public.my_fn"}},
		{[]string{"$user", "public"}, []string{"pg_catalog.pg_class", "public.orders"}, []string{"pg_catalog.now", "public.my_fn"}},
		{[]string{"pg_catalog", "sales"}, []string{"pg_catalog.pg_class", "sales.orders"}, []string{"pg_catalog.now", "sales.my_fn"}},
		// pg_catalog after the user schema: a built-in name may be shadowed.
		{[]string{"sales", "pg_catalog"}, []string{"pg_catalog.pg_class", "sales.orders", "sales.pg_class"},
			[]string{"pg_catalog.now", "sales.my_fn", "sales.now"}},
		// Several schemas: a name may resolve to any of them (the first that
		// has it), so each is listed.
		{[]string{"Mixed Case", "public"}, []string{`"Mixed Case".orders`, "pg_catalog.pg_class", "public.orders"},
			[]string{`"Mixed Case".my_fn`, "pg_catalog.now", "public.my_fn"}},
		{[]string{"sales", "$user", "public", "pg_temp"}, []string{"pg_catalog.pg_class", "public.orders", "sales.orders"},
			[]string{"pg_catalog.now", "public.my_fn", "sales.my_fn"}},
		// pg_catalog between them: a catalog name is found there at the
		// latest; names after it are not reached for it.
		{[]string{"sales", "pg_catalog", "public"}, []string{"pg_catalog.pg_class", "public.orders", "sales.orders", "sales.pg_class"},
			[]string{"pg_catalog.now", "public.my_fn", "sales.my_fn", "sales.now"}},
	} {
		st, err := postgres.NewClassifier(tc.path, "app").Classify(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := st[0].SQL; !slices.Equal(got.Reads, tc.reads) || !slices.Equal(got.Functions, tc.fns) {
			t.Errorf("path %q: reads %q functions %q, want %q %q", tc.path, got.Reads, got.Functions, tc.reads, tc.fns)
		}
	}
}

func TestClassifyCrossDatabase(t *testing.T) {
	for _, tc := range []struct {
		db, sql string
		guard   bool
	}{
		{"app", "SELECT * FROM app.sales.t", false},
		{"app", "SELECT * FROM other.sales.t", true},
		{"app", "SELECT other.pg_catalog.now()", true},
		{"", "SELECT * FROM app.sales.t", true}, // no database configured: every three-part name
	} {
		st, err := postgres.NewClassifier([]string{"sales"}, tc.db).Classify(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := st[0].Guard != ""; got != tc.guard {
			t.Errorf("%q with database %q: guard %q, want guard: %v", tc.sql, tc.db, st[0].Guard, tc.guard)
		}
	}
}

func TestClassifyLimits(t *testing.T) {
	c := postgres.NewClassifier(nil, "app")
	long := "SELECT " + strings.Repeat("1,", postgres.DefaultMaxLen/2) + "1"
	if _, err := c.Classify(long); !errors.Is(err, postgres.ErrTooLong) {
		t.Errorf("%d bytes: error %v, want ErrTooLong", len(long), err)
	}
	c.MaxLen = 64
	if _, err := c.Classify("SELECT " + strings.Repeat("x", 64)); !errors.Is(err, postgres.ErrTooLong) {
		t.Errorf("MaxLen 64: error %v, want ErrTooLong", err)
	}
	if _, err := c.Classify("SELECT 1\x00; DROP TABLE t"); !errors.Is(err, postgres.ErrSyntax) {
		t.Errorf("NUL byte: error %v, want ErrSyntax", err)
	}
	deep := "SELECT 1" + strings.Repeat("+1", 30000) // crashes libpg_query if parsed
	if _, err := postgres.NewClassifier(nil, "app").Classify(deep); !errors.Is(err, postgres.ErrTooDeep) || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep: error %v, want ErrTooDeep", err)
	}
	// Long but flat text is fine: the bound is on depth, not length.
	wide := "SELECT 1 WHERE " + strings.Repeat("a = 1 AND ", 5000) + "true"
	if _, err := postgres.NewClassifier(nil, "app").Classify(wide); err != nil {
		t.Errorf("5 000 ANDs: %v", err)
	}
	values := "INSERT INTO t VALUES " + strings.Repeat("(1, 'a', now()), ", 5000) + "(1, 'a', now())"
	if _, err := postgres.NewClassifier(nil, "app").Classify(values); err != nil {
		t.Errorf("5 000 rows: %v", err)
	}
}

// ---- the parser's crash thresholds, in child processes ----

// shape is a family of inputs, head + rep×n + mid + rep2×n + tail, that
// nests n levels deep in one of the ways the parser recurses on.
type shape struct {
	name, head, rep, mid, rep2, tail string
}

func (s shape) text(n int) string {
	return s.head + strings.Repeat(s.rep, n) + s.mid + strings.Repeat(s.rep2, n) + s.tail
}

var shapes = []shape{
	{"plus", "SELECT 1", "+1", "", "", ""},
	{"minus", "SELECT ", "- ", "1", "", ""},
	{"not", "SELECT ", "NOT ", "true", "", ""},
	{"tilde", "SELECT ", "~ ", "1", "", ""},
	{"cast", "SELECT 1", "::int", "", "", ""},
	{"concat", "SELECT 'a'", "||'a'", "", "", ""},
	{"isnull", "SELECT 1", " IS NULL", "", "", ""},
	{"at", "SELECT now()", " AT TIME ZONE 'UTC'", "", "", ""},
	{"collate", "SELECT 'a'", ` COLLATE "C"`, "", "", ""},
	{"arrow", "SELECT j", "->'a'", "", "", ""},
	{"union", "SELECT 1", " UNION SELECT 1", "", "", ""},
	{"join", "SELECT * FROM t0", " JOIN t ON true", "", "", ""},
	{"join-and", "SELECT * FROM t0", " JOIN t ON a AND b", "", "", ""},
	{"paren", "SELECT ", "(", "1", ")", ""},
	{"array", "SELECT ", "ARRAY[", "1", "]", ""},
	{"func", "SELECT ", "f(", "1", ")", ""},
	{"row", "SELECT ", "ROW(", "1", ")", ""},
	{"not-paren", "SELECT ", "NOT (", "true", ")", ""},
	{"and-paren", "SELECT 1 WHERE ", "(true AND ", "true", ")", ""},
	{"case", "SELECT ", "CASE WHEN true THEN ", "1", " END", ""},
	{"subquery", "SELECT ", "(SELECT ", "1", ")", ""},
	{"from", "SELECT * FROM ", "(SELECT * FROM ", "t", ") s", ""},
	{"exists", "SELECT ", "EXISTS (SELECT ", "1", ")", ""},
	{"cte", "", "WITH x AS (", "SELECT 1", ") SELECT * FROM x", ""},
	{"in-subquery", "SELECT ", "1 IN (SELECT ", "1", ")", ""},
	{"array-subquery", "SELECT ", "ARRAY(SELECT ", "1", ")", ""},
	{"lateral", "SELECT * FROM t, ", "LATERAL (SELECT * FROM t, ", "t", ") s", ""},
	{"case-else", "SELECT ", "CASE WHEN true THEN 1 ELSE ", "1", " END", ""},
	{"cast-call", "SELECT ", "CAST(", "1", " AS int)", ""},
	{"coalesce", "SELECT ", "coalesce(", "1", ")", ""},
	{"indirection", "SELECT ", "(", "x", ").a", ""},
	{"window", "SELECT ", "sum(", "1", ") OVER ()", ""},
	{"filter", "SELECT ", "count(*) FILTER (WHERE ", "true", ") > 0", ""},
	{"grouping-sets", "SELECT 1 FROM t GROUP BY ", "GROUPING SETS (", "a", ")", ""},
	{"xmlelement", "SELECT ", "xmlelement(name a, ", "1", ")", ""},
	{"json-object", "SELECT ", "json_object('a' : ", "1", ")", ""},
	{"json-array", "SELECT ", "json_array(", "1", ")", ""},
	{"json-value", "SELECT ", "json_value(", "'{}'", ", '$' RETURNING int)", ""},
	{"json-scalar", "SELECT ", "json_scalar(", "1", ")", ""},
	{"json-table", "SELECT * FROM json_table('{}', '$' COLUMNS (", "NESTED PATH '$' COLUMNS (", "a int", ")", "))"},
	{"any-array", "SELECT ", "1 = ANY(ARRAY[", "1", "])", ""},
	{"mixed", "SELECT ", "NOT (SELECT CASE WHEN f(ARRAY[", "true", "]) THEN 1 END)::int + 1 IS NULL", ""},
}

func shapeNamed(name string) shape {
	for _, s := range shapes {
		if s.name == name {
			return s
		}
	}
	panic("no shape " + name)
}

const childEnv = "AIRLOCK_CLASSIFY_CHILD"

// childJob is work for TestClassifyChild: run Op on shape(N).
type childJob struct {
	Op    string // parse, normalize, classify
	Shape string
	N     int
}

// TestClassifyChild is not a test of its own: runChild re-executes the test
// binary with only it selected and the jobs in AIRLOCK_CLASSIFY_CHILD, so
// that a parser crash (SIGSEGV, which recover cannot catch) kills only the
// child. It prints one "RESULT" line per job.
func TestClassifyChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper for TestNestingBoundIsSafe and TestParserCrashThresholds")
	}
	var jobs []childJob
	if err := json.Unmarshal([]byte(spec), &jobs); err != nil {
		t.Fatal(err)
	}
	c := postgres.NewClassifier([]string{"sales"}, "app")
	for _, j := range jobs {
		text := shapeNamed(j.Shape).text(j.N)
		fmt.Printf("START %s %s %d\n", j.Op, j.Shape, j.N)
		var err error
		switch j.Op {
		case "parse":
			_, err = pg_query.Parse(text)
		case "normalize":
			_, err = pg_query.Normalize(text)
		case "classify":
			_, err = c.Classify(text)
		}
		result := "ok"
		if errors.Is(err, postgres.ErrTooDeep) {
			result = "too-deep"
		} else if err != nil {
			result = "error " + strings.ReplaceAll(err.Error(), "\n", " ")
		}
		fmt.Printf("RESULT %s %s %d %s\n", j.Op, j.Shape, j.N, result)
	}
}

// runChild runs jobs in a child process whose stack limit is stackKiB (0:
// inherited). It returns the RESULT lines, and the crash output if the
// child died of a signal.
func runChild(t *testing.T, stackKiB int, jobs []childJob) (results []string, crash string) {
	t.Helper()
	spec, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{os.Args[0], "-test.run=^TestClassifyChild$", "-test.count=1"}
	var cmd *exec.Cmd
	if stackKiB > 0 {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh to set the child's stack limit")
		}
		cmd = exec.Command(sh, append([]string{"-c", `ulimit -S -s "$0" && exec "$@"`, strconv.Itoa(stackKiB)}, args...)...)
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	for _, l := range strings.Split(stdout.String(), "\n") {
		if r, ok := strings.CutPrefix(l, "RESULT "); ok {
			results = append(results, r)
		}
	}
	if err != nil {
		out := stdout.String() + stderr.String()
		if strings.Contains(out, "SIGSEGV") || strings.Contains(out, "signal arrived during cgo execution") ||
			strings.Contains(err.Error(), "signal") {
			return results, firstLines(out, 3)
		}
		t.Fatalf("child: %v\n%s", err, firstLines(out, 20))
	}
	return results, ""
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

// maxUnderBound is the largest n for which shape s stays within MaxNesting.
func maxUnderBound(s shape) int {
	lo, hi := 0, 1
	for postgres.Nesting(s.text(hi)) <= postgres.MaxNesting {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if postgres.Nesting(s.text(mid)) <= postgres.MaxNesting {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// TestNestingBoundIsSafe classifies, in a child process with a 1 MiB stack
// (an eighth of the usual 8 MiB), every shape at the largest size the
// pre-scan admits, and checks one step more is refused as too deep.
func TestNestingBoundIsSafe(t *testing.T) {
	var jobs []childJob
	for _, s := range shapes {
		n := maxUnderBound(s)
		if n == 0 {
			t.Fatalf("%s: even n=1 is above the bound", s.name)
		}
		jobs = append(jobs, childJob{"classify", s.name, n}, childJob{"classify", s.name, n + 1})
	}
	results, crash := runChild(t, 1024, jobs)
	if crash != "" {
		t.Fatalf("the child crashed after %d of %d jobs:\n%s", len(results), len(jobs), crash)
	}
	if len(results) != len(jobs) {
		t.Fatalf("%d results for %d jobs", len(results), len(jobs))
	}
	for i, r := range results {
		f := strings.SplitN(r, " ", 4)
		switch {
		case i%2 == 1 && f[3] != "too-deep":
			t.Errorf("%s n=%s (one above the bound): %s, want too-deep", f[1], f[2], f[3])
		case i%2 == 0 && f[3] != "ok":
			t.Errorf("%s n=%s (at the bound): %s, want ok", f[1], f[2], f[3])
		default:
			t.Logf("%s n=%s: %s", f[1], f[2], f[3])
		}
	}
}

// TestParserCrashThresholds measures, for each shape, the smallest n at
// which pg_query's Parse and Normalize crash, with 8 MiB and 1 MiB stacks,
// and the pre-scan estimate there. It takes minutes, so it runs only with
// AIRLOCK_MEASURE_PARSER set: "all", or a comma-separated list of shapes;
// AIRLOCK_MEASURE_STACKS lists the stack sizes in KiB (default 8192,1024).
// Its log is the table in MaxNesting's comment.
func TestParserCrashThresholds(t *testing.T) {
	only := os.Getenv("AIRLOCK_MEASURE_PARSER")
	if only == "" {
		t.Skip("set AIRLOCK_MEASURE_PARSER=all to measure (minutes)")
	}
	stacks := []int{8192, 1024}
	if env := os.Getenv("AIRLOCK_MEASURE_STACKS"); env != "" {
		stacks = nil
		for _, f := range strings.Split(env, ",") {
			kb, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			stacks = append(stacks, kb)
		}
	}
	crashes := func(stack int, op string, s shape, n int) bool {
		_, crash := runChild(t, stack, []childJob{{op, s.name, n}})
		return crash != ""
	}
	for _, stack := range stacks {
		for _, s := range shapes {
			if only != "all" && !slices.Contains(strings.Split(only, ","), s.name) {
				continue
			}
			for _, op := range []string{"parse", "normalize"} {
				lo, hi := 0, 256
				for !crashes(stack, op, s, hi) {
					lo, hi = hi, hi*2
					if hi > 1<<17 || len(s.text(hi)) > 4<<20 {
						hi = 0
						break
					}
				}
				if hi == 0 {
					t.Logf("stack %4d KiB %-10s %-9s no crash up to n=%d", stack, s.name, op, lo)
					continue
				}
				for hi-lo > 1 {
					mid := (lo + hi) / 2
					if crashes(stack, op, s, mid) {
						hi = mid
					} else {
						lo = mid
					}
				}
				est := postgres.Nesting(s.text(hi))
				t.Logf("stack %4d KiB %-10s %-9s crash at n=%6d (%7d bytes) estimate %6d: %5.0f bytes of stack per unit",
					stack, s.name, op, hi, len(s.text(hi)), est, float64(stack<<10)/float64(est))
			}
		}
	}
}
