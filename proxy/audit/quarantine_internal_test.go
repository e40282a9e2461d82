package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// partialFile writes to a real file; while failing, a write puts only
// partial bytes in the file and returns an error, as a filling disk does.
type partialFile struct {
	mu      sync.Mutex
	f       *os.File
	failing bool
	partial int
}

func (p *partialFile) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failing {
		return p.f.Write(b)
	}
	n, _ := p.f.Write(b[:min(p.partial, len(b))])
	p.partial -= n
	return n, errors.New("no space left on device")
}

func (p *partialFile) set(failing bool, partial int) {
	p.mu.Lock()
	p.failing, p.partial = failing, partial
	p.mu.Unlock()
}

// TestFileResumeMovesPartialLine: when a file sink recovers after a write
// that left a partial line, the partial bytes are moved to a side file, so
// the log holds only records (other readers of the file need not skip a
// fragment), and the resume record names the side file.
func TestFileResumeMovesPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := &partialFile{f: f}
	health := make(chan error, 4)
	key := []byte("0123456789abcdef0123456789abcdef")
	l := newLog(w, path, f, Options{Key: key, RetryInterval: 5 * time.Millisecond, OnHealth: func(err error) { health <- err }}, 0, "")
	for _, r := range []*Record{{Event: EventLifecycle, Phase: PhaseStart}, {Event: EventDecision, Decision: DecisionAllow}} {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.set(true, 30)
	if err := l.Write(&Record{Event: EventDecision, Decision: DecisionAllow}); err == nil {
		t.Fatal("the failing write succeeded")
	}
	if err := <-health; err == nil {
		t.Fatal("no failure reported")
	}
	w.set(false, 0)
	if err := <-health; err != nil {
		t.Fatalf("OnHealth(%v), want recovery", err)
	}
	if err := l.Write(&Record{Event: EventLifecycle, Phase: PhaseExit}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if _, err := parseLine(line); err != nil {
			t.Fatalf("line %d is not a record (%v): %q", i+1, err, line)
		}
	}
	rep, err := Verify(bytes.NewReader(b), VerifyOptions{Key: key})
	if err != nil || len(rep.Resumes) != 1 || rep.Resumes[0].Torn {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	sides, _ := filepath.Glob(path + ".torn-*")
	if len(sides) != 1 || !strings.Contains(rep.Resumes[0].Detail, sides[0]) {
		t.Fatalf("side files %v; resume detail %q", sides, rep.Resumes[0].Detail)
	}
	if side, _ := os.ReadFile(sides[0]); len(side) != 30 || !bytes.HasPrefix(side, []byte(`{"time":"`)) {
		t.Errorf("side file holds %q, want the 30 bytes of the failed write", side)
	}
}
