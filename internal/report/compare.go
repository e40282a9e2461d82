package report

import (
	"fmt"
	"slices"
	"strings"
)

// Thresholds for calling a run's volume unusual against earlier runs of
// its task: more than growthFactor times their largest, and at least
// growthFloor (small runs vary too much to judge).
const (
	growthFactor = 3
	growthFloor  = 100
	maxNewListed = 5
)

// compareRuns sorts runs by start time and sets Changes on each run that
// touches resource prefixes no earlier run of its task touched, or makes
// far more decisions or moves far more bytes than any of them.
func compareRuns(runs []*Run) {
	slices.SortStableFunc(runs, func(a, b *Run) int { return a.Start.Compare(b.Start) })
	type history struct {
		seen                   map[string]bool
		maxDecisions, maxBytes int64
		runs                   int
	}
	byTask := map[string]*history{}
	for _, r := range runs {
		h := byTask[r.Task]
		if h == nil {
			h = &history{seen: map[string]bool{}}
			byTask[r.Task] = h
		}
		decisions := r.Allowed + r.Denied + r.WouldDeny
		if h.runs > 0 {
			var fresh []string
			for _, p := range r.Prefixes {
				if p.Key != OtherKey && !h.seen[p.Key] {
					fresh = append(fresh, p.Key)
				}
			}
			slices.Sort(fresh)
			if len(fresh) > 0 {
				shown := fresh[:min(len(fresh), maxNewListed)]
				more := ""
				if len(fresh) > len(shown) {
					more = fmt.Sprintf(" and %d more", len(fresh)-len(shown))
				}
				r.Changes = append(r.Changes, "new resources: "+strings.Join(shown, ", ")+more)
			}
			if decisions >= growthFloor && decisions > growthFactor*h.maxDecisions {
				r.Changes = append(r.Changes, fmt.Sprintf("%d decisions, earlier runs at most %d", decisions, h.maxDecisions))
			}
			if r.Bytes >= growthFloor && r.Bytes > growthFactor*h.maxBytes {
				r.Changes = append(r.Changes, fmt.Sprintf("%d bytes, earlier runs at most %d", r.Bytes, h.maxBytes))
			}
		}
		h.runs++
		// The set of seen prefixes per task is capped like a run's.
		for _, p := range r.Prefixes {
			if len(h.seen) < runSetLimit*4 {
				h.seen[p.Key] = true
			}
		}
		h.maxDecisions = max(h.maxDecisions, decisions)
		h.maxBytes = max(h.maxBytes, r.Bytes)
	}
}
