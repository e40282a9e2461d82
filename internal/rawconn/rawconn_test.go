//go:build linux

package rawconn_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/rawconn"
)

// pair returns a wrapped accepted connection and a plain client to it.
func pair(t testing.TB, network string) (wrapped, peer net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	peer, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.Fatal("accept failed")
	}
	w := rawconn.Wrap(c)
	if _, ok := w.(*rawconn.Conn); !ok {
		t.Fatalf("Wrap(%T) did not wrap", c)
	}
	t.Cleanup(func() { w.Close(); peer.Close() })
	return w, peer
}

func TestRoundTrip(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			w, peer := pair(t, network)
			// 8 MiB each way is far more than the socket buffers hold, so
			// both directions hit EAGAIN and wait in the netpoller.
			want := make([]byte, 8<<20)
			rand.Read(want)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(w, int64(len(want))))
				got <- b
			}()
			if n, err := peer.Write(want); err != nil || n != len(want) {
				t.Fatalf("peer write: %d, %v", n, err)
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("wrapped read %d bytes, not the %d written", len(b), len(want))
			}

			back := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
				back <- b
			}()
			if n, err := w.Write(want); err != nil || n != len(want) {
				t.Fatalf("wrapped write: %d, %v", n, err)
			}
			if b := <-back; !bytes.Equal(b, want) {
				t.Fatalf("peer read %d bytes, not the %d written", len(b), len(want))
			}
		})
	}
}

func TestEOF(t *testing.T) {
	w, peer := pair(t, "tcp")
	peer.Write([]byte("last"))
	peer.Close()
	b, err := io.ReadAll(w)
	if err != nil || string(b) != "last" {
		t.Fatalf("ReadAll = %q, %v; want \"last\", nil (io.EOF ends it)", b, err)
	}
	if n, err := w.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	w, _ := pair(t, "tcp")
	w.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := w.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past deadline = %v; want a timeout wrapping os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline fired after %v", d)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("error %v: want a *net.OpError with Op read", err)
	}
}

func TestWriteDeadline(t *testing.T) {
	w, _ := pair(t, "tcp") // the peer never reads
	big := make([]byte, 64<<20)
	w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := w.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a stalled peer = %d, %v; want os.ErrDeadlineExceeded", n, err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("Write reported %d bytes written; want the part the buffers took", n)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	w, _ := pair(t, "tcp")
	errc := make(chan error, 1)
	go func() {
		_, err := w.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	w.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v; want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}

func TestCloseWrite(t *testing.T) {
	w, peer := pair(t, "tcp")
	w.Write([]byte("bye"))
	if err := w.(*rawconn.Conn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(peer)
	if err != nil || string(b) != "bye" {
		t.Fatalf("peer read %q, %v after CloseWrite; want \"bye\" then EOF", b, err)
	}
}

func TestWritePeerGone(t *testing.T) {
	w, peer := pair(t, "tcp")
	peer.Close()
	var err error
	for range 100 { // the first write may land before the RST
		if _, err = w.Write(make([]byte, 1<<16)); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write to a closed peer = %v; want a *net.OpError with Op write", err)
	}
}

func TestNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if w := rawconn.Wrap(a); w != a {
		t.Fatalf("Wrap(net.Pipe) = %T; want it unchanged", w)
	}
	w, _ := pair(t, "tcp")
	if rawconn.Wrap(w) != w {
		t.Fatal("Wrap of a wrapped conn wrapped it again")
	}
}

func TestListenerAndDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := rawconn.NewListener(ln)
	defer wl.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := wl.Accept()
		accepted <- c
	}()
	c, err := rawconn.Dial(&net.Dialer{})(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	defer s.Close()
	for name, conn := range map[string]net.Conn{"dialed": c, "accepted": s} {
		if _, ok := conn.(*rawconn.Conn); !ok {
			t.Errorf("%s connection is a %T, not wrapped", name, conn)
		}
	}
	c.Write([]byte("ping"))
	b := make([]byte, 4)
	if _, err := io.ReadFull(s, b); err != nil || string(b) != "ping" {
		t.Fatalf("read %q, %v", b, err)
	}
}
