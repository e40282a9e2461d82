package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// errNoServer means no PostgreSQL server binaries were found.
var errNoServer = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")

// binDir returns the directory holding initdb, pg_ctl and postgres:
// $PGTEST_BINDIR, else the directory of initdb on PATH, else
// `pg_config --bindir`, else the newest /usr/lib/postgresql/<version>/bin
// (Debian keeps the server binaries off PATH).
func binDir() (string, error) {
	if dir := os.Getenv("PGTEST_BINDIR"); dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("PGTEST_BINDIR=%s: %w there", dir, errNoServer)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil && hasServer(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return debianVersion(found[i]) > debianVersion(found[j]) })
	for _, p := range found {
		if hasServer(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", errNoServer
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// debianVersion reads the major version out of
// /usr/lib/postgresql/<version>/bin/initdb; 0 when it is not a number.
func debianVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// psqlPath prefers the psql next to the server (Debian's /usr/bin/psql is a
// Perl wrapper that costs a start-up on every call), else psql on PATH.
func psqlPath(bindir string) (string, error) {
	p := filepath.Join(bindir, "psql")
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return p, nil
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		return "", fmt.Errorf("psql not found next to initdb or on PATH: %w", err)
	}
	return p, nil
}
