package report

import (
	"cmp"
	"slices"
)

// OtherKey is the bucket a capped counter adds to once it holds its limit
// of distinct keys.
const OtherKey = "(other)"

// counter counts occurrences of strings, holding at most limit distinct
// keys; later new keys are counted under OtherKey, so memory stays bounded
// whatever the input.
type counter struct {
	limit int
	m     map[string]int64
}

func newCounter(limit int) *counter { return &counter{limit: limit, m: map[string]int64{}} }

func (c *counter) add(k string, n int64) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.limit {
		k = OtherKey
	}
	c.m[k] += n
}

// has reports whether k was counted under its own name.
func (c *counter) has(k string) bool { _, ok := c.m[k]; return ok }

// Count is one key of a counter and its count.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// top returns up to n entries, highest count first (n <= 0: all).
func (c *counter) top(n int) []Count {
	out := make([]Count, 0, len(c.m))
	for k, v := range c.m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
