package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultFlushInterval is kept for configurations that still set
// Options.FlushInterval; records are no longer buffered, so it has no effect.
const DefaultFlushInterval = 200 * time.Millisecond

// DefaultRetryInterval is how often a failed sink is tried again when
// Options.RetryInterval is zero.
const DefaultRetryInterval = time.Second

// ErrClosed is returned (wrapped) by Write after Close.
var ErrClosed = errors.New("audit log is closed")

// Options configures a Log. The zero value is usable: an unkeyed chain,
// no default task, no fsync, a failed sink retried every second, stamped
// by time.Now.
type Options struct {
	// Key is the HMAC-SHA256 chain key; empty makes an unkeyed chain
	// (plain SHA-256), which detects accidents but not a forger. It is
	// copied. Use at least 32 random bytes.
	Key []byte
	// Task is written as task in records whose Task is empty.
	Task string
	// FlushInterval is ignored: Write returns only once its record has
	// been written to the sink. It remains so that old configurations load.
	FlushInterval time.Duration
	// Sync makes every batch of records fsynced before the Writes that
	// wait for it return (files only), for machines that may lose power.
	Sync bool
	// RetryInterval is how often a failed sink is tried again; zero or
	// negative means DefaultRetryInterval.
	RetryInterval time.Duration
	// OnHealth, when set, is called (from a goroutine of the Log, never
	// with its lock held) when the sink fails, with the error, and when it
	// works again, with nil.
	OnHealth func(err error)
	// Now stamps records whose Time is zero; nil means time.Now.
	Now func() time.Time
}

// Log is an append-only, chained audit log. It is safe for concurrent use;
// each record is written whole, never interleaved with another.
//
// Write returns only after its record has been handed to the sink's
// write(2) (and, with Options.Sync, fsynced): a caller that forwards a
// request after Write returns nil never forwards an unrecorded one, even
// if the process is killed right after. Concurrent Writes are grouped: the
// first writer writes every record encoded so far in one call while the
// others wait for it (group commit), so the cost per record falls as
// concurrency rises.
//
// When the sink fails, the records not written are dropped (their Writes
// return the error, so their requests are denied), the chain is rolled
// back to the last record written, and every Write fails at once until a
// background retry manages to write a resume record that continues the
// chain; then the Log is healthy again.
type Log struct {
	name string // the sink, for errors: a path, "stdout", "stderr"
	w    io.Writer
	file *os.File // closed by Close; nil for stdout, stderr and New
	sync bool
	task string
	now  func() time.Time

	onHealth func(error)
	retry    time.Duration
	healthy  atomic.Bool

	mu      sync.Mutex
	cond    sync.Cond // signalled when writing ends, for Close
	enc     *encoder
	seq     uint64 // last seq encoded
	cur     *batch // records encoded and not yet taken by a writer
	spare   []byte
	writing bool
	written uint64       // last seq handed to the sink
	lastMAC [hexLen]byte // its mac, hex
	err     error        // the sink failure, wrapped; nil while healthy
	torn    bool         // the sink's last bytes are a partial line
	// unanswered: the last record in the sink was written but for its
	// newline, and its Write failed (its request was denied).
	unanswered bool
	failed     uint64 // records refused since the failure
	closed     bool

	stop      chan struct{}
	retrying  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// batch is the records one write(2) carries.
type batch struct {
	buf   []byte
	ends  []int  // offset just past each line
	first uint64 // seq of the first line
	done  bool
	upTo  uint64 // after done: the last seq written; later ones failed
	err   error  // after done: why the rest failed

	doneCh chan struct{} // closed when done
	lead   chan struct{} // closed when the batch before it is done: its waiters may write it
	led    bool          // lead is closed
}

func newBatch(first uint64, buf []byte) *batch {
	return &batch{first: first, buf: buf, doneCh: make(chan struct{}), lead: make(chan struct{})}
}

// finish marks b done; l.mu must be held.
func (b *batch) finish(upTo uint64, err error) {
	b.done, b.upTo, b.err = true, upTo, err
	close(b.doneCh)
}

// New returns a Log writing a new chain (seq 1, prev all zeros) to w.
// Close does not close w. Use Open to continue a file.
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
// a chain that cannot verify. The one exception is a partial last line
// (a crash cut the last write): its bytes are moved to a side file
// (path.torn-<time>), the file is cut back to its last complete record,
// and a resume record naming the side file continues the chain.
func Open(path string, opts Options) (*Log, error) {
	switch path {
	case "":
		return nil, errors.New("open audit log: empty path")
	case "stdout":
		return newLog(os.Stdout, path, nil, opts, 0, ""), nil
	case "stderr":
		return newLog(os.Stderr, path, nil, opts, 0, ""), nil
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	q, err := quarantineTorn(path, now)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	seq, mac, err := readTail(path, opts.Key)
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	l := newLog(f, path, f, opts, seq, mac)
	if q != "" {
		if err := l.Write(&Record{Event: EventLifecycle, Phase: PhaseResume, Detail: q}); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	return l, nil
}

func newLog(w io.Writer, name string, file *os.File, opts Options, seq uint64, prev string) *Log {
	l := &Log{
		name:     name,
		w:        w,
		file:     file,
		sync:     opts.Sync,
		task:     opts.Task,
		now:      opts.Now,
		onHealth: opts.OnHealth,
		retry:    opts.RetryInterval,
		enc:      newEncoder(opts.Key),
		seq:      seq,
		written:  seq,
		cur:      newBatch(seq+1, nil),
		stop:     make(chan struct{}),
	}
	l.cond.L = &l.mu
	l.healthy.Store(true)
	if l.now == nil {
		l.now = time.Now
	}
	if l.retry <= 0 {
		l.retry = DefaultRetryInterval
	}
	copy(l.enc.prev[:], zeroMAC)
	if prev != "" {
		copy(l.enc.prev[:], prev)
	}
	l.lastMAC = l.enc.prev
	return l
}

// Write appends r to the log and returns once r's line has been written
// to the sink (fsynced too with Options.Sync). It assigns the next seq,
// stamps a zero Time with the clock, fills an empty Task from
// Options.Task, and chains the record to the previous one. While the sink
// is failing, Write returns the failure at once and writes nothing. An
// invalid record is refused with ErrInvalidRecord and leaves the log
// usable.
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
	if l.err != nil {
		l.failed++
		err := l.err
		l.mu.Unlock()
		return err
	}
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("audit log: write %s: %w", l.name, ErrClosed)
	}
	t := r.Time
	if t.IsZero() {
		t = l.now() // under the lock, so that stamped times follow seq
	}
	line, err := l.enc.encode(r, t, l.seq+1, task)
	if err != nil {
		l.mu.Unlock()
		return fmt.Errorf("audit log: encode record: %w", err)
	}
	l.seq++
	l.enc.commit()
	b := l.cur
	b.buf = append(b.buf, line...)
	b.ends = append(b.ends, len(b.buf))
	seq := l.seq
	err = l.await(b, seq)
	l.mu.Unlock()
	return err
}

// await waits until b is written, writing it (and whatever joined it)
// itself when no other writer is busy, and reports whether seq made it.
// l.mu must be held.
func (l *Log) await(b *batch, seq uint64) error {
	for !b.done {
		if !l.writing {
			l.writeBatch() // b is l.cur: no batch is in flight
			continue
		}
		done, lead := b.doneCh, b.lead
		if b != l.cur {
			lead = nil // b is being written: only its end matters
		}
		l.mu.Unlock()
		select {
		case <-done:
		case <-lead:
		}
		l.mu.Lock()
	}
	if seq <= b.upTo {
		return nil
	}
	return b.err
}

// writeBatch writes l.cur, the records encoded so far, in one call. l.mu
// must be held; it is released during the write.
func (l *Log) writeBatch() {
	b := l.cur
	l.cur = newBatch(l.seq+1, l.spare[:0])
	l.spare = nil
	l.writing = true
	l.mu.Unlock()

	n, err := l.w.Write(b.buf)
	if err == nil && n < len(b.buf) {
		err = io.ErrShortWrite
	}
	var syncErr error
	if err == nil && l.sync && l.file != nil {
		syncErr = l.file.Sync()
	}

	l.mu.Lock()
	l.writing = false
	var (
		upTo   uint64 // the last seq whose Write succeeds
		failed error
	)
	switch {
	case err != nil:
		// The lines wholly written stay in the chain; a partial line is
		// torn, and every record after it is dropped.
		k := 0
		for k < len(b.ends) && b.ends[k] <= n {
			k++
		}
		upTo = b.first + uint64(k) - 1
		if k < len(b.ends) && n == b.ends[k]-1 {
			k++ // all but the newline: the record is in the file, the resume's newline ends it
			l.unanswered = true
		}
		if k > 0 {
			l.written = b.first + uint64(k) - 1
			copy(l.lastMAC[:], lineMAC(b.buf[:b.ends[k-1]]))
		}
		l.torn = n > 0 && b.buf[n-1] != '\n'
		failed = l.failLocked(fmt.Errorf("audit log: write %s: %w", l.name, err))
	case syncErr != nil:
		// Written but maybe not on disk: the chain moves on, the waiting
		// requests are denied.
		upTo = b.first - 1
		l.written = b.first + uint64(len(b.ends)) - 1
		copy(l.lastMAC[:], lineMAC(b.buf))
		failed = l.failLocked(fmt.Errorf("audit log: sync %s: %w", l.name, syncErr))
	default:
		upTo = b.first + uint64(len(b.ends)) - 1
		l.written = upTo
		copy(l.lastMAC[:], lineMAC(b.buf))
		if cap(b.buf) <= 1<<20 {
			l.spare = b.buf[:0]
		}
	}
	b.buf = nil
	b.finish(upTo, failed)
	if c := l.cur; len(c.ends) > 0 && !c.led {
		c.led = true
		close(c.lead) // one of its waiters writes it next
	}
	if l.closed {
		l.cond.Broadcast()
	}
	if failed != nil && l.onHealth != nil {
		go l.onHealth(failed)
	}
}

// lineMAC returns the mac of the last line in b (which ends in a newline).
func lineMAC(b []byte) []byte {
	end := len(b) - 1 - len(macEnd)
	return b[end-hexLen : end]
}

// failLocked marks the sink failed: the records encoded after the last
// one written are dropped, the chain is rolled back to it, and a retry
// starts. It returns err. l.mu must be held.
func (l *Log) failLocked(err error) error {
	if len(l.cur.ends) > 0 {
		l.cur.finish(l.cur.first-1, err)
		l.cur = newBatch(0, nil)
	}
	l.failed += l.seq - l.written
	l.seq = l.written
	l.enc.prev = l.lastMAC
	l.cur.first = l.seq + 1
	first := l.err == nil
	l.err = err
	l.healthy.Store(false)
	if first && !l.closed {
		l.retrying.Add(1)
		go l.retryLoop()
	}
	return err
}

// retryLoop tries, every l.retry until Close, to write a resume record
// after a failure; once one is written, the Log is healthy again.
func (l *Log) retryLoop() {
	defer l.retrying.Done()
	t := time.NewTicker(l.retry)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if l.tryResume() {
			if l.onHealth != nil {
				l.onHealth(nil)
			}
			return
		}
	}
}

// tryResume writes a resume record describing the failure. It reports
// whether the sink took it.
func (l *Log) tryResume() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil || l.closed || l.writing {
		return l.err == nil
	}
	detail := fmt.Sprintf("the audit sink failed (%v); %d records could not be written and their requests were denied", l.err, l.failed)
	if l.torn && !l.unanswered && l.file != nil {
		// A file: move the partial line aside rather than leave a line
		// that is not a record. (Writes wait on the lock meanwhile; they
		// fail at once anyway.)
		q, err := quarantineTorn(l.name, l.now)
		if err != nil {
			return false // the disk is likely still full: try again later
		}
		if q != "" {
			detail += "; " + q
		}
		l.torn = false
	}
	if l.unanswered {
		detail += "; the record before this one was written without its newline, so its request was denied too"
	} else if l.torn {
		detail += "; a partial line the failed write left is ended by the newline before this record"
	}
	r := &Record{Event: EventLifecycle, Phase: PhaseResume, Detail: detail}
	line, err := l.enc.encode(r, l.now(), l.seq+1, l.task)
	if err != nil {
		return false
	}
	buf := line
	if l.torn {
		buf = append([]byte{'\n'}, line...)
	}
	l.writing = true
	l.mu.Unlock()
	n, err := l.w.Write(buf)
	if err == nil && l.sync && l.file != nil {
		err = l.file.Sync()
	}
	l.mu.Lock()
	l.writing = false
	l.cond.Broadcast()
	if err != nil {
		if n > 0 {
			l.torn = buf[n-1] != '\n'
		}
		return false
	}
	l.seq++
	l.written = l.seq
	l.enc.commit()
	l.lastMAC = l.enc.prev
	l.cur = newBatch(l.seq+1, nil)
	l.err, l.torn, l.failed, l.unanswered = nil, false, 0, false
	l.healthy.Store(true)
	return true
}

// Healthy reports whether the sink is taking records.
func (l *Log) Healthy() bool { return l.healthy.Load() }

// Err reports the current sink failure, or nil while the sink works.
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
	return l.written
}

// Flush returns the current sink failure, if any: Write leaves nothing
// buffered. It remains for callers written against buffered logs.
func (l *Log) Flush() error { return l.Err() }

// Close waits for writes in progress, stops retrying, and syncs and
// closes the file it opened. It returns the sink failure if the sink is
// failing. Later calls return the same result.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true // no retry starts from here on
		l.mu.Unlock()
		close(l.stop)
		l.retrying.Wait()

		l.mu.Lock()
		defer l.mu.Unlock()
		for l.writing || len(l.cur.ends) > 0 {
			if l.writing {
				l.cond.Wait()
				continue
			}
			l.writeBatch() // records that were waiting when Close began
		}
		errs := []error{l.err}
		if l.file != nil {
			if err := l.file.Sync(); err != nil && l.err == nil {
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
