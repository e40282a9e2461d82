package integration_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeScript is a hostile task: it finds Airlock's pid (its parent, or
// its parent's parent when it runs under Airlock's reaper) and tries to read
// Airlock's environment, memory map and memory, and the secret file.
const probeScript = `
id -u > "$OUT/uid"; id -g > "$OUT/gid"
ap=$PPID; [ "$(cat /proc/$ap/comm)" = airlock ] || ap=$(awk '/^PPid:/{print $2}' /proc/$ap/status)
echo "$ap" > "$OUT/airlock-pid"
for f in environ maps mem; do cat /proc/$ap/$f > /dev/null 2> "$OUT/err-$f"; done
cat "$SECRET_FILE" > /dev/null 2> "$OUT/err-secret"
cat "$AIRLOCK_CA_FILE" "$SSL_CERT_FILE" > /dev/null 2> "$OUT/err-ca"
true
`

// probeRig writes an exec config holding a static PostgreSQL password (a
// file) in a directory everyone may read, and a world-writable OUT dir.
type probeRig struct {
	dir, out, secret, config string
}

func newProbeRig(t *testing.T, execSection string) *probeRig {
	t.Helper()
	dir, err := os.MkdirTemp("", "airlock-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &probeRig{dir: dir, out: filepath.Join(dir, "out"), secret: filepath.Join(dir, "pg-password")}
	if err := os.Mkdir(r.out, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(r.out, 0o777)
	writeFile(t, r.secret, "probe-canary-0b1f\n")
	r.config = writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: probe, ttl: 1m}
listen: {admin: '127.0.0.1:0', postgres: '127.0.0.1:0'}
postgres:
  upstream: {host: 127.0.0.1, port: 1, database: app, sslmode: disable}
  credentials: {source: static, user: etl, password_file: %s}
audit: {path: %s}
shutdown: {drain: 1s}
%s
policy: {rules: [{name: sel, allow: 'sql.kind == "select"'}]}
`, r.secret, filepath.Join(r.out, "audit.jsonl"), execSection))
	for _, f := range []string{r.config} {
		_ = os.Chmod(f, 0o644)
	}
	return r
}

// denied reports whether the probe's read of what was refused.
func (r *probeRig) denied(t *testing.T, what string) bool {
	t.Helper()
	msg := readFile(t, filepath.Join(r.out, "err-"+what))
	return strings.Contains(msg, "Permission denied") || strings.Contains(msg, "Operation not permitted")
}

// TestExecRootRunsTaskAsExecUser: Airlock as root runs the task as
// exec.user, which cannot read Airlock's environment or memory through
// /proc, nor the secret file.
func TestExecRootRunsTaskAsExecUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: changing the task's user is a root-only feature")
	}
	r := newProbeRig(t, "exec: {user: nobody, group: nogroup}")
	res := airlock(t, []string{"OUT=" + r.out, "SECRET_FILE=" + r.secret}, "exec", "-c", r.config, "--", "sh", "-c", probeScript)
	if res.code != 0 {
		t.Fatalf("exec: %d\n%s", res.code, res.stderr)
	}
	if uid := strings.TrimSpace(readFile(t, filepath.Join(r.out, "uid"))); uid != "65534" {
		t.Fatalf("the task ran as uid %s, want exec.user nobody (65534)", uid)
	}
	if gid := strings.TrimSpace(readFile(t, filepath.Join(r.out, "gid"))); gid != "65534" {
		t.Fatalf("the task ran as gid %s, want nogroup (65534)", gid)
	}
	for _, what := range []string{"environ", "maps", "mem", "secret"} {
		if !r.denied(t, what) {
			t.Errorf("the task could read %s: %q", what, readFile(t, filepath.Join(r.out, "err-"+what)))
		}
	}
	if msg := readFile(t, filepath.Join(r.out, "err-ca")); msg != "" {
		t.Errorf("the task cannot read the local CA files it is given: %s", msg)
	}
}

// TestExecSameUIDCannotReadAirlock: with exec.allow_same_uid the task
// shares Airlock's uid, yet Airlock is not dumpable, so /proc/<pid>/environ,
// maps and mem stay closed to it. As root the test runs Airlock itself as
// nobody, to be an unprivileged same-uid pair.
func TestExecSameUIDCannotReadAirlock(t *testing.T) {
	r := newProbeRig(t, "exec: {allow_same_uid: true}")
	_ = os.Chmod(r.secret, 0o644) // Airlock must read it as whoever it runs as
	bin := airlockBin
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		bin = filepath.Join(r.dir, "airlock")
		copyFile(t, airlockBin, bin)
		cred = &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "exec", "-c", r.config, "--", "sh", "-c", probeScript)
	cmd.Env = append(os.Environ(), "OUT="+r.out, "SECRET_FILE="+r.secret, "HOME=/")
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	for _, what := range []string{"environ", "maps", "mem"} {
		if !r.denied(t, what) {
			t.Errorf("a same-uid task could read Airlock's %s: %q", what, readFile(t, filepath.Join(r.out, "err-"+what)))
		}
	}
}

// TestExecRefusesSameUIDWithSecrets: holding upstream secrets, exec
// refuses a task with Airlock's uid unless the config allows it, naming the
// field and the fix.
func TestExecRefusesSameUIDWithSecrets(t *testing.T) {
	r := newProbeRig(t, "")
	res := airlock(t, []string{"OUT=" + r.out}, "exec", "-c", r.config, "--", "sh", "-c", "echo ran > $OUT/ran")
	if res.code != 2 {
		t.Fatalf("exec: code %d, want 2\n%s", res.code, res.stderr)
	}
	want := "exec.allow_same_uid"
	if os.Geteuid() == 0 {
		want = "exec.user"
	}
	mustContain(t, "stderr", res.stderr, want, "allow_same_uid: true")
	if _, err := os.Stat(filepath.Join(r.out, "ran")); err == nil {
		t.Fatal("the task ran")
	}
}

// TestExecSIGKILLTakesTheTask: a SIGKILLed airlock exec takes its task and
// the task's background child with it within a second.
func TestExecSIGKILLTakesTheTask(t *testing.T) {
	r := newProbeRig(t, "exec: {allow_same_uid: true}")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, airlockBin, "exec", "-c", r.config, "--", "sh", "-c",
		`sleep 1000 & echo $! > "$OUT/grandchild"; echo $$ > "$OUT/child"; sleep 1000`)
	cmd.Env = append(os.Environ(), "OUT="+r.out)
	cmd.WaitDelay = time.Second // a surviving grandchild may hold a pipe
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	child, grandchild := waitPid(t, filepath.Join(r.out, "child")), waitPid(t, filepath.Join(r.out, "grandchild"))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	defer func() { _ = syscall.Kill(child, syscall.SIGKILL); _ = syscall.Kill(grandchild, syscall.SIGKILL) }()
	for !gone(child) || !gone(grandchild) {
		if time.Since(killed) > time.Second {
			t.Fatalf("1 s after airlock was killed: task %d gone %v, its child %d gone %v", child, gone(child), grandchild, gone(grandchild))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecEndsWhatTheTaskLeft: a task that starts a background process and
// exits ends the run; the background process is ended, not left running.
func TestExecEndsWhatTheTaskLeft(t *testing.T) {
	r := newProbeRig(t, "exec: {allow_same_uid: true}")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, airlockBin, "exec", "-c", r.config, "--", "sh", "-c",
		`sh -c 'sleep 1000 & echo $! > "$OUT/grandchild"'; exit 3`)
	cmd.Env = append(os.Environ(), "OUT="+r.out)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exec: %v, want exit code 3", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("exec took %s", el)
	}
	gc := waitPid(t, filepath.Join(r.out, "grandchild"))
	defer func() { _ = syscall.Kill(gc, syscall.SIGKILL) }()
	for range 100 {
		if gone(gc) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the task's background process %d outlived airlock exec", gc)
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// waitPid waits (bounded) for a file holding a pid.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// gone reports whether pid no longer runs (absent, or a zombie waiting
// for a parent that does not reap).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
