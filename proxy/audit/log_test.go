package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/audit"
)

func decision(i int) *audit.Record {
	return &audit.Record{
		Event: audit.EventDecision, RequestID: fmt.Sprintf("req-%d", i), Conn: "c1",
		Protocol: "postgres", Action: "select", Resources: []string{"sales.orders"},
		Statement: "SELECT * FROM sales.orders WHERE id = $1", Decision: audit.DecisionAllow,
		Mode: audit.ModeEnforce, Rules: []string{"read-sales"}, Reason: "allowed by read-sales",
		Latency: time.Duration(i) * time.Microsecond,
	}
}

func lifecycle(phase string) *audit.Record {
	return &audit.Record{Event: audit.EventLifecycle, Phase: phase}
}

func writeAll(t *testing.T, l *audit.Log, recs ...*audit.Record) {
	t.Helper()
	for _, r := range recs {
		if err := l.Write(r); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

func verifyFile(t *testing.T, path string, opts audit.VerifyOptions) audit.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, opts)
	if err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	return rep
}

func TestOpenContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	opts := audit.Options{Key: testKey, Task: "run-42"}
	for run := range 3 {
		l, err := audit.Open(path, opts)
		if err != nil {
			t.Fatalf("run %d: open: %v", run, err)
		}
		if got, want := l.Seq(), uint64(run*4); got != want {
			t.Errorf("run %d: Seq() after Open = %d, want %d", run, got, want)
		}
		writeAll(t, l, lifecycle(audit.PhaseStart), decision(1), decision(2), lifecycle(audit.PhaseExit))
		if err := l.Close(); err != nil {
			t.Fatalf("run %d: close: %v", run, err)
		}
	}
	rep := verifyFile(t, path, audit.VerifyOptions{Key: testKey})
	want := audit.Report{Records: 12, FirstSeq: 1, LastSeq: 12, Keyed: true, Runs: 3, Clean: true}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report %+v, want %+v", rep, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestOpenRefuses(t *testing.T) {
	good := writeLog(t, testKey, sampleRecords())
	for _, tc := range []struct {
		name    string
		content []byte
		key     []byte
		why     string
	}{
		{"last line not a record", append(bytes.Clone(good), "oops\n"...), testKey, "not an audit record"},
		{"another key", good, []byte("some-other-key-0123456789abcdef"), "does not match the configured key"},
		{"keyed file, no key", good, nil, "does not match an unkeyed chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := audit.Open(path, audit.Options{Key: tc.key})
			if err == nil {
				l.Close()
				t.Fatal("Open accepted the file")
			}
			msg := err.Error()
			for _, want := range []string{path, tc.why, "move the file aside", "audit.path"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if !errors.Is(err, audit.ErrCannotContinue) {
				t.Errorf("error %v is not ErrCannotContinue", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tc.content) {
				t.Error("Open changed the file it refused")
			}
		})
	}
}

func TestOpenStdout(t *testing.T) {
	l, err := audit.Open("stdout", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("Close closed os.Stdout: %v", err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{})
	writeAll(t, l, lifecycle(audit.PhaseStart))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := l.Write(decision(1)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("%d lines after Close, want 1", n)
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{})
	defer l.Close()
	for _, r := range []*audit.Record{
		nil,
		{},
		{Event: "surprise"},
		{Event: audit.EventDecision, Decision: "maybe"},
		{Event: audit.EventDecision, Decision: audit.DecisionAllow, Mode: "relaxed"},
		{Event: audit.EventCredential},
		{Event: audit.EventCredential, Credential: &audit.Credential{Status: "lost"}},
		{Event: audit.EventLifecycle, Phase: "nap"},
		{Event: audit.EventLifecycle, Phase: audit.PhaseReady, Detail: strings.Repeat("x", audit.MaxLineBytes)},
	} {
		if err := l.Write(r); !errors.Is(err, audit.ErrInvalidRecord) {
			t.Errorf("Write(%+v) = %v, want ErrInvalidRecord", r, err)
		}
	}
	writeAll(t, l, lifecycle(audit.PhaseStart))
	if l.Seq() != 1 || l.Err() != nil {
		t.Errorf("after refusals: Seq %d, Err %v; want 1, nil", l.Seq(), l.Err())
	}
}

func TestConcurrentWriters(t *testing.T) {
	const writers, each = 8, 500
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, audit.Options{Key: testKey, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, l, lifecycle(audit.PhaseStart))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(decision(w*each + i)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if i%100 == 0 {
					_ = l.Seq()
					_ = l.Err()
				}
			}
		})
	}
	wg.Wait()
	writeAll(t, l, lifecycle(audit.PhaseExit))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyFile(t, path, audit.VerifyOptions{Key: testKey})
	if rep.Records != writers*each+2 || !rep.Clean {
		t.Errorf("report %+v, want %d records and Clean", rep, writers*each+2)
	}
}

func TestNoLoss(t *testing.T) {
	const n = 10000
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Write(decision(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(b, []byte("\n")); got != n {
		t.Errorf("%d lines, want %d", got, n)
	}
	rep, err := audit.Verify(bytes.NewReader(b), audit.VerifyOptions{Key: testKey, AllowOpen: true})
	if err != nil || rep.Records != n {
		t.Errorf("verify: %+v, %v; want %d records", rep, err, n)
	}
}

// TestEncoderDisabled checks that a diagnostics setting that silences
// zerolog globally makes Write fail instead of dropping records.
func TestEncoderDisabled(t *testing.T) {
	old := zerolog.GlobalLevel()
	zerolog.SetGlobalLevel(zerolog.Disabled)
	t.Cleanup(func() { zerolog.SetGlobalLevel(old) })

	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{})
	defer l.Close()
	if err := l.Write(lifecycle(audit.PhaseStart)); err == nil {
		t.Fatal("Write succeeded with the encoder disabled")
	}
	if l.Seq() != 0 {
		t.Errorf("Seq = %d after a failed write, want 0", l.Seq())
	}
}
