package policy_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
)

// presetEngine compiles only the named presets.
func presetEngine(t *testing.T, names ...string) *policy.Engine {
	t.Helper()
	rules, err := policy.PresetRules(names)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		t.Fatalf("presets %v do not compile: %v", names, err)
	}
	return e
}

// TestPresetsClientStatements classifies what real clients send by
// themselves (testdata/presets/clients.yaml) and checks that exactly the
// preset an entry names allows every statement in it, that the other
// presets do not, and that no preset allows the entries marked deny
// (data-bearing catalog views, table data, functions and settings off the
// lists).
func TestPresetsClientStatements(t *testing.T) {
	var doc struct {
		Cases []struct {
			Source string `yaml:"source"`
			SQL    string `yaml:"sql"`
			Allow  string `yaml:"allow"`
			Deny   bool   `yaml:"deny"`
		} `yaml:"cases"`
	}
	data, err := os.ReadFile("testdata/presets/clients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 40 {
		t.Fatalf("%d cases", len(doc.Cases))
	}
	all := presetEngine(t, policy.PresetNames...)
	alone := map[string]*policy.Engine{}
	for _, n := range policy.PresetNames {
		alone[n] = presetEngine(t, n)
	}
	classifier := postgres.NewClassifier([]string{"public"}, "app")
	for _, c := range doc.Cases {
		if (c.Allow == "") == !c.Deny {
			t.Fatalf("%s: set exactly one of allow and deny", c.Source)
		}
		stmts, err := classifier.Classify(c.SQL)
		if err != nil || len(stmts) == 0 {
			t.Errorf("%s: classify %q: %v", c.Source, c.SQL, err)
			continue
		}
		for _, st := range stmts {
			req := &policy.Request{Protocol: policy.ProtocolPostgres, SQL: st.SQL}
			d := all.Decide(req)
			if c.Deny {
				if d.Allow {
					t.Errorf("%s: %q allowed by %v; no preset may allow it", c.Source, st.SQL.Text, d.Rules)
				}
				continue
			}
			if want := policy.PresetRuleName(c.Allow); !d.Allow || !slices.Equal(d.Rules, []string{want}) {
				t.Errorf("%s: %q (kind %s, command %s, reads %v, functions %v): %v %v, want allowed by %s only",
					c.Source, st.SQL.Text, st.SQL.Kind, st.SQL.Command, st.SQL.Reads, st.SQL.Functions, d.Allow, d.Rules, want)
			}
			if !alone[c.Allow].Decide(req).Allow {
				t.Errorf("%s: %q: preset %s alone does not allow it", c.Source, st.SQL.Text, c.Allow)
			}
		}
	}
}

// TestPresetCatalogNeverDataViews: every relation the catalog preset must
// never reach is denied, by any spelling.
func TestPresetCatalogNeverDataViews(t *testing.T) {
	e := presetEngine(t, "catalog-metadata")
	classifier := postgres.NewClassifier([]string{"public"}, "app")
	for _, rel := range []string{"pg_stats", "pg_statistic", "pg_stats_ext", "pg_stats_ext_exprs", "pg_stat_activity",
		"pg_stat_statements", "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_largeobject",
		"pg_file_settings", "pg_hba_file_rules", "pg_settings", "pg_sequences", "pg_roles"} {
		for _, q := range []string{"SELECT * FROM " + rel, "SELECT * FROM pg_catalog." + rel, `SELECT * FROM "pg_catalog"."` + rel + `"`,
			"SELECT c.oid FROM pg_class c WHERE EXISTS (SELECT 1 FROM " + rel + ")"} {
			stmts, err := classifier.Classify(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if d := e.Decide(&policy.Request{Protocol: policy.ProtocolPostgres, SQL: stmts[0].SQL}); d.Allow {
				t.Errorf("%s allowed by %v", q, d.Rules)
			}
		}
	}
}

func TestPresetS3BucketProbes(t *testing.T) {
	e := presetEngine(t, policy.PresetNames...)
	for action, want := range map[string]bool{"HeadBucket": true, "GetBucketLocation": true,
		"ListBuckets": false, "ListObjectsV2": false, "HeadObject": false, "GetObject": false, "PutObject": false} {
		d := e.Decide(&policy.Request{Protocol: policy.ProtocolS3, S3: policy.S3{Action: action, Bucket: "lake"}})
		if d.Allow != want {
			t.Errorf("%s: allow=%v (%v), want %v", action, d.Allow, d.Rules, want)
		}
		if want && !slices.Equal(d.Rules, []string{"preset.s3-bucket-probes"}) {
			t.Errorf("%s: rules %v", action, d.Rules)
		}
	}
	// The SQL presets never match an S3 request, nor the S3 preset SQL.
	d := presetEngine(t, "s3-bucket-probes").Decide(&policy.Request{Protocol: policy.ProtocolPostgres, SQL: policy.SQL{Kind: "transaction", Command: "BEGIN"}})
	if d.Allow {
		t.Errorf("s3-bucket-probes allowed a SQL statement: %v", d.Rules)
	}
}

// FETCH and MOVE carry their cursor's tables (the session adds them; its
// DECLARE was checked): housekeeping allows them, a deny rule on those
// tables still wins, and nothing that writes passes.
func TestPresetHousekeepingFetch(t *testing.T) {
	e, err := policy.Compile(append([]policy.Rule{{Name: "no-pii", Deny: `"sales.pii" in sql.tables`}},
		mustPresets(t, "housekeeping")...), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sql  policy.SQL
		want bool
	}{
		{"fetch", policy.SQL{Kind: "utility", Kinds: []string{"utility"}, Command: "FETCH", Reads: []string{"sales.orders"}, Tables: []string{"sales.orders"}}, true},
		{"move", policy.SQL{Kind: "utility", Kinds: []string{"utility"}, Command: "MOVE", Reads: []string{"sales.orders"}, Tables: []string{"sales.orders"}}, true},
		{"fetch of a denied table", policy.SQL{Kind: "utility", Kinds: []string{"utility"}, Command: "FETCH", Reads: []string{"sales.pii"}, Tables: []string{"sales.pii"}}, false},
		{"fetch that writes", policy.SQL{Kind: "utility", Kinds: []string{"utility"}, Command: "FETCH", Writes: []string{"sales.orders"}, Tables: []string{"sales.orders"}}, false},
		{"other utility with a table", policy.SQL{Kind: "utility", Kinds: []string{"utility"}, Command: "CLOSE CURSOR", Reads: []string{"sales.orders"}, Tables: []string{"sales.orders"}}, false},
	} {
		if d := e.Decide(&policy.Request{Protocol: policy.ProtocolPostgres, SQL: tc.sql}); d.Allow != tc.want {
			t.Errorf("%s: allow=%v (%s), want %v", tc.name, d.Allow, d.Reason, tc.want)
		}
	}
}

func mustPresets(t *testing.T, names ...string) []policy.Rule {
	t.Helper()
	rules, err := policy.PresetRules(names)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func TestPresetRulesErrors(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"housekeeping", "catalog"}, `include[1]: unknown preset "catalog" (known: housekeeping, catalog-metadata, s3-bucket-probes)`},
		{[]string{"housekeeping", "housekeeping"}, `include[1]: "housekeeping" is included twice`},
	} {
		if _, err := policy.PresetRules(tc.names); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.names, err, tc.want)
		}
	}
	if rules, err := policy.PresetRules(nil); err != nil || len(rules) != 0 {
		t.Errorf("no presets: %v %v", rules, err)
	}
}
