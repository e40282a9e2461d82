package postgres_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/protocols/postgres"
)

func TestAuditText(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"SELEC 1, 'secret' /* c */ FROM\n\n  t", "SELEC $1, $2 FROM t"},
		{"SELECT $2, 'x' -- tail 'secret'", "SELECT $2, $3"},
		{"SELECT 'unterminated secret", "SELECT $1"},
		{"SELECT E'unterminated \\' secret", "SELECT E$1"},
		{"SELECT 1 /* unterminated 'secret'", "SELECT $1 …"},
		{"SELECT $q$ unterminated secret", "SELECT $1"},
		{"SELECT 1from, 0x1F, 1.5e3, .5", "SELECT 1from, 0x1F, $1, $2"},
		{"SELECT a/**/b, 1- -1", "SELECT a b, $1- -$2"},
	} {
		got := postgres.AuditText(tc.text, postgres.AuditTextMax)
		sum := sha256.Sum256([]byte(tc.text))
		suffix := " /* sha256:" + hex.EncodeToString(sum[:])
		if !strings.HasPrefix(got, tc.want+suffix) || strings.Contains(got, "secret") {
			t.Errorf("AuditText(%q) = %q, want %q followed by the digest", tc.text, got, tc.want)
		}
	}
	long := "SELEC " + strings.Repeat("a, ", 5000)
	if got := postgres.AuditText(long, postgres.AuditTextMax); len(got) > 4096 || !strings.Contains(got, "… /* sha256:") {
		t.Errorf("AuditText of %d bytes: %d bytes %q…", len(long), len(got), got[:40])
	}
}
