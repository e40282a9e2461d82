package proxy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Harden makes this process non-dumpable: no core dumps, and /proc/<pid>
// (environ, mem, maps, fd…) is owned by root, so another process of the
// same user without CAP_SYS_PTRACE cannot read Airlock's memory or
// environment. Call it first thing in every mode.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("make the process non-dumpable: %w", err)
	}
	return nil
}

// ReaperArg, as the first argument of Airlock's own binary, runs it as the
// task's reaper (see RunReaper) instead of a command. A main that runs
// Server.Exec must call RunReaper when it sees it.
const ReaperArg = "__airlock-task-reaper"

// task is the task's process tree: the reaper, leader of its own process
// group, and the command it runs.
type task struct {
	cmd    *exec.Cmd
	pgid   int
	exited chan struct{} // closed once cmd has been waited for
}

// startTask starts the reaper running path (argv) as id, in a new process
// group, with env. The reaper gets SIGTERM when the thread that started it
// ends (PR_SET_PDEATHSIG follows the thread, not the process), so the
// starting goroutine stays locked to its OS thread until the reaper has
// been waited for; Go ends a thread only when a goroutine locked to it
// exits without unlocking, which this one does not.
func startTask(path string, argv, env []string, stdio Stdio, id *execIdentity, grace time.Duration) (*task, error) {
	args := append([]string{ReaperArg, strconv.Itoa(os.Getpid()), grace.String(), path}, argv...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = "airlock-reaper"
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if stdio.InIsTerminal {
		// The task's group takes the terminal, so that it can read it and
		// ^C reaches it.
		attr.Foreground, attr.Ctty = true, 0
	}
	if id.Switch {
		attr.Credential = &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
	t := &task{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(t.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	t.pgid = cmd.Process.Pid
	return t, nil
}

// signal sends sig to the task's whole process group.
func (t *task) signal(sig syscall.Signal) error {
	err := syscall.Kill(-t.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // all gone
	}
	return err
}

// RunReaper is the task's reaper, started by Exec as Airlock's own binary
// with args: Airlock's pid, the grace period, the command's path, its
// argv. Leader of the task's process group and a child subreaper, it runs
// the command and returns its exit code (128+N for signal N). Signals
// Airlock sends the group reach the command directly; the reaper ignores
// them. When the command exits it ends whatever the command left in the
// group or below it: SIGTERM, then SIGKILL after the grace period. When
// Airlock dies (its PR_SET_PDEATHSIG), it kills the group at once.
func RunReaper(args []string) int {
	if len(args) < 4 {
		fmt.Fprintln(os.Stderr, "airlock reaper: bad arguments")
		return 127
	}
	parent, _ := strconv.Atoi(args[0])
	grace, _ := time.ParseDuration(args[1])
	path, argv := args[2], args[3:]
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGCHLD) // SIGCHLD: a child exited, reap now
	self := os.Getpid()
	if os.Getppid() != parent {
		return 127 // Airlock died before the reaper could watch it
	}
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	runtime.LockOSThread() // the command's PR_SET_PDEATHSIG follows this thread
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "airlock: could not start %s: %v\n", argv[0], err)
		code := 126
		if errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return code
	}
	r := &reaper{self: self, cmd: cmd.Process.Pid}
	for {
		r.reap()
		if r.done {
			r.endGroup(grace)
			return r.code
		}
		select {
		case <-sigs: // SIGCHLD, a signal for the group, or Airlock's death
		case <-time.After(100 * time.Millisecond): // a bound, should a signal be dropped
		}
		if os.Getppid() != parent {
			r.endGroup(0) // Airlock is gone: so is the task
			return 128 + int(syscall.SIGKILL)
		}
	}
}

// reaper tracks the command and the processes left behind.
type reaper struct {
	self, cmd int
	done      bool // the command has exited
	code      int  // its exit code, 128+N for signal N
}

// endGroup ends every process left in the reaper's group and every
// descendant reparented to it: SIGTERM, then SIGKILL after grace (at once
// when grace is 0), reaping them as they go. It is bounded: grace plus a
// second.
func (r *reaper) endGroup(grace time.Duration) {
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	deadline := time.Now().Add(grace)
	hard := deadline.Add(time.Second)
	for {
		r.reap()
		left := r.leftovers()
		if len(left) == 0 {
			return
		}
		now := time.Now()
		if now.After(hard) {
			return
		}
		if sig == syscall.SIGTERM && now.After(deadline) {
			sig = syscall.SIGKILL
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leftovers lists the other live members of the reaper's group and its
// live children (processes that left the group and were reparented here),
// in one pass over /proc.
func (r *reaper) leftovers() []int {
	var out []int
	eachProc(func(pid, ppid, pgid int) {
		if pid != r.self && (pgid == r.self || ppid == r.self) {
			out = append(out, pid)
		}
	})
	return out
}

// reap collects every child that has exited, noting the command's status.
func (r *reaper) reap() {
	for range 1000 {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			if errors.Is(err, syscall.ECHILD) && !r.done {
				r.done, r.code = true, 127 // lost: cannot happen while it lives
			}
			return
		}
		if pid == r.cmd {
			r.done, r.code = true, ws.ExitStatus()
			if ws.Signaled() {
				r.code = 128 + int(ws.Signal())
			}
		}
	}
}

// eachProc calls f with each live process's pid, parent and group.
// Zombies are skipped: they are gone but for the reaping.
func eachProc(f func(pid, ppid, pgid int)) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		i := lastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var state byte
		var ppid, pgid int
		if _, err := fmt.Sscanf(string(b[i+1:]), " %c %d %d", &state, &ppid, &pgid); err != nil || state == 'Z' {
			continue
		}
		f(pid, ppid, pgid)
	}
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
