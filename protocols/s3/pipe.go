package s3

import (
	"io"
	"sync"
)

// pipeSize is the ring a pipelined copy streams through.
const pipeSize = 512 << 10

var pipeRings = sync.Pool{New: func() any { b := make([]byte, pipeSize); return &b }}

// pipe is a ring buffer between one reading goroutine (filling from the
// source) and one writing goroutine (draining to the destination). Each
// side wakes the other only through a one-slot channel, so a side that is
// busy costs the other nothing: while the writer writes, the reader keeps
// reading (for a TLS upstream: decrypting) into the free part of the ring,
// and the writer's next write takes everything that arrived meanwhile.
type pipe struct {
	buf []byte

	mu      sync.Mutex
	in, out int64 // bytes read from the source, written to the destination
	srcErr  error // the source's error (io.EOF at its end), after in

	data  chan struct{} // the reader added bytes or ended
	space chan struct{} // the writer freed space
	done  chan struct{} // the writer stopped
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// pipeCopy copies src to dst with reading and writing overlapped, through a
// 512 KiB ring whatever the body size. It returns the bytes written and the
// first error (src's io.EOF is not one). It does not wait for the reading
// goroutine: after a write error that goroutine may be blocked in a Read
// that only the caller's closing src ends.
func pipeCopy(dst io.Writer, src io.Reader) (int64, error) {
	ring := pipeRings.Get().(*[]byte)
	p := &pipe{buf: *ring, data: make(chan struct{}, 1), space: make(chan struct{}, 1), done: make(chan struct{})}
	go p.fill(src, ring)
	for {
		p.mu.Lock()
		avail, serr, out := p.in-p.out, p.srcErr, p.out
		p.mu.Unlock()
		if avail == 0 {
			if serr != nil {
				close(p.done)
				if serr == io.EOF {
					serr = nil
				}
				return out, serr
			}
			<-p.data
			continue
		}
		start := out % pipeSize
		end := min(start+avail, pipeSize)
		n, err := dst.Write(p.buf[start:end])
		p.mu.Lock()
		p.out += int64(n)
		out = p.out
		p.mu.Unlock()
		notify(p.space)
		if err != nil {
			close(p.done)
			return out, err
		}
	}
}

// fill reads src into the free part of the ring until src ends or the
// writer stops. The ring goes back to the pool only when the writer has
// finished with it and the reader is the last user.
func (p *pipe) fill(src io.Reader, ring *[]byte) {
	for {
		p.mu.Lock()
		free, in := pipeSize-(p.in-p.out), p.in
		p.mu.Unlock()
		if free == 0 {
			select {
			case <-p.space:
				continue
			case <-p.done:
				return // the writer failed: the ring may still be in its hands
			}
		}
		start := in % pipeSize
		end := min(start+free, pipeSize)
		n, err := src.Read(p.buf[start:end])
		p.mu.Lock()
		p.in += int64(n)
		if err != nil {
			p.srcErr = err
		}
		p.mu.Unlock()
		notify(p.data)
		if err != nil {
			// The writer drains what is left and returns; after done it
			// no longer touches the ring.
			<-p.done
			pipeRings.Put(ring)
			return
		}
		select {
		case <-p.done:
			return
		default:
		}
	}
}
