package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// psqlLimit bounds one Psql call.
const psqlLimit = 5 * time.Minute

// Psql runs sql in database db as the superuser over the unix socket, with
// `psql -X -A -t -q -v ON_ERROR_STOP=1`, and returns its trimmed standard
// output: unaligned rows, columns separated by '|', no headers and no
// command tags. The script is read from standard input, so it may hold
// several statements (each its own transaction unless it says BEGIN) and
// psql meta-commands. Any error fails t with psql's standard error.
func (s *Server) Psql(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := s.query(db, sql)
	if err != nil {
		t.Fatalf("pgtest: %v\nSQL:\n%s", err, sql)
	}
	return out
}

// query is Psql returning its error, which holds psql's standard error.
func (s *Server) query(db, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), psqlLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.psql,
		"-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", s.SocketDir, "-p", strconv.Itoa(s.Port),
		"-U", s.Superuser, "-d", db, "-f", "-")
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql -d %s: %w\n%s", db, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// CreateDB creates database name, owned by the superuser.
func (s *Server) CreateDB(t testing.TB, name string) {
	t.Helper()
	s.Psql(t, "postgres", "CREATE DATABASE "+quoteIdent(name))
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
