package conformance

import "strings"

// Schedule returns the test files a pg_regress schedule names, in order
// ("test: a b c" lines; comments and other lines are ignored).
func Schedule(text string) []string {
	var names []string
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "test:")
		if !ok {
			continue
		}
		names = append(names, strings.Fields(rest)...)
	}
	return names
}
