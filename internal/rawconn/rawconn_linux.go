package rawconn

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Wrap returns c with Read and Write issued as raw non-blocking system
// calls. A connection without a file descriptor (a *tls.Conn, a net.Pipe)
// is returned unchanged; wrap the socket under a TLS connection instead.
func Wrap(c net.Conn) net.Conn {
	if _, done := c.(*Conn); done {
		return c
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{Conn: c, rc: rc}
}

// Of returns the wrapped socket c is or runs on (through a *tls.Conn), or
// nil.
func Of(c net.Conn) *Conn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	w, _ := c.(*Conn)
	return w
}

// Conn is a wrapped connection. Its other methods are the socket's own.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	// Read batching (SetReadBatch); used by the reading goroutine only.
	batchWait time.Duration // 0: off
	drained   bool          // the last read emptied the socket
}

// Read reads up to len(b) bytes, waiting in the netpoller while the socket
// has none. It returns io.EOF when the peer has closed its side.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if c.batchWait > 0 {
		return c.batchRead(b)
	}
	var r readResult
	err := c.rc.Read(func(fd uintptr) bool { return r.read(fd, b) })
	return c.readReturn(r, err)
}

// readResult is one read(2)'s outcome.
type readResult struct {
	n     int
	errno syscall.Errno
}

// read reads once into b; false means the socket had nothing (EAGAIN).
func (r *readResult) read(fd uintptr, b []byte) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the netpoller
		default:
			r.errno = e
			return true
		}
	}
}

func (c *Conn) readReturn(r readResult, err error) (int, error) {
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case r.errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", r.errno))
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// SetReadBatch makes Read gather at least n bytes in the socket before it
// returns, waiting at most wait for them, after which it returns what has
// arrived: fewer, larger reads for a stream such as COPY OUT, at the cost
// of up to wait at the stream's end. n <= 0 or wait <= 0 turns it off.
// While it is on, Read uses the read deadline itself: a deadline set by the
// caller does not hold. Call it from the goroutine that reads.
func (c *Conn) SetReadBatch(n int, wait time.Duration) error {
	if n <= 0 || wait <= 0 {
		n, wait = 1, 0 // SO_RCVLOWAT's default
	}
	var serr error
	err := c.rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	})
	if err == nil && serr != nil {
		err = os.NewSyscallError("setsockopt SO_RCVLOWAT", serr)
	}
	if err != nil {
		return c.opError("set", err)
	}
	c.batchWait, c.drained = wait, false
	return nil
}

// batchRead is Read under SO_RCVLOWAT: the netpoller wakes the goroutine
// only once the socket holds the low-water mark (or the peer closed), and
// every wait is bounded by batchWait, after which whatever has arrived is
// read: the tail of a stream is never stuck below the mark.
func (c *Conn) batchRead(b []byte) (int, error) {
	for {
		var r readResult
		// After a read that emptied the socket, wait for the mark before
		// reading again rather than read the few bytes that came since.
		skip := c.drained
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.batchWait))
		err := c.rc.Read(func(fd uintptr) bool {
			if skip {
				skip = false
				return false
			}
			return r.read(fd, b)
		})
		_ = c.Conn.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The mark was not reached in time: take what is there.
			got := false
			err = c.rc.Read(func(fd uintptr) bool {
				got = r.read(fd, b)
				return true
			})
			if err == nil && !got {
				c.drained = true // nothing there: wait for the mark again
				continue
			}
		}
		c.drained = err == nil && r.errno == 0 && r.n < len(b)
		return c.readReturn(r, err)
	}
}

// Write writes all of b, waiting in the netpoller whenever the socket's
// send buffer is full. On error it returns how much was written.
func (c *Conn) Write(b []byte) (int, error) {
	var (
		done  int
		errno syscall.Errno
	)
	err := c.rc.Write(func(fd uintptr) bool {
		for done < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
			switch e {
			case 0:
				done += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return done, c.opError("write", err)
	case errno != 0:
		return done, c.opError("write", os.NewSyscallError("write", errno))
	}
	return done, nil
}

// CloseWrite shuts down the writing side when the socket has one (TCP,
// Unix stream sockets).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Unwrap returns the socket.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// opError names the operation as net.Conn's Read and Write do (the raw
// connection says "raw-read"); errors.Is with net.ErrClosed and
// os.ErrDeadlineExceeded, and net.Error's Timeout, still hold.
func (c *Conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// NewListener returns ln with every accepted connection wrapped.
func NewListener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Dial is a DialContext (net.Dialer's signature) whose connections are
// wrapped.
func Dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}
