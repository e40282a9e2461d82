package postgres

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// TestFunctionListMatchesCatalog checks funcList against a real
// PostgreSQL 15 with every extension it ships installed: each listed
// overload exists there with the listed argument types, in the listed
// extension; every function there taking a regclass is listed; and a call
// of each overload, which the server resolves to exactly that function
// (PREPARE analyses without running it), classifies as the list says.
func TestFunctionListMatchesCatalog(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	// Every extension shipped with the server, not only those listed, so
	// that a regclass function of an unlisted one shows as missing.
	var setup strings.Builder
	avail := pg.Psql(t, "app", "SELECT name FROM pg_available_extensions WHERE installed_version IS NULL ORDER BY 1")
	for _, e := range strings.Fields(avail) {
		fmt.Fprintf(&setup, "CREATE EXTENSION IF NOT EXISTS %q CASCADE;\n", e)
	}
	setup.WriteString("CREATE SCHEMA sales; CREATE TABLE sales.t (id int);\n")
	pg.Psql(t, "app", setup.String())

	type fn struct{ ext, name, args string }
	have := map[fn]bool{}
	out := pg.Psql(t, "app", `SELECT coalesce(e.extname, 'core') || '|' || p.proname || '|' || oidvectortypes(p.proargtypes)
FROM pg_proc p
LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
LEFT JOIN pg_extension e ON e.oid = d.refobjid`)
	var regclassTakers []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, "|", 3)
		if len(f) != 3 {
			continue
		}
		have[fn{f[0], f[1], f[2]}] = true
		if strings.Contains(f[2], "regclass") && f[1] != "regclassout" && f[1] != "regclasssend" {
			regclassTakers = append(regclassTakers, f[1]+"("+f[2]+")")
		}
	}
	if len(have) < 3000 {
		t.Fatalf("only %d functions in pg_proc", len(have))
	}

	for _, name := range slices.Sorted(mapKeys(funcList)) {
		f := funcList[name]
		for _, sig := range f.sigs {
			if !have[fn{f.ext, name, sig}] {
				t.Errorf("%s(%s) is listed (in %s) but not in PostgreSQL's catalog", name, sig, f.ext)
			}
		}
	}
	sort.Strings(regclassTakers)
	for _, r := range regclassTakers {
		name := r[:strings.IndexByte(r, '(')]
		if _, ok := funcList[name]; !ok {
			t.Errorf("%s takes a regclass but is not in funcList", r)
		}
	}

	c := NewClassifier([]string{"sales"}, "app")
	var prepare strings.Builder
	n := 0
	for _, name := range slices.Sorted(mapKeys(funcList)) {
		f := funcList[name]
		for _, sig := range f.sigs {
			var args []string
			var colArgs []string
			for i, typ := range strings.Split(sig, ", ") {
				switch {
				case typ == "":
					continue
				case i == f.arg && (f.effect == fxRead || f.effect == fxWrite || f.effect == fxMeta):
					args = append(args, "'sales.t'")
					colArgs = append(colArgs, "c.relname")
				default:
					args = append(args, "NULL::"+typ)
					colArgs = append(colArgs, "NULL::"+typ)
				}
			}
			call := fmt.Sprintf("SELECT %s(%s)", name, strings.Join(args, ", "))
			n++
			fmt.Fprintf(&prepare, "PREPARE p%d AS %s;\n", n, call)
			checkListedCall(t, c, f, name, call)
			if f.effect == fxRead || f.effect == fxWrite || f.effect == fxMeta {
				// The relation as a value the classifier cannot read: a
				// guard rail, except for metadata functions.
				call := fmt.Sprintf("SELECT %s(%s) FROM pg_class c", name, strings.Join(colArgs, ", "))
				st, err := c.Classify(call)
				if err != nil {
					t.Fatalf("%s: %v", call, err)
				}
				if (st[0].Guard == "") != (f.effect == fxMeta) {
					t.Errorf("%s: guard %q", call, st[0].Guard)
				}
			}
		}
	}
	pg.Psql(t, "app", prepare.String())
	t.Logf("%d listed overloads resolve on the server and classify as listed; %d functions take a regclass", n, len(regclassTakers))
}

func checkListedCall(t *testing.T, c *Classifier, f funcInfo, name, call string) {
	t.Helper()
	st, err := c.Classify(call)
	if err != nil || len(st) != 1 {
		t.Errorf("%s: %v", call, err)
		return
	}
	s := st[0]
	switch f.effect {
	case fxGuard:
		if s.Guard == "" {
			t.Errorf("%s: no guard rail, want one (%s)", call, f.why)
		}
	case fxRead, fxMeta:
		if s.Guard != "" || !slices.Contains(s.SQL.Reads, "sales.t") {
			t.Errorf("%s: reads %q guard %q, want sales.t read", call, s.SQL.Reads, s.Guard)
		}
	case fxWrite:
		if s.Guard != "" || !slices.Contains(s.SQL.Writes, "sales.t") {
			t.Errorf("%s: writes %q guard %q, want sales.t written", call, s.SQL.Writes, s.Guard)
		}
	case fxReadTable:
		if !slices.Contains(s.SQL.Reads, f.table) {
			t.Errorf("%s: reads %q, want %s", call, s.SQL.Reads, f.table)
		}
	case fxWriteTable:
		if !slices.Contains(s.SQL.Writes, f.table) {
			t.Errorf("%s: writes %q, want %s", call, s.SQL.Writes, f.table)
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
