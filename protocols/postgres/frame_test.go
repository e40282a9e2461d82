package postgres

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

func testFrame(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

// TestCopyRun: a run of rows goes through byte for byte, stops at the
// first frame of another type, and leaves a frame that is not wholly
// buffered for the next read.
func TestCopyRun(t *testing.T) {
	var in []byte
	for _, body := range []string{"row1", "", "row three"} {
		in = append(in, testFrame('D', body)...)
	}
	in = append(in, testFrame('C', "SELECT 3\x00")...)
	in = append(in, testFrame('D', "after")...)
	for _, size := range []int{16, 23, 64, 4096} { // buffer sizes that cut frames in places
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		f := newFrameReader(bytes.NewReader(in), size)
		for {
			typ, n, err := f.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if typ == 'D' {
				err = f.copyRun(w, typ, n)
			} else {
				err = f.copyFrame(w, typ, n)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("buffer %d: relayed %q, want %q", size, out.Bytes(), in)
		}
	}
}
