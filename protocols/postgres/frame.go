package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is one protocol message after startup: a type byte, a 4-byte
// length that counts itself, and a body. The relay reads frame headers and
// decodes only the bodies it must inspect; everything else is copied through
// in bounded chunks, so a large DataRow or Bind never sits in memory whole.

const headerLen = 5

type frameReader struct {
	r   *bufio.Reader
	hdr [headerLen]byte
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, size)}
}

// next reads a frame header and returns the type and body length.
func (f *frameReader) next() (byte, int, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return 0, 0, err
	}
	n := int(binary.BigEndian.Uint32(f.hdr[1:])) - 4
	if n < 0 {
		return 0, 0, fmt.Errorf("message %q: invalid length %d", f.hdr[0], n+4)
	}
	return f.hdr[0], n, nil
}

var errTooLong = errors.New("message body too long")

// body reads a body of n bytes into buf (grown as needed) when n <= max.
// A longer body is read and thrown away, and errTooLong returned, so the
// stream stays in step.
func (f *frameReader) body(buf []byte, n, max int) ([]byte, error) {
	if n > max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, err
		}
		return nil, errTooLong
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(f.r, buf)
	return buf, err
}

// copyFrame copies a frame whose header was just read to w, through the
// two buffers: no allocation, no write of its own (io.Copy would hand the
// socket to TCPConn.ReadFrom and cost a syscall and a buffer per frame).
func (f *frameReader) copyFrame(w *bufio.Writer, typ byte, n int) error {
	if err := writeHeader(w, typ, n); err != nil {
		return err
	}
	for n > 0 {
		b, err := f.r.Peek(min(n, f.r.Size()))
		if len(b) > 0 {
			if _, werr := w.Write(b); werr != nil {
				return werr
			}
			_, _ = f.r.Discard(len(b))
			n -= len(b)
		}
		if err != nil && n > 0 {
			return err
		}
	}
	return nil
}

// copyRun copies to w the run of whole frames of type typ (DataRow,
// CopyData) at the front of the read buffer, after the frame whose header
// was just read (body n bytes, copied first): one Write for many rows
// instead of a header and a body each. It returns when the next buffered
// frame is another type or not wholly buffered.
func (f *frameReader) copyRun(w *bufio.Writer, typ byte, n int) error {
	if err := f.copyFrame(w, typ, n); err != nil {
		return err
	}
	b, _ := f.r.Peek(f.r.Buffered())
	run := 0
	for len(b)-run >= headerLen && b[run] == typ {
		end := run + 1 + int(binary.BigEndian.Uint32(b[run+1:]))
		if end > len(b) || end < run+headerLen {
			break
		}
		run = end
	}
	if run == 0 {
		return nil
	}
	if _, err := w.Write(b[:run]); err != nil {
		return err
	}
	_, err := f.r.Discard(run)
	return err
}

func writeHeader(w *bufio.Writer, typ byte, n int) error {
	var h [headerLen]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(n+4))
	_, err := w.Write(h[:])
	return err
}

func writeFrame(w *bufio.Writer, typ byte, body []byte) error {
	if err := writeHeader(w, typ, len(body)); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// cstring splits a NUL-terminated string off the front of b.
func cstring(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}

// maxPeek bounds how much of a streamed body peek shows: enough for the
// statement and portal names at its start.
const maxPeek = 4 << 10

// peek returns the start of the body of n bytes whose header was just
// read, without consuming it.
func (f *frameReader) peek(n int) []byte {
	b, _ := f.r.Peek(min(n, maxPeek, f.r.Size()))
	return b
}
