package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/airlockproxy/airlock/proxy"
)

// cmdServe runs `airlock run` and `airlock exec`.
func cmdServe(args []string, execMode bool, stderr io.Writer) (int, error) {
	name := "run"
	if execMode {
		name = "exec"
	}
	fs := flag.NewFlagSet("airlock "+name, flag.ContinueOnError)
	cf := newConfigFlags(fs, true)
	if err := parseFlags(fs, args, stderr); err != nil {
		return 2, err
	}
	argv := fs.Args()
	if execMode && len(argv) == 0 {
		return 2, usageError{errors.New("exec needs a command: airlock exec -c airlock.yaml -- CMD ARGS…")}
	}
	if !execMode && len(argv) > 0 {
		return 2, usageError{errors.New("run takes no arguments; did you mean airlock exec -- " + argv[0] + "?")}
	}
	cfg, err := cf.load(true)
	if err != nil {
		return 2, err
	}
	if execMode {
		if err := cfg.ValidateExec(); err != nil {
			return 2, err
		}
	}
	log := newLogger(cfg.Log, stderr)
	// Catch signals before anything starts, so none is lost in between.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)

	srv := proxy.New(cfg, proxy.Options{Log: log, Exec: execMode, Handlers: proxy.ProtocolHandlers})
	if err := srv.Start(context.Background()); err != nil {
		log.Error().Err(err).Msg("airlock could not start")
		return proxy.ExitFailure, nil
	}
	if !execMode {
		return srv.Run(signals), nil
	}
	return srv.Exec(argv, signals, proxy.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, InIsTerminal: isTerminal(os.Stdin)}), nil
}

func newLogger(c proxy.Log, w io.Writer) zerolog.Logger {
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w}
	}
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("component", "airlock").Logger()
}

// isTerminal reports whether f is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
