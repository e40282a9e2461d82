package conformance_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/conformance"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pg", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSegment(t *testing.T) {
	stmts := conformance.Segment(fixture(t, "script.sql"), fixture(t, "direct.out"))
	var lines []int
	for _, s := range stmts {
		lines = append(lines, s.Line)
	}
	// line 0 holds the leading comment; CREATE TABLE spans two lines.
	want := []int{0, 4, 6, 8, 9, 10, 11}
	if len(lines) != len(want) {
		t.Fatalf("statement lines %v, want %v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("statement lines %v, want %v", lines, want)
		}
	}
	if got := strings.Join(stmts[4].Output, "|"); !strings.Contains(got, " other") {
		t.Errorf("current_schema's output is not with its statement: %q", got)
	}
	if got := stmts[2].Output; len(got) != 2 || got[1] != "  b text);  -- two lines" {
		t.Errorf("CREATE TABLE's echo: %q", got)
	}
}

func TestCompareFile(t *testing.T) {
	for _, tc := range []struct {
		name            string
		script          string
		direct, airlock string
		verdict         conformance.Verdict
		reasons         []string // one per difference
	}{
		{"same output", "script.sql", "direct.out", "direct.out", conformance.Identical, nil},
		{"guard rail and its cascade", "script.sql", "direct.out", "airlock.out", conformance.ByDesign,
			[]string{`guard rail: SET of the pinned parameter`, `cascade: guard rail: SET of the pinned parameter`}},
		{"a row differs", "script.sql", "direct.out", "otherwise.out", conformance.Otherwise, []string{""}},
		{"reconnected as another user", "role.sql", "role-direct.out", "role-airlock.out", conformance.ByDesign,
			[]string{"one upstream role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := conformance.CompareFile(tc.name, fixture(t, tc.script), fixture(t, tc.direct), fixture(t, tc.airlock))
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s", r.Verdict, tc.verdict)
			}
			if len(r.Diffs) != len(tc.reasons) {
				t.Fatalf("%d differences, want %d: %+v", len(r.Diffs), len(tc.reasons), r.Diffs)
			}
			for i, d := range r.Diffs {
				if d.Reason != tc.reasons[i] {
					t.Errorf("difference %d (line %d): reason %q, want %q", i, d.Line, d.Reason, tc.reasons[i])
				}
			}
		})
	}
}

func TestAirlockReason(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`ERROR:  airlock: guard rail: COPY to or from a server file is never allowed`, "guard rail: COPY to or from a server file is never allowed"},
		{`ERROR:  airlock: guard rail: statement cannot be checked (syntax error at or near "SELEC")`, "guard rail: statement cannot be checked"},
		{`ERROR:  airlock: denied by rule never-pii`, "denied by rule never-pii"},
		{`ERROR:  airlock: guard rail: lo_import: server files`, "guard rail: lo_import"},
		{`FATAL:  airlock: pinned parameter search_path changed; the session ends`, "pinned parameter search_path changed"},
		{`ERROR:  relation "airlock" does not exist`, ""},
		{`SELECT 'airlock: x';`, ""},
	} {
		if got := conformance.AirlockReason([]string{"x", tc.line}); got != tc.want {
			t.Errorf("AirlockReason(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestSchedule(t *testing.T) {
	got := conformance.Schedule("# comment\ntest: test_setup\n\ntest: a b  c\nignore: x\n")
	if strings.Join(got, ",") != "test_setup,a,b,c" {
		t.Errorf("Schedule = %v", got)
	}
}
