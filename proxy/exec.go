package proxy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
// forwards signals to it, and when it exits shuts down and returns its exit
// code (128+N when a signal N ended it; 127 when it could not start). If
// Airlock must stop first (deadline, /quitquitquit, error), the child gets
// SIGTERM, then SIGKILL after shutdown.drain.
func (s *Server) Exec(argv []string, signals <-chan os.Signal, stdio Stdio) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv(os.Environ(), s.namedSecretEnv(), s.heldSecretValues(), s.taskEnv)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	if err := cmd.Start(); err != nil {
		s.log.Error().Err(err).Str("command", argv[0]).Msg("could not start the task")
		return s.Shutdown(StopReason{Kind: "child", Detail: "could not start " + argv[0], Code: 127})
	}
	s.log.Info().Int("pid", cmd.Process.Pid).Str("command", argv[0]).Msg("task started")
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGINT && stdio.InIsTerminal {
				continue
			}
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.log.Warn().Err(err).Str("signal", sig.String()).Msg("could not forward signal")
			}
		case <-exited:
			code := exitCode(cmd.ProcessState)
			return s.Shutdown(StopReason{Kind: "child", Detail: fmt.Sprintf("task exited with code %d", code), Code: code})
		case r := <-s.stop:
			s.log.Info().Str("reason", r.Kind).Msg("stopping the task")
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(s.cfg.Shutdown.Drain.D()):
				s.log.Warn().Dur("drain", s.cfg.Shutdown.Drain.D()).Msg("task did not stop; killing it")
				_ = cmd.Process.Kill()
				<-exited
			}
			if r.Kind == "quit" {
				r.Code = exitCode(cmd.ProcessState)
			}
			return s.Shutdown(r)
		}
	}
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
