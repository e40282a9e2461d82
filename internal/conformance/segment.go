package conformance

import "strings"

// Statement is one statement of a psql script as psql echoed it with -a,
// and what psql printed after it until the next statement began.
type Statement struct {
	// Line is the 1-based line of the script where the statement starts.
	Line int
	// Text is the statement's first line.
	Text string
	// Output is every output line that belongs to the statement: its echo
	// (continuation lines and comments after it) and its results.
	Output []string
}

// maxLookahead bounds the search for a script line's echo in the output.
const maxLookahead = 20000

// Segment cuts output, which psql -a printed while reading script, into the
// script's statements. Each non-blank script line is looked for, in order,
// in the output (psql echoes it verbatim); output between two echoes
// belongs to the statement that was being read. A statement starts at a
// line that follows the end of the previous one (a line ending in ';' or a
// backslash meta-command) and is not a comment. Output before the first
// statement belongs to a statement at line 0.
func Segment(script, output string) []Statement {
	in := splitLines(script)
	out := splitLines(output)
	stmts := []Statement{{Line: 0}}
	cur := &stmts[0]
	pos := 0
	ended := true
	for i, l := range in {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		j := find(out, pos, l)
		if j < 0 {
			continue
		}
		cur.Output = append(cur.Output, out[pos:j]...)
		if ended && !strings.HasPrefix(t, "--") {
			stmts = append(stmts, Statement{Line: i + 1, Text: l})
			cur = &stmts[len(stmts)-1]
		}
		cur.Output = append(cur.Output, out[j])
		pos = j + 1
		switch {
		case strings.HasPrefix(t, `\`):
			ended = true
		case strings.HasPrefix(t, "--"):
			// a comment leaves the state as it was
		default:
			ended = strings.HasSuffix(stripComment(t), ";")
		}
	}
	cur.Output = append(cur.Output, out[pos:]...)
	return stmts
}

// find returns the index of the first line equal to want in out[from:],
// looking at most maxLookahead lines ahead; -1 when there is none.
func find(out []string, from int, want string) int {
	end := min(len(out), from+maxLookahead)
	for j := from; j < end; j++ {
		if out[j] == want {
			return j
		}
	}
	return -1
}

// stripComment drops a trailing "-- comment" outside quotes, roughly: a
// "--" inside a string literal ending the line is rare in the suite, and a
// wrong guess only merges or splits statements for reporting.
func stripComment(t string) string {
	inQuote := false
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\'':
			inQuote = !inQuote
		case !inQuote && t[i] == '-' && i+1 < len(t) && t[i+1] == '-':
			return strings.TrimSpace(t[:i])
		}
	}
	return t
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
