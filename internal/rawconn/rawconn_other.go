//go:build !linux

package rawconn

import (
	"context"
	"net"
	"time"
)

// Wrap returns c unchanged: raw system calls are used on Linux only.
func Wrap(c net.Conn) net.Conn { return c }

// NewListener returns ln unchanged.
func NewListener(ln net.Listener) net.Listener { return ln }

// Dial returns d.DialContext.
func Dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.DialContext
}

// Conn is never made on this platform; Of returns nil.
type Conn struct{ net.Conn }

// SetReadBatch does nothing.
func (c *Conn) SetReadBatch(int, time.Duration) error { return nil }

// Of returns nil.
func Of(net.Conn) *Conn { return nil }
