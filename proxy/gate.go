package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// Recorder is where the gate writes records: an *audit.Log.
type Recorder interface {
	Write(*audit.Record) error
}

var _ Recorder = (*audit.Log)(nil)

// Gate decides a request and records the decision in the same call: no
// path can obtain a decision without its audit record (STYLE rule 4). If
// the record cannot be written, the request is denied.
type Gate struct {
	engine  *policy.Engine
	rec     Recorder
	task    policy.Task
	mode    string
	metrics *Metrics
	log     zerolog.Logger
	now     func() time.Time

	closed    atomic.Pointer[closure] // why every request is now denied
	idPrefix  string
	idCounter atomic.Uint64
	denyRules map[string]bool // names of the deny rules
}

// closure is why a closed gate denies: a reason for the client and the
// cause for metrics.
type closure struct{ reason, cause string }

// GateOptions are the gate's dependencies. Metrics, Log and Now may be zero.
type GateOptions struct {
	Engine   *policy.Engine
	Recorder Recorder
	Task     policy.Task
	Metrics  *Metrics
	Log      zerolog.Logger
	Now      func() time.Time
}

// NewGate returns a gate over a compiled policy and an audit recorder.
func NewGate(o GateOptions) *Gate {
	var b [4]byte
	_, _ = rand.Read(b[:])
	g := &Gate{
		engine: o.Engine, rec: o.Recorder, task: o.Task, metrics: o.Metrics, log: o.Log, now: o.Now,
		idPrefix: hex.EncodeToString(b[:]) + "-", mode: audit.ModeEnforce,
	}
	if o.Engine.Observe() {
		g.mode = audit.ModeObserve
	}
	g.denyRules = map[string]bool{}
	for _, r := range o.Engine.Describe() {
		if r.Deny {
			g.denyRules[r.Name] = true
		}
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Reasons the gate denies on its own.
const (
	ReasonAuditDown = "audit log unavailable: denying every request until it recovers"
)

// Check decides req and writes its audit record. It fills req.Task (the
// gate's task), req.Now and req.ID (when empty). The returned decision's
// Allow is what the protocol must do.
func (g *Gate) Check(req *policy.Request) policy.Decision {
	start := g.now()
	req.Task = g.task
	if req.Now.IsZero() {
		req.Now = start
	}
	if req.ID == "" {
		req.ID = g.NewRequestID()
	}
	var d policy.Decision
	closed := g.closed.Load()
	if closed != nil {
		d = policy.Decision{Reason: closed.reason}
	} else {
		d = g.engine.Decide(req)
	}
	latency := g.now().Sub(start)
	rec := audit.Record{
		Time:      start,
		Event:     audit.EventDecision,
		RequestID: req.ID,
		Conn:      req.Conn.ID,
		Client:    req.Conn.Client,
		User:      req.Conn.User,
		Protocol:  req.Protocol,
		Action:    req.Action(),
		Resources: req.Resources(),
		Statement: req.SQL.Text,
		Kinds:     req.SQL.Kinds,
		Functions: req.SQL.Functions,
		Decision:  audit.DecisionAllow,
		Mode:      g.mode,
		WouldDeny: d.WouldDeny,
		Rules:     d.Rules,
		Reason:    d.Reason,
		Latency:   latency,
	}
	if rec.Rules == nil {
		rec.Rules = []string{}
	}
	if !d.Allow {
		rec.Decision = audit.DecisionDeny
	}
	var label string
	if err := g.rec.Write(&rec); err != nil {
		// Fail closed: an unrecorded access is a denied one. The audit
		// log's owner reports the failure; here it only denies.
		d = policy.Decision{Reason: ReasonAuditDown, Rules: d.Rules}
		label = CauseAuditUnavailable
		g.metrics.auditError()
	} else {
		label = g.label(req, d, closed)
	}
	g.metrics.decision(req.Protocol, d, label, g.now().Sub(start))
	return d
}

// Causes of a denial that no deny rule made, as metric labels.
const (
	CauseNoRule           = "no_rule"
	CauseGuardRail        = "guard_rail"
	CauseBounds           = "bounds"
	CauseEvalError        = "eval_error"
	CauseAuditUnavailable = "audit_unavailable"
	CauseDeadline         = "deadline"
)

// label names what decided d for metrics: for an allow, the first
// matching rule (no deny rule matched); for a denial (or an observe-mode
// would-deny), the first matching deny rule, else the cause.
func (g *Gate) label(req *policy.Request, d policy.Decision, closed *closure) string {
	if !d.Denied() {
		if len(d.Rules) > 0 {
			return d.Rules[0]
		}
		return "none"
	}
	switch {
	case closed != nil:
		return closed.cause
	case req.Guard != "":
		return CauseGuardRail
	}
	for _, r := range d.Rules {
		if g.denyRules[r] {
			return r
		}
	}
	switch {
	case strings.Contains(d.Reason, " could not be evaluated: "):
		return CauseEvalError
	case strings.HasPrefix(d.Reason, "request too large to check"):
		return CauseBounds
	}
	return CauseNoRule
}

// Close makes every later Check deny with reason (the task deadline, a
// drain), still recording each one; cause labels those denials in
// metrics (CauseDeadline, ...).
func (g *Gate) Close(reason, cause string) { g.closed.Store(&closure{reason: reason, cause: cause}) }

// Refusing returns why no request may pass now, or "": the gate is closed
// (deadline, drain), or the audit sink fails to take records. Protocols
// ask it where something runs on an earlier decision (a Bind of a
// statement decided at its Parse), since nothing new can be recorded.
func (g *Gate) Refusing() string {
	if c := g.closed.Load(); c != nil {
		return c.reason
	}
	if h, ok := g.rec.(interface{ Healthy() bool }); ok && !h.Healthy() {
		return ReasonAuditDown
	}
	return ""
}

// Closed reports whether Close was called.
func (g *Gate) Closed() bool { return g.closed.Load() != nil }

// NewRequestID returns a unique id for one request: a per-run random
// prefix and a counter.
func (g *Gate) NewRequestID() string {
	return g.idPrefix + strconv.FormatUint(g.idCounter.Add(1), 10)
}
