//go:build !linux

package rawconn

import (
	"context"
	"net"
)

// Wrap returns c unchanged: raw system calls are used on Linux only.
func Wrap(c net.Conn) net.Conn { return c }

// NewListener returns ln unchanged.
func NewListener(ln net.Listener) net.Listener { return ln }

// Dial returns d.DialContext.
func Dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.DialContext
}
