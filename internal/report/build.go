package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// globalLimit bounds the cross-run most-denied resource counter.
const globalLimit = 10000

// Builder aggregates audit logs into a Report, one log at a time, keeping
// per-run totals rather than records.
type Builder struct {
	key   []byte
	runs  []*Run
	logs  []Log
	g     global
	total int64
}

type global struct {
	timeline *timeline
	denied   *counter
}

// Log is the chain status of one input log.
type Log struct {
	Source  string `json:"source"`
	Records int64  `json:"records"`
	Runs    int    `json:"runs"`
	Chain   string `json:"chain"`
	Detail  string `json:"detail,omitempty"`
	// BrokenSeq is the seq where the chain breaks (0: it does not, or the
	// broken line has no readable seq; see BrokenLine).
	BrokenSeq  uint64 `json:"broken_seq,omitempty"`
	BrokenLine int    `json:"broken_line,omitempty"`
	Malformed  int64  `json:"malformed_lines,omitempty"`
}

// Chain statuses of a log and its runs.
const (
	ChainVerified        = "verified"         // keyed chain verified with the key
	ChainVerifiedUnkeyed = "verified-unkeyed" // unkeyed chain verified: detects accidents, not forgery
	ChainBroken          = "broken"           // modified, removed, reordered, truncated or malformed
	ChainNoKey           = "no-key"           // the log is keyed and no key was given
	ChainUnreadable      = "unreadable"       // the input could not be read
)

// NewBuilder returns a Builder verifying chains with key (empty: the logs
// are expected to be unkeyed; a keyed log is then reported as no-key).
func NewBuilder(key []byte) *Builder {
	return &Builder{key: key, g: global{timeline: newTimeline(), denied: newCounter(globalLimit)}}
}

// Records returns how many records were read so far.
func (b *Builder) Records() int64 { return b.total }

// Add reads one log from r, verifying its chain while aggregating its
// records in the same pass and on the same goroutine: every chunk the
// verifier reads is also split into lines and folded into per-run totals.
// name labels the log in the report. A read error marks the log
// unreadable (its records read so far still count) and is returned.
func (b *Builder) Add(name string, r io.Reader) error {
	a := &aggregator{b: b, name: name, lg: Log{Source: name}}
	rep, verr := audit.Verify(io.TeeReader(r, a), audit.VerifyOptions{Key: b.key})
	// Verify stops at the first problem: read the rest so the report
	// still covers every record.
	_, rerr := io.Copy(a, r)
	a.flush()
	b.classify(&a.lg, rep, verr)
	lg := &a.lg
	if rerr != nil && lg.Chain != ChainUnreadable {
		lg.Chain, lg.Detail = ChainUnreadable, rerr.Error()
	}
	for _, run := range a.runs {
		run.Chain, run.ChainDetail = lg.Chain, lg.Detail
		if lg.Chain == ChainBroken {
			run.ChainDetail = fmt.Sprintf("at seq %d", lg.BrokenSeq)
			if lg.BrokenSeq > 0 && run.LastSeq < lg.BrokenSeq {
				run.Chain, run.ChainDetail = b.okStatus(), ""
			}
		}
		run.finish()
	}
	lg.Runs = len(a.runs)
	b.logs = append(b.logs, *lg)
	b.runs = append(b.runs, a.runs...)
	if rerr != nil {
		return fmt.Errorf("read %s: %w", name, rerr)
	}
	return nil
}

func (b *Builder) okStatus() string {
	if len(b.key) > 0 {
		return ChainVerified
	}
	return ChainVerifiedUnkeyed
}

// classify sets the log's chain status from Verify's result.
func (b *Builder) classify(lg *Log, rep audit.Report, err error) {
	var ce *audit.ChainError
	switch {
	case err == nil:
		lg.Chain = b.okStatus()
	case errors.As(err, &ce) && ce.Kind == audit.KindKey && len(b.key) == 0 && rep.Records == 0:
		lg.Chain, lg.Detail = ChainNoKey, "the log is keyed: pass --key-file to verify it"
	case errors.As(err, &ce):
		lg.Chain, lg.BrokenSeq, lg.BrokenLine = ChainBroken, ce.Seq, ce.Line
		if ce.Seq == 0 {
			// The line could not be read: it follows the last good record.
			lg.BrokenSeq = rep.LastSeq + 1
		}
		lg.Detail = fmt.Sprintf("broken at seq %d (line %d): %s: %s", lg.BrokenSeq, ce.Line, ce.Kind, ce.Msg)
	default:
		lg.Chain, lg.Detail = ChainUnreadable, err.Error()
	}
}

// aggregator is the io.Writer side of Add: it splits what it is given
// into lines, splits the lines into runs and folds each record into its
// run. A line longer than audit.MaxLineBytes is skipped as malformed.
type aggregator struct {
	b       *Builder
	name    string
	lg      Log
	runs    []*Run
	cur     *Run
	partial []byte // the start of a line not yet ended
	tooLong bool   // partial overflowed: drop until the next newline
}

func (a *aggregator) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			a.keep(p)
			break
		}
		line := p[:i]
		if len(a.partial) > 0 || a.tooLong {
			a.keep(line)
			line = a.partial
		}
		if a.tooLong {
			a.lg.Malformed++
		} else {
			a.line(line)
		}
		a.partial, a.tooLong = a.partial[:0], false
		p = p[i+1:]
	}
	return n, nil
}

// keep holds part of a line until its newline arrives.
func (a *aggregator) keep(p []byte) {
	if a.tooLong || len(a.partial)+len(p) > audit.MaxLineBytes {
		a.tooLong, a.partial = true, a.partial[:0]
		return
	}
	a.partial = append(a.partial, p...)
}

// flush folds a last line that has no newline.
func (a *aggregator) flush() {
	if a.tooLong {
		a.lg.Malformed++
	} else if len(a.partial) > 0 {
		a.line(a.partial)
	}
	a.partial, a.tooLong = nil, false
}

func (a *aggregator) line(l []byte) {
	l = bytes.TrimSpace(l)
	if len(l) == 0 {
		return
	}
	var rec record
	if json.Unmarshal(l, &rec) != nil || rec.Event == "" {
		a.lg.Malformed++
		return
	}
	a.lg.Records++
	a.b.total++
	if a.cur == nil || (rec.Event == "lifecycle" && rec.Phase == "start" && a.cur.Records > 0) {
		a.cur = newRun(a.name)
		a.runs = append(a.runs, a.cur)
	}
	a.cur.add(&rec, &a.b.g)
	if rec.Event == "lifecycle" && rec.Phase == "exit" {
		a.cur = nil
	}
}

// Report is everything the page and --format json show.
type Report struct {
	Generated   time.Time `json:"generated"`
	Records     int64     `json:"records"`
	Logs        []Log     `json:"logs"`
	BrokenLogs  int       `json:"broken_logs"`
	Runs        []*Run    `json:"runs"`
	MostDenied  []Count   `json:"most_denied_resources"`
	Timeline    Timeline  `json:"timeline"`
	ChangedRuns int       `json:"changed_runs"`
	LiveCreds   int       `json:"credentials_not_revoked"`
}

// Report finishes the aggregation: it orders runs by start time and
// compares each with the earlier runs of its task.
func (b *Builder) Report(now time.Time) *Report {
	rep := &Report{Generated: now.UTC(), Records: b.total, Logs: b.logs, Runs: b.runs,
		MostDenied: b.g.denied.top(50), Timeline: b.g.timeline.export()}
	for _, lg := range b.logs {
		if lg.Chain != ChainVerified && lg.Chain != ChainVerifiedUnkeyed {
			rep.BrokenLogs++
		}
	}
	compareRuns(b.runs)
	for _, r := range b.runs {
		if len(r.Changes) > 0 {
			rep.ChangedRuns++
		}
		for _, c := range r.Credentials {
			if c.State == "issued" || c.State == "renewed" || c.State == "revoke-failed" {
				rep.LiveCreds++
			}
		}
	}
	return rep
}
