package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/airlockproxy/airlock/proxy/credentials"
	"github.com/rs/zerolog"
)

// cmdRevokeStale drops ephemeral roles that outlived their task: every
// airlock_ role whose VALID UNTIL has passed (an Airlock that was killed
// could not revoke its own), or with --task every role of that task,
// expired or not (after a run that exited with a revocation failure).
func cmdRevokeStale(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("airlock revoke-stale", flag.ContinueOnError)
	cf := newConfigFlags(fs, false)
	at := fs.String("at", "", "drop roles whose VALID UNTIL is before this RFC 3339 time instead of now")
	task := fs.String("task", "", "drop every role of this task id, expired or not (the run must be over)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return 2, err
	}
	now := time.Now()
	if *at != "" && *task != "" {
		return 2, usageError{errors.New("--at and --task do not go together: --task drops the task's roles whatever their expiry")}
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return 2, usageError{fmt.Errorf("--at: %w", err)}
		}
		now = t
	}
	cfg, err := cf.load(false)
	if err != nil {
		return 2, err
	}
	if cfg.Postgres == nil || cfg.Postgres.Credentials.Source != "ephemeral-role" {
		return 2, usageError{errors.New("revoke-stale needs postgres.credentials.source: ephemeral-role (its admin_dsn_file and reassign_to)")}
	}
	c := cfg.Postgres.Credentials
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var dropped []string
	what := "stale"
	if *task != "" {
		what = "task " + *task
		dropped, err = credentials.RevokeTask(ctx, c.AdminDSNFile, c.ReassignTo, *task, zerolog.New(stderr))
	} else {
		dropped, err = credentials.RevokeStale(ctx, c.AdminDSNFile, c.ReassignTo, now, zerolog.New(stderr))
	}
	for _, r := range dropped {
		fmt.Fprintln(stdout, "dropped", r)
	}
	fmt.Fprintf(stdout, "%d %s roles dropped\n", len(dropped), what)
	if err != nil {
		return 1, err
	}
	return 0, nil
}
