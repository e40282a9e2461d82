package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/protocols/s3"
)

// hostileRun is the outcome of the hostile corpus against a suggestion.
type hostileRun struct {
	tried   int      // requests decided (guard rails included)
	guarded int      // of which a guard rail denies whatever the rules
	same    int      // statements left out: the task ran the same one (S3 requests the task made are never generated)
	allowed []string // one line per request the suggestion allows
}

// tryHostile decides the hostile corpus, made from what the task did
// (observed), with engine: statements classified by cl as the gate
// classifies them, S3 requests made for each bucket the task used.
func tryHostile(engine *policy.Engine, cl *postgres.Classifier, observed []policy.Request) (*hostileRun, error) {
	corpus, err := policy.LoadHostileCorpus()
	if err != nil {
		return nil, err
	}
	task := ""
	if len(observed) > 0 {
		task = observed[0].Task.ID
	}
	run := &hostileRun{}
	table := policy.HostileTable(observed)
	for _, e := range corpus.SQL {
		text, ok := e.Text(table)
		if !ok {
			continue
		}
		sts, err := cl.Classify(text)
		if err != nil || len(sts) != 1 {
			return nil, fmt.Errorf("hostile corpus: %q does not classify as one statement: %v", e.Name, err)
		}
		req := policy.Request{Protocol: policy.ProtocolPostgres, Task: policy.Task{ID: task}, SQL: sts[0].SQL, Guard: sts[0].Guard}
		if slices.ContainsFunc(observed, func(o policy.Request) bool {
			return o.Protocol == policy.ProtocolPostgres && o.SQL.Text == req.SQL.Text
		}) {
			run.same++
			continue
		}
		run.decide(engine, &req, fmt.Sprintf("sql %q (%s): %s", e.Name, e.Why, req.SQL.Text))
	}
	for _, e := range corpus.S3 {
		for _, req := range e.Requests(observed) {
			req.NamedOnly = s3.NamedOnly(req.S3.Action)
			run.decide(engine, &req, fmt.Sprintf("s3 %q (%s): %s %s", e.Name, e.Why, req.S3.Action, strings.Join(req.Resources(), " ")))
		}
	}
	return run, nil
}

func (run *hostileRun) decide(engine *policy.Engine, req *policy.Request, what string) {
	run.tried++
	if req.Guard != "" {
		run.guarded++
		return
	}
	if d := engine.Decide(req); d.Allow {
		run.allowed = append(run.allowed, what+" allowed by "+strings.Join(d.Rules, ", "))
	}
}
