package report

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on what one run keeps, so that memory stays bounded whatever a
// run did: past them, distinct keys are counted under OtherKey.
const (
	runKeyLimit  = 64  // denials by cause, rule and resource
	runSetLimit  = 256 // distinct resource prefixes a run touched
	runCredLimit = 200 // credentials listed per run
)

// record is the part of an audit line the report reads. Fields a record
// does not carry yet (labels, bytes, cause) are read when present.
type record struct {
	Time         time.Time         `json:"time"`
	Seq          uint64            `json:"seq"`
	Event        string            `json:"event"`
	Task         string            `json:"task"`
	Labels       map[string]string `json:"labels"`
	Protocol     string            `json:"protocol"`
	Action       string            `json:"action"`
	Resources    []string          `json:"resources"`
	Decision     string            `json:"decision"`
	WouldDeny    bool              `json:"would_deny"`
	Rules        []string          `json:"rules"`
	Reason       string            `json:"reason"`
	Cause        string            `json:"cause"`
	Bytes        int64             `json:"bytes"`
	Phase        string            `json:"phase"`
	PolicySHA256 string            `json:"policy_sha256"`
	Detail       string            `json:"detail"`
	Credential   *struct {
		ID       string    `json:"id"`
		Source   string    `json:"source"`
		Upstream string    `json:"upstream"`
		Status   string    `json:"status"`
		Expiry   time.Time `json:"expiry"`
	} `json:"credential"`
}

// Credential is one upstream credential's life within a run.
type Credential struct {
	ID       string            `json:"id"`
	Source   string            `json:"source,omitempty"`
	Upstream string            `json:"upstream,omitempty"`
	Task     string            `json:"task"`
	Labels   map[string]string `json:"labels,omitempty"`
	Issued   time.Time         `json:"issued,omitzero"`
	Renewed  int               `json:"renewed"`
	Expiry   time.Time         `json:"expiry,omitzero"`
	State    string            `json:"state"` // last status: issued, renewed, revoked, revoke-failed…
	Ended    time.Time         `json:"ended,omitzero"`
}

// Run is one task run: a log's records from a start record to its exit.
type Run struct {
	Source    string            `json:"source"`
	Task      string            `json:"task"`
	Labels    map[string]string `json:"labels,omitempty"`
	Start     time.Time         `json:"start,omitzero"`
	End       time.Time         `json:"end,omitzero"`
	FirstSeq  uint64            `json:"first_seq"`
	LastSeq   uint64            `json:"last_seq"`
	Records   int64             `json:"records"`
	Exit      string            `json:"exit,omitempty"` // the exit record's detail; empty: no exit record
	ExitCode  *int              `json:"exit_code,omitempty"`
	Policies  []string          `json:"policy_sha256,omitempty"`
	Allowed   int64             `json:"allowed"`
	Denied    int64             `json:"denied"`
	WouldDeny int64             `json:"would_deny"`
	Bytes     int64             `json:"bytes"`

	DenialsByCause    []Count `json:"denials_by_cause,omitempty"`
	DenialsByRule     []Count `json:"denials_by_rule,omitempty"`
	DenialsByResource []Count `json:"denials_by_resource,omitempty"`
	Prefixes          []Count `json:"prefixes,omitempty"` // resources touched, reduced to table or bucket/prefix

	Quarantines int64 `json:"quarantines"`
	Tripwires   int64 `json:"tripwires"`

	Credentials      []*Credential `json:"credentials,omitempty"`
	CredentialsOther int           `json:"credentials_other,omitempty"` // past the per-run limit

	// Chain is verified, verified-unkeyed, broken, no-key or unreadable.
	Chain       string `json:"chain"`
	ChainDetail string `json:"chain_detail,omitempty"`
	// Changes lists how this run differs from earlier runs of its task.
	Changes []string `json:"changes,omitempty"`

	byCause, byRule, byResource, prefixes *counter
	creds                                 map[string]*Credential
}

func newRun(source string) *Run {
	return &Run{
		Source:     source,
		byCause:    newCounter(runKeyLimit),
		byRule:     newCounter(runKeyLimit),
		byResource: newCounter(runKeyLimit),
		prefixes:   newCounter(runSetLimit),
		creds:      map[string]*Credential{},
	}
}

var exitCode = regexp.MustCompile(`\(exit (-?\d+)\)\s*$`)

// add folds one record into the run.
func (r *Run) add(rec *record, g *global) {
	r.Records++
	if r.FirstSeq == 0 {
		r.FirstSeq = rec.Seq
	}
	r.LastSeq = rec.Seq
	if r.Task == "" {
		r.Task = rec.Task
	}
	if len(rec.Labels) > 0 && r.Labels == nil {
		r.Labels = rec.Labels
	}
	if !rec.Time.IsZero() {
		if r.Start.IsZero() || rec.Time.Before(r.Start) {
			r.Start = rec.Time
		}
		if rec.Time.After(r.End) {
			r.End = rec.Time
		}
	}
	r.Bytes += rec.Bytes
	cause := strings.ToLower(rec.Cause + " " + rec.Phase)
	if strings.Contains(cause, "quarantine") {
		r.Quarantines++
	}
	if strings.Contains(cause, "tripwire") {
		r.Tripwires++
	}
	switch rec.Event {
	case "lifecycle":
		switch rec.Phase {
		case "start":
			if rec.PolicySHA256 != "" {
				r.Policies = append(r.Policies, rec.PolicySHA256)
			}
		case "exit":
			r.Exit = rec.Detail
			if m := exitCode.FindStringSubmatch(rec.Detail); m != nil {
				if n, err := strconv.Atoi(m[1]); err == nil {
					r.ExitCode = &n
				}
			}
		}
	case "decision":
		r.decision(rec, g)
	case "credential":
		r.credential(rec)
	}
}

func (r *Run) decision(rec *record, g *global) {
	for _, res := range rec.Resources {
		r.prefixes.add(prefixOf(rec.Protocol, res), 1)
	}
	denied := rec.Decision == "deny" || rec.WouldDeny
	g.timeline.add(rec.Time, denied)
	if !denied {
		r.Allowed++
		return
	}
	if rec.WouldDeny {
		r.WouldDeny++
	} else {
		r.Denied++
	}
	cause := rec.Cause
	if cause == "" {
		cause = rec.Reason
	}
	r.byCause.add(cause, 1)
	rule := "(no rule)"
	if len(rec.Rules) > 0 {
		rule = strings.Join(rec.Rules, ",")
	}
	r.byRule.add(rule, 1)
	for _, res := range rec.Resources {
		key := rec.Protocol + " " + res
		r.byResource.add(key, 1)
		g.denied.add(key, 1)
	}
}

func (r *Run) credential(rec *record) {
	c := rec.Credential
	if c == nil {
		return
	}
	cr := r.creds[c.ID]
	if cr == nil {
		if len(r.creds) >= runCredLimit {
			r.CredentialsOther++
			return
		}
		cr = &Credential{ID: c.ID, Source: c.Source, Upstream: c.Upstream, Task: rec.Task, Labels: rec.Labels}
		r.creds[c.ID] = cr
		r.Credentials = append(r.Credentials, cr)
	}
	if !c.Expiry.IsZero() {
		cr.Expiry = c.Expiry
	}
	cr.State = c.Status
	switch c.Status {
	case "issued":
		cr.Issued = rec.Time
	case "renewed":
		cr.Renewed++
	default:
		cr.Ended = rec.Time
	}
}

// prefixOf reduces a resource to what a change in behaviour is judged by:
// a table for SQL, a bucket and key prefix (the key up to its last '/')
// for S3, a host otherwise.
func prefixOf(protocol, res string) string {
	if protocol == "s3" {
		if i := strings.LastIndexByte(res, '/'); i > 0 {
			return protocol + " " + res[:i+1]
		}
	}
	return protocol + " " + res
}

// finish exports the capped maps.
func (r *Run) finish() {
	r.DenialsByCause = r.byCause.top(0)
	r.DenialsByRule = r.byRule.top(0)
	r.DenialsByResource = r.byResource.top(0)
	r.Prefixes = r.prefixes.top(0)
}
