//go:build !linux

package proxy

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// Harden does nothing outside Linux (no PR_SET_DUMPABLE).
func Harden() error { return nil }

// ReaperArg is Linux-only; see reaper_linux.go.
const ReaperArg = "__airlock-task-reaper"

// RunReaper is Linux-only.
func RunReaper([]string) int { return 127 }

type task struct {
	cmd    *exec.Cmd
	pgid   int
	exited chan struct{}
}

// startTask runs the command in its own process group, without a reaper:
// outside Linux the task outlives a killed Airlock.
func startTask(path string, argv, env []string, stdio Stdio, id *execIdentity, _ time.Duration) (*task, error) {
	if id.Switch {
		return nil, errors.New("exec.user is supported on Linux only")
	}
	cmd := exec.Command(path)
	cmd.Args, cmd.Env = argv, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &task{cmd: cmd, pgid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(t.exited) }()
	return t, nil
}

func (t *task) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-t.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
