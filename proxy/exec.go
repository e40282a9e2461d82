package proxy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Run serves until SIGTERM or SIGINT, POST /quitquitquit, the task deadline
// or a fatal error, then shuts down and returns the exit code.
func (s *Server) Run(signals <-chan os.Signal) int {
	for {
		select {
		case sig := <-signals:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				return s.Shutdown(StopReason{Kind: "signal", Detail: sig.String(), Code: s.cfg.Shutdown.SigtermExitCode})
			default:
				s.log.Info().Str("signal", sig.String()).Msg("signal ignored")
			}
		case r := <-s.stop:
			return s.Shutdown(r)
		}
	}
}

// Stdio is the child's standard streams in exec mode.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
	// InIsTerminal: the terminal already delivers SIGINT to the child's
	// process group, so Airlock does not forward it a second time.
	InIsTerminal bool
}

// Exec runs argv as the task with local-only environment variables,
// forwards signals to its process group, and when it exits shuts down and
// returns its exit code (128+N when a signal N ended it; 127 when it could
// not start; 2 when the exec section forbids starting it). If Airlock must
// stop first (deadline, /quitquitquit, error), the group gets SIGTERM,
// then SIGKILL after shutdown.drain.
//
// The task runs under a reaper (Airlock's own binary, see RunReaper) that
// leads the task's process group: whatever the task leaves behind is ended
// when it exits, and everything goes when Airlock dies, even by SIGKILL.
// Running as root with exec.user set, the reaper and the task run as that
// user and group, without supplementary groups.
func (s *Server) Exec(argv []string, signals <-chan os.Signal, stdio Stdio) int {
	id, err := s.cfg.execIdentity(os.Geteuid())
	if err != nil {
		s.log.Error().Err(err).Msg("the task was not started")
		return s.Shutdown(StopReason{Kind: "child", Detail: "exec refused: " + err.Error(), Code: ExitUsage})
	}
	path, err := exec.LookPath(argv[0])
	if err == nil && id.Switch {
		err = shareDir(s.localDir, id.GID)
	}
	if err != nil {
		s.log.Error().Err(err).Str("command", argv[0]).Msg("could not start the task")
		return s.Shutdown(StopReason{Kind: "child", Detail: "could not start " + argv[0], Code: 127})
	}
	env, withheld := childEnv(os.Environ(), s.namedSecretEnv(), s.heldSecretValues(), s.taskEnv)
	if len(withheld) > 0 {
		s.log.Info().Strs("variables", withheld).Msg("variables withheld from the task: their values carry a held secret")
	}
	env = setEnv(env, id.Env)
	t, err := startTask(path, argv, env, stdio, id, s.cfg.Shutdown.Drain.D())
	if err != nil {
		s.log.Error().Err(err).Str("command", argv[0]).Msg("could not start the task")
		return s.Shutdown(StopReason{Kind: "child", Detail: "could not start " + argv[0], Code: 127})
	}
	ev := s.log.Info().Int("pid", t.pgid).Str("command", argv[0])
	if id.Switch {
		ev = ev.Uint32("uid", id.UID).Uint32("gid", id.GID)
	}
	ev.Msg("task started")
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGINT && stdio.InIsTerminal {
				continue // the terminal delivers it to the task's group
			}
			if ss, ok := sig.(syscall.Signal); ok {
				if err := t.signal(ss); err != nil {
					s.log.Warn().Err(err).Str("signal", sig.String()).Msg("could not forward signal")
				}
			}
		case <-t.exited:
			code := exitCode(t.cmd.ProcessState)
			return s.Shutdown(StopReason{Kind: "child", Detail: fmt.Sprintf("task exited with code %d", code), Code: code})
		case r := <-s.stop:
			s.log.Info().Str("reason", r.Kind).Msg("stopping the task")
			_ = t.signal(syscall.SIGTERM)
			select {
			case <-t.exited:
			case <-time.After(s.cfg.Shutdown.Drain.D()):
				s.log.Warn().Dur("drain", s.cfg.Shutdown.Drain.D()).Msg("task did not stop; killing its process group")
				_ = t.signal(syscall.SIGKILL)
				<-t.exited
			}
			if r.Kind == "quit" {
				r.Code = exitCode(t.cmd.ProcessState)
			}
			return s.Shutdown(r)
		}
	}
}

// setEnv sets each NAME=value of set in env, replacing what env had.
func setEnv(env, set []string) []string {
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		env = append(env, kv)
	}
	return env
}

// shareDir lets group gid (the task's) read dir, where the CA files are.
func shareDir(dir string, gid uint32) error {
	if dir == "" {
		return nil
	}
	if err := os.Chown(dir, -1, int(gid)); err != nil {
		return fmt.Errorf("give the task's group the local dir: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("give the task's group the local dir: %w", err)
	}
	return nil
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// namedSecretEnv lists the variables the config names as holding upstream
// secrets.
func (s *Server) namedSecretEnv() []string {
	var out []string
	if p := s.cfg.Postgres; p != nil && p.Credentials.PasswordEnv != "" {
		out = append(out, p.Credentials.PasswordEnv)
	}
	for c := s.s3Creds(); c != nil; c = c.Base {
		if c.SecretAccessKeyEnv != "" {
			out = append(out, c.SecretAccessKeyEnv)
		}
	}
	return out
}

func (s *Server) s3Creds() *S3Credentials {
	if s.cfg.S3 == nil {
		return nil
	}
	return &s.cfg.S3.Credentials
}

// heldSecretValues returns upstream secret values Airlock knows of, so that
// no variable carrying one reaches the child whatever its name.
func (s *Server) heldSecretValues() []string {
	var out []string
	for _, name := range s.namedSecretEnv() {
		if v := os.Getenv(name); v != "" {
			out = append(out, v)
		}
	}
	for _, f := range s.held {
		out = append(out, f()...)
	}
	return out
}
