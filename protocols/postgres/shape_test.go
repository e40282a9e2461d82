package postgres

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestShapeKeys(t *testing.T) {
	same := [][2]string{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 4711;", "SELECT abalance FROM pgbench_accounts WHERE aid = 42;"},
		{"INSERT INTO t VALUES (1.5e3, 'it''s')", "INSERT INTO t VALUES (2, 'x')"},
		{"SELECT E'a\\'b'", "SELECT E'zz'"},
	}
	for _, p := range same {
		a, _, okA := shape(p[0])
		b, _, okB := shape(p[1])
		if !okA || !okB || a != b {
			t.Errorf("%q and %q: shapes %q %q (%v %v), want one", p[0], p[1], a, b, okA, okB)
		}
	}
	differ := [][2]string{
		{"SELECT 1 t", "SELECT 1from t"},       // PostgreSQL 15 reads the second as SELECT 1 FROM t
		{"SELECT E'x'", "SELECT 'x'E"},         // a prefix is not an alias
		{"SELECT 'x' t", "SELECT $$x$$ t"},     // dollar quotes stay
		{"SELECT 0x1F", "SELECT 31"},           // not a plain number
		{"SELECT 1 -- 2\n", "SELECT 1 -- 3\n"}, // comments are not literals
	}
	for _, p := range differ {
		a, _, _ := shape(p[0])
		b, _, _ := shape(p[1])
		if a == b {
			t.Errorf("%q and %q share the shape %q", p[0], p[1], a)
		}
	}
	// Text Classify refuses has no shape, or a cached statement of the
	// same shape would stand for it.
	if _, _, ok := shape(`SELECT 'a\'' ; DELETE FROM orders; --' FROM t`); ok {
		t.Error("a string that lexes two ways has a shape")
	}
	if _, _, ok := shape("SELECT 'unterminated"); ok {
		t.Error("a text that does not lex has a shape")
	}
}

// variant replaces every literal shape takes out with another value of
// the same kind: a statement of the same shape.
func variant(text string) string {
	lx := lexer{s: text}
	var b strings.Builder
	at := 0
	for {
		t := lx.next()
		if t.kind == tokEOF || t.kind == tokBad {
			break
		}
		lit := text[t.start:t.end]
		switch {
		case t.kind == tokNumber && cleanNumber(lit):
			n := "90817"
			if lit[0] == '.' { // it may follow a word: WHERE.0
				n = ".90817"
			}
			b.WriteString(text[at:t.start] + n)
		case t.kind == tokString && strings.IndexByte(lit, '\'') >= 0:
			q := strings.IndexByte(lit, '\'')
			body := "'o''ther;) -- x'"
			switch strings.ToLower(lit[:q]) {
			case "b":
				body = "'1010'"
			case "x":
				body = "'1f'"
			}
			b.WriteString(text[at:t.start] + lit[:q] + body)
		default:
			continue
		}
		at = t.end
	}
	return b.String() + text[at:]
}

// checkShape: when text's classification is cached by shape, another
// statement of the shape classifies the same, sql.text included.
func checkShape(t *testing.T, c *Classifier, text string) bool {
	st, err := c.Classify(text)
	if err != nil {
		return false
	}
	key, norm, ok := shape(text)
	if !ok || !shapeable(st, norm) {
		return false
	}
	other := variant(text)
	key2, _, ok2 := shape(other)
	if !ok2 || key2 != key {
		t.Fatalf("variant %q of %q has another shape", other, text)
	}
	got, err := c.Classify(other)
	if err != nil {
		t.Fatalf("%q is cached by shape, but its variant %q does not classify: %v", text, other, err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("%q and %q share a shape but classify differently:\n%+v\n%+v", text, other, st, got)
	}
	return true
}

// TestShapeByValue: a statement whose relation is named by a constant is
// not cached by shape (another constant names another relation).
func TestShapeByValue(t *testing.T) {
	c := NewClassifier([]string{"sales"}, "app")
	for _, q := range []string{"SELECT nextval('a')", "SELECT 'a'::regclass", "SELECT * FROM t WHERE pg_relation_size('t') > 0"} {
		st, err := c.Classify(q)
		if err != nil {
			t.Fatal(err)
		}
		_, norm, ok := shape(q)
		if !ok || shapeable(st, norm) {
			t.Errorf("%q: shape %v, shapeable %v; want a shape that is not shapeable", q, ok, shapeable(st, norm))
		}
	}
}

// TestShapeTable runs checkShape over the classifier's own table.
func TestShapeTable(t *testing.T) {
	b, err := os.ReadFile("testdata/classify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		SQL string `yaml:"sql"`
	}
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	c := NewClassifier([]string{"sales"}, "app")
	shaped := 0
	for _, tc := range append(cases, struct {
		SQL string `yaml:"sql"`
	}{"SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"}) {
		if checkShape(t, c, tc.SQL) {
			shaped++
		}
	}
	if shaped < 20 {
		t.Fatalf("only %d of %d statements cached by shape: the test checks little", shaped, len(cases))
	}
	t.Logf("%d of %d statements cached by shape", shaped, len(cases)+1)
}

// FuzzShape: any text cached by shape classifies like every other
// statement of its shape.
func FuzzShape(f *testing.F) {
	for _, s := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
		"UPDATE t SET a = 'x' WHERE b = 1.5",
		"INSERT INTO s.t (a, b) VALUES (E'\\n', B'101')",
		"DELETE FROM t WHERE a IN (SELECT b FROM u WHERE c = 'y')",
		"SELECT 1 t",
	} {
		f.Add(s)
	}
	c := NewClassifier([]string{"sales"}, "app")
	f.Fuzz(func(t *testing.T, text string) {
		checkShape(t, c, text)
	})
}

// BenchmarkShape is the cost of a shape-cache key for pgbench's query,
// against BenchmarkClassifySimple's parse.
func BenchmarkShape(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, ok := shape("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"); !ok {
			b.Fatal("no shape")
		}
	}
}
