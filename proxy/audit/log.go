package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultFlushInterval is how often buffered records reach the sink when
// Options.FlushInterval is zero.
const DefaultFlushInterval = 200 * time.Millisecond

// bufferSize is the write buffer. A record that fits is never split across
// two writes to the sink.
const bufferSize = 64 << 10

// ErrClosed is returned (wrapped) by Write after Close.
var ErrClosed = errors.New("audit log is closed")

// Options configures a Log. The zero value is usable: an unkeyed chain,
// no default task, flushed every DefaultFlushInterval, stamped by time.Now.
type Options struct {
	// Key is the HMAC-SHA256 chain key; empty makes an unkeyed chain
	// (plain SHA-256), which detects accidents but not a forger. It is
	// copied. Use at least 32 random bytes.
	Key []byte
	// Task is written as task in records whose Task is empty.
	Task string
	// FlushInterval is how long a record may wait in the buffer;
	// zero or negative means DefaultFlushInterval.
	FlushInterval time.Duration
	// Now stamps records whose Time is zero; nil means time.Now.
	Now func() time.Time
}

// Log is an append-only, chained audit log. It is safe for concurrent use;
// each record is written whole, never interleaved with another. Call Close
// to flush it and stop its flush goroutine.
type Log struct {
	name string   // the sink, for errors: a path, "stdout", "stderr"
	file *os.File // closed by Close; nil for stdout, stderr and New
	task string   // default task
	now  func() time.Time

	mu     sync.Mutex
	bw     *bufio.Writer
	enc    *encoder
	seq    uint64 // last seq written
	err    error  // first sink failure, wrapped; sticky
	closed bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New returns a Log writing a new chain (seq 1, prev all zeros) to w.
// Close flushes but does not close w. Use Open to continue a file.
func New(w io.Writer, opts Options) *Log {
	name := "writer"
	if n, ok := w.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return newLog(w, name, nil, opts, 0, "")
}

// Open opens the audit log at path: "stdout" and "stderr" name the
// process's streams (not closed by Close); anything else is a file, opened
// for appending and created with mode 0600. A non-empty file's chain is
// continued from its last record, which must be a complete record whose
// mac matches opts.Key; otherwise Open refuses the file rather than start
// a chain that cannot verify.
func Open(path string, opts Options) (*Log, error) {
	switch path {
	case "":
		return nil, errors.New("open audit log: empty path")
	case "stdout":
		return newLog(os.Stdout, path, nil, opts, 0, ""), nil
	case "stderr":
		return newLog(os.Stderr, path, nil, opts, 0, ""), nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	seq, mac, err := readTail(path, opts.Key)
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return newLog(f, path, f, opts, seq, mac), nil
}

func newLog(w io.Writer, name string, file *os.File, opts Options, seq uint64, prev string) *Log {
	l := &Log{
		name: name,
		file: file,
		task: opts.Task,
		now:  opts.Now,
		bw:   bufio.NewWriterSize(w, bufferSize),
		enc:  newEncoder(opts.Key),
		seq:  seq,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if prev != "" {
		copy(l.enc.prev[:], prev)
	}
	interval := opts.FlushInterval
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	go l.flushEvery(interval)
	return l
}

// Write appends r to the log. It assigns the next seq, stamps a zero Time
// with the clock, fills an empty Task from Options.Task, and chains the
// record to the previous one. A nil error means the record is buffered;
// once a write or flush to the sink has failed, Write returns that error
// and writes nothing. An invalid record is refused with ErrInvalidRecord
// and leaves the log usable.
func (l *Log) Write(r *Record) error {
	if r == nil {
		return fmt.Errorf("audit log: %w: nil record", ErrInvalidRecord)
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	task := r.Task
	if task == "" {
		task = l.task
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return fmt.Errorf("audit log: write %s: %w", l.name, ErrClosed)
	}
	t := r.Time
	if t.IsZero() {
		t = l.now() // under the lock, so that stamped times follow seq
	}
	line, err := l.enc.encode(r, t, l.seq+1, task)
	if err != nil {
		return fmt.Errorf("audit log: encode record: %w", err)
	}
	// Flush first rather than let bufio split the line across two writes.
	if len(line) > l.bw.Available() && l.bw.Buffered() > 0 {
		if err := l.bw.Flush(); err != nil {
			return l.fail(err)
		}
	}
	if _, err := l.bw.Write(line); err != nil {
		return l.fail(err)
	}
	l.seq++
	l.enc.commit()
	return nil
}

// fail records the first sink failure and returns it; l.mu must be held.
func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("audit log: write %s: %w", l.name, err)
	}
	return l.err
}

// Err reports the sink failure that closed the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Seq returns the seq of the last record written, 0 if none; for a
// continued file, the last seq already in it.
func (l *Log) Seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Flush writes buffered records to the sink.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *Log) flushLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.bw.Buffered() == 0 {
		return nil
	}
	if err := l.bw.Flush(); err != nil {
		return l.fail(err)
	}
	return nil
}

// Close flushes the log, stops its flush goroutine, and syncs and closes
// the file it opened. Later calls return the same result.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.done

		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		errs := []error{l.flushLocked()}
		if l.file != nil {
			if err := l.file.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("audit log: sync %s: %w", l.name, err))
			}
			if err := l.file.Close(); err != nil {
				errs = append(errs, fmt.Errorf("audit log: close %s: %w", l.name, err))
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// flushEvery flushes the buffer every d until Close.
func (l *Log) flushEvery(d time.Duration) {
	defer close(l.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			_ = l.flushLocked() // kept in l.err; the next Write returns it
			l.mu.Unlock()
		}
	}
}
