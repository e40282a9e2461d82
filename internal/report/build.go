package report

import (
	"bufio"
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
// records in the same pass. name labels the log in the report.
func (b *Builder) Add(name string, r io.Reader) error {
	pr, pw := io.Pipe()
	type result struct {
		rep audit.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := audit.Verify(io.TeeReader(r, pw), audit.VerifyOptions{Key: b.key})
		// Verify stops at the first problem: pass the rest on so the
		// report still covers every record.
		_, cerr := io.Copy(pw, r)
		pw.CloseWithError(cerr)
		done <- result{rep, err}
	}()
	lg := Log{Source: name}
	runs, aggErr := b.aggregate(name, pr, &lg)
	_, _ = io.Copy(io.Discard, pr) // unblock the verifier if aggregation stopped early
	res := <-done
	b.classify(&lg, res.rep, res.err)
	for _, run := range runs {
		run.Chain, run.ChainDetail = lg.Chain, lg.Detail
		if lg.Chain == ChainBroken {
			run.ChainDetail = fmt.Sprintf("at seq %d", lg.BrokenSeq)
		}
		if lg.Chain == ChainBroken && lg.BrokenSeq > 0 && run.LastSeq < lg.BrokenSeq {
			run.Chain, run.ChainDetail = b.okStatus(), ""
		}
		run.finish()
	}
	lg.Runs = len(runs)
	b.logs = append(b.logs, lg)
	b.runs = append(b.runs, runs...)
	return aggErr
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

// aggregate splits the log into runs and folds each record into its run.
func (b *Builder) aggregate(name string, r io.Reader, lg *Log) ([]*Run, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var runs []*Run
	var cur *Run
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line)+len(chunk) <= audit.MaxLineBytes+1 {
				line = append(line, chunk...)
			} else {
				line = append(line[:0], '!') // too long: counted as malformed below
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return runs, fmt.Errorf("read %s: %w", name, err)
		}
		if len(line) > 0 {
			line = append(line, chunk...)
			chunk = line
		}
		if t := bytes.TrimSpace(chunk); len(t) > 0 {
			var rec record
			if json.Unmarshal(t, &rec) != nil || rec.Event == "" {
				lg.Malformed++
			} else {
				lg.Records++
				b.total++
				if cur == nil || (rec.Event == "lifecycle" && rec.Phase == "start" && cur.Records > 0) {
					cur = newRun(name)
					runs = append(runs, cur)
				}
				cur.add(&rec, &b.g)
				if rec.Event == "lifecycle" && rec.Phase == "exit" {
					cur = nil
				}
			}
		}
		line = line[:0]
		if err != nil {
			return runs, nil
		}
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
