package conformance

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Outcome is one test's result in a JUnit report.
type Outcome struct {
	// Result is "passed", "failed", "error" or "skipped".
	Result string
	// Text is the failure or error message and details.
	Text string
}

type junitCase struct {
	Class   string      `xml:"classname,attr"`
	Name    string      `xml:"name,attr"`
	Failure *junitIssue `xml:"failure"`
	Error   *junitIssue `xml:"error"`
	Skipped *junitIssue `xml:"skipped"`
}

type junitIssue struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// ParseJUnit reads a pytest --junitxml report into outcomes by test id
// ("<classname>::<name>").
func ParseJUnit(data []byte) (map[string]Outcome, error) {
	var doc struct {
		Suites []struct {
			Cases []junitCase `xml:"testcase"`
		} `xml:"testsuite"`
		Cases []junitCase `xml:"testcase"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse JUnit report: %w", err)
	}
	cases := doc.Cases
	for _, s := range doc.Suites {
		cases = append(cases, s.Cases...)
	}
	out := make(map[string]Outcome, len(cases))
	for _, c := range cases {
		o := Outcome{Result: "passed"}
		switch {
		case c.Error != nil:
			o = Outcome{Result: "error", Text: c.Error.Message + "\n" + c.Error.Body}
		case c.Failure != nil:
			o = Outcome{Result: "failed", Text: c.Failure.Message + "\n" + c.Failure.Body}
		case c.Skipped != nil:
			o = Outcome{Result: "skipped", Text: c.Skipped.Message}
		}
		out[c.Class+"::"+c.Name] = o
	}
	return out, nil
}

// s3Error finds an S3 error as botocore reports it: "An error occurred
// (Code) when calling the Op operation: message".
var s3Error = regexp.MustCompile(`An error occurred \(([A-Za-z]+)\) when calling the (\w+) operation: ([^\n]*)`)

// S3Reason returns a stable key for Airlock speaking in a failure text
// ("AccessDenied: airlock: no rule allows", …), or "" when the text holds
// no error of Airlock's.
func S3Reason(text string) string {
	for _, m := range s3Error.FindAllStringSubmatch(text, -1) {
		msg, ok := strings.CutPrefix(m[3], "airlock: ")
		if !ok {
			continue
		}
		if loc := keyEnd.FindStringIndex(msg); loc != nil && loc[0] > 0 {
			msg = msg[:loc[0]]
		}
		if len(msg) > 80 {
			msg = msg[:80]
		}
		return m[1] + ": airlock: " + strings.TrimSpace(msg)
	}
	return ""
}

// CompareJUnit compares two runs of a suite test by test: a test whose
// result is the same on both sides is identical; one that fails only
// through Airlock with an Airlock error in its failure is by design; any
// other difference (including a test that passes only through Airlock,
// or a test one side did not run) is otherwise.
func CompareJUnit(direct, airlock map[string]Outcome) []FileResult {
	ids := make([]string, 0, len(direct))
	for id := range direct {
		ids = append(ids, id)
	}
	for id := range airlock {
		if _, ok := direct[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	res := make([]FileResult, 0, len(ids))
	for _, id := range ids {
		d, a := direct[id], airlock[id]
		r := FileResult{Name: id}
		if d.Result != a.Result {
			diff := Difference{Text: fmt.Sprintf("%s direct, %s through Airlock", orNone(d.Result), orNone(a.Result)),
				Direct: []string{d.Text}, Airlock: []string{a.Text}, Verdict: Otherwise}
			if reason := S3Reason(a.Text); reason != "" && a.Result != "passed" {
				diff.Verdict, diff.Reason = ByDesign, reason
			}
			r.Verdict = diff.Verdict
			r.Diffs = []Difference{diff}
		}
		res = append(res, r)
	}
	return res
}

func orNone(s string) string {
	if s == "" {
		return "not run"
	}
	return s
}
