package report

import (
	"slices"
	"time"
)

// maxBuckets bounds the timeline: past it, the bucket width doubles and
// neighbouring buckets merge.
const maxBuckets = 240

// timeline counts decisions per time bucket with a width that grows as the
// covered span grows, so it holds at most maxBuckets buckets.
type timeline struct {
	width   int64 // seconds per bucket
	buckets map[int64]*Bucket
	lo, hi  int64 // first and last bucket key
}

// Bucket is one interval of the decision timeline.
type Bucket struct {
	Start   time.Time `json:"start"`
	Allowed int64     `json:"allowed"`
	Denied  int64     `json:"denied"`
}

func newTimeline() *timeline { return &timeline{width: 1, buckets: map[int64]*Bucket{}} }

func (tl *timeline) add(t time.Time, denied bool) {
	if t.IsZero() {
		return
	}
	sec := t.Unix()
	k := floorDiv(sec, tl.width)
	b := tl.buckets[k]
	if b == nil {
		if len(tl.buckets) == 0 {
			tl.lo, tl.hi = k, k
		}
		tl.lo, tl.hi = min(tl.lo, k), max(tl.hi, k)
		b = &Bucket{}
		tl.buckets[k] = b
		if tl.hi-tl.lo >= maxBuckets {
			tl.widen()
			b = tl.buckets[floorDiv(sec, tl.width)]
		}
	}
	if denied {
		b.Denied++
	} else {
		b.Allowed++
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// widen doubles the bucket width until the covered span fits in
// maxBuckets buckets again.
func (tl *timeline) widen() {
	for tl.hi-tl.lo >= maxBuckets {
		tl.width *= 2
		tl.lo, tl.hi = floorDiv(tl.lo, 2), floorDiv(tl.hi, 2)
		merged := make(map[int64]*Bucket, len(tl.buckets)/2+1)
		for k, b := range tl.buckets {
			nk := floorDiv(k, 2)
			m := merged[nk]
			if m == nil {
				m = &Bucket{}
				merged[nk] = m
			}
			m.Allowed += b.Allowed
			m.Denied += b.Denied
		}
		tl.buckets = merged
	}
}

// Timeline is the decision timeline of a report.
type Timeline struct {
	WidthSeconds int64    `json:"width_seconds"`
	Buckets      []Bucket `json:"buckets"`
}

func (tl *timeline) export() Timeline {
	keys := make([]int64, 0, len(tl.buckets))
	for k := range tl.buckets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := Timeline{WidthSeconds: tl.width, Buckets: make([]Bucket, 0, len(keys))}
	for _, k := range keys {
		b := *tl.buckets[k]
		b.Start = time.Unix(k*tl.width, 0).UTC()
		out.Buckets = append(out.Buckets, b)
	}
	return out
}
