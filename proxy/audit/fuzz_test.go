package audit_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// FuzzVerify feeds Verify arbitrary logs, keyed and unkeyed. Seeds are in
// testdata/fuzz/FuzzVerify: a good log, tampered ones, and garbage; and
// here: logs with resume records after a sink failure (with and without a
// partial line before them).
func FuzzVerify(f *testing.F) {
	f.Add(writeLog(f, testKey, sampleRecords()))
	f.Add(writeLog(f, nil, sampleRecords()))
	f.Add(resumedLog(f, 0))
	f.Add(resumedLog(f, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []audit.VerifyOptions{
			{Key: testKey},
			{},
			{Key: testKey, AllowOpen: true},
		} {
			rep, err := audit.Verify(bytes.NewReader(data), opts)
			if err == nil {
				if rep.Records == 0 && !opts.AllowOpen {
					t.Fatalf("an empty log verified: %+v", rep)
				}
				if !rep.Clean && !opts.AllowOpen {
					t.Fatalf("a log without an exit checkpoint verified: %+v", rep)
				}
				continue
			}
			var ce *audit.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("got %T %v, want a *ChainError", err, err)
			}
			if ce.Line < 0 || ce.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("line %d out of range: %v", ce.Line, err)
			}
			// Only the missing end checkpoint is reported on a verified line.
			if len(rep.Resumes) > rep.Records {
				t.Fatalf("%d resumes in %d records", len(rep.Resumes), rep.Records)
			}
			if rep.Records > ce.Line || rep.Records == ce.Line && ce.Kind != audit.KindTruncated {
				t.Fatalf("report counts %d records, but line %d failed: %v", rep.Records, ce.Line, err)
			}
		}
	})
}

// resumedLog is a keyed log whose sink failed once (taking partial bytes
// of the failed write) and recovered: start, decisions, a resume record,
// more decisions, exit.
func resumedLog(tb testing.TB, partial int) []byte {
	tb.Helper()
	sink := &faultySink{}
	recovered := make(chan error, 2)
	l := audit.New(sink, audit.Options{Key: testKey, RetryInterval: time.Millisecond,
		OnHealth: func(err error) { recovered <- err }})
	for _, r := range []*audit.Record{lifecycle(audit.PhaseStart), decision(1)} {
		if err := l.Write(r); err != nil {
			tb.Fatal(err)
		}
	}
	sink.set(true, partial)
	if l.Write(decision(2)) == nil {
		tb.Fatal("the failing sink took the record")
	}
	<-recovered
	sink.set(false, 0)
	for range 2 {
		if err := <-recovered; err == nil {
			break
		}
	}
	for _, r := range []*audit.Record{decision(3), lifecycle(audit.PhaseExit)} {
		if err := l.Write(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	b, _ := sink.snapshot()
	return b
}
