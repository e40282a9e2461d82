package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// newServer starts a server on free loopback ports with a keyed audit log
// in a temp dir. extra is YAML appended to the base config.
func newServer(t *testing.T, exec bool, extra string) (*proxy.Server, *testEnv) {
	return newServerTTL(t, exec, "1m", extra)
}

func newServerTTL(t *testing.T, exec bool, ttl, extra string) (*proxy.Server, *testEnv) {
	t.Helper()
	dir := t.TempDir()
	te := &testEnv{dir: dir, auditPath: filepath.Join(dir, "audit.jsonl"), keyPath: filepath.Join(dir, "key")}
	if err := os.WriteFile(te.keyPath, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "task: {id: t-1, ttl: " + ttl + ", labels: {pipeline: sales}}\n" +
		"listen: {admin: '127.0.0.1:0'}\n" +
		"local: {dir: '" + filepath.Join(dir, "local") + "'}\n" +
		"audit: {path: '" + te.auditPath + "', key_file: '" + te.keyPath + "', flush_interval: 10ms}\n" +
		"policy: {rules: [{name: sel, allow: 'sql.kind == \"select\"'}]}\n" + extra
	if !strings.Contains(extra, "shutdown:") {
		yml += "shutdown: {drain: 2s}\n"
	}
	cfg, err := proxy.ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := proxy.New(cfg, proxy.Options{Log: zerolog.New(&te.diag), Exec: exec})
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	te.admin = "http://" + srv.Addrs()["admin"].String()
	return srv, te
}

type testEnv struct {
	dir, auditPath, keyPath, admin string
	diag                           bytes.Buffer
}

// verify checks the audit chain and returns the records.
func (te *testEnv) verify(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(te.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key, _ := proxy.ReadAuditKey(te.keyPath)
	rep, err := audit.Verify(f, audit.VerifyOptions{Key: key})
	if err != nil || !rep.Clean || !rep.Keyed {
		t.Fatalf("audit verify: %+v %v", rep, err)
	}
	data, _ := os.ReadFile(te.auditPath)
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	return recs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func stdio(out *bytes.Buffer) proxy.Stdio {
	return proxy.Stdio{In: strings.NewReader(""), Out: out, Err: out}
}

func TestExecExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want int
	}{
		{"exit 7", []string{"sh", "-c", "exit 7"}, 7},
		{"success", []string{"true"}, 0},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"not found", []string{"/nonexistent/command"}, 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, te := newServer(t, true, "")
			var out bytes.Buffer
			if got := srv.Exec(tc.argv, nil, stdio(&out)); got != tc.want {
				t.Fatalf("exit code %d, want %d\n%s", got, tc.want, out.String())
			}
			recs := te.verify(t)
			last := recs[len(recs)-1]
			if last["phase"] != "exit" || !strings.Contains(last["detail"].(string), "exit") {
				t.Fatalf("last record: %v", last)
			}
		})
	}
}

func TestExecForwardsSignals(t *testing.T) {
	srv, te := newServer(t, true, "")
	signals := make(chan os.Signal, 1)
	ready := filepath.Join(te.dir, "trap-set")
	var out bytes.Buffer
	go func() {
		// Send SIGTERM once the child has set its trap.
		for range 500 {
			if _, err := os.Stat(ready); err == nil {
				signals <- syscall.SIGTERM
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	code := srv.Exec([]string{"sh", "-c", "trap 'exit 42' TERM; touch " + ready + "; while :; do sleep 0.05; done"}, signals, stdio(&out))
	if code != 42 {
		t.Fatalf("exit code %d, want 42 (the child's trap)\n%s", code, out.String())
	}
	te.verify(t)
}

func TestExecDeadline(t *testing.T) {
	srv3, te3 := newServerTTL(t, true, "300ms", "")
	start := time.Now()
	var out bytes.Buffer
	code := srv3.Exec([]string{"sleep", "30"}, nil, stdio(&out))
	if code != proxy.ExitDeadline {
		t.Fatalf("exit code %d, want %d", code, proxy.ExitDeadline)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("deadline took %s", el)
	}
	// After the deadline (and the log's close) the gate denies.
	if d := srv3.Gate().Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select"}}); d.Allow {
		t.Fatalf("after deadline: %+v", d)
	}
	recs := te3.verify(t)
	var drain map[string]any
	for _, r := range recs {
		if r["phase"] == "drain" {
			drain = r
		}
	}
	if drain == nil || !strings.Contains(drain["detail"].(string), "deadline") {
		t.Fatalf("no deadline drain record: %v", recs)
	}
}
