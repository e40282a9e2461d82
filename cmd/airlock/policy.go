package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

func cmdPolicy(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return 2, usageError{errors.New("policy needs a subcommand: check, test, scope-down or replay")}
	}
	switch args[0] {
	case "check":
		return cmdPolicyCheck(args[1:], stdout, stderr)
	case "test":
		return cmdPolicyTest(args[1:], stdout, stderr)
	case "scope-down":
		return cmdPolicyScopeDown(args[1:], stdout, stderr)
	case "replay":
		return cmdPolicyReplay(args[1:], stdout, stderr)
	case "suggest":
		return cmdPolicySuggest(args[1:], stdout, stderr)
	}
	return 2, usageError{fmt.Errorf("unknown policy subcommand %q (check, test, scope-down or replay)", args[0])}
}

// cmdPolicyCheck compiles the rules (and egress expressions) and describes them.
func cmdPolicyCheck(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, engine, _, code, err := compileConfig("airlock policy check", args, stderr, false)
	if err != nil {
		return code, err
	}
	unindexed := map[string][]string{} // protocol → rules evaluated for each of its requests
	for _, r := range engine.Describe() {
		effect, scope := "allow", "all protocols"
		if r.Deny {
			effect = "deny "
		}
		if len(r.Protocols) > 0 {
			scope = strings.Join(r.Protocols, ", ")
		}
		metered := ""
		if r.Tracked {
			metered = ", metered at run time"
		}
		index := "; indexed by " + strings.Join(r.Indexed, ", ")
		if len(r.Indexed) == 0 {
			index = "; not indexed"
			protocols := r.Protocols
			if len(protocols) == 0 {
				protocols = []string{policy.ProtocolPostgres, policy.ProtocolS3, policy.ProtocolHTTP}
			}
			for _, p := range protocols {
				unindexed[p] = append(unindexed[p], r.Name)
			}
		}
		fmt.Fprintf(stdout, "%s  %-24s %s; worst-case cost %d%s%s\n", effect, r.Name, scope, r.MaxCost, metered, index)
	}
	for _, p := range []string{policy.ProtocolPostgres, policy.ProtocolS3, policy.ProtocolHTTP} {
		if names := unindexed[p]; len(names) > 0 {
			fmt.Fprintf(stdout, "not indexed, evaluated for every %s request: %s\n", p, strings.Join(names, ", "))
		}
	}
	fmt.Fprintf(stdout, "ok: %d rules compiled (mode %s)\n", len(engine.Rules()), cfg.Mode)
	return 0, nil
}

// compileConfig parses the command's flags, loads the config (without
// checking the files it names) and compiles its policy: as configured, or
// for enforce-mode verdicts whatever the mode (cases and replays judge
// those). It returns the arguments after the flags; on error, code is the
// exit code: 2 for the command line or config, 1 for the rules.
func compileConfig(name string, args []string, stderr io.Writer, enforce bool) (cfg *proxy.Config, engine *policy.Engine, rest []string, code int, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cf := newConfigFlags(fs, false)
	if err := parseFlags(fs, args, stderr); err != nil {
		return nil, nil, nil, 2, err
	}
	if cfg, err = cf.load(false); err != nil {
		return nil, nil, nil, 2, err
	}
	if enforce {
		engine, err = cfg.CompileEnforcing()
	} else {
		engine, err = cfg.CompilePolicy()
	}
	if err != nil {
		return nil, nil, nil, 1, fmt.Errorf("%s:\n%w", *cf.path, err)
	}
	return cfg, engine, fs.Args(), 0, nil
}

// cmdPolicyScopeDown prints the session policy s3.credentials.scope_down
// would attach, for the config's task, and the notes on where it is wider
// than the rules (on stderr).
func cmdPolicyScopeDown(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, _, _, code, err := compileConfig("airlock policy scope-down", args, stderr, false)
	if err != nil {
		return code, err
	}
	doc, notes, err := policy.ScopeDownPolicy(cfg.Policy.Rules, &policy.Task{ID: cfg.Task.ID, Labels: cfg.Task.Labels})
	if err != nil {
		return 1, fmt.Errorf("scope-down: %w", err)
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(doc), "", "  "); err != nil {
		return 1, err
	}
	fmt.Fprintln(stdout, pretty.String())
	return 0, nil
}

// cmdPolicyTest runs case files against the configured policy.
func cmdPolicyTest(args []string, stdout, stderr io.Writer) (int, error) {
	// Cases judge the enforce-mode verdict, so observe mode changes nothing here.
	_, engine, files, code, err := compileConfig("airlock policy test", args, stderr, true)
	if err != nil {
		return code, err
	}
	if len(files) == 0 {
		return 2, usageError{errors.New("policy test needs case files: airlock policy test -c airlock.yaml cases.yaml")}
	}
	var passed, failed int
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return 2, usageError{err}
		}
		cases, err := policy.ParseTests(data)
		if err != nil {
			return 2, usageError{fmt.Errorf("%s: %w", file, err)}
		}
		if len(files) > 1 {
			fmt.Fprintf(stdout, "# %s\n", file)
		}
		p, f := engine.RunTests(cases, stdout)
		passed, failed = passed+p, failed+f
	}
	if len(files) > 1 {
		fmt.Fprintf(stdout, "total: %d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}
