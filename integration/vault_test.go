package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/airlockproxy/airlock/internal/pgtest"
)

// fakeVault speaks the parts of Vault's HTTP API the vault source uses
// (database/creds, sys/leases/renew and revoke) and, like Vault's database
// secrets engine, creates a real login role in PostgreSQL for each lease
// and drops it when the lease is revoked.
type fakeVault struct {
	*httptest.Server
	pg    *pgtest.Server
	token string

	mu      sync.Mutex
	leases  map[string]string // lease id → role
	revoked []string
	pws     []string // passwords handed out
	errs    []string
}

func newFakeVault(t *testing.T, pg *pgtest.Server, token string) *fakeVault {
	v := &fakeVault{pg: pg, token: token, leases: map[string]string{}}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

func (v *fakeVault) sql(stmt string) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, v.pg.DSN("app"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, stmt)
	return err
}

func (v *fakeVault) fail(w http.ResponseWriter, code int, msg string) {
	v.mu.Lock()
	v.errs = append(v.errs, msg)
	v.mu.Unlock()
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
}

func (v *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != v.token {
		v.fail(w, http.StatusForbidden, "permission denied")
		return
	}
	var in struct {
		LeaseID string `json:"lease_id"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/database/creds/etl":
		b := make([]byte, 6)
		rand.Read(b)
		role, pw := "v_etl_"+hex.EncodeToString(b), "A1a-"+hex.EncodeToString(b)+hex.EncodeToString(b)
		if err := v.sql(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE etl_reader", role, pw)); err != nil {
			v.fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		lease := "database/creds/etl/" + hex.EncodeToString(b)
		v.mu.Lock()
		v.leases[lease] = role
		v.pws = append(v.pws, pw)
		v.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"lease_id": lease, "lease_duration": 3600, "renewable": true,
			"data": map[string]string{"username": role, "password": pw}})
	case r.Method == http.MethodPut && r.URL.Path == "/v1/sys/leases/renew":
		json.NewEncoder(w).Encode(map[string]any{"lease_id": in.LeaseID, "lease_duration": 3600, "renewable": true})
	case r.Method == http.MethodPut && r.URL.Path == "/v1/sys/leases/revoke":
		v.mu.Lock()
		role, ok := v.leases[in.LeaseID]
		delete(v.leases, in.LeaseID)
		v.mu.Unlock()
		if ok {
			_ = v.sql(fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'", role))
			if err := v.sql("DROP ROLE " + role); err != nil {
				v.fail(w, http.StatusInternalServerError, err.Error())
				return
			}
			v.mu.Lock()
			v.revoked = append(v.revoked, role)
			v.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		v.fail(w, http.StatusNotFound, "no handler for "+r.Method+" "+r.URL.Path)
	}
}

// TestVaultSource: airlock exec with postgres credentials from Vault's
// database secrets engine: the task logs in as the role Vault made, the
// lease is revoked when the task ends (the role is gone), and the Vault
// token and role password appear nowhere Airlock writes.
func TestVaultSource(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int);
INSERT INTO sales.orders SELECT generate_series(1, 3);
CREATE ROLE etl_reader NOLOGIN;
GRANT USAGE ON SCHEMA sales TO etl_reader;
GRANT SELECT ON sales.orders TO etl_reader;`)
	const token = "hvs.CANARYvaulttoken0123456789"
	v := newFakeVault(t, pg, token)
	dir := t.TempDir()
	tokenFile := writeFile(t, filepath.Join(dir, "vault-token"), token+"\n")
	audit := filepath.Join(dir, "audit.jsonl")
	cfg := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: vault-1, ttl: 5m}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0'}
postgres:
  upstream: {host: 127.0.0.1, port: %d, database: app, sslmode: disable}
  session: {search_path: sales}
  credentials: {source: vault, address: '%s', role: etl, token_file: %s}
audit: {path: %s}
exec: {allow_same_uid: true}  # the tests run the task as themselves
policy:
  rules:
    - {name: read, allow: 'sql.kind == "select"'}
`, pg.Port, v.URL, tokenFile, audit))
	res := airlock(t, nil, "exec", "-c", cfg, "--", "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-c", "SELECT current_user", "-c", "SELECT count(*) FROM orders")
	if res.code != 0 {
		t.Fatalf("exec: %d\n%s\n%s\nvault errors: %q", res.code, res.stdout, res.stderr, v.errs)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "v_etl_") || lines[1] != "3" {
		t.Fatalf("psql printed %q", lines)
	}
	v.mu.Lock()
	revoked, open := v.revoked, len(v.leases)
	v.mu.Unlock()
	if len(revoked) != 1 || revoked[0] != lines[0] || open != 0 {
		t.Fatalf("revoked %q with %d leases open; want %s revoked", revoked, open, lines[0])
	}
	if n := pg.Psql(t, "app", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v\\_etl\\_%'"); n != "0" {
		t.Fatalf("%s Vault roles left", n)
	}
	data := readFile(t, audit)
	mustContain(t, "audit log", data, `"source":"vault"`, `"status":"issued"`, `"status":"revoked"`)
	noCanary(t, map[string]string{"stdout": res.stdout, "stderr": res.stderr, "audit": data}, append(v.pws, token)...)
}
