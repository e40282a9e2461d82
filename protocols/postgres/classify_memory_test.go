package postgres_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/protocols/postgres"
)

// MaxMemoryGrowth is the most one classification may raise the process's
// peak RSS by.
const maxMemoryGrowth = 64 << 20

// memoryCases are the most expensive texts of their kind Classify accepts
// (or the cheapest it refuses), each within DefaultMaxLen bytes and just
// under MaxTokens, MaxStatements and MaxNesting.
var memoryCases = map[string]func() string{
	// Constants: one token each, plus a comma.
	"ints":    func() string { return "SELECT " + repeatTokens("1,", 2) + "1" },
	"strings": func() string { return "SELECT " + repeatTokens("'a',", 2) + "'a'" },
	"in-list": func() string { return "SELECT * FROM t WHERE x IN (" + repeatTokens("1,", 2) + "1)" },
	"values":  func() string { return "INSERT INTO t VALUES " + repeatTokens("(1,'a',now()),", 10) + "(1,'a',now())" },
	"params":  func() string { return "SELECT " + repeatTokens("$1,", 2) + "$1" },
	"casts":   func() string { return "SELECT " + repeatTokens("'a'::text,", 5) + "1" },
	"funcs":   func() string { return "SELECT " + repeatTokens("f(x),", 5) + "1" },
	"columns": func() string { return "SELECT " + repeatTokens("a.b,", 4) + "1 FROM a" },
	"ands":    func() string { return "SELECT 1 WHERE " + repeatTokens("a=1 AND ", 4) + "true" },
	"tables":  func() string { return "SELECT 1 FROM " + repeatTokens("t,", 2) + "t" },
	"joins":   func() string { return "SELECT 1 FROM t0 " + strings.Repeat("JOIN t ON true ", 480) },
	"case":    func() string { return "SELECT CASE " + repeatTokens("WHEN a THEN 1 ", 4) + "END" },
	// Statements: three tokens each, up to MaxStatements.
	"statements": func() string { return strings.Repeat("SELECT 1;", postgres.MaxStatements-1) },
	"stmt-ints": func() string {
		return strings.Repeat("SELECT "+strings.Repeat("1,", 18)+"1;", postgres.MaxStatements/3)
	},
	// Bytes without tokens: comments, whitespace, long names and strings.
	"comments":     func() string { return "SELECT 1 " + strings.Repeat("/* padding */", postgres.DefaultMaxLen/14) },
	"line-comment": func() string { return "SELECT 1 -- " + strings.Repeat("x", postgres.DefaultMaxLen-20) + "\n" },
	"whitespace":   func() string { return "SELECT" + strings.Repeat(" ", postgres.DefaultMaxLen-10) + "1" },
	"long-string":  func() string { return "SELECT '" + strings.Repeat("x", postgres.DefaultMaxLen-12) + "'" },
	"long-dollar":  func() string { return "SELECT $q$" + strings.Repeat("x", postgres.DefaultMaxLen-14) + "$q$" },
	"long-idents": func() string {
		return "SELECT " + strings.Repeat(`"`+strings.Repeat("x", 1000)+`",`, postgres.DefaultMaxLen/1004-1) + "1"
	},
	"long-words": func() string {
		return "SELECT " + strings.Repeat(strings.Repeat("y", 60)+",", postgres.DefaultMaxLen/62-1) + "1"
	},
	// Depth: at MaxNesting (the shapes of TestNestingBoundIsSafe).
	"deep-plus":        deepest("plus"),
	"deep-paren":       deepest("paren"),
	"deep-mixed":       deepest("mixed"),
	"deep-json-object": deepest("json-object"),
	"deep-subquery":    deepest("subquery"),
	"deep-cte":         deepest("cte"),
	// Refused: one over the bounds, and the longest text.
	"over-tokens":     func() string { return "SELECT " + strings.Repeat("1,", postgres.MaxTokens) + "1" },
	"over-statements": func() string { return strings.Repeat(";", postgres.MaxStatements+1) },
	"over-length":     func() string { return "SELECT " + strings.Repeat("1,", 1<<19) + "1" },
}

// deepest is the text of the named nesting shape at the largest size the
// pre-scan admits.
func deepest(name string) func() string {
	return func() string {
		s := shapeNamed(name)
		return s.text(maxUnderBound(s))
	}
}

// repeatTokens repeats unit (of per tokens) as often as MaxTokens and
// DefaultMaxLen allow, leaving room for the statement around it.
func repeatTokens(unit string, per int) string {
	return strings.Repeat(unit, min((postgres.MaxTokens-20)/per, (postgres.DefaultMaxLen-100)/len(unit)))
}

const memoryEnv = "AIRLOCK_CLASSIFY_MEMORY"

// TestClassifyMemoryChild is not a test of its own: classifyPeak runs it in
// a child process, so that one case's peak is not hidden by memory an
// earlier case left mapped. It prints "PEAK <bytes> <error>".
func TestClassifyMemoryChild(t *testing.T) {
	name := os.Getenv(memoryEnv)
	if name == "" {
		t.Skip("helper for TestClassifyMemoryBound and BenchmarkClassifyMemory")
	}
	text := memoryCases[name]()
	c := postgres.NewClassifier([]string{"sales"}, "app")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	before := procStatus(t, "VmRSS")
	_, err := c.Classify(text)
	peak := procStatus(t, "VmHWM")
	fmt.Printf("PEAK %d %v\n", peak-before, err)
}

// procStatus reads a /proc/self/status field, in bytes.
func procStatus(t *testing.T, field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.Atoi(f[1])
			return kb << 10
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// childBinary is the test binary the children run: this one, or under the
// race detector (whose shadow memory multiplies RSS) a copy of this
// package's tests built without it, so the bound is measured as deployed.
func childBinary(tb testing.TB) string {
	tb.Helper()
	if !raceEnabled {
		return os.Args[0]
	}
	bin := filepath.Join(tb.TempDir(), "postgres.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go test -c without -race: %v\n%s", err, out)
	}
	return bin
}

// classifyPeak classifies case name in a child process and returns how
// much the child's peak RSS grew, and Classify's error.
func classifyPeak(tb testing.TB, bin, name string) (int, string) {
	tb.Helper()
	cmd := exec.Command(bin, "-test.run=^TestClassifyMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), memoryEnv+"="+name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: child: %v\n%s", name, err, firstLines(out.String(), 10))
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, "PEAK "); ok {
			n, e, _ := strings.Cut(rest, " ")
			peak, err := strconv.Atoi(n)
			if err != nil {
				tb.Fatal(err)
			}
			return peak, e
		}
	}
	if strings.Contains(out.String(), "SKIP") {
		tb.Skipf("%s: %s", name, firstLines(out.String(), 5))
	}
	tb.Fatalf("%s: no PEAK line:\n%s", name, firstLines(out.String(), 10))
	return 0, ""
}

// TestClassifyMemoryBound: no text raises the peak RSS by more than 64 MiB
// in classification, and the cases above the bounds are refused.
func TestClassifyMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	bin := childBinary(t)
	for name := range memoryCases {
		t.Run(name, func(t *testing.T) {
			peak, errText := classifyPeak(t, bin, name)
			t.Logf("%-16s peak growth %5.1f MiB  (%s)", name, float64(peak)/(1<<20), errText)
			if peak > maxMemoryGrowth {
				t.Errorf("%s: peak RSS grew %d MiB, bound %d MiB", name, peak>>20, maxMemoryGrowth>>20)
			}
			refused := strings.HasPrefix(name, "over-")
			if refused == (errText == "<nil>") {
				t.Errorf("%s: error %s, want refused: %v", name, errText, refused)
			}
		})
	}
}

// BenchmarkClassifyMemory reports, per case, the peak RSS growth of one
// classification (peak-MiB) in a fresh child process, and the time of one
// classification in this one.
func BenchmarkClassifyMemory(b *testing.B) {
	bin := childBinary(b)
	for name, build := range memoryCases {
		b.Run(name, func(b *testing.B) {
			peak, _ := classifyPeak(b, bin, name)
			text := build()
			c := postgres.NewClassifier([]string{"sales"}, "app")
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := c.Classify(text); err != nil && !errors.Is(err, postgres.ErrTooManyTokens) && !errors.Is(err, postgres.ErrTooLong) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}
