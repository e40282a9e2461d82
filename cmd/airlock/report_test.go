package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// writeAuditRun writes a one-run keyed log at path with the audit package.
func writeAuditRun(t *testing.T, path string, key []byte, task string) {
	t.Helper()
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{Key: key, Task: task})
	for _, r := range []*audit.Record{
		{Event: audit.EventLifecycle, Phase: audit.PhaseStart, PolicySHA256: strings.Repeat("ab", 32)},
		{Event: audit.EventCredential, Credential: &audit.Credential{ID: "airlock_" + task, Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialIssued, Expiry: time.Now().Add(time.Hour)}},
		{Event: audit.EventDecision, Protocol: "postgres", Action: "select", Resources: []string{"sales.orders"}, Decision: audit.DecisionAllow, Rules: []string{"read"}, Reason: "allowed by read"},
		{Event: audit.EventDecision, Protocol: "postgres", Action: "select", Resources: []string{"hr.salaries"}, Decision: audit.DecisionDeny, Reason: "no rule allows it"},
		{Event: audit.EventCredential, Credential: &audit.Credential{ID: "airlock_" + task, Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialRevoked}},
		{Event: audit.EventLifecycle, Phase: audit.PhaseExit, Detail: "task: exited (exit 0)"},
	} {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuditReport(t *testing.T) {
	dir := t.TempDir()
	key := []byte("report-test-key-0123456789abcdef")
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(filepath.Join(logs, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeAuditRun(t, filepath.Join(logs, "a.jsonl"), key, "nightly")
	writeAuditRun(t, filepath.Join(logs, "sub", "b.jsonl"), key, "nightly")

	page := filepath.Join(dir, "report.html")
	code, out, errs := run(t, "audit", "report", "--key-file", keyFile, "-o", page, logs)
	if code != 0 || out != "" {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	wantLines(t, "stderr", errs, "2 runs from 2 logs, 0 not verified", page)
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "page", string(html), "Every log's chain verifies", "hr.salaries", "<svg", "airlock_nightly")
	for _, ref := range []string{"http://", "https://", "src=", "<link"} {
		if strings.Contains(strings.ReplaceAll(string(html), `xmlns="http://www.w3.org/2000/svg"`, ""), ref) {
			t.Errorf("the page refers outside itself: %q", ref)
		}
	}

	// An altered log in the directory: exit 1, flagged in JSON and HTML.
	b, _ := os.ReadFile(filepath.Join(logs, "sub", "b.jsonl"))
	b = bytes.Replace(b, []byte(`"hr.salaries"`), []byte(`"hr.bonuses"`), 1)
	if err := os.WriteFile(filepath.Join(logs, "sub", "b.jsonl"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "audit", "report", "--key-file", keyFile, "--format", "json", logs)
	if code != 1 {
		t.Fatalf("altered log: exit %d, want 1\n%s", code, errs)
	}
	var rep struct {
		BrokenLogs int `json:"broken_logs"`
		Logs       []struct {
			Source    string `json:"source"`
			Chain     string `json:"chain"`
			BrokenSeq uint64 `json:"broken_seq"`
		} `json:"logs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.BrokenLogs != 1 || len(rep.Logs) != 2 || rep.Logs[1].Chain != "broken" || rep.Logs[1].BrokenSeq != 4 || rep.Logs[0].Chain != "verified" {
		t.Errorf("altered log not flagged: %+v", rep)
	}
	code, _, errs = run(t, "audit", "report", "--key-file", keyFile, "-o", page, filepath.Join(logs, "*.jsonl"), filepath.Join(logs, "sub"))
	html, _ = os.ReadFile(page)
	if code != 1 || !strings.Contains(string(html), `id="alert"`) || !strings.Contains(errs, "1 not verified") {
		t.Errorf("glob and dir with an altered log: exit %d, alert in page %v\n%s", code, strings.Contains(string(html), `id="alert"`), errs)
	}

	for _, args := range [][]string{
		{"audit", "report"},
		{"audit", "report", "--format", "xml", logs},
		{"audit", "report", filepath.Join(dir, "missing")},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
