package pgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/airlockproxy/airlock/internal/testutil"
)

// Most of a Start is initdb (about 1 s here). A cluster copied from a
// template that initdb made once is ready in a third of that. Templates
// are kept per machine, user and PostgreSQL build in templateRoot; set
// PGTEST_NOCACHE=1 to run initdb for every cluster instead.

// templateFormat changes whenever initdb's arguments change, so that older
// templates are not used.
const templateFormat = "1"

// templateRoot is where templates are kept: under /tmp, so that the
// unprivileged owner can reach it when root runs the tests, and per user.
func templateRoot() string {
	return filepath.Join("/tmp", "airlock-pgtest-"+strconv.Itoa(os.Geteuid()))
}

// template returns the data directory of a template cluster for this
// PostgreSQL build and owner, making it first if need be. Processes that
// race to make one each build their own and rename it into place; the
// first rename wins.
func (s *Server) template() (string, error) {
	// Within a process one Start makes the template while the others wait.
	templateMu.Lock()
	defer templateMu.Unlock()
	key, err := s.templateKey()
	if err != nil {
		return "", err
	}
	root := templateRoot()
	if err := privateDir(root); err != nil {
		return "", err
	}
	final := filepath.Join(root, key)
	if fi, err := os.Stat(filepath.Join(final, "data", "PG_VERSION")); err == nil && fi.Mode().IsRegular() {
		return filepath.Join(final, "data"), nil
	}

	stage, err := os.MkdirTemp(root, "stage")
	if err != nil {
		return "", fmt.Errorf("template staging directory: %w", err)
	}
	defer os.RemoveAll(stage) // left over only when the rename failed
	if err := s.owner.chown(stage); err != nil {
		return "", fmt.Errorf("hand template directory to %s: %w", s.owner.name, err)
	}
	// The template's password is never used: each server sets its own.
	if err := s.initdb(stage, filepath.Join(stage, "data"), testutil.RandomHex(16)); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := os.Rename(stage, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "data", "PG_VERSION")); statErr != nil {
			return "", fmt.Errorf("store template: %w", err)
		}
		// Another process stored one first; use it.
	}
	return filepath.Join(final, "data"), nil
}

// copyTemplate copies the template into DataDir.
func (s *Server) copyTemplate() error {
	tmpl, err := s.template()
	if err != nil {
		return err
	}
	if err := copyTree(tmpl, s.DataDir, s.owner); err != nil {
		return errors.Join(fmt.Errorf("copy template: %w", err), os.RemoveAll(s.DataDir))
	}
	return nil
}

// templateMu serialises making templates within the process.
var templateMu sync.Mutex

// templateKey names a template after what makes it valid: the server
// binaries (path, size, modification time), the owner and templateFormat.
func (s *Server) templateKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "format %s\nbindir %s\n", templateFormat, s.bindir)
	if s.owner != nil {
		fmt.Fprintf(h, "owner %d:%d\n", s.owner.uid, s.owner.gid)
	}
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(s.bindir, name))
		if err != nil {
			return "", fmt.Errorf("template key: %w", err)
		}
		fmt.Fprintf(h, "%s %d %d\n", name, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// privateDir makes dir if missing and checks that it is a real directory
// of ours that no one else may write: another user must not be able to
// plant a template. It stays searchable (0711) so the owner reaches the
// templates inside.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o711); err == nil {
		// Whatever the umask, the owner must be able to search it.
		if err := os.Chmod(dir, 0o711); err != nil {
			return fmt.Errorf("template directory: %w", err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("template directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("template directory: %w", err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 || !ownedByMe(fi) {
		return fmt.Errorf("template directory %s is not a directory that only this user may write; remove it", dir)
	}
	return nil
}

// copyTree copies the directory src to dst (which must not exist), keeping
// permission bits and handing everything to o. Directories are made first,
// then files are copied by a few workers: a cluster is about a thousand
// small files, where the cost is in the system calls per file.
func copyTree(src, dst string, o *owner) error {
	var files []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			target := filepath.Join(dst, rel)
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
			return o.chown(target)
		case d.Type().IsRegular():
			files = append(files, rel)
			return nil
		default:
			return fmt.Errorf("%s: not a file or directory", path)
		}
	})
	if err != nil {
		return err
	}

	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(files); i += workers {
				from, to := filepath.Join(src, files[i]), filepath.Join(dst, files[i])
				if err := copyFile(from, to, o); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// copyFile copies one file with its permission bits, owned by o.
func copyFile(src, dst string, o *owner) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return o.chown(dst)
}
