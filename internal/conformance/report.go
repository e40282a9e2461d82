package conformance

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Summary counts verdicts and by-design reasons over a suite.
type Summary struct {
	Suite   string
	Counts  [3]int
	Reasons map[string]int
	// Otherwise lists each item that differs otherwise, with its first
	// unexplained difference.
	Otherwise []string
	// Skipped lists items not run, with why.
	Skipped []string
}

// Add counts a file's result.
func (s *Summary) Add(r FileResult) {
	s.Counts[r.Verdict]++
	if s.Reasons == nil {
		s.Reasons = map[string]int{}
	}
	for _, d := range r.Diffs {
		if d.Verdict == ByDesign && !strings.HasPrefix(d.Reason, "cascade: ") {
			s.Reasons[d.Reason]++
		}
	}
	if r.Verdict == Otherwise {
		for _, d := range r.Diffs {
			if d.Verdict == Otherwise {
				where := r.Name
				if d.Line > 0 {
					where = fmt.Sprintf("%s:%d", r.Name, d.Line)
				}
				s.Otherwise = append(s.Otherwise, where+": "+d.Text)
				break
			}
		}
	}
}

// Print writes the summary: counts, by-design reasons, the otherwise list.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "== %s: %d identical, %d differing by design, %d differing otherwise (%d skipped)\n",
		s.Suite, s.Counts[Identical], s.Counts[ByDesign], s.Counts[Otherwise], len(s.Skipped))
	keys := make([]string, 0, len(s.Reasons))
	for k := range s.Reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if s.Reasons[keys[i]] != s.Reasons[keys[j]] {
			return s.Reasons[keys[i]] > s.Reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "   by design %4d × %s\n", s.Reasons[k], k)
	}
	for _, o := range s.Otherwise {
		fmt.Fprintf(w, "   otherwise: %s\n", o)
	}
	for _, o := range s.Skipped {
		fmt.Fprintf(w, "   skipped: %s\n", o)
	}
}

// WriteDiff writes a file's differences as a readable report.
func WriteDiff(w io.Writer, r FileResult) {
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "--- %s:%d [%s %s] %s\n", r.Name, d.Line, d.Verdict, d.Reason, d.Text)
		for _, l := range d.Direct {
			fmt.Fprintf(w, "  direct | %s\n", l)
		}
		for _, l := range d.Airlock {
			fmt.Fprintf(w, " airlock | %s\n", l)
		}
	}
}
