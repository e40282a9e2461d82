// Command airlock is the Airlock sidecar: a loopback PostgreSQL and S3 proxy
// that holds a task's real credentials, checks every statement and request
// against CEL rules, and writes a tamper-evident audit log.
//
// Flags and AIRLOCK_* environment variables are bound onto proxy.Config
// here and nowhere else.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/airlockproxy/airlock/proxy"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

const usage = `airlock: a data-access sidecar for short-lived ETL tasks.

Usage:
  airlock run    -c airlock.yaml               serve until SIGTERM, /quitquitquit or the task deadline
  airlock exec   -c airlock.yaml -- CMD ARGS…  run CMD with local-only credentials, exit with its code
  airlock policy check -c airlock.yaml         compile and type-check the rules
  airlock policy test  -c airlock.yaml CASES…  run policy test cases (YAML)
  airlock policy suggest [-c airlock.yaml] AUDIT…  allow rules for what a recorded task did (learn mode)
  airlock audit verify [--key-file F] FILE     check an audit log's record chain
  airlock audit summary FILE                   decisions by rule, denials, credential lifetimes
  airlock audit report [--key-file F] [-o F] [--format json] PATH…  one HTML page over many runs (files, dirs, globs, s3://)
  airlock revoke-stale -c airlock.yaml [--task ID]  drop ephemeral roles left by a killed Airlock (or one task's)
  airlock wait     [--admin ADDR]              block until a sidecar is ready
  airlock shutdown [--admin ADDR]              ask a running sidecar to stop
  airlock version

Run "airlock COMMAND -h" for a command's flags.
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == proxy.ReaperArg {
		_ = proxy.Harden()
		os.Exit(proxy.RunReaper(os.Args[2:])) // the task's reaper in exec mode
	}
	// Never dumpable, in every mode: a process of the same user cannot read
	// Airlock's memory, environment or descriptors through /proc.
	if err := proxy.Harden(); err != nil {
		fmt.Fprintln(os.Stderr, "airlock:", err)
		os.Exit(1)
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors that exit with code 2.
var errUsage = errors.New("usage")

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	code := 0
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		code, err = cmdServe(rest, false, stderr)
	case "exec":
		code, err = cmdServe(rest, true, stderr)
	case "policy":
		code, err = cmdPolicy(rest, stdout, stderr)
	case "audit":
		code, err = cmdAudit(rest, stdout, stderr)
	case "revoke-stale":
		code, err = cmdRevokeStale(rest, stdout, stderr)
	case "wait":
		err = cmdWait(rest, stdout, stderr)
	case "shutdown":
		err = cmdShutdown(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "airlock", buildVersion())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Errorf("unknown command %q (see airlock help)", cmd)}
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "airlock:", err)
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		if code == 0 {
			return 1
		}
	}
	return code
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return v + " " + bi.GoVersion
	}
	return "unknown"
}
