//go:build linux

package rawconn_test

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/rawconn"
)

// TestReadBatchGathers trickles 64 KiB in 1 KiB pieces: batched, Read
// returns them in a few large reads instead of one per piece.
func TestReadBatchGathers(t *testing.T) {
	for _, batched := range []bool{false, true} {
		w, peer := pair(t, "tcp")
		rc := w.(*rawconn.Conn)
		if batched {
			if err := rc.SetReadBatch(32<<10, 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			piece := make([]byte, 1<<10)
			for range 64 {
				peer.Write(piece)
				time.Sleep(time.Millisecond)
			}
		}()
		reads, total := 0, 0
		buf := make([]byte, 64<<10)
		for total < 64<<10 {
			n, err := rc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			reads, total = reads+1, total+n
		}
		t.Logf("batched=%v: %d reads", batched, reads)
		if batched && reads > 16 {
			t.Errorf("batched: 64 KiB took %d reads; want a few reads of up to 32 KiB", reads)
		}
		if !batched && reads < 16 {
			t.Errorf("unbatched: %d reads; the trickle should have needed one per piece or so (the test cannot tell batching apart)", reads)
		}
	}
}

// TestReadBatchTail: bytes below the mark still arrive, after at most the
// wait, and so does EOF.
func TestReadBatchTail(t *testing.T) {
	w, peer := pair(t, "tcp")
	rc := w.(*rawconn.Conn)
	if err := rc.SetReadBatch(32<<10, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for i := range 3 { // the first read, and reads after one that emptied the socket
		peer.Write([]byte("tail!"))
		start := time.Now()
		n, err := rc.Read(buf)
		if err != nil || string(buf[:n]) != "tail!" {
			t.Fatalf("read %d: %q, %v; want \"tail!\"", i, buf[:n], err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("read %d took %v", i, d)
		}
	}
	// Nothing sent for several waits, then a few bytes: still read.
	go func() {
		time.Sleep(100 * time.Millisecond)
		peer.Write([]byte("late"))
		peer.Close()
	}()
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "late" {
		t.Fatalf("ReadAll = %q, %v; want \"late\" then EOF", b, err)
	}
}

// TestReadBatchOff restores the socket's low-water mark of 1 byte.
func TestReadBatchOff(t *testing.T) {
	w, peer := pair(t, "tcp")
	rc := w.(*rawconn.Conn)
	if err := rc.SetReadBatch(32<<10, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := rcvlowat(t, rc); got != 32<<10 {
		t.Fatalf("SO_RCVLOWAT = %d while batching; want %d", got, 32<<10)
	}
	if err := rc.SetReadBatch(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := rcvlowat(t, rc); got != 1 {
		t.Fatalf("SO_RCVLOWAT = %d after turning batching off; want 1", got)
	}
	peer.Write([]byte("x"))
	rc.SetReadDeadline(time.Now().Add(5 * time.Second)) // the caller's deadline holds again
	if n, err := rc.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
}

func rcvlowat(t *testing.T, c *rawconn.Conn) int {
	t.Helper()
	sc, err := c.Unwrap().(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	sc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestOf(t *testing.T) {
	w, _ := pair(t, "tcp")
	if rawconn.Of(w) != w {
		t.Error("Of(wrapped) is not the wrapped conn")
	}
	if rawconn.Of(tls.Client(w, &tls.Config{})) != w {
		t.Error("Of(tls over wrapped) is not the wrapped conn")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if rawconn.Of(a) != nil {
		t.Error("Of(net.Pipe) is not nil")
	}
}
