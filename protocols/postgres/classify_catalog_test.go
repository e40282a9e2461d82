package postgres_test

import (
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
)

// TestCatalogRuleDoesNotReachDataViews: a rule that allows the catalog by
// prefix allows catalog metadata, but not the catalog relations that hold
// data (column values, other sessions' queries, password hashes, large
// objects), nor the functions behind them; a rule naming one does.
func TestCatalogRuleDoesNotReachDataViews(t *testing.T) {
	engine, err := policy.Compile([]policy.Rule{
		{Name: "catalog", Allow: `sql.kind == "select" && sql.reads.all(t, t.startsWith("pg_catalog."))`},
		{Name: "stats-named", Allow: `sql.kind == "select" && sql.reads.all(t, t.startsWith("pg_catalog.") || t == "data:pg_catalog.pg_stats")`},
	}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := postgres.NewClassifier([]string{"sales"}, "app")
	for _, tc := range []struct {
		sql  string
		rule string // the allowing rule; "" for denied
	}{
		{"SELECT relname FROM pg_class JOIN pg_namespace n ON true", "catalog"},
		{"SELECT * FROM pg_catalog.pg_attribute", "catalog"},
		{"SELECT most_common_vals FROM pg_stats", "stats-named"},
		{"SELECT * FROM pg_statistic", ""},
		{"SELECT * FROM pg_catalog.pg_stats_ext", ""},
		{"SELECT query FROM pg_stat_activity", ""},
		{"SELECT * FROM pg_stat_get_activity(NULL)", ""},
		{"SELECT rolpassword FROM pg_authid", ""},
		{"SELECT passwd FROM pg_shadow", ""},
		{"SELECT umoptions FROM pg_user_mappings", ""},
		{"SELECT data FROM pg_largeobject", ""},
		{"SELECT lo_get(16400)", ""},
		{"SELECT subconninfo FROM pg_subscription", ""},
		{"SELECT query FROM public.pg_stat_statements", ""},
	} {
		st, err := c.Classify(tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		req := policy.Request{Protocol: policy.ProtocolPostgres, SQL: st[0].SQL, Guard: st[0].Guard}
		d := engine.Decide(&req)
		switch {
		case tc.rule == "" && d.Allow:
			t.Errorf("%s (reads %q): allowed by %q, want denied", tc.sql, st[0].SQL.Reads, d.Rules)
		case tc.rule != "" && (!d.Allow || d.Rules[0] != tc.rule):
			t.Errorf("%s (reads %q): %v by %q, want allowed by %s", tc.sql, st[0].SQL.Reads, d.Allow, d.Rules, tc.rule)
		}
	}
}
