package report

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Options configures Generate.
type Options struct {
	// Key is the chain key; empty verifies unkeyed chains.
	Key []byte
	// Progress, when set, receives a progress line (ending in \r) at most
	// every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Now stamps the report; nil means time.Now.
	Now func() time.Time
}

// Generate reads every source in order and returns the report.
func Generate(ctx context.Context, srcs []Source, opts Options) (*Report, error) {
	b := NewBuilder(opts.Key)
	every := opts.ProgressEvery
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	start := time.Now()
	last := start
	for i, s := range srcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := b.addSource(ctx, s); err != nil {
			return nil, err
		}
		if opts.Progress != nil && (time.Since(last) >= every || i == len(srcs)-1) {
			last = time.Now()
			rate := float64(b.Records()) / max(time.Since(start).Seconds(), 1e-9)
			fmt.Fprintf(opts.Progress, "\rreport: %d/%d logs, %d records, %.0f records/s ", i+1, len(srcs), b.Records(), rate)
			if i == len(srcs)-1 {
				fmt.Fprintln(opts.Progress)
			}
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	return b.Report(now()), nil
}

// addSource reads one source; a source that cannot be opened or read to
// its end is reported as an unreadable log rather than ending the report.
func (b *Builder) addSource(ctx context.Context, s Source) error {
	rc, err := s.Open(ctx)
	if err != nil {
		b.logs = append(b.logs, Log{Source: s.Name, Chain: ChainUnreadable, Detail: err.Error()})
		return nil
	}
	defer rc.Close()
	// A read error is in the report as an unreadable log; the other logs
	// are still read.
	_ = b.Add(s.Name, rc)
	return ctx.Err()
}
