package conformance

import (
	"regexp"
	"slices"
	"strings"
)

// Verdict is how a file's (or a test's) two runs compare.
type Verdict int

const (
	// Identical: the same output for every statement.
	Identical Verdict = iota
	// ByDesign: every difference is Airlock speaking (a denial or a guard
	// rail, recognised by its error text) or follows from such a
	// difference earlier in the same file.
	ByDesign
	// Otherwise: at least one difference has no such explanation.
	Otherwise
)

func (v Verdict) String() string {
	switch v {
	case Identical:
		return "identical"
	case ByDesign:
		return "by design"
	default:
		return "otherwise"
	}
}

// Difference is one statement whose output differs between the runs.
type Difference struct {
	// Line and Text locate the statement in the script.
	Line int
	Text string
	// Verdict is ByDesign or Otherwise.
	Verdict Verdict
	// Reason names the cause of a ByDesign difference: Airlock's error
	// text reduced to a stable key, "cascade: <key>" for a difference that
	// follows one in the same file, or "one upstream role" for a
	// difference after psql reconnected as another user (Airlock logs in
	// upstream as its configured role whatever user the client names).
	Reason string
	// Direct and Airlock are the statement's output lines on each side.
	Direct, Airlock []string
}

// FileResult is the comparison of one script's two runs.
type FileResult struct {
	Name    string
	Verdict Verdict
	Diffs   []Difference
}

// CompareFile compares the output of script run directly (direct) and
// through Airlock (airlock), statement by statement.
func CompareFile(name, script, direct, airlock string) FileResult {
	sd := byLine(Segment(script, direct))
	sa := byLine(Segment(script, airlock))
	lines := make([]int, 0, len(sd)+len(sa))
	for l := range sd {
		lines = append(lines, l)
	}
	for l := range sa {
		if _, ok := sd[l]; !ok {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	res := FileResult{Name: name}
	cause := ""
	roleSwitched := false
	for _, l := range lines {
		d, a := sd[l], sa[l]
		text := d.Text
		if text == "" {
			text = a.Text
		}
		if switchesUser(text) {
			roleSwitched = true
		}
		if slices.Equal(normalize(d.Output), normalize(a.Output)) {
			continue
		}
		diff := Difference{Line: l, Text: text, Direct: d.Output, Airlock: a.Output, Verdict: ByDesign}
		switch reason := AirlockReason(a.Output); {
		case reason != "":
			diff.Reason = reason
			if cause == "" {
				cause = reason
			}
		case cause != "":
			diff.Reason = "cascade: " + cause
		case roleSwitched:
			diff.Reason = "one upstream role"
		default:
			diff.Verdict = Otherwise
		}
		res.Diffs = append(res.Diffs, diff)
		res.Verdict = max(res.Verdict, diff.Verdict)
	}
	return res
}

func byLine(stmts []Statement) map[int]Statement {
	m := make(map[int]Statement, len(stmts))
	for _, s := range stmts {
		m[s.Line] = s
	}
	return m
}

// connectUser matches psql's \c or \connect naming a user: "\c - alice",
// "\c db alice", "\connect - regress_user".
var connectUser = regexp.MustCompile(`^\s*\\c(onnect)?\s+\S+\s+\S+`)

func switchesUser(text string) bool { return connectUser.MatchString(text) }

// requestID is the per-request id in Airlock's denial DETAIL.
var requestID = regexp.MustCompile(`request_id=[0-9A-Za-z_-]+`)

func normalize(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = requestID.ReplaceAllString(l, "request_id=…")
	}
	return out
}

// airlockText finds Airlock's own error text in psql output
// ("ERROR:  airlock: …", "FATAL:  airlock: …").
var airlockText = regexp.MustCompile(`(?:ERROR|FATAL|WARNING):\s+airlock: (.*)$`)

// keyEnd cuts a reason before its specific part: a quoted name, a
// parenthesised detail, a value after a colon.
var keyEnd = regexp.MustCompile(`\s*[("'(;]|: `)

// AirlockReason returns a stable key for the first Airlock error in lines
// ("guard rail: statement cannot be checked", "denied by rule x", …), or ""
// when there is none.
func AirlockReason(lines []string) string {
	for _, l := range lines {
		m := airlockText.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		msg := m[1]
		prefix := ""
		if rest, ok := strings.CutPrefix(msg, "guard rail: "); ok {
			prefix, msg = "guard rail: ", rest
		}
		if loc := keyEnd.FindStringIndex(msg); loc != nil && loc[0] > 0 {
			msg = msg[:loc[0]]
		}
		if len(msg) > 80 {
			msg = msg[:80]
		}
		return prefix + strings.TrimSpace(msg)
	}
	return ""
}
