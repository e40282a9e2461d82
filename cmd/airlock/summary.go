package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// summaryRecord is the part of an audit record audit summary and policy
// replay read.
type summaryRecord struct {
	Event     string   `json:"event"`
	Task      string   `json:"task"`
	Protocol  string   `json:"protocol"`
	Action    string   `json:"action"`
	Resources []string `json:"resources"`
	Decision  string   `json:"decision"`
	WouldDeny bool     `json:"would_deny"`
	Rules     []string `json:"rules"`
	Reason    string   `json:"reason"`
	Time      string   `json:"time"`
	Detail    string   `json:"detail"`
	Phase     string   `json:"phase"`
	// PolicySHA256 is in a start record: the digest of the run's rule set.
	PolicySHA256 string `json:"policy_sha256"`
	// For policy replay.
	Seq                int64  `json:"seq"`
	Conn               string `json:"conn"`
	Client             string `json:"client"`
	User               string `json:"user"`
	Statement          string `json:"statement"`
	StatementTruncated bool   `json:"statement_truncated"`
	Credential         *struct {
		ID, Source, Upstream, Status, Expiry string
	} `json:"credential"`
}

// cmdAuditSummary prints decisions by outcome and rule, every denial, and
// the credential lifetimes found in an audit log. It does not verify the
// chain: run audit verify for that.
func cmdAuditSummary(path string, stdout io.Writer) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 2, usageError{err}
	}
	defer f.Close()
	byRule := map[string]int{}
	var denials []string
	type life struct{ source, issued, end, status string }
	creds := map[string]*life{}
	var order []string
	var policies []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 2<<20)
	line := 0
	for sc.Scan() {
		line++
		var r summaryRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 1, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		switch r.Event {
		case "lifecycle":
			if r.Phase == "start" {
				policies = append(policies, policyLine(r))
			}
		case "decision":
			outcome := r.Decision
			if r.WouldDeny {
				outcome = "would_deny"
			}
			rule := "(no rule)"
			if len(r.Rules) > 0 {
				rule = strings.Join(r.Rules, ",")
			}
			if outcome != "allow" && strings.HasPrefix(r.Reason, "denied by rule ") {
				rule = strings.TrimPrefix(r.Reason, "denied by rule ")
			} else if outcome != "allow" && len(r.Rules) == 0 {
				rule = r.Reason
			}
			byRule[fmt.Sprintf("%-10s %-8s %s", outcome, r.Protocol, rule)]++
			if outcome != "allow" {
				denials = append(denials, fmt.Sprintf("  %s %s %s %s: %s", r.Time, r.Protocol, r.Action, strings.Join(r.Resources, " "), r.Reason))
			}
		case "credential":
			c := r.Credential
			if c == nil {
				continue
			}
			l, ok := creds[c.ID]
			if !ok {
				l = &life{source: c.Source}
				creds[c.ID] = l
				order = append(order, c.ID)
			}
			switch c.Status {
			case "issued":
				l.issued = r.Time
			case "released":
				l.end, l.status = r.Time, "released ("+r.Detail+")"
			default:
				l.end, l.status = r.Time, c.Status
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 1, err
	}
	fmt.Fprintf(stdout, "runs (%d; task, start, rule set sha256):\n", len(policies))
	for _, p := range policies {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintln(stdout, "decisions (count, outcome, protocol, rule or reason):")
	keys := make([]string, 0, len(byRule))
	for k := range byRule {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "  %5d  %s\n", byRule[k], k)
	}
	fmt.Fprintf(stdout, "denials (%d):\n", len(denials))
	for _, d := range denials {
		fmt.Fprintln(stdout, d)
	}
	fmt.Fprintf(stdout, "credentials (%d):\n", len(order))
	for _, id := range order {
		l := creds[id]
		status := l.status
		if status == "" {
			status = "still held"
		}
		fmt.Fprintf(stdout, "  %s (%s): issued %s, %s %s\n", id, l.source, l.issued, status, l.end)
	}
	return 0, nil
}

// policyLine describes a run's start record: its task, time and the
// digest of the rule set that decided its requests.
func policyLine(r summaryRecord) string {
	d := r.PolicySHA256
	if d == "" {
		d = "(not recorded)"
	}
	return fmt.Sprintf("  %s %s policy_sha256 %s", r.Task, r.Time, d)
}

// runPolicies lists policyLine for every start record in the file at path.
func runPolicies(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 2<<20)
	for sc.Scan() {
		var r summaryRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Event == "lifecycle" && r.Phase == "start" {
			out = append(out, policyLine(r))
		}
	}
	return out, sc.Err()
}
