package proxy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy"
)

// alive reports whether pid runs (not absent, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(string(mustRead(t, path))))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestExecKillsTaskIgnoringSIGTERM: at the deadline the task's group gets
// SIGTERM; a task that ignores it is killed after shutdown.drain.
func TestExecKillsTaskIgnoringSIGTERM(t *testing.T) {
	srv, te := newServerTTL(t, true, "500ms", "shutdown: {drain: 1s}\n")
	pidFile := filepath.Join(te.dir, "pid")
	var out bytes.Buffer
	began := time.Now()
	code := srv.Exec([]string{"sh", "-c", "trap '' TERM; echo $$ > " + pidFile + "; while :; do sleep 0.05; done"}, nil, stdio(&out))
	el := time.Since(began)
	if code != proxy.ExitDeadline {
		t.Fatalf("exit %d, want %d\n%s", code, proxy.ExitDeadline, out.String())
	}
	if el < 1400*time.Millisecond || el > 6*time.Second {
		t.Fatalf("exec returned after %s; want the deadline (0.5s) plus the 1s grace", el)
	}
	if pid := readPid(t, pidFile); alive(pid) {
		t.Fatalf("the task %d still runs", pid)
	}
	if !strings.Contains(te.diag.String(), "killing its process group") {
		t.Errorf("no log of the kill:\n%s", te.diag.String())
	}
}

// TestExecEndsLeftoversIgnoringSIGTERM: a task that exits leaving a
// background process that ignores SIGTERM: Exec returns the task's code
// once the leftover is killed after the grace period.
func TestExecEndsLeftoversIgnoringSIGTERM(t *testing.T) {
	srv, te := newServer(t, true, "shutdown: {drain: 1s}\n")
	pidFile := filepath.Join(te.dir, "pid")
	var out bytes.Buffer
	began := time.Now()
	code := srv.Exec([]string{"sh", "-c", "sh -c \"trap '' TERM; echo \\$\\$ > " + pidFile + "; while :; do sleep 0.05; done\" & " +
		"while [ ! -s " + pidFile + " ]; do sleep 0.01; done; exit 5"}, nil, stdio(&out))
	el := time.Since(began)
	if code != 5 {
		t.Fatalf("exit %d, want 5 (the task's)\n%s", code, out.String())
	}
	if el < 900*time.Millisecond || el > 6*time.Second {
		t.Fatalf("exec returned after %s; want about the 1s grace", el)
	}
	if pid := readPid(t, pidFile); alive(pid) {
		t.Fatalf("the leftover %d still runs", pid)
	}
}

// TestExecForwardsSignalsToTheGroup: a signal Airlock receives reaches the
// task's children too, not only the task.
func TestExecForwardsSignalsToTheGroup(t *testing.T) {
	srv, te := newServerTTL(t, true, "15s", "")
	ready, got := filepath.Join(te.dir, "ready"), filepath.Join(te.dir, "got")
	signals := make(chan os.Signal, 1)
	go func() {
		for range 500 {
			if _, err := os.Stat(ready); err == nil {
				signals <- syscall.SIGUSR1
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	child := "trap 'echo usr1 > " + got + "; exit 0' USR1; touch " + ready + "; while :; do sleep 0.05; done"
	// The task survives USR1 (its trap) and waits for its child again.
	code := srv.Exec([]string{"sh", "-c", "sh -c \"" + child + "\" & pid=$!; trap : USR1; wait $pid; wait $pid"}, signals, stdio(&out))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if b, err := os.ReadFile(got); err != nil || strings.TrimSpace(string(b)) != "usr1" {
		t.Fatalf("the task's child did not get SIGUSR1: %q %v", b, err)
	}
}
