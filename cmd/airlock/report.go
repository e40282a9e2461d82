package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/airlockproxy/airlock/internal/report"
	"github.com/airlockproxy/airlock/proxy"
)

// cmdAuditReport writes one HTML page (or JSON) over every run in the
// audit logs named by args: files, directories, globs and s3:// prefixes.
func cmdAuditReport(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("airlock audit report", flag.ContinueOnError)
	keyFile := fs.String("key-file", os.Getenv("AIRLOCK_AUDIT_KEY_FILE"), "the chains' key file (audit.key_file); empty: the logs are unkeyed")
	out := fs.String("o", "", "write the report to this file (default: stdout)")
	format := fs.String("format", "html", "html (one self-contained page) or json")
	if err := parseFlags(fs, args, stderr); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, usageError{errors.New("audit report needs logs: airlock audit report [--key-file F] [-o report.html] [--format json] PATH|DIR|GLOB|s3://bucket/prefix…")}
	}
	if *format != "html" && *format != "json" {
		return 2, usageError{fmt.Errorf("--format %q: want html or json", *format)}
	}
	key, err := proxy.ReadAuditKey(*keyFile)
	if err != nil {
		return 2, usageError{err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srcs, err := report.Expand(ctx, fs.Args())
	if err != nil {
		return 2, usageError{err}
	}
	opts := report.Options{Key: key}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		opts.Progress = stderr
	}
	rep, err := report.Generate(ctx, srcs, opts)
	if err != nil {
		return 1, err
	}
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return 1, fmt.Errorf("write report: %w", err)
		}
		w = f
	}
	if *format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = report.WriteHTML(w, rep)
	}
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return 1, fmt.Errorf("write report: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "report: %d runs from %d logs, %d not verified: %s\n", len(rep.Runs), len(rep.Logs), rep.BrokenLogs, *out)
	}
	if rep.BrokenLogs > 0 {
		return 1, nil
	}
	return 0, nil
}
