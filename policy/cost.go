package policy

import (
	"fmt"

	"cel.dev/cel-go/common/cost"
)

// Size bounds of a Request. Decide refuses a request beyond them, so the
// worst-case cost Compile estimates from them holds for every evaluation.
const (
	MaxListLen   = 1000    // entries in any list (sql.reads, sql.kinds, …)
	MaxLabels    = 64      // task labels
	MaxStringLen = 4096    // any string field but sql.text
	MaxTextLen   = 1 << 20 // sql.text
)

// sizeBounds tells CEL's cost estimator how large each variable can be.
type sizeBounds struct{}

var _ cost.Estimator = sizeBounds{}

func (sizeBounds) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) < 2 {
		return nil
	}
	var max uint64
	switch {
	case p[0] == "sql" && p[1] == "text" && len(p) == 2:
		max = MaxTextLen
	case p[0] == "task" && p[1] == "labels" && len(p) == 2, p[0] == "s3" && p[1] == "headers" && len(p) == 2:
		max = MaxLabels
	case len(p) == 2 && isListField(p[0], p[1]):
		max = MaxListLen
	default: // a string field, a list element, a label key or value
		max = MaxStringLen
	}
	return &cost.SizeEstimate{Min: 0, Max: max}
}

func isListField(v, f string) bool {
	return v == "sql" && (f == "kinds" || f == "reads" || f == "writes" || f == "tables" || f == "functions")
}

func (sizeBounds) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	if overloadID == "string_glob_string" {
		// The NFA walks the string once per pattern element.
		c := cost.RangedCostEstimate(1, MaxStringLen*maxGlobTokens/10)
		return &cost.CallEstimate{CostEstimate: c}
	}
	return nil
}

// checkBounds returns why req is beyond the bounds the cost estimates assume.
func checkBounds(req *Request) string {
	lists := [...]struct {
		name string
		n    int
	}{
		{"sql.kinds", len(req.SQL.Kinds)}, {"sql.reads", len(req.SQL.Reads)}, {"sql.writes", len(req.SQL.Writes)},
		{"sql.tables", len(req.SQL.Tables)}, {"sql.functions", len(req.SQL.Functions)},
	}
	for _, l := range lists {
		if l.n > MaxListLen {
			return fmt.Sprintf("request too large to check: %s has %d entries (limit %d)", l.name, l.n, MaxListLen)
		}
	}
	if len(req.Task.Labels) > MaxLabels {
		return fmt.Sprintf("request too large to check: task.labels has %d entries (limit %d)", len(req.Task.Labels), MaxLabels)
	}
	if len(req.S3.Headers) > MaxLabels {
		return fmt.Sprintf("request too large to check: s3.headers has %d entries (limit %d)", len(req.S3.Headers), MaxLabels)
	}
	for _, v := range req.S3.Headers {
		if len(v) > MaxStringLen {
			return fmt.Sprintf("request too large to check: an s3.headers value is %d bytes (limit %d)", len(v), MaxStringLen)
		}
	}
	if len(req.SQL.Text) > MaxTextLen {
		return fmt.Sprintf("request too large to check: sql.text is %d bytes (limit %d)", len(req.SQL.Text), MaxTextLen)
	}
	for _, s := range [...]string{req.S3.Key, req.S3.SourceKey, req.S3.Prefix, req.S3.Bucket, req.S3.SourceBucket, req.HTTP.Path, req.HTTP.Host} {
		if len(s) > MaxStringLen {
			return fmt.Sprintf("request too large to check: a string field is %d bytes (limit %d)", len(s), MaxStringLen)
		}
	}
	return ""
}
