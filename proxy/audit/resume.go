package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
