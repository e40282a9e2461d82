package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestAuditTextOfPaddedAndUnparsedStatements: padding cannot push what a
// statement does out of its audit record, a statement that does not parse
// is recorded too (normalised text and the SHA-256 of what was sent), and
// constants (a canary) stay out of the record in every statement kind.
func TestAuditTextOfPaddedAndUnparsedStatements(t *testing.T) {
	r := startRig(t, nil)
	c := r.connect(t, "")
	ctx := context.Background()
	const canary = "canary-7f3a9c"
	pad := "/*" + strings.Repeat(" padding ", 1000) + "*/"

	// Allowed by no rule: padded so that the raw text's first 4 KiB are
	// comment only.
	padded := pad + " DELETE FROM orders WHERE id = 1 OR amount::text = '" + canary + "'"
	if _, err := c.Exec(ctx, padded, pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("DELETE allowed")
	}
	// Does not parse.
	broken := pad + " SELEC * FROM customers_pii WHERE email = '" + canary + "'"
	if _, err := c.Exec(ctx, broken, pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("syntax error allowed")
	}
	// DDL and EXECUTE constants.
	for _, q := range []string{
		"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (password '" + canary + "')",
		"EXECUTE p('" + canary + "')",
		"COMMENT ON TABLE orders IS '" + canary + "'",
	} {
		if _, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err == nil {
			t.Fatalf("%s allowed", q)
		}
	}

	recs := denials(r.records(t))
	if len(recs) != 5 {
		t.Fatalf("%d denials recorded, want 5: %v", len(recs), recs)
	}
	for _, rec := range recs {
		stmt, _ := rec["statement"].(string)
		if strings.Contains(stmt, canary) || strings.Contains(stmt, "padding") {
			t.Errorf("record holds a constant or a comment: %q", stmt)
		}
	}
	if got, _ := recs[0]["statement"].(string); got != "DELETE FROM orders WHERE id = $1 OR amount::text = $2" {
		t.Errorf("padded DELETE recorded as %q", got)
	}
	sum := sha256.Sum256([]byte(broken))
	got, _ := recs[1]["statement"].(string)
	if !strings.HasPrefix(got, "SELEC * FROM customers_pii WHERE email = $1") || !strings.Contains(got, hex.EncodeToString(sum[:])) {
		t.Errorf("unparsed statement recorded as %q, want its normalised text and sha256 %x", got, sum)
	}
	for i, want := range []string{
		"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (password $1)",
		"EXECUTE p($1)",
		"COMMENT ON TABLE orders IS $1",
	} {
		if got, _ := recs[2+i]["statement"].(string); !strings.HasPrefix(got, want) {
			t.Errorf("recorded %q, want %q", got, want)
		}
	}
}
