package audit_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// FuzzVerify feeds Verify arbitrary logs, keyed and unkeyed. Seeds are in
// testdata/fuzz/FuzzVerify: a good log, tampered ones, and garbage.
func FuzzVerify(f *testing.F) {
	f.Add(writeLog(f, testKey, sampleRecords()))
	f.Add(writeLog(f, nil, sampleRecords()))
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
			if rep.Records > ce.Line || rep.Records == ce.Line && ce.Kind != audit.KindTruncated {
				t.Fatalf("report counts %d records, but line %d failed: %v", rep.Records, ce.Line, err)
			}
		}
	})
}
