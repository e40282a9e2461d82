package audit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

var errDiskFull = errors.New("no space left on device")

// faultySink is a sink that can be made to fail: while failing, each
// write takes at most partial bytes, then returns errDiskFull.
type faultySink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	failing bool
	partial int
	calls   int
	delay   time.Duration
}

func (s *faultySink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.failing {
		n := min(s.partial, len(p))
		s.buf.Write(p[:n])
		s.partial -= n
		return n, errDiskFull
	}
	return s.buf.Write(p)
}

func (s *faultySink) set(failing bool, partial int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing, s.partial = failing, partial
}

func (s *faultySink) snapshot() ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes()), s.calls
}

// TestWriteReachesSink checks record before forward: when Write returns
// nil, the record's bytes are already in the sink, whole.
func TestWriteReachesSink(t *testing.T) {
	sink := &faultySink{}
	l := audit.New(sink, audit.Options{Key: testKey, FlushInterval: time.Hour})
	defer l.Close()
	for i := range 50 {
		writeAll(t, l, decision(i))
		b, _ := sink.snapshot()
		if got := bytes.Count(b, []byte("\n")); got != i+1 {
			t.Fatalf("after Write %d returned, the sink holds %d lines", i+1, got)
		}
	}
}

// TestGroupCommit checks that concurrent writers share write calls, and
// that every record is there, chained.
func TestGroupCommit(t *testing.T) {
	const writers, each = 16, 50
	sink := &faultySink{delay: 200 * time.Microsecond} // a slow disk
	l := audit.New(sink, audit.Options{Key: testKey})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(decision(w*each + i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, calls := sink.snapshot()
	rep, err := audit.Verify(bytes.NewReader(b), audit.VerifyOptions{Key: testKey, AllowOpen: true})
	if err != nil || rep.Records != writers*each {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if calls >= writers*each/2 {
		t.Errorf("%d write calls for %d records: writes are not grouped", calls, writers*each)
	}
	t.Logf("%d records in %d writes", writers*each, calls)
}

// TestSinkFailsAndRecovers: a failing sink makes Write fail at once and the
// Log unhealthy, without touching the sink again until a retry; once the
// sink works, a resume record continues the chain and Verify accepts the
// log and reports the resume (and the partial line, when there is one).
func TestSinkFailsAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		partial int // bytes the failing write takes
		torn    bool
	}{
		{"nothing written", 0, false},
		{"partial line", 37, true},
		{"all but the newline", -1, false}, // the record is in the file; the resume's newline ends it
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &faultySink{}
			health := make(chan error, 4)
			fixed := time.Date(2026, 12, 3, 8, 0, 0, 123456789, time.UTC) // every line the same length
			l := audit.New(sink, audit.Options{Key: testKey, RetryInterval: 20 * time.Millisecond, Now: func() time.Time { return fixed },
				OnHealth: func(err error) { health <- err }})
			defer l.Close()
			writeAll(t, l, lifecycle(audit.PhaseStart), decision(1), decision(2))
			partial := tc.partial
			if partial < 0 {
				partial = len(mustLines(t, sink)[1]) // decision(3) encodes as long as decision(1)
			}
			sink.set(true, partial)
			err := l.Write(decision(3))
			if !errors.Is(err, errDiskFull) {
				t.Fatalf("Write on a failing sink = %v, want %v", err, errDiskFull)
			}
			if l.Healthy() {
				t.Error("Healthy after a failed write")
			}
			if e := <-health; !errors.Is(e, errDiskFull) {
				t.Errorf("OnHealth(%v), want the sink's error", e)
			}
			_, calls := sink.snapshot()
			for i := range 3 {
				if err := l.Write(decision(10 + i)); !errors.Is(err, errDiskFull) {
					t.Errorf("Write while failing = %v", err)
				}
			}
			time.Sleep(70 * time.Millisecond) // retries fail too
			_, calls2 := sink.snapshot()
			if calls2 == calls {
				t.Error("the failing sink was never retried")
			}
			if l.Healthy() {
				t.Fatal("healthy while the sink still fails")
			}

			sink.set(false, 0)
			select {
			case e := <-health:
				if e != nil {
					t.Fatalf("OnHealth(%v), want nil (recovered)", e)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the log never recovered")
			}
			if !l.Healthy() {
				t.Error("not Healthy after recovery")
			}
			writeAll(t, l, decision(4), lifecycle(audit.PhaseExit))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			b, _ := sink.snapshot()
			rep, err := audit.Verify(bytes.NewReader(b), audit.VerifyOptions{Key: testKey})
			if err != nil {
				t.Fatalf("verify after recovery: %v\n%s", err, b)
			}
			if len(rep.Resumes) != 1 || rep.Resumes[0].Torn != tc.torn || !rep.Clean {
				t.Fatalf("report %+v, want one resume (torn %v) and a clean end", rep, tc.torn)
			}
			if d := rep.Resumes[0].Detail; !strings.Contains(d, "no space left on device") || !strings.Contains(d, "could not be written") {
				t.Errorf("resume detail %q does not say what failed", d)
			}
			// decision(4) must be in the log; the refused ones must not.
			if !bytes.Contains(b, []byte(`"req-4"`)) || bytes.Contains(b, []byte(`"req-10"`)) {
				t.Errorf("log content wrong:\n%s", b)
			}
		})
	}
}

func mustLines(t *testing.T, s *faultySink) [][]byte {
	t.Helper()
	b, _ := s.snapshot()
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// TestOpenQuarantinesTorn: a file whose last line a crash cut is moved
// aside and continued, with a resume record naming the side file.
func TestOpenQuarantinesTorn(t *testing.T) {
	good := writeLog(t, testKey, sampleRecords())
	for _, tc := range []struct {
		name    string
		content []byte
		kept    []byte
	}{
		{"last line cut", good[:len(good)-10], nil},
		{"only line cut", good[:30], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.jsonl")
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			cut := bytes.LastIndexByte(tc.content, '\n') + 1
			l, err := audit.Open(path, audit.Options{Key: testKey})
			if err != nil {
				t.Fatalf("Open refused a torn file: %v", err)
			}
			writeAll(t, l, lifecycle(audit.PhaseStart), lifecycle(audit.PhaseExit))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			sides, _ := filepath.Glob(path + ".torn-*")
			if len(sides) != 1 {
				t.Fatalf("side files %v, want one", sides)
			}
			side, _ := os.ReadFile(sides[0])
			if !bytes.Equal(side, tc.content[cut:]) {
				t.Errorf("side file holds %q, want the torn bytes %q", side, tc.content[cut:])
			}
			after, _ := os.ReadFile(path)
			if !bytes.HasPrefix(after, tc.content[:cut]) {
				t.Error("the complete records before the torn line changed")
			}
			rep, err := audit.Verify(bytes.NewReader(after), audit.VerifyOptions{Key: testKey})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if len(rep.Resumes) != 1 || !strings.Contains(rep.Resumes[0].Detail, sides[0]) {
				t.Errorf("resumes %+v, want one naming %s", rep.Resumes, sides[0])
			}
		})
	}
}

// TestVerifyTornWithoutResume: a partial line that no resume record
// follows is still malformed, and a forged resume that does not chain is
// not accepted.
func TestVerifyTornWithoutResume(t *testing.T) {
	good := writeLog(t, testKey, sampleRecords())
	lines := splitLines(good)
	bad := append(bytes.Clone(good[:len(good)-len(lines[len(lines)-1])-1]), []byte("{\"time\":\"2026\n")...)
	bad = append(bad, lines[len(lines)-1]...)
	bad = append(bad, '\n')
	if _, err := audit.Verify(bytes.NewReader(bad), audit.VerifyOptions{Key: testKey}); err == nil {
		t.Error("a partial line before an ordinary record verified")
	}
}
