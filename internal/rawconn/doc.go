// Package rawconn makes a socket's reads and writes cheaper for the Go
// scheduler on a busy proxy.
//
// net.Conn's Read and Write enter the runtime's syscall state. When a
// system call lasts longer than sysmon's 20 µs tick, which a loopback write
// does on a paravirtualised VM (the kernel delivers the segment to the
// receiver inside the sender's call), and both Ps are busy, sysmon takes the
// P away: it wakes another thread to run it, the caller finds its P gone
// when the call returns and goes to sleep, and sysmon keeps ticking every
// 20 µs. Each of those steps is a futex or nanosleep call and a context
// switch.
//
// A socket's file descriptor is non-blocking, so read(2) and write(2) on it
// never wait: they return EAGAIN instead. Wrap issues them with
// syscall.RawSyscall through the connection's syscall.RawConn, so the P
// stays with the goroutine for the few microseconds the call takes, and the
// runtime's netpoller still parks the goroutine when the socket is not
// ready. Deadlines, Close from another goroutine and every other net.Conn
// method behave as before.
//
// Measured with a bare relay (pgbench -S, 8 clients, this project's 2-core
// VM): 37-41 µs of proxy CPU per transaction instead of 46-51.
package rawconn
