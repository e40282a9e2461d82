package report_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// runSpec describes one generated run.
type runSpec struct {
	task      string
	start     time.Time
	policy    string
	allowed   []string // one allowed postgres decision per table
	denied    []string // one denied s3 decision per bucket/key
	s3allowed []string // allowed s3 decisions
	exit      int
}

// writeRun appends one run, written by the audit package itself, to l.
func writeRun(t testing.TB, l *audit.Log, s runSpec) {
	t.Helper()
	at := s.start
	tick := func() time.Time { at = at.Add(100 * time.Millisecond); return at }
	must := func(r *audit.Record) {
		t.Helper()
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	must(&audit.Record{Time: at, Event: audit.EventLifecycle, Task: s.task, Phase: audit.PhaseStart, PolicySHA256: s.policy, Detail: "mode=enforce ttl=15m0s rules=2"})
	must(&audit.Record{Time: tick(), Event: audit.EventLifecycle, Task: s.task, Phase: audit.PhaseReady})
	must(&audit.Record{Time: tick(), Event: audit.EventCredential, Task: s.task, Credential: &audit.Credential{
		ID: "airlock_" + s.task, Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialIssued, Expiry: s.start.Add(15 * time.Minute)}})
	must(&audit.Record{Time: tick(), Event: audit.EventCredential, Task: s.task, Credential: &audit.Credential{
		ID: "ASIA" + s.task, Source: "assume-role", Upstream: "s3", Status: audit.CredentialIssued, Expiry: s.start.Add(15 * time.Minute)}})
	for i, tbl := range s.allowed {
		must(&audit.Record{Time: tick(), Event: audit.EventDecision, Task: s.task, RequestID: fmt.Sprintf("r%d", i), Conn: "c1",
			Client: "127.0.0.1:5000", User: "etl", Protocol: "postgres", Action: "select", Resources: []string{tbl},
			Statement: "SELECT * FROM " + tbl + " WHERE id = $1", Decision: audit.DecisionAllow, Mode: audit.ModeEnforce,
			Rules: []string{"read-sales"}, Reason: "allowed by read-sales", Latency: 12 * time.Microsecond})
	}
	for _, obj := range s.s3allowed {
		must(&audit.Record{Time: tick(), Event: audit.EventDecision, Task: s.task, Protocol: "s3", Action: "PutObject",
			Resources: []string{obj}, Decision: audit.DecisionAllow, Mode: audit.ModeEnforce, Rules: []string{"write-curated"}, Reason: "allowed by write-curated"})
	}
	for _, obj := range s.denied {
		must(&audit.Record{Time: tick(), Event: audit.EventDecision, Task: s.task, Protocol: "s3", Action: "GetObject",
			Resources: []string{obj}, Decision: audit.DecisionDeny, Mode: audit.ModeEnforce, Rules: nil, Reason: "no rule allows it"})
	}
	must(&audit.Record{Time: tick(), Event: audit.EventLifecycle, Task: s.task, Phase: audit.PhaseDrain})
	must(&audit.Record{Time: tick(), Event: audit.EventCredential, Task: s.task, Credential: &audit.Credential{
		ID: "airlock_" + s.task, Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialRevoked}})
	must(&audit.Record{Time: tick(), Event: audit.EventCredential, Task: s.task, Detail: "session ends at its expiry", Credential: &audit.Credential{
		ID: "ASIA" + s.task, Source: "assume-role", Upstream: "s3", Status: audit.CredentialReleased, Expiry: s.start.Add(15 * time.Minute)}})
	must(&audit.Record{Time: tick(), Event: audit.EventLifecycle, Task: s.task, Phase: audit.PhaseExit, Detail: fmt.Sprintf("task: exited (exit %d)", s.exit)})
}

// writeLog writes runs as one log file at path and returns its bytes.
func writeLog(t testing.TB, path string, key []byte, runs ...runSpec) []byte {
	t.Helper()
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{Key: key})
	for _, r := range runs {
		writeRun(t, l, r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

const (
	policyA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	policyB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// fleet writes three logs under dir: two ordinary runs of nightly-sales,
// a third that reads a new table and makes far more decisions, and a run
// of another task.
func fleet(t testing.TB, dir string, key []byte) {
	t.Helper()
	writeLog(t, filepath.Join(dir, "2026-11-30", "a.jsonl"), key,
		runSpec{task: "nightly-sales", start: t0, policy: policyA, allowed: []string{"sales.orders"}, denied: []string{"lake/raw/pii.csv"}, s3allowed: []string{"lake/curated/2026-11-30/out.csv"}})
	writeLog(t, filepath.Join(dir, "2026-12-01", "b.jsonl"), key,
		runSpec{task: "nightly-sales", start: t0.Add(24 * time.Hour), policy: policyA, allowed: []string{"sales.orders"}, denied: []string{"lake/raw/pii.csv"}},
		runSpec{task: "export", start: t0.Add(25 * time.Hour), policy: policyB, allowed: []string{"sales.items"}, exit: 3})
	many := make([]string, 150)
	for i := range many {
		many[i] = "sales.orders"
	}
	many[0] = "hr.salaries"
	writeLog(t, filepath.Join(dir, "2026-12-02", "c.jsonl"), key,
		runSpec{task: "nightly-sales", start: t0.Add(48 * time.Hour), policy: policyB, allowed: many, denied: []string{"lake/raw/pii.csv", "lake/raw/pii2.csv"}})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
