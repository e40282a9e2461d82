package certs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteCertFile writes the CA certificate (never the key) to path as PEM,
// mode 0644, so that clients can trust it (PGSSLROOTCERT, AWS_CA_BUNDLE).
// The write is atomic: a temporary file in the same directory is renamed over
// path. A missing parent directory is created with mode 0755.
func (c *CA) WriteCertFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write CA certificate: create directory: %w", err)
	}
	tmp, err := writeTemp(dir, "."+filepath.Base(path)+".*.tmp", c.certPEM)
	if err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(
			fmt.Errorf("write CA certificate: rename into place: %w", err),
			removeTemp(tmp))
	}
	return nil
}

// writeTemp writes data to a new file in dir with mode 0644, synced to disk,
// and returns its name. On error no file is left behind.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	fail := func(step string, err error) (string, error) {
		_ = f.Close()
		return "", errors.Join(fmt.Errorf("%s: %w", step, err), removeTemp(f.Name()))
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail("set mode", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		return "", errors.Join(fmt.Errorf("close: %w", err), removeTemp(f.Name()))
	}
	return f.Name(), nil
}

func removeTemp(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}
