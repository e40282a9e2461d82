package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// ErrCannotContinue is returned (wrapped) by Open when an existing file
// does not end in a record the new chain can follow.
var ErrCannotContinue = errors.New("cannot continue its chain")

// readTail returns the seq and mac of the last record in the file at path,
// or zero values for an empty file. It refuses a file whose last line is
// cut, is not a record, or was not chained with key.
func readTail(path string, key []byte) (uint64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("open audit log: read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("open audit log: stat %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return 0, "", nil
	}
	// The last line, its newline, and the newline before it.
	n := min(size, MaxLineBytes+2)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, "", fmt.Errorf("open audit log: read the end of %s: %w", path, err)
	}
	refuse := func(why string) error {
		return fmt.Errorf("open audit log %s: %w: %s; move the file aside or set another audit.path",
			path, ErrCannotContinue, why)
	}
	if buf[n-1] != '\n' {
		return 0, "", refuse("its last line is incomplete (no trailing newline)")
	}
	body := buf[:n-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 && size > n {
		return 0, "", refuse("its last line is longer than an audit record can be")
	}
	p, err := parseLine(body[i+1:])
	if err != nil {
		return 0, "", refuse("its last line is not an audit record (" + err.Error() + ")")
	}
	if !newChainHash(key).matches(p.body, p.mac) {
		what := "the configured key"
		if len(key) == 0 {
			what = "an unkeyed chain (no key is configured)"
		}
		return 0, "", refuse(fmt.Sprintf("its last record (seq %d) does not match %s: it was written with another key, or modified", p.seq, what))
	}
	return p.seq, string(p.mac), nil
}

// quarantineTorn moves a partial last line (bytes after the last newline,
// as a crash in the middle of a write leaves) out of the file at path:
// they are written to path.torn-<time>, fsynced, and the file is cut back
// to its last complete line. It returns what it did, for the resume
// record, or "" when the file ends in a newline, is empty or missing. A
// tail longer than a record can be is not a torn record: it is left for
// readTail to refuse.
func quarantineTorn(path string, now func() time.Time) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 || !st.Mode().IsRegular() {
		return "", nil // readTail reports what it cannot read
	}
	size := st.Size()
	n := min(size, MaxLineBytes+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("open audit log: read the end of %s: %w", path, err)
	}
	if buf[n-1] == '\n' {
		return "", nil
	}
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && size > n {
		return "", nil
	}
	torn := buf[i+1:]
	side := fmt.Sprintf("%s.torn-%s", path, now().UTC().Format("20060102T150405.000000000Z"))
	if err := writeSync(side, torn); err != nil {
		return "", fmt.Errorf("open audit log: move the partial last line of %s aside: %w", path, err)
	}
	if err := f.Truncate(size - int64(len(torn))); err != nil {
		return "", fmt.Errorf("open audit log: cut the partial last line of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("open audit log: sync %s: %w", path, err)
	}
	return fmt.Sprintf("the log ended in a partial line (%d bytes, a write cut short by a crash or a failing disk); they were moved to %s and the chain continues from the last complete record",
		len(torn), side), nil
}

// writeSync creates path (it must not exist) with b, mode 0600, and
// fsyncs it.
func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}
