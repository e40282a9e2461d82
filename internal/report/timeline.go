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
	k := t.Unix() / tl.width
	b := tl.buckets[k]
	if b == nil {
		b = &Bucket{}
		tl.buckets[k] = b
		if len(tl.buckets) > maxBuckets {
			tl.widen()
			b = tl.buckets[t.Unix()/tl.width]
		}
	}
	if denied {
		b.Denied++
	} else {
		b.Allowed++
	}
}

// widen doubles the bucket width until the buckets fit again.
func (tl *timeline) widen() {
	for len(tl.buckets) > maxBuckets {
		tl.width *= 2
		merged := make(map[int64]*Bucket, len(tl.buckets)/2+1)
		for k, b := range tl.buckets {
			nk := k * (tl.width / 2) / tl.width
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
