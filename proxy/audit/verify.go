package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Kinds of ChainError.
const (
	KindMalformed = "malformed" // a line is not a record
	KindModified  = "modified"  // a record's mac does not match its bytes
	KindRemoved   = "removed"   // records are missing before this one
	KindReordered = "reordered" // seq goes backwards, repeats, or records were swapped
	KindTruncated = "truncated" // the tail was cut, or a run ended without its checkpoint
	KindKey       = "key"       // the log was chained with a key and verified without, or the reverse
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Key is the chain key; empty verifies an unkeyed chain.
	Key []byte
	// AllowOpen accepts a log that does not end with an exit checkpoint
	// (one still being written) and runs that were killed before writing
	// theirs. A cut last line is still an error.
	AllowOpen bool
}

// Report summarises a log. On error it covers the records before the
// problem.
type Report struct {
	Records  int    // records verified
	FirstSeq uint64 // seq of the first record
	LastSeq  uint64 // seq of the last verified record
	Keyed    bool   // the chain is HMAC-keyed (verified with the key)
	Runs     int    // lifecycle start records
	Clean    bool   // the log ends with an exit checkpoint
	// Resumes are the resume records: places where Airlock itself
	// recorded a break in the log (a sink that failed and recovered, a
	// partial line a crash left, moved aside) and continued the chain.
	Resumes []Resume
}

// Resume is one resume record found by Verify.
type Resume struct {
	Line   int    // its line
	Seq    uint64 // its seq
	Torn   bool   // a partial line (the failed write's bytes) comes just before it
	Detail string // what Airlock recorded about the break
}

// ChainError is the first problem Verify found.
type ChainError struct {
	Line int    // 1-based line number; 0 when the log has no lines
	Seq  uint64 // the record's seq, or 0 when it could not be read
	Kind string // one of the Kind constants
	Msg  string
}

func (e *ChainError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("audit log line %d: %s: %s", e.Line, e.Kind, e.Msg)
	}
	return fmt.Sprintf("audit log line %d (seq %d): %s: %s", e.Line, e.Seq, e.Kind, e.Msg)
}

// Verify reads a log from r and checks every record's mac, the sequence,
// the prev links, and the exit checkpoint at the end. It returns a
// *ChainError for the first problem, or another error if r fails. Key
// bytes never appear in its errors.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	v := verifier{
		opts:  opts,
		lines: newLineReader(r),
		chain: newChainHash(opts.Key),
	}
	return v.run()
}

type verifier struct {
	opts  VerifyOptions
	lines *lineReader
	chain *chainHash
	rep   Report
	line  int
	prev  [hexLen]byte // mac of the last verified record
	exit  bool         // the last verified record is an exit checkpoint
	// resumed: the last verified record is a resume record, which
	// accounts for a run that ended without its exit checkpoint.
	resumed bool
}

func (v *verifier) fail(seq uint64, kind, format string, args ...any) (Report, error) {
	return v.rep, &ChainError{Line: v.line, Seq: seq, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (v *verifier) run() (Report, error) {
	for {
		b, complete, err := v.lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		v.line++
		if errors.Is(err, errLineTooLong) {
			return v.fail(0, KindMalformed, "%v", err)
		}
		if err != nil {
			return v.rep, fmt.Errorf("verify audit log: read line %d: %w", v.line, err)
		}
		if !complete {
			return v.fail(0, KindTruncated, "the line after seq %d is incomplete (no trailing newline): the tail was cut or Airlock is still writing", v.rep.LastSeq)
		}
		p, err := parseLine(b)
		torn := false
		if err != nil {
			// A write that failed part-way leaves a partial line; Airlock
			// ends it with the newline of the resume record that follows.
			if p, torn = v.resumeAfterTorn(); !torn {
				return v.fail(0, KindMalformed, "%v", err)
			}
		}
		if rep, err := v.check(&p); err != nil {
			return rep, err
		}
		v.accept(&p, torn)
	}

	v.rep.Clean = v.exit
	switch {
	case v.opts.AllowOpen || v.rep.Clean:
		return v.rep, nil
	case v.rep.Records == 0:
		return v.fail(0, KindTruncated, "the log has no records")
	default:
		return v.fail(v.rep.LastSeq, KindTruncated,
			"log ends at seq %d without an exit checkpoint: Airlock was killed, is still running, or the tail was cut", v.rep.LastSeq)
	}
}

// check returns a ChainError if p does not follow the verified records.
func (v *verifier) check(p *parsedLine) (Report, error) {
	first := v.rep.Records == 0
	if !v.chain.matches(p.body, p.mac) {
		return v.macMismatch(p, first)
	}
	if first {
		if p.seq != 1 || string(p.prev) != zeroMAC {
			return v.fail(p.seq, KindRemoved, "the first record has seq %d and a prev that is not all zeros: records before it were removed", p.seq)
		}
		v.rep.Keyed = len(v.opts.Key) > 0
		return v.rep, nil
	}
	last := v.rep.LastSeq
	switch {
	case p.seq == last:
		return v.fail(p.seq, KindReordered, "seq %d repeats", p.seq)
	case p.seq < last:
		return v.fail(p.seq, KindReordered, "seq %d comes after seq %d: records were reordered", p.seq, last)
	case p.seq > last+1:
		return v.gap(p)
	case !bytes.Equal(p.prev, v.prev[:]):
		return v.fail(p.seq, KindRemoved, "prev is not the mac of seq %d: a record was removed or replaced", last)
	}
	if p.isStart() && !v.exit && !v.resumed && !v.opts.AllowOpen {
		return v.fail(p.seq, KindTruncated,
			"a run starts, but the previous one ends at seq %d without an exit checkpoint: Airlock was killed, or its tail was cut", last)
	}
	return v.rep, nil
}

// macMismatch explains a record whose mac is not the chain's.
func (v *verifier) macMismatch(p *parsedLine, first bool) (Report, error) {
	keyed := len(v.opts.Key) > 0
	if !keyed {
		if first {
			return v.fail(p.seq, KindKey, "the record does not match the unkeyed chain: the log is keyed (pass the key file) or the first record was modified")
		}
		return v.fail(p.seq, KindModified, "the mac does not match the record: it was modified")
	}
	if newChainHash(nil).matches(p.body, p.mac) {
		if first {
			return v.fail(p.seq, KindKey, "the mac is plain SHA-256: the log is unkeyed (verify without the key) or was rewritten without it")
		}
		return v.fail(p.seq, KindModified, "the mac is plain SHA-256, not keyed: the record was modified and rewritten without the key")
	}
	if first {
		return v.fail(p.seq, KindModified, "the mac does not match the record under this key: the key is wrong or the record was modified")
	}
	return v.fail(p.seq, KindModified, "the mac does not match the record: it was modified")
}

// gap explains a seq that jumps forward: a swap if the next line holds a
// missing seq, a removal otherwise.
func (v *verifier) gap(p *parsedLine) (Report, error) {
	last := v.rep.LastSeq
	if b, complete, err := v.lines.next(); err == nil && complete {
		if q, err := parseLine(b); err == nil && q.seq > last && q.seq < p.seq {
			return v.fail(p.seq, KindReordered, "seq %d comes before seq %d (next line): records were reordered", p.seq, q.seq)
		}
	}
	return v.fail(p.seq, KindRemoved, "seq jumps from %d to %d: %d record(s) missing", last, p.seq, p.seq-last-1)
}

// resumeAfterTorn is called on a line that is not a record. It reads
// the next line and returns it if it is a resume record that continues
// the chain from the last verified record (so the bad line is a partial
// write Airlock itself recovered from).
func (v *verifier) resumeAfterTorn() (parsedLine, bool) {
	if v.rep.Records == 0 {
		return parsedLine{}, false
	}
	b, complete, err := v.lines.next()
	if err != nil || !complete {
		return parsedLine{}, false
	}
	p, err := parseLine(b)
	if err != nil || !p.isResume() || p.seq != v.rep.LastSeq+1 || !bytes.Equal(p.prev, v.prev[:]) || !v.chain.matches(p.body, p.mac) {
		return parsedLine{}, false
	}
	v.line++
	return p, true
}

// accept counts p as verified.
func (v *verifier) accept(p *parsedLine, torn bool) {
	if v.rep.Records == 0 {
		v.rep.FirstSeq = p.seq
	}
	v.rep.Records++
	v.rep.LastSeq = p.seq
	if p.isStart() {
		v.rep.Runs++
	}
	v.exit = p.isExit()
	v.resumed = p.isResume()
	if v.resumed {
		v.rep.Resumes = append(v.rep.Resumes, Resume{Line: v.line, Seq: p.seq, Torn: torn, Detail: p.detail})
	}
	copy(v.prev[:], p.mac)
}
