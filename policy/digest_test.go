package policy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
)

func digestOf(t *testing.T, yml string, opts policy.Options) string {
	t.Helper()
	var doc struct {
		Rules []policy.Rule `yaml:"rules"`
	}
	if err := yaml.Unmarshal([]byte(yml), &doc); err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(doc.Rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	d, err := policy.PolicyDigest(doc.Rules, opts)
	if err != nil || d != e.Digest() {
		t.Fatalf("PolicyDigest %q (%v) differs from Engine.Digest %q", d, err, e.Digest())
	}
	return e.Digest()
}

const baseRules = `
rules:
  - name: read-sales
    allow: sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))
  - name: never-pii
    deny: '"sales.pii" in sql.tables'
`

// TestDigestKnownAnswer pins the encoding: netstrings of the version, the
// mode, the cost limit, then name, effect and canonical expression per rule.
func TestDigestKnownAnswer(t *testing.T) {
	got := digestOf(t, "rules: [{name: r1, allow: 'sql.kind == \"select\"'}]", policy.Options{})
	ns := func(s string) string { return fmt.Sprintf("%d:%s,", len(s), s) }
	enc := ns("airlock-policy-digest-v1") + ns("enforce") + ns(fmt.Sprint(policy.DefaultCostLimit)) +
		ns("r1") + ns("allow") + ns(`sql.kind == "select"`)
	sum := sha256.Sum256([]byte(enc))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func TestDigest(t *testing.T) {
	base := digestOf(t, baseRules, policy.Options{})
	for _, tc := range []struct {
		name string
		yml  string
		opts policy.Options
		same bool
	}{
		{"comments, layout and quoting", `
# the sales rules
rules:
  - {name: read-sales,   # reads only
     allow: "sql.kind == 'select'  &&  sql.reads.all(t,
        t.startsWith('sales.')) // any schema-qualified name"}
  - name: never-pii
    description: no personal data
    deny: >-
      "sales.pii" in sql.tables
`, policy.Options{}, true},
		{"a rule renamed", `
rules:
  - {name: read-sales2, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))'}
  - {name: never-pii, deny: '"sales.pii" in sql.tables'}
`, policy.Options{}, false},
		{"an effect flipped", `
rules:
  - {name: read-sales, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))'}
  - {name: never-pii, allow: '"sales.pii" in sql.tables'}
`, policy.Options{}, false},
		{"a literal changed", `
rules:
  - {name: read-sales, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales_"))'}
  - {name: never-pii, deny: '"sales.pii" in sql.tables'}
`, policy.Options{}, false},
		{"rules reordered", `
rules:
  - {name: never-pii, deny: '"sales.pii" in sql.tables'}
  - {name: read-sales, allow: 'sql.kind == "select" && sql.reads.all(t, t.startsWith("sales."))'}
`, policy.Options{}, false},
		{"observe mode", baseRules, policy.Options{Observe: true}, false},
		{"another cost limit", baseRules, policy.Options{CostLimit: 5000}, false},
		{"an egress rule", baseRules, policy.Options{Egress: []string{`http.host == "x.internal"`}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := digestOf(t, tc.yml, tc.opts)
			if (got == base) != tc.same {
				t.Fatalf("digest %s vs base %s: same=%v, want %v", got, base, got == base, tc.same)
			}
		})
	}
}
