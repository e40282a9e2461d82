package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pipe relays bytes between a and b until both directions have ended, one
// fails, neither has carried a byte for idle, or ctx ends; then it closes
// both. A direction that ends cleanly half-closes the other side's write
// end, so a request-then-response exchange completes.
func pipe(ctx context.Context, a, b net.Conn, idle time.Duration) error {
	var last atomic.Int64 // unix nanos of the latest byte either way
	last.Store(time.Now().UnixNano())
	closeBoth := func() { a.Close(); b.Close() }
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	done := make(chan error, 2)
	go func() { done <- relay(b, a, &last, idle) }()
	go func() { done <- relay(a, b, &last, idle) }()
	err := <-done
	if err != nil {
		closeBoth() // the other direction ends too
	}
	err = errors.Join(err, <-done)
	closeBoth()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// errIdle ends a tunnel that carried nothing for the idle timeout.
var errIdle = errors.New("tunnel idle")

// relay copies src to dst. A read that times out ends it only when no byte
// went either way (last) for idle.
func relay(dst, src net.Conn, last *atomic.Int64, idle time.Duration) error {
	buf := relayBuffers.Get().(*[]byte)
	defer relayBuffers.Put(buf)
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(*buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write((*buf)[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if time.Since(time.Unix(0, last.Load())) >= idle {
				return errIdle
			}
		default:
			return err
		}
	}
}

var relayBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// connListener is a listener that yields one connection, then waits until
// that connection or the listener is closed: an http.Server serving one
// intercepted connection returns from Serve when it is done.
type connListener struct {
	mu     sync.Mutex
	conn   net.Conn // until accepted
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newConnListener(c net.Conn) *connListener {
	return &connListener{conn: c, addr: c.LocalAddr(), closed: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return &notifyConn{Conn: c, l: l}, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// notifyConn closes its listener when it is closed.
type notifyConn struct {
	net.Conn
	l *connListener
}

func (c *notifyConn) Close() error {
	err := c.Conn.Close()
	c.l.Close()
	return err
}
