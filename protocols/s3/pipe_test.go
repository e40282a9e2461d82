package s3

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"
)

// TestPipeCopy: every byte arrives in order, whatever the sizes the source
// reads in, and the count is right.
func TestPipeCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, pipeSize - 1, pipeSize, pipeSize + 1, 3*pipeSize + 17, 5 << 20} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(src),
			"one-byte": iotest.OneByteReader(bytes.NewReader(src)),
			"half":     iotest.HalfReader(bytes.NewReader(src)),
			"data-err": iotest.DataErrReader(bytes.NewReader(src)),
		} {
			if name == "one-byte" && size > 1<<20 {
				continue
			}
			var dst bytes.Buffer
			n, err := pipeCopy(&dst, r)
			if err != nil || n != int64(size) || !bytes.Equal(dst.Bytes(), src) {
				t.Fatalf("%s %d: copied %d, err %v, equal %v", name, size, n, err, bytes.Equal(dst.Bytes(), src))
			}
		}
	}
}

// TestPipeCopySourceError: a failing source's error comes back after the
// bytes before it were written.
func TestPipeCopySourceError(t *testing.T) {
	boom := errors.New("upstream reset")
	src := io.MultiReader(bytes.NewReader(make([]byte, 300<<10)), iotest.ErrReader(boom))
	var dst bytes.Buffer
	n, err := pipeCopy(&dst, src)
	if !errors.Is(err, boom) || n != 300<<10 || dst.Len() != 300<<10 {
		t.Fatalf("copied %d (%d in dst), err %v; want 300 KiB and %v", n, dst.Len(), err, boom)
	}
}

// blockingReader yields one chunk, then blocks until closed, as an
// upstream body that stalls does.
type blockingReader struct {
	first  []byte
	closed chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.closed
	return 0, errors.New("closed")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

// TestPipeCopyWriterErrorDoesNotWait: when the client goes away,
// pipeCopy returns at once, even though the source is blocked in a Read
// only closing it ends (the caller closes it after pipeCopy returns).
func TestPipeCopyWriterErrorDoesNotWait(t *testing.T) {
	src := &blockingReader{first: make([]byte, 64<<10), closed: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := pipeCopy(failingWriter{}, src)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || err.Error() != "client went away" {
			t.Fatalf("err %v, want the writer's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pipeCopy waited for a blocked source after the writer failed")
	}
	close(src.closed)
}

// notifyWriter reports each write's size.
type notifyWriter struct{ wrote chan int }

func (w notifyWriter) Write(p []byte) (int, error) { w.wrote <- len(p); return len(p), nil }

// TestPipeCopyForwardsWhatArrived: bytes the source has given are written
// while the source stalls; nothing waits for a chunk to fill.
func TestPipeCopyForwardsWhatArrived(t *testing.T) {
	src := &blockingReader{first: make([]byte, 1000), closed: make(chan struct{})}
	w := notifyWriter{wrote: make(chan int, 16)}
	done := make(chan error, 1)
	go func() {
		_, err := pipeCopy(w, src)
		done <- err
	}()
	select {
	case n := <-w.wrote:
		if n != 1000 {
			t.Fatalf("wrote %d bytes, want the 1000 that arrived", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bytes that arrived were held back while the source stalled")
	}
	close(src.closed)
	if err := <-done; err == nil || err.Error() != "closed" {
		t.Fatalf("err %v, want the source's", err)
	}
}
