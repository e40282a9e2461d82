package audit_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/proxy/audit"
)

func TestVerifyGood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   []byte
		keyed bool
	}{
		{"keyed", testKey, true},
		{"unkeyed", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := writeLog(t, tc.key, sampleRecords())
			rep, err := audit.Verify(bytes.NewReader(log), audit.VerifyOptions{Key: tc.key})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			want := audit.Report{Records: 6, FirstSeq: 1, LastSeq: 6, Keyed: tc.keyed, Runs: 1, Clean: true}
			if !reflect.DeepEqual(rep, want) {
				t.Errorf("report %+v, want %+v", rep, want)
			}
		})
	}
}

// TestVerifyTamper starts from a good keyed log of six records (start,
// credential, deny, allow, observe, exit) and breaks it in each way.
func TestVerifyTamper(t *testing.T) {
	good := writeLog(t, testKey, sampleRecords())
	lines := func() [][]byte { return splitLines(bytes.Clone(good)) }
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }

	for _, tc := range []struct {
		name      string
		log       func() []byte
		opts      audit.VerifyOptions // Key defaults to testKey
		noKey     bool                // verify without a key
		kind      string
		line      int
		seq       uint64
		msg       string // a phrase the message must contain
		wantClean bool   // with no error: whether the report says Clean
	}{
		{name: "untouched", log: func() []byte { return good }, opts: audit.VerifyOptions{Key: testKey}, wantClean: true},
		{
			name: "modify a field value",
			log: func() []byte {
				ls := lines()
				ls[3] = bytes.Replace(ls[3], []byte(`"decision":"allow"`), []byte(`"decision":"deny"`), 1)
				return join(ls)
			},
			kind: audit.KindModified, line: 4, seq: 4,
		},
		{
			name: "delete a middle record",
			log:  func() []byte { ls := lines(); return join(append(ls[:2:2], ls[3:]...)) },
			kind: audit.KindRemoved, line: 3, seq: 4, msg: "jumps from 2 to 4",
		},
		{
			name: "swap two records",
			log:  func() []byte { ls := lines(); ls[2], ls[3] = ls[3], ls[2]; return join(ls) },
			kind: audit.KindReordered, line: 3, seq: 4,
		},
		{
			name: "swap distant records",
			log:  func() []byte { ls := lines(); ls[1], ls[4] = ls[4], ls[1]; return join(ls) },
			kind: audit.KindReordered, line: 2, seq: 5,
		},
		{
			name: "repeat a record",
			log:  func() []byte { ls := lines(); return join(append(ls[:3:3], ls[2:]...)) },
			kind: audit.KindReordered, line: 4, seq: 3, msg: "repeats",
		},
		{
			name: "cut the last record",
			log:  func() []byte { ls := lines(); return join(ls[:5]) },
			kind: audit.KindTruncated, line: 5, seq: 5, msg: "log ends at seq 5 without an exit checkpoint",
		},
		{
			name: "cut the last record, open allowed",
			log:  func() []byte { ls := lines(); return join(ls[:5]) },
			opts: audit.VerifyOptions{Key: testKey, AllowOpen: true},
		},
		{
			name: "cut mid-line",
			log:  func() []byte { return good[:len(good)-40] },
			kind: audit.KindTruncated, line: 6, msg: "incomplete",
		},
		{
			name: "cut mid-line, open allowed",
			log:  func() []byte { return good[:len(good)-40] },
			opts: audit.VerifyOptions{Key: testKey, AllowOpen: true},
			kind: audit.KindTruncated, line: 6, msg: "incomplete",
		},
		{
			name: "delete the first record",
			log:  func() []byte { return join(lines()[1:]) },
			kind: audit.KindRemoved, line: 1, seq: 2,
		},
		{
			name: "edit and rewrite the chain without the key",
			log: func() []byte {
				ls := lines()
				ls[3] = bytes.Replace(ls[3], []byte(`"decision":"allow"`), []byte(`"decision":"deny"`), 1)
				return rechain(t, ls, nil)
			},
			kind: audit.KindKey, line: 1, seq: 1, msg: "unkeyed",
		},
		{
			name: "edit and recompute one mac without the key",
			log: func() []byte {
				ls := lines()
				ls[3] = bytes.Replace(ls[3], []byte(`"decision":"allow"`), []byte(`"decision":"deny"`), 1)
				re := splitLines(rechain(t, ls, nil))
				ls[3] = re[3]
				return join(ls)
			},
			kind: audit.KindModified, line: 4, seq: 4, msg: "without the key",
		},
		{
			name: "replace a record with a forged one with a valid seq",
			log: func() []byte {
				ls := lines()
				// Re-chain with the key from line 3 on, but drop the original
				// prev link: line 3 now follows a mac that is not line 2's.
				forged := splitLines(rechain(t, ls[2:], testKey))
				return join(append(ls[:2:2], forged...))
			},
			kind: audit.KindRemoved, line: 3, seq: 3, msg: "prev is not the mac of seq 2",
		},
		{
			name: "wrong key",
			log:  func() []byte { return good },
			opts: audit.VerifyOptions{Key: []byte("another-key-entirely-0123456789")},
			kind: audit.KindModified, line: 1, seq: 1, msg: "key is wrong",
		},
		{
			name:  "keyed log without the key",
			log:   func() []byte { return good },
			noKey: true,
			kind:  audit.KindKey, line: 1, seq: 1, msg: "the log is keyed",
		},
		{
			name: "unkeyed log with a key",
			log:  func() []byte { return writeLog(t, nil, sampleRecords()) },
			kind: audit.KindKey, line: 1, seq: 1, msg: "unkeyed",
		},
		{
			name: "garbage line",
			log: func() []byte {
				ls := lines()
				return join(append(ls[:2:2], append([][]byte{[]byte("hello\n")}, ls[2:]...)...))
			},
			kind: audit.KindMalformed, line: 3,
		},
		{
			name: "blank line",
			log: func() []byte {
				ls := lines()
				return join(append(ls[:2:2], append([][]byte{[]byte("\n")}, ls[2:]...)...))
			},
			kind: audit.KindMalformed, line: 3,
		},
		{
			name: "line too long",
			log:  func() []byte { return append(bytes.Repeat([]byte("x"), audit.MaxLineBytes+10), '\n') },
			kind: audit.KindMalformed, line: 1, msg: "longer than",
		},
		{
			name: "empty",
			log:  func() []byte { return nil },
			kind: audit.KindTruncated, line: 0, msg: "no records",
		},
		{
			name: "a run killed before its exit, then another run",
			log: func() []byte {
				recs := sampleRecords()
				return writeLog(t, testKey, append(recs[:3:3], recs...))
			},
			kind: audit.KindTruncated, line: 4, seq: 4, msg: "previous one ends at seq 3",
		},
		{
			name: "a run killed before its exit, open allowed",
			log: func() []byte {
				recs := sampleRecords()
				return writeLog(t, testKey, append(recs[:3:3], recs...))
			},
			opts:      audit.VerifyOptions{Key: testKey, AllowOpen: true},
			wantClean: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.Key == nil && !tc.noKey {
				opts.Key = testKey
			}
			rep, err := audit.Verify(bytes.NewReader(tc.log()), opts)
			if tc.kind == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if rep.Clean != tc.wantClean {
					t.Errorf("Clean = %v, want %v (report %+v)", rep.Clean, tc.wantClean, rep)
				}
				return
			}
			var ce *audit.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ChainError of kind %s", err, tc.kind)
			}
			if ce.Kind != tc.kind || ce.Line != tc.line || ce.Seq != tc.seq {
				t.Errorf("got %s (kind %s, line %d, seq %d), want kind %s, line %d, seq %d",
					err, ce.Kind, ce.Line, ce.Seq, tc.kind, tc.line, tc.seq)
			}
			if !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", ce.Msg, tc.msg)
			}
			if bytes.Contains([]byte(err.Error()), testKey) {
				t.Errorf("error prints the key: %v", err)
			}
		})
	}
}

func TestVerifyUnkeyedWithoutKey(t *testing.T) {
	rep, err := audit.Verify(bytes.NewReader(writeLog(t, nil, sampleRecords())), audit.VerifyOptions{})
	if err != nil || rep.Keyed || !rep.Clean || rep.Records != 6 {
		t.Fatalf("got %+v, %v; want a clean unkeyed report", rep, err)
	}
}
