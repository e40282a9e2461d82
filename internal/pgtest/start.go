package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/testutil"
)

// Server is a running throwaway cluster. Its fields are read-only.
type Server struct {
	// Host is the TCP address the server listens on: 127.0.0.1.
	Host string
	// Port is the server's TCP port; the unix socket uses the same number.
	Port int
	// SocketDir holds the unix socket (.s.PGSQL.<Port>); a short path.
	SocketDir string
	// Superuser is "postgres".
	Superuser string
	// Password is the superuser's random password, asked for over TCP
	// (SCRAM-SHA-256). The unix socket trusts the local user.
	Password string
	// DataDir is the cluster's data directory.
	DataDir string
	// CAFile is the PEM certificate of the CA that signed the server's
	// certificate (valid for 127.0.0.1, ::1, localhost); set with Options.SSL.
	CAFile string
	// LogFile is the server's log.
	LogFile string

	bindir string
	psql   string
	owner  *owner
}

// Options adjusts a cluster. The zero value is a plain server without TLS.
type Options struct {
	// Conf holds extra postgresql.conf settings, name to value, written
	// after the package's own so they win. Values are quoted by the package:
	// write "all", not "'all'".
	Conf map[string]string
	// SSL makes a throwaway CA and server certificate, turns ssl on and sets
	// Server.CAFile. Plain connections are still accepted.
	SSL bool
}

const (
	superuser     = "postgres"
	startAttempts = 5
	// maxSocketDir keeps <dir>/.s.PGSQL.<port> within the 107 bytes a unix
	// socket path may have.
	maxSocketDir = 80
)

// Start initialises and starts a cluster for t, and registers its stop and
// removal with t.Cleanup. Without PostgreSQL server binaries it skips t,
// unless the environment variable CI is set: then it fails t.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	began := time.Now()
	bindir, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("pgtest: %v; install PostgreSQL (scripts/deps.sh) or set PGTEST_BINDIR", err)
		}
		t.Fatalf("pgtest: %v (CI is set, so this fails instead of skipping); run scripts/deps.sh", err)
	}
	psql, err := psqlPath(bindir)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	own, err := clusterOwner()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	keys, err := confKeys(opts.Conf)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	dir := tempDir(t, own)
	s := &Server{
		Host:      "127.0.0.1",
		SocketDir: dir,
		Superuser: superuser,
		Password:  testutil.RandomHex(16),
		DataDir:   filepath.Join(dir, "data"),
		LogFile:   filepath.Join(dir, "postgres.log"),
		bindir:    bindir,
		psql:      psql,
		owner:     own,
	}
	copied, err := s.makeCluster(t)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if opts.SSL {
		s.CAFile = filepath.Join(dir, "ca.crt")
		err := writeCerts(own, s.CAFile,
			filepath.Join(s.DataDir, "server.crt"), filepath.Join(s.DataDir, "server.key"))
		if err != nil {
			t.Fatalf("pgtest: TLS files: %v", err)
		}
	}
	if err := s.writeConf(opts, keys); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: tail of %s:\n%s", s.LogFile, testutil.Tail(s.LogFile, 30))
		}
	})
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: %v", err) // the cleanup above shows the log
	}
	if copied {
		// The template's password is shared; give this server its own.
		sql := "ALTER ROLE " + quoteIdent(s.Superuser) + " PASSWORD " + quote(s.Password)
		if _, err := s.query("postgres", sql); err != nil {
			t.Fatalf("pgtest: set the superuser's password: %v", err)
		}
	}
	t.Logf("pgtest: PostgreSQL on 127.0.0.1:%d (socket in %s, ssl=%t) started in %v",
		s.Port, s.SocketDir, opts.SSL, time.Since(began).Round(time.Millisecond))
	return s
}

// DSN returns a URL for database db as the superuser over TCP, with the
// password and sslmode=disable (add sslrootcert and another sslmode to use
// TLS with Options.SSL).
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.Superuser, s.Password),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// tempDir makes the cluster's directory under /tmp (or a short $TMPDIR),
// owned by o, and registers its removal.
func tempDir(t testing.TB, o *owner) string {
	t.Helper()
	base := os.TempDir()
	// Root hands the directory to another user, who must be able to reach
	// it: /tmp is world-searchable where $TMPDIR (say /root/tmp) may not be.
	if o != nil || len(base) > maxSocketDir-20 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pg")
	if err != nil {
		t.Fatalf("pgtest: temporary directory: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("pgtest: remove %s: %v", dir, err)
		}
	})
	if err := o.chown(dir); err != nil {
		t.Fatalf("pgtest: hand %s to %s: %v", dir, o.name, err)
	}
	return dir
}

// makeCluster fills DataDir with a new cluster: a copy of the template
// (see template.go) when it can, else initdb's work. It reports whether it
// copied the template.
func (s *Server) makeCluster(t testing.TB) (copied bool, err error) {
	t.Helper()
	if os.Getenv("PGTEST_NOCACHE") == "" {
		err := s.copyTemplate()
		if err == nil {
			return true, nil
		}
		// Only slower: say why and go on.
		t.Logf("pgtest: running initdb, as the template cluster is not usable: %v", err)
	}
	return false, s.initdb(s.SocketDir, s.DataDir, s.Password)
}

// initdb makes a cluster in dataDir with the superuser's password set,
// working in dir (owned by the cluster's owner).
func (s *Server) initdb(dir, dataDir, password string) error {
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := s.owner.chown(pwfile); err != nil {
		return fmt.Errorf("chown password file: %w", err)
	}
	_, err := s.run(2*time.Minute, "initdb",
		"--pgdata", dataDir,
		"--username", s.Superuser,
		"--pwfile", pwfile,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
	return err
}

// writeConf appends the package's settings, then opts.Conf in name order,
// to postgresql.conf (the last setting of a name wins).
func (s *Server) writeConf(opts Options, keys []string) error {
	var b strings.Builder
	b.WriteString("\n# pgtest\n")
	set := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, quote(v)) }
	set("listen_addresses", "127.0.0.1")
	set("unix_socket_directories", s.SocketDir)
	set("max_connections", "100")
	set("shared_buffers", "16MB")
	set("fsync", "off")
	set("synchronous_commit", "off")
	set("full_page_writes", "off")
	set("logging_collector", "off") // pg_ctl -l captures the log
	if opts.SSL {
		set("ssl", "on")
		set("ssl_cert_file", "server.crt")
		set("ssl_key_file", "server.key")
	}
	for _, k := range keys {
		set(k, opts.Conf[k])
	}
	f, err := os.OpenFile(filepath.Join(s.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return f.Close()
}

var confName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// confKeys checks and sorts the names in conf.
func confKeys(conf map[string]string) ([]string, error) {
	keys := make([]string, 0, len(conf))
	for k := range conf {
		if !confName.MatchString(k) {
			return nil, fmt.Errorf("Options.Conf: %q is not a setting name", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// quote makes v a postgresql.conf string literal, which every setting
// type accepts.
func quote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// start picks a free port and starts the server, trying another port when
// the one picked was taken in between.
func (s *Server) start() error {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("pick a port: %w", err)
		}
		before := fileSize(s.LogFile)
		_, err = s.run(90*time.Second, "pg_ctl", "start",
			"--pgdata", s.DataDir, "--log", s.LogFile,
			"--wait", "--timeout", "60",
			"-o", "-p "+strconv.Itoa(port))
		if err == nil {
			s.Port = port
			return nil
		}
		if attempt == startAttempts || !portTaken(s.LogFile, before) {
			return fmt.Errorf("start the server (attempt %d): %w", attempt, err)
		}
	}
}

// stop stops the server at once (no checkpoint: the data is thrown away).
func (s *Server) stop() error {
	if _, err := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil // never started, or already gone
	}
	_, err := s.run(time.Minute, "pg_ctl", "stop", "--pgdata", s.DataDir, "--mode", "immediate", "--wait")
	if err != nil {
		return fmt.Errorf("stop the server: %w", err)
	}
	return nil
}

// run runs a server binary as the cluster's owner and returns its output;
// the error carries the output.
func (s *Server) run(limit time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bindir, name), args...)
	cmd.Dir = s.SocketDir
	cmd.Env = append(cleanEnv(), "HOME="+s.SocketDir)
	s.owner.apply(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", name, err, bytes.TrimSpace(out))
	}
	return out, nil
}

// cleanEnv is the environment without the libpq and locale variables that
// would redirect or change what the binaries do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") ||
			k == "LANG" || k == "LANGUAGE" || k == "TZ" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "TZ=UTC")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portTaken reports whether the log, past offset, says the port was in use.
func portTaken(log string, offset int64) bool {
	data, err := os.ReadFile(log)
	if err != nil || int64(len(data)) < offset {
		return false
	}
	return bytes.Contains(data[offset:], []byte("Address already in use"))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
