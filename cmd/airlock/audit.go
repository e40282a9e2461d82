package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

func cmdAudit(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) > 0 && args[0] == "report" {
		return cmdAuditReport(args[1:], stdout, stderr)
	}
	if len(args) == 2 && args[0] == "summary" {
		return cmdAuditSummary(args[1], stdout)
	}
	if len(args) == 0 || args[0] != "verify" {
		return 2, usageError{errors.New("audit needs a subcommand: verify FILE or summary FILE")}
	}
	fs := flag.NewFlagSet("airlock audit verify", flag.ContinueOnError)
	keyFile := fs.String("key-file", os.Getenv("AIRLOCK_AUDIT_KEY_FILE"), "the chain's key file (audit.key_file); empty: the log is unkeyed")
	allowOpen := fs.Bool("allow-open", false, "accept a log without a final exit checkpoint (Airlock still running)")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return 2, err
	}
	if fs.NArg() != 1 {
		return 2, usageError{errors.New("audit verify takes one file: airlock audit verify [--key-file F] audit.jsonl")}
	}
	key, err := proxy.ReadAuditKey(*keyFile)
	if err != nil {
		return 2, usageError{err}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return 2, usageError{err}
	}
	defer f.Close()
	rep, err := audit.Verify(f, audit.VerifyOptions{Key: key, AllowOpen: *allowOpen})
	if err != nil {
		return 1, fmt.Errorf("%s: FAILED after %d good records: %w", fs.Arg(0), rep.Records, err)
	}
	chain := "keyed HMAC-SHA256 chain"
	if !rep.Keyed {
		chain = "UNKEYED SHA-256 chain (detects accidents, not forgery: set audit.key_file)"
	}
	end := "ends with its exit checkpoint"
	if !rep.Clean {
		end = "no exit checkpoint yet (open log)"
	}
	fmt.Fprintf(stdout, "%s: ok: %d records, seq %d-%d, %d runs, %s, %s\n", fs.Arg(0), rep.Records, rep.FirstSeq, rep.LastSeq, rep.Runs, chain, end)
	// The chain holds, so each run's start record says which rule set decided.
	policies, err := runPolicies(fs.Arg(0))
	if err != nil {
		return 1, fmt.Errorf("%s: read start records: %w", fs.Arg(0), err)
	}
	for _, p := range policies {
		fmt.Fprintln(stdout, p)
	}
	if n := len(rep.Resumes); n > 0 {
		fmt.Fprintf(stdout, "%d resume record(s): Airlock recorded a break in the log and continued the chain:\n", n)
		for _, r := range rep.Resumes {
			torn := ""
			if r.Torn {
				torn = " (after a partial line the failed write left)"
			}
			fmt.Fprintf(stdout, "  line %d, seq %d%s: %s\n", r.Line, r.Seq, torn, r.Detail)
		}
	}
	return 0, nil
}
