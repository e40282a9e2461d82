//go:build linux

package rawconn_test

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/rawconn"
)

// BenchmarkPingPong sends 100-byte messages back and forth between two
// goroutines over loopback TCP, the shape of a query and its reply.
func BenchmarkPingPong(b *testing.B) {
	bothWays(b, func(b *testing.B, w, peer net.Conn) {
		go func() {
			buf := make([]byte, 100)
			for {
				if _, err := io.ReadFull(peer, buf); err != nil {
					return
				}
				if _, err := peer.Write(buf); err != nil {
					return
				}
			}
		}()
		msg := make([]byte, 100)
		b.SetBytes(int64(2 * len(msg)))
		b.ResetTimer()
		cpu := cpuTime()
		for range b.N {
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(w, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkStream writes 64 KiB blocks one way, the shape of a large
// object or COPY.
func BenchmarkStream(b *testing.B) {
	bothWays(b, func(b *testing.B, w, peer net.Conn) {
		done := make(chan struct{})
		go func() {
			io.Copy(io.Discard, peer)
			close(done)
		}()
		blk := make([]byte, 64<<10)
		b.SetBytes(int64(len(blk)))
		b.ResetTimer()
		cpu := cpuTime()
		for range b.N {
			if _, err := w.Write(blk); err != nil {
				b.Fatal(err)
			}
		}
		w.(interface{ CloseWrite() error }).CloseWrite()
		<-done
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// bothWays runs f as sub-benchmarks "net" (the plain socket) and "raw"
// (wrapped), w being the side under test.
func bothWays(b *testing.B, f func(b *testing.B, w, peer net.Conn)) {
	for _, raw := range []bool{false, true} {
		name := "net"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			w, peer := pair(b, "tcp")
			if !raw {
				w = w.(*rawconn.Conn).Unwrap()
			}
			f(b, w, peer)
		})
	}
}

var _ net.Conn = (*rawconn.Conn)(nil)

// cpuTime is the process's user and system CPU time: both ends run here,
// so it is what a message costs the machine, scheduler included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
