package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestQueryStringFunctionsDenied: built-ins that run the SQL text they are
// given (ts_rewrite's second argument here) once passed as a select of no
// table and read the PII table through Airlock; they are guard rails, and
// relations named by constants are checked like any other.
func TestQueryStringFunctionsDenied(t *testing.T) {
	r := startRig(t, nil)
	c := r.connect(t, "")
	ctx := context.Background()
	for _, q := range []string{
		// Rewrites 'a' with a rule whose substitute is the PII row's email.
		`SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, quote_literal(email)::tsquery FROM sales.customers_pii')::text`,
		`SELECT pg_relation_size('customers_pii')`,
		`SELECT 'sales.customers_pii'::regclass::oid`,
	} {
		var out string
		err := c.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&out)
		if strings.Contains(out, "example.com") {
			t.Fatalf("%s returned PII: %q", q, out)
		}
		if err == nil {
			t.Fatalf("%s allowed (%q)", q, out)
		}
		wantDenied(t, err, "")
	}
	// A relation of the allowed schema named by a constant is allowed.
	var size int64
	if err := c.QueryRow(ctx, `SELECT pg_relation_size('orders')`).Scan(&size); err != nil || size <= 0 {
		t.Fatalf("pg_relation_size('orders') = %d, %v", size, err)
	}
}
