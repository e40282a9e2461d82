package pgtest

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"testing"
)

// Unprivileged prepares cmd to run as the user PostgreSQL clusters run as
// (when the tests run as root: PostgreSQL and PgBouncer refuse root), and
// hands it dirs, recursively. It fails t when that user is missing.
func Unprivileged(t testing.TB, cmd *exec.Cmd, dirs ...string) {
	t.Helper()
	o, err := clusterOwner()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return o.chown(p)
		})
		if err != nil {
			t.Fatalf("pgtest: hand %s to the server user: %v", d, err)
		}
	}
	o.apply(cmd)
}
