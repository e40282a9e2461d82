package pgtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/pgtest"
	"github.com/airlockproxy/airlock/internal/testutil"
)

func TestStartPsqlCreateDB(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t, pgtest.Options{Conf: map[string]string{"cluster_name": "pg'test", "work_mem": "8MB"}})

	if got := s.Psql(t, "postgres", "SHOW fsync; SHOW listen_addresses; SHOW cluster_name; SHOW work_mem"); got != "off\n127.0.0.1\npg'test\n8MB" {
		t.Errorf("settings = %q", got)
	}
	s.CreateDB(t, "app db")
	got := s.Psql(t, "app db", `
		CREATE TABLE t (id int, name text);
		INSERT INTO t VALUES (1, 'a'), (2, 'b');
		SELECT current_database(), count(*) FROM t;`)
	if got != "app db|2" {
		t.Errorf("query result = %q, want %q", got, "app db|2")
	}
	want := "postgres://postgres:" + s.Password + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/app?sslmode=disable"
	if dsn := s.DSN("app"); dsn != want {
		t.Errorf("DSN = %q, want %q", dsn, want)
	}
	if len(filepath.Join(s.SocketDir, ".s.PGSQL."+strconv.Itoa(s.Port))) > 107 {
		t.Errorf("socket path under %s is too long for a unix socket", s.SocketDir)
	}
}

func TestPasswordOverTCP(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t, pgtest.Options{})
	conn := "host=127.0.0.1 port=" + strconv.Itoa(s.Port) + " user=postgres dbname=postgres sslmode=disable"

	tests := []struct {
		name, password string
		ok             bool
	}{
		{"right password", s.Password, true},
		{"wrong password", "not-" + s.Password, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := psqlTCP(t, s, conn, tt.password, "SELECT current_user || ' ' || (SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules WHERE address = '127.0.0.1')")
			if tt.ok && (err != nil || out != "postgres scram-sha-256") {
				t.Errorf("psql = %q, %v; want %q", out, err, "postgres scram-sha-256")
			}
			if !tt.ok && (err == nil || !strings.Contains(out, "password authentication failed")) {
				t.Errorf("psql with a wrong password = %q, %v; want an authentication failure", out, err)
			}
		})
	}
	// The DSN form works with libpq as well.
	if out, err := psqlTCP(t, s, s.DSN("postgres"), "", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); err != nil || out != "f" {
		t.Errorf("psql DSN = %q, %v; want a plain connection", out, err)
	}
}

func TestSSLVerifyCA(t *testing.T) {
	t.Parallel()
	s := pgtest.Start(t, pgtest.Options{SSL: true})
	if s.CAFile == "" {
		t.Fatal("CAFile is empty with Options.SSL")
	}
	for _, mode := range []string{"verify-ca", "verify-full"} {
		conn := "host=127.0.0.1 port=" + strconv.Itoa(s.Port) + " user=postgres dbname=postgres sslmode=" + mode + " sslrootcert=" + s.CAFile
		out, err := psqlTCP(t, s, conn, s.Password, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
		if err != nil || out != "t" {
			t.Errorf("sslmode=%s: psql = %q, %v; want a TLS connection", mode, out, err)
		}
	}
	// A CA that did not sign the server's certificate is refused.
	other := pgtest.Start(t, pgtest.Options{SSL: true})
	conn := "host=127.0.0.1 port=" + strconv.Itoa(s.Port) + " user=postgres dbname=postgres sslmode=verify-ca sslrootcert=" + other.CAFile
	if out, err := psqlTCP(t, s, conn, s.Password, "SELECT 1"); err == nil || !strings.Contains(out, "certificate verify failed") {
		t.Errorf("psql with another CA = %q, %v; want a verification failure", out, err)
	}
}

func TestServersAreSeparate(t *testing.T) {
	t.Parallel()
	a := pgtest.Start(t, pgtest.Options{})
	b := pgtest.Start(t, pgtest.Options{})
	if a.Port == b.Port || a.DataDir == b.DataDir || a.Password == b.Password {
		t.Fatalf("two servers share a port, data dir or password: %+v %+v", a, b)
	}
	a.CreateDB(t, "only_in_a")
	if got := b.Psql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'only_in_a'"); got != "0" {
		t.Errorf("database from server a visible in server b: %q", got)
	}
}

func TestCleanupStopsServer(t *testing.T) {
	t.Parallel()
	var s *pgtest.Server
	t.Run("inner", func(t *testing.T) { s = pgtest.Start(t, pgtest.Options{}) })
	if _, err := os.Stat(s.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s still exists after cleanup: %v", s.DataDir, err)
	}
	if out, err := psqlTCP(t, s, s.DSN("postgres"), "", "SELECT 1"); err == nil {
		t.Errorf("server still answers after cleanup: %q", out)
	}
}

func TestWithoutTemplate(t *testing.T) {
	t.Setenv("PGTEST_NOCACHE", "1")
	s := pgtest.Start(t, pgtest.Options{})
	conn := "host=127.0.0.1 port=" + strconv.Itoa(s.Port) + " user=postgres dbname=postgres sslmode=disable"
	if out, err := psqlTCP(t, s, conn, s.Password, "SELECT 1"); err != nil || out != "1" {
		t.Errorf("psql over TCP = %q, %v", out, err)
	}
}

func TestMissingServer(t *testing.T) {
	t.Setenv("PGTEST_BINDIR", t.TempDir())
	tests := []struct {
		ci                string
		wantSkip, wantErr bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &testutil.Recorder{TB: t}
			r.Run(func() { pgtest.Start(r, pgtest.Options{}) })
			if (r.SkipMsg != "") != tt.wantSkip || (r.FatalMsg != "") != tt.wantErr {
				t.Errorf("skipped %q, failed %q; want skip %t, failure %t", r.SkipMsg, r.FatalMsg, tt.wantSkip, tt.wantErr)
			}
			if msg := r.SkipMsg + r.FatalMsg; !strings.Contains(msg, "not found") {
				t.Errorf("message %q does not say what is missing", msg)
			}
		})
	}
}

// psqlTCP runs one query with psql over TCP, the password in PGPASSWORD,
// and returns its combined, trimmed output.
func psqlTCP(t *testing.T, s *pgtest.Server, conn, password, sql string) (string, error) {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql: %v", err)
	}
	cmd := exec.Command(psql, "-X", "-A", "-t", "-c", sql, conn)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
