package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
)

const suggestUsage = `Usage: airlock policy suggest [-c airlock.yaml] [--cases FILE] [--include-denied] [--strict] [--no-presets] audit.jsonl...

Learn mode: prints allow rules (a policy.rules fragment for airlock.yaml) that
allow what a task did, from the decision records of its audit logs (one or
more runs, best recorded with mode: observe), and a summary on stderr.

Records are rebuilt as policy replay does: a statement is classified again
from its normalised text with -c's postgres.session.search_path and
postgres.upstream.database; without -c, with search_path "public" and no
database, and without task labels. Task ids come from the records (task.id
of -c for a record without one). Guard rails, statements cut at 4 KiB and
EXECUTEs are skipped, and so are denials of enforce mode unless
--include-denied.

Records a preset allows (client housekeeping, catalog metadata, bucket
probes) are left to it: the suggestion includes those presets
(policy.include) instead of rules of its own, unless --no-presets.

The suggestion checks itself: every record must be allowed again, and a
built-in corpus of hostile statements and S3 requests (hidden writes,
sleeps, signals, catalog and statistics reads, search_path games, COPY to a
program, other buckets, wider prefixes, bucket configuration), made from
the tables and buckets the task used, is decided against it; those it
allows are printed on stderr, and --strict makes them an error.

Flags:
`

// cmdPolicySuggest prints least-privilege allow rules for what the audit
// logs record (policy.Suggest), after checking that they allow every
// record they were made from, and optionally a policy test case file.
func cmdPolicySuggest(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("airlock policy suggest", flag.ContinueOnError)
	cf := newConfigFlags(fs, false)
	casesPath := fs.String("cases", "", "also write a policy test case file: one case per rule, from its example record")
	includeDenied := fs.Bool("include-denied", false, "also allow what enforce mode denied when recorded")
	strict := fs.Bool("strict", false, "exit 1 when the suggestion allows a request of the hostile corpus")
	noPresets := fs.Bool("no-presets", false, "copy client housekeeping, catalog reads and bucket probes into rules instead of including the presets that allow them")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), suggestUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, usageError{errors.New("policy suggest needs audit logs: airlock policy suggest [-c airlock.yaml] audit.jsonl...")}
	}
	cfg := &proxy.Config{}
	if *cf.path != "" {
		var err error
		if cfg, err = cf.load(false); err != nil {
			return 2, err
		}
	}
	in, err := readSuggestInput(cfg, fs.Args(), *includeDenied)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "%d decision records read from %d audit log(s); %d to suggest rules from\n", in.read, fs.NArg(), len(in.reqs))
	in.printSkipped(stderr)
	if len(in.reqs) == 0 {
		return 1, errors.New("no decision records to suggest rules from")
	}
	records := len(in.reqs)
	var include []string
	if !*noPresets {
		if include, err = leaveToPresets(in); err != nil {
			return 1, err
		}
		if len(include) > 0 {
			fmt.Fprintf(stderr, "%d records left to presets (%s)\n", len(in.toPresets), presetSummary(include, in.presetCounts))
		}
	}
	rules, err := policy.Suggest(in.reqs)
	if err != nil {
		return 1, fmt.Errorf("suggest: %w", err)
	}
	renameTaken(rules, cfg.Policy.Rules)
	text := suggestionYAML(rules, records, include, in.presetCounts)
	engine, covered, err := checkSuggestion(text, rules, in)
	fmt.Fprintf(stderr, "%d rules suggested; self-check: covers %d of %d records\n", len(rules), covered, records)
	if err != nil {
		return 1, fmt.Errorf("self-check failed (a bug in policy suggest): %w", err)
	}
	hostile, err := tryHostile(engine, replayClassifier(cfg), in.reqs)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "hostile corpus: %d requests tried (%d stopped by guard rails, %d statements left out as the task ran them), %d allowed by the suggestion\n",
		hostile.tried, hostile.guarded, hostile.same, len(hostile.allowed))
	for _, a := range hostile.allowed {
		fmt.Fprintln(stderr, "  "+a)
	}
	if *casesPath != "" {
		data, err := suggestionCases(rules, in.reqs)
		if err != nil {
			return 1, err
		}
		if err := os.WriteFile(*casesPath, data, 0o644); err != nil {
			return 1, fmt.Errorf("write cases: %w", err)
		}
		fmt.Fprintf(stderr, "%d cases written to %s\n", len(rules), *casesPath)
	}
	fmt.Fprint(stdout, text)
	if *strict && len(hostile.allowed) > 0 {
		return 1, fmt.Errorf("--strict: the suggestion allows %d requests of the hostile corpus", len(hostile.allowed))
	}
	return 0, nil
}

// suggestInput is what the audit logs give policy.Suggest.
type suggestInput struct {
	reqs    []policy.Request
	origins []string       // where each request was recorded: file:line (seq n)
	read    int            // decision records read
	skipped map[string]int // records left out, by reason
	denyBy  map[string]int // included records a deny rule matched, by rule

	// toPresets are the requests a preset allows, taken out of reqs
	// (leaveToPresets), with their origins and the count per preset.
	toPresets     []policy.Request
	presetOrigins []string
	presetCounts  map[string]int
}

// readSuggestInput rebuilds the requests of every decision record in
// files, leaving out (and counting) those policy replay cannot rebuild
// and, unless includeDenied, the denials of enforce mode.
func readSuggestInput(cfg *proxy.Config, files []string, includeDenied bool) (*suggestInput, error) {
	in := &suggestInput{skipped: map[string]int{}, denyBy: map[string]int{}}
	rp := replayer{cfg: cfg, classifier: replayClassifier(cfg)}
	for _, file := range files {
		err := eachDecision(file, func(line int, r *summaryRecord) {
			in.read++
			req, why := rp.request(r)
			switch {
			case why != "":
				in.skipped[why]++
				return
			case r.Decision == "deny" && !includeDenied:
				in.skipped["denials of enforce mode (--include-denied adds them)"]++
				return
			}
			if req.Task.ID == "" {
				req.Task.ID = cfg.Task.ID
			}
			if rule, ok := strings.CutPrefix(r.Reason, "denied by rule "); ok {
				in.denyBy[rule]++
			}
			in.reqs = append(in.reqs, req)
			in.origins = append(in.origins, fmt.Sprintf("%s:%d (seq %d)", file, line, r.Seq))
		})
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

// eachDecision calls fn with every decision record of an audit log.
func eachDecision(path string, fn func(line int, r *summaryRecord)) error {
	f, err := os.Open(path)
	if err != nil {
		return usageError{err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 2<<20)
	for line := 1; sc.Scan(); line++ {
		var r summaryRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("%s:%d: not an audit record: %w", path, line, err)
		}
		if r.Event == "decision" {
			fn(line, &r)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func (in *suggestInput) printSkipped(w io.Writer) {
	var lines []string
	for why, n := range in.skipped {
		lines = append(lines, fmt.Sprintf("skipped %d: %s", n, why))
	}
	var rules []string
	n := 0
	for rule, k := range in.denyBy {
		rules, n = append(rules, rule), n+k
	}
	slices.Sort(lines)
	slices.Sort(rules)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if n > 0 {
		fmt.Fprintf(w, "note: %d of these records matched deny rules when recorded (%s); the suggested rules allow them, a deny rule in your policy still wins\n",
			n, strings.Join(rules, ", "))
	}
}

// suggestionYAML prints the rules as a policy.rules fragment, each after a
// comment saying how many records it covers, one of them, and what it
// allows beyond the values seen.
func suggestionYAML(rules []policy.SuggestedRule, records int, include []string, presetCounts map[string]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Suggested by airlock policy suggest from %d recorded decisions: review\n", records)
	b.WriteString("# them, then try them with airlock policy test and airlock policy replay.\n")
	b.WriteString("policy:\n")
	if len(include) > 0 {
		fmt.Fprintf(&b, "  # records left to presets (what clients send by themselves): %s\n", presetSummary(include, presetCounts))
		b.WriteString("  include: [" + strings.Join(include, ", ") + "]\n")
	}
	b.WriteString("  rules:\n")
	for _, r := range rules {
		unit := "records"
		if len(r.Requests) == 1 {
			unit = "record"
		}
		fmt.Fprintf(&b, "    # %d %s, e.g. %s\n", len(r.Requests), unit, r.Example)
		if len(r.Generalised) == 0 {
			b.WriteString("    # generalised: nothing (the exact values seen)\n")
		}
		for _, g := range r.Generalised {
			b.WriteString("    # generalised: " + g + "\n")
		}
		fmt.Fprintf(&b, "    - name: %s\n", r.Name)
		if len(r.Allow) <= 100 && !strings.Contains(r.Allow, ": ") && !strings.Contains(r.Allow, " #") {
			fmt.Fprintf(&b, "      allow: %s\n", r.Allow)
			continue
		}
		// A folded block scalar needs no escapes; its line breaks read
		// back as the spaces after each "&&".
		b.WriteString("      allow: >-\n")
		for i, c := range r.Conditions {
			b.WriteString("        " + c)
			if i < len(r.Conditions)-1 {
				b.WriteString(" &&")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// checkSuggestion reads the printed rules back, compiles them, and
// decides every request again: each must be allowed, by (among others)
// the rule made from its group. It returns how many are.
func checkSuggestion(text string, rules []policy.SuggestedRule, in *suggestInput) (*policy.Engine, int, error) {
	var doc struct {
		Policy struct {
			Include []string      `yaml:"include"`
			Rules   []policy.Rule `yaml:"rules"`
		} `yaml:"policy"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, 0, fmt.Errorf("the printed rules do not parse: %w", err)
	}
	for i, r := range doc.Policy.Rules {
		if i >= len(rules) || r != rules[i].Rule {
			return nil, 0, fmt.Errorf("rule %d reads back as %q: %s", i, r.Name, r.Allow)
		}
	}
	presets, err := policy.PresetRules(doc.Policy.Include)
	if err != nil {
		return nil, 0, fmt.Errorf("the printed include: %w", err)
	}
	engine, err := policy.Compile(append(presets, doc.Policy.Rules...), policy.Options{})
	if err != nil {
		return nil, 0, fmt.Errorf("the suggested rules do not compile:\n%w", err)
	}
	covered := 0
	var errs []error
	for _, r := range rules {
		for _, i := range r.Requests {
			req := in.reqs[i]
			if d := engine.Decide(&req); !d.Allow || !slices.Contains(d.Rules, r.Name) {
				errs = append(errs, fmt.Errorf("%s %s %s %s: not allowed by %s (%s)", in.origins[i], req.Protocol, req.Action(),
					strings.Join(req.Resources(), " "), r.Name, d.Reason))
				continue
			}
			covered++
		}
	}
	n, perrs := checkPresetRecords(engine, in)
	return engine, covered + n, errors.Join(append(errs, perrs...)...)
}

// suggestionCases is a policy test case file with one case per rule: its
// example request, which it must allow.
func suggestionCases(rules []policy.SuggestedRule, reqs []policy.Request) ([]byte, error) {
	type testCase struct {
		Name    string     `yaml:"name"`
		Request *yaml.Node `yaml:"request"`
		Expect  string     `yaml:"expect"`
		Rule    string     `yaml:"rule"`
	}
	var file struct {
		Cases []testCase `yaml:"cases"`
	}
	for _, r := range rules {
		req := reqs[r.Requests[0]]
		// Only what the suggested rules can see: no ids, connection, clock or labels.
		req.ID, req.Conn, req.Now, req.Task.Labels = "", policy.Conn{}, time.Time{}, nil
		n := new(yaml.Node)
		if err := n.Encode(req); err != nil {
			return nil, fmt.Errorf("case %s: %w", r.Name, err)
		}
		dropZero(n)
		n.Style = yaml.FlowStyle
		file.Cases = append(file.Cases, testCase{Name: r.Name, Request: n, Expect: "allow", Rule: r.Name})
	}
	var b bytes.Buffer
	b.WriteString("# Cases for the rules airlock policy suggest printed: each rule allows the\n# recorded request its comment names.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&file); err != nil {
		return nil, fmt.Errorf("cases: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// dropZero removes the zero values of an encoded request from n and
// reports whether nothing is left.
func dropZero(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !dropZero(n.Content[i+1]) {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return true
		case "!!str":
			return n.Value == ""
		case "!!bool":
			return n.Value == "false"
		case "!!int":
			return n.Value == "0"
		case "!!timestamp":
			return n.Value == time.Time{}.Format(time.RFC3339)
		}
	}
	return false
}

// renameTaken gives each suggested rule whose name the config already uses
// the next free number, so the suggestion can be pasted next to the rules
// of an earlier one.
func renameTaken(rules []policy.SuggestedRule, existing []policy.Rule) {
	taken := map[string]bool{}
	for _, r := range existing {
		taken[r.Name] = true
	}
	clash := map[int]bool{}
	for i, r := range rules {
		if taken[r.Name] {
			clash[i] = true
		}
	}
	for _, r := range rules {
		taken[r.Name] = true
	}
	for i := range rules {
		if !clash[i] {
			continue
		}
		base, n := rules[i].Name, 1
		if j := strings.LastIndexByte(base, '-'); j > 0 {
			if v, err := strconv.Atoi(base[j+1:]); err == nil {
				base, n = base[:j], v
			}
		}
		for taken[rules[i].Name] {
			n++
			rules[i].Name = base + "-" + strconv.Itoa(n)
		}
		taken[rules[i].Name] = true
	}
}
