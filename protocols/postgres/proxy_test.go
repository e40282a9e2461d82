package postgres_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/secret"
)

const token = "local-token-for-tests"

// testRules: read the sales schema, write sales.events, transactions and
// SET; never the PII table.
var testRules = []policy.Rule{
	{Name: "read-sales", Allow: `sql.kind in ["select", "copy_to", "explain"] && sql.writes.size() == 0 && sql.reads.all(t, t.startsWith("sales."))`},
	{Name: "write-events", Allow: `sql.kind in ["insert", "copy_from"] && sql.writes.all(t, t == "sales.events") && sql.reads.all(t, t.startsWith("sales."))`},
	{Name: "tx", Allow: `sql.kind in ["transaction", "set"]`},
	{Name: "sleep", Allow: `sql.kind == "select" && "pg_catalog.pg_sleep" in sql.functions`},
	{Name: "prepare", Allow: `sql.kind in ["prepare", "execute", "deallocate"] && sql.tables.all(t, t.startsWith("sales."))`},
	{Name: "never-pii", Deny: `"sales.customers_pii" in sql.tables`},
}

// rig is an upstream PostgreSQL with sample data and an Airlock PostgreSQL
// handler in front of it on a loopback port.
type rig struct {
	pg        *pgtest.Server
	addr      string
	auditPath string
	log       *audit.Log
	ca        *certs.CA
}

func startRig(t testing.TB, mut func(*postgres.Config)) *rig {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.CreateDB(t, "app")
	pg.Psql(t, "app", `
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric);
CREATE TABLE sales.customers_pii (id int, email text);
CREATE TABLE sales.events (id serial, what text);
INSERT INTO sales.orders SELECT g, g * 1.5 FROM generate_series(1, 100) g;
INSERT INTO sales.customers_pii VALUES (1, 'a@example.com');
CREATE ROLE etl LOGIN PASSWORD 'etl-upstream-pw';
GRANT USAGE ON SCHEMA sales TO etl;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA sales TO etl;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA sales TO etl;
`)
	r := &rig{pg: pg, auditPath: filepath.Join(t.TempDir(), "audit.jsonl")}
	var err error
	if r.ca, err = certs.NewCA(certs.CAOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := r.ca.NewServerCerts(certs.DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.Compile(testRules, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.log, err = audit.Open(r.auditPath, audit.Options{Task: "t1", FlushInterval: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	gate := proxy.NewGate(proxy.GateOptions{Engine: engine, Recorder: r.log, Task: policy.Task{ID: "t1"}})
	cfg := postgres.Config{
		Check: gate.Check,
		Connect: postgres.Dialer(postgres.Upstream{Host: pg.Host, Port: pg.Port, Database: "app",
			Session: map[string]string{"search_path": "sales"},
			Login: func(context.Context) (string, secret.Secret, error) {
				return "etl", secret.New("etl-upstream-pw"), nil
			}}),
		Classifier: postgres.NewClassifier([]string{"sales"}, "app"),
		Token:      secret.New(token),
		TLS:        sc.TLSConfig(),
		Database:   "app",
		Pinned:     map[string]string{"search_path": "sales"},
		Log:        zerolog.New(zerolog.NewTestWriter(t)),
	}
	if mut != nil {
		mut(&cfg)
	}
	h, err := postgres.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait(); r.log.Close() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); _ = h.ServeConn(ctx, c) }()
		}
	}()
	r.addr = ln.Addr().String()
	return r
}

func (r *rig) connString(extra string) string {
	host, port, _ := net.SplitHostPort(r.addr)
	return "host=" + host + " port=" + port + " user=tester password=" + token + " dbname=app sslmode=disable " + extra
}

func (r *rig) connect(t *testing.T, extra string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(r.connString(extra))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// records returns the audit records so far.
func (r *rig) records(t *testing.T) []map[string]any {
	t.Helper()
	if err := r.log.Flush(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(r.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func denials(recs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event"] == "decision" && r["decision"] == "deny" {
			out = append(out, r)
		}
	}
	return out
}

func wantDenied(t *testing.T, err error, rule string) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("got %v, want SQLSTATE 42501", err)
	}
	if !strings.Contains(pe.Message, rule) || !strings.HasPrefix(pe.Detail, "request_id=") {
		t.Fatalf("denial message %q / detail %q: want the rule %q and a request id", pe.Message, pe.Detail, rule)
	}
	return pe
}

func TestSimpleAndExtendedQueries(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			c := r.connect(t, "")
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id > $1", mode, 50).Scan(&n); err != nil || n != 50 {
				t.Fatalf("allowed select: %d %v", n, err)
			}
			_, err := c.Exec(ctx, "SELECT email FROM customers_pii WHERE id = $1", mode, 1)
			wantDenied(t, err, "denied by rule never-pii")
			_, err = c.Exec(ctx, "DELETE FROM orders WHERE id = $1", mode, 1)
			wantDenied(t, err, "no rule allows")
			// The session stays usable.
			if err := c.QueryRow(ctx, "SELECT sum(id) FROM orders WHERE id <= $1", mode, 3).Scan(&n); err != nil || n != 6 {
				t.Fatalf("after denials: %d %v", n, err)
			}
		})
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.orders"); got != "100" {
		t.Fatalf("a denied DELETE reached the server: %s rows left", got)
	}
}

func TestDenialInsideTransaction(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO events (what) VALUES ('a')"); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, "UPDATE orders SET amount = 0")
	wantDenied(t, err, "no rule allows")
	_, err = tx.Exec(ctx, "SELECT 1 FROM orders LIMIT 1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25P02" {
		t.Fatalf("after a denial inside BEGIN: %v, want 25P02 (transaction aborted)", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events"); got != "0" {
		t.Fatalf("rolled-back insert persisted: %s", got)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1 FROM orders LIMIT 1").Scan(&one); err != nil {
		t.Fatalf("after rollback: %v", err)
	}
}

func TestBatchPipeline(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")
	var n int
	// pgx's default mode prepares every statement of a batch first: a denial
	// at Parse fails the batch before anything runs, as a parse error would.
	b := &pgx.Batch{}
	b.Queue("SELECT count(*) FROM orders")
	b.Queue("SELECT * FROM customers_pii")
	br := c.SendBatch(ctx, b)
	err := br.QueryRow().Scan(&n)
	wantDenied(t, err, "never-pii")
	br.Close()
	// In exec mode the statements go as one pipeline (Parse/Bind/Execute
	// each, one Sync): the first runs, the second is denied, the server
	// skips to Sync.
	c = r.connect(t, "default_query_exec_mode=exec")
	b = &pgx.Batch{}
	b.Queue("INSERT INTO events (what) VALUES ('in batch')")
	b.Queue("SELECT * FROM customers_pii")
	b.Queue("INSERT INTO events (what) VALUES ('skipped')")
	br = c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		t.Fatalf("batch statement 1: %v", err)
	}
	_, err = br.Exec()
	wantDenied(t, err, "never-pii")
	if _, err := br.Exec(); err == nil {
		t.Fatal("batch statement 3 ran after a denial in the same pipeline")
	}
	br.Close()
	// The connection is in sync: the next round trips answer correctly.
	for i := range 3 {
		if err := c.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id <= $1", i+1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("after batch, round %d: %d %v", i, n, err)
		}
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events"); got != "0" {
		t.Fatalf("the pipeline's implicit transaction should have rolled back: %s events", got)
	}
}

func TestCopyInAndOut(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{"row"}
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"sales", "events"}, []string{"what"}, pgx.CopyFromRows(rows))
	if err != nil || n != 1000 {
		t.Fatalf("COPY FROM: %d %v", n, err)
	}
	var sb strings.Builder
	tag, err := c.PgConn().CopyTo(ctx, &sb, "COPY sales.orders TO STDOUT")
	if err != nil || tag.RowsAffected() != 100 || strings.Count(sb.String(), "\n") != 100 {
		t.Fatalf("COPY TO: %v %v", tag, err)
	}
	_, err = c.PgConn().CopyTo(ctx, &sb, "COPY sales.customers_pii TO STDOUT")
	wantDenied(t, err, "never-pii")
	_, err = c.CopyFrom(ctx, pgx.Identifier{"sales", "orders"}, []string{"id"}, pgx.CopyFromRows([][]any{{1000}}))
	wantDenied(t, err, "no rule allows")
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events"); got != "1000" {
		t.Fatalf("events: %s", got)
	}
}

// TestCopyOutBatched covers the upstream read batching of COPY OUT: a
// large copy arrives whole, a copy that fails halfway and a copy smaller
// than the batch end normally, and the session answers plain queries after.
func TestCopyOutBatched(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")

	var sb strings.Builder
	tag, err := c.PgConn().CopyTo(ctx, &sb, "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g) TO STDOUT")
	if err != nil || tag.RowsAffected() != 200000 {
		t.Fatalf("large COPY TO: %v %v", tag, err)
	}
	want := 0 // bytes: the number, a tab, 100 x, a newline
	for g := 1; g <= 200000; g++ {
		want += len(strconv.Itoa(g)) + 102
	}
	if sb.Len() != want || !strings.HasPrefix(sb.String(), "1\t"+strings.Repeat("x", 100)+"\n2\t") ||
		!strings.HasSuffix(sb.String(), "\n200000\t"+strings.Repeat("x", 100)+"\n") {
		t.Fatalf("large COPY TO: %d bytes (want %d), starts %.20q", sb.Len(), want, sb.String())
	}

	sb.Reset()
	_, err = c.PgConn().CopyTo(ctx, &sb, "COPY (SELECT 1/(g-150000) FROM generate_series(1, 200000) g) TO STDOUT")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("COPY failing halfway: %v; want division_by_zero", err)
	}

	for i := range 3 {
		sb.Reset()
		if _, err := c.PgConn().CopyTo(ctx, &sb, "COPY (SELECT 42) TO STDOUT"); err != nil || sb.String() != "42\n" {
			t.Fatalf("small COPY %d: %q %v", i, sb.String(), err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM sales.orders").Scan(&n); err != nil || n != 100 {
			t.Fatalf("query after COPY: %d %v", n, err)
		}
	}
}

func TestCancel(t *testing.T) {
	r := startRig(t, nil)
	cfg, err := pgx.ParseConfig(r.connString(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, CancelRequestDelay: 0, DeadlineDelay: 10 * time.Second}
	}
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Exec(ctx, "SELECT pg_sleep(20)")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("got %v after %s, want 57014 (query canceled)", err, time.Since(start))
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cancel took %s", el)
	}
}

func TestWrongTokenAndStartupParams(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(r.addr)
	_, err := pgx.Connect(ctx, "host="+host+" port="+port+" user=x password=wrong dbname=app sslmode=disable")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("wrong token: %v, want 28P01", err)
	}
	for _, tc := range []struct{ extra, want string }{
		{"options='-c search_path=public'", `startup parameter "options" is not allowed`},
		{"search_path=public", `startup parameter "search_path" is not allowed`},
		{"client_encoding=LATIN1", `client_encoding "LATIN1" is not allowed`},
	} {
		_, err := pgx.Connect(ctx, r.connString(tc.extra))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.extra, err, tc.want)
		}
	}
	_, err = pgx.Connect(ctx, strings.Replace(r.connString(""), "dbname=app", "dbname=other", 1))
	if err == nil || !strings.Contains(err.Error(), `database "other" is not served here`) {
		t.Errorf("other database: %v", err)
	}
	var sawAuth bool
	for _, d := range denials(r.records(t)) {
		sawAuth = sawAuth || strings.Contains(d["reason"].(string), "authentication failed")
	}
	if !sawAuth {
		t.Error("no audit record for the wrong token")
	}
}

func TestTLSAndAuthModes(t *testing.T) {
	for _, mode := range []string{postgres.AuthSCRAM, postgres.AuthPassword} {
		t.Run(mode, func(t *testing.T) {
			r := startRig(t, func(c *postgres.Config) { c.ClientAuth = mode })
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			if err := r.ca.WriteCertFile(caFile); err != nil {
				t.Fatal(err)
			}
			for _, extra := range []string{"sslmode=verify-full sslrootcert=" + caFile, "sslmode=verify-full sslnegotiation=direct sslrootcert=" + caFile} {
				connStr := strings.Replace(r.connString(extra), "sslmode=disable", "", 1)
				c, err := pgx.Connect(context.Background(), connStr)
				if err != nil {
					t.Fatalf("%s: %v", extra, err)
				}
				if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
					t.Fatalf("%s: not a TLS connection", extra)
				}
				var n int
				if err := c.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 100 {
					t.Fatalf("over TLS: %d %v", n, err)
				}
				c.Close(context.Background())
			}
		})
	}
}

// TestDeniedStatements: each denied statement gets 42501, has no effect
// upstream, and leaves exactly one denial record.
func TestDeniedStatements(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")
	for _, tc := range []struct {
		name, sql, reason string
	}{
		{"delete", "DELETE FROM orders", "no rule allows"},
		{"delete in a CTE", "WITH d AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM d", "no rule allows"},
		{"update via subquery", "UPDATE orders SET amount = 0 WHERE id IN (SELECT id FROM orders)", "no rule allows"},
		{"pii in a subquery", "SELECT * FROM orders WHERE id IN (SELECT id FROM customers_pii)", "never-pii"},
		{"pii in a join", "SELECT o.id FROM orders o JOIN customers_pii p USING (id)", "never-pii"},
		{"explain analyze delete", "EXPLAIN ANALYZE DELETE FROM orders", "no rule allows"},
		{"copy pii out", "COPY (SELECT * FROM customers_pii) TO STDOUT", "never-pii"},
		{"prepare pii", "PREPARE p1 AS SELECT * FROM customers_pii", "never-pii"},
		{"copy program", "COPY orders TO PROGRAM 'true'", "guard rail"},
		{"set pinned search_path", "SET search_path = public", "guard rail"},
		{"set role", "SET ROLE postgres", "guard rail"},
		// With it off, the server would end 'a\'' at another quote than the classifier.
		{"standard_conforming_strings", "SET standard_conforming_strings = off", "guard rail"},
		{"set_config", "SELECT set_config('search_path', 'public', false)", "guard rail"},
		{"drop", "DROP TABLE orders", "no rule allows"},
		{"truncate", "TRUNCATE orders", "no rule allows"},
		{"unparsable", "SELEC * FROM orders", "guard rail: statement cannot be checked"},
		{"second statement denied", "SELECT 1 FROM orders LIMIT 1; DELETE FROM orders", "no rule allows"},
		{"other schema", "SELECT * FROM public.secrets", "no rule allows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(denials(r.records(t)))
			_, err := c.Exec(ctx, tc.sql, pgx.QueryExecModeSimpleProtocol)
			wantDenied(t, err, tc.reason)
			after := denials(r.records(t))
			if len(after) != before+1 {
				t.Fatalf("%d new denial records, want 1", len(after)-before)
			}
		})
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.orders WHERE amount > 0"); got != "100" {
		t.Fatalf("denied statements changed orders: %s", got)
	}
	// Allowed statements of each classification shape run, and leave one
	// allow record each.
	for _, sql := range []string{
		"WITH big AS (SELECT id FROM orders WHERE amount > 50) SELECT count(*) FROM big",
		"SELECT (SELECT max(id) FROM orders), id FROM orders WHERE id IN (SELECT id FROM orders WHERE id < 3)",
		"SELECT o.id FROM orders o JOIN orders p ON p.id = o.id + 1 LIMIT 1",
		"EXPLAIN SELECT * FROM orders",
		"EXPLAIN ANALYZE SELECT * FROM orders",
		"INSERT INTO events (what) SELECT 'copied ' || id FROM orders WHERE id < 3",
		"SET application_name = 'etl-job'",
		"BEGIN; SELECT 1 FROM orders LIMIT 1; COMMIT",
		"SELECT count(*) FROM sales.orders",
	} {
		if _, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Errorf("allowed %q: %v", sql, err)
		}
	}
	if got := r.pg.Psql(t, "app", "SELECT count(*) FROM sales.events"); got != "2" {
		t.Errorf("INSERT … SELECT: %s events", got)
	}
	// SQL-level PREPARE/EXECUTE of an allowed statement works.
	if _, err := c.Exec(ctx, "PREPARE q AS SELECT count(*) FROM orders", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "EXECUTE q", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 100 {
		t.Fatalf("EXECUTE: %d %v", n, err)
	}
	_, err := c.Exec(ctx, "EXECUTE nope", pgx.QueryExecModeSimpleProtocol)
	wantDenied(t, err, "did not see prepared")
	// EXECUTE adds the prepared statement's tables to its own: this one
	// also writes sales.x, which read-sales does not allow.
	_, err = c.Exec(ctx, "CREATE TABLE sales.x AS EXECUTE q", pgx.QueryExecModeSimpleProtocol)
	wantDenied(t, err, "no rule allows")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNoCredentialFailsClosed: when the held login is gone (expired
// unrenewed), a new session is refused with a clear error and nothing is
// dialled.
func TestNoCredentialFailsClosed(t *testing.T) {
	r := startRig(t, func(c *postgres.Config) {
		c.Connect = postgres.Dialer(postgres.Upstream{Host: "127.0.0.1", Port: 1, Database: "app",
			Login: func(context.Context) (string, secret.Secret, error) {
				return "", secret.Secret{}, errors.New("credential for postgres expired at 2030-01-02T03:30:00Z")
			}})
	})
	_, err := pgx.Connect(context.Background(), r.connString(""))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "08004" || !strings.Contains(pe.Message, "no valid upstream credential") {
		t.Fatalf("got %v, want 08004 naming the credential", err)
	}
}
