package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TestFile is the format of `airlock policy test` case files.
type TestFile struct {
	Cases []TestCase `yaml:"cases"`
}

// TestCase is one request and the decision the policy must reach for it.
type TestCase struct {
	Name    string  `yaml:"name"`
	Request Request `yaml:"request"`
	// Expect is "allow" or "deny": the policy's verdict as enforce mode sees it.
	Expect string `yaml:"expect"`
	// Rule, when set, must be among the matching rules.
	Rule string `yaml:"rule,omitempty"`
	// Reason, when set, must be contained in the decision's reason.
	Reason string `yaml:"reason,omitempty"`
}

// ParseTests reads a case file strictly: unknown fields are errors.
func ParseTests(data []byte) ([]TestCase, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f TestFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no cases: the file is empty")
		}
		return nil, fmt.Errorf("parse cases: %w", err)
	}
	if len(f.Cases) == 0 {
		return nil, errors.New("no cases: expected a top-level 'cases:' list")
	}
	var problems []string
	for i := range f.Cases {
		c := &f.Cases[i]
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		if c.Expect != "allow" && c.Expect != "deny" {
			problems = append(problems, fmt.Sprintf("cases[%d] (%s).expect: %q is not allow or deny", i, c.Name, c.Expect))
		}
		if err := c.Request.complete(); err != nil {
			problems = append(problems, fmt.Sprintf("cases[%d] (%s).request: %v", i, c.Name, err))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return f.Cases, nil
}

// complete fills what a case may leave out: the protocol (from the part that
// is set), sql.kinds from sql.kind, and sql.tables from reads and writes.
func (r *Request) complete() error {
	if r.Protocol == "" {
		var set []string
		if !isZeroSQL(&r.SQL) {
			set = append(set, ProtocolPostgres)
		}
		if !isZeroS3(&r.S3) {
			set = append(set, ProtocolS3)
		}
		if r.HTTP != (HTTP{}) {
			set = append(set, ProtocolHTTP)
		}
		if len(set) != 1 {
			return errors.New("protocol: set it to postgres, s3 or http (it cannot be inferred)")
		}
		r.Protocol = set[0]
	}
	if protocolBit(r.Protocol) == 0 {
		return fmt.Errorf("protocol: %q is not postgres, s3 or http", r.Protocol)
	}
	if r.Conn.Protocol == "" {
		r.Conn.Protocol = r.Protocol
	}
	if len(r.SQL.Kinds) == 0 && r.SQL.Kind != "" {
		r.SQL.Kinds = []string{r.SQL.Kind}
	}
	if len(r.SQL.Tables) == 0 {
		for _, t := range append(slices.Clone(r.SQL.Reads), r.SQL.Writes...) {
			if !slices.Contains(r.SQL.Tables, t) {
				r.SQL.Tables = append(r.SQL.Tables, t)
			}
		}
	}
	return nil
}

func isZeroSQL(s *SQL) bool {
	return s.Kind == "" && s.Command == "" && s.Text == "" && s.Database == "" &&
		len(s.Kinds)+len(s.Reads)+len(s.Writes)+len(s.Tables)+len(s.Functions) == 0
}

func isZeroS3(s *S3) bool {
	return s.Action == "" && s.Bucket == "" && s.Key == "" && s.Prefix == "" && s.SourceBucket == "" &&
		s.SourceKey == "" && s.VersionID == "" && len(s.Headers) == 0
}

// RunTests decides every case, prints one line per case and a summary to w,
// and returns the counts.
func (e *Engine) RunTests(cases []TestCase, w io.Writer) (passed, failed int) {
	for _, c := range cases {
		req := c.Request
		d := e.Decide(&req)
		got := "allow"
		if d.Denied() {
			got = "deny"
		}
		var why []string
		if got != c.Expect {
			why = append(why, fmt.Sprintf("expected %s, got %s (%s)", c.Expect, got, d.Reason))
		}
		if c.Rule != "" && !slices.Contains(d.Rules, c.Rule) {
			why = append(why, fmt.Sprintf("expected rule %s among the matches, got [%s]", c.Rule, strings.Join(d.Rules, ", ")))
		}
		if c.Reason != "" && !strings.Contains(d.Reason, c.Reason) {
			why = append(why, fmt.Sprintf("expected reason containing %q, got %q", c.Reason, d.Reason))
		}
		if len(why) == 0 {
			passed++
			fmt.Fprintf(w, "PASS  %s: %s (%s)\n", c.Name, got, d.Reason)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s: %s\n", c.Name, strings.Join(why, "; "))
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	return passed, failed
}
