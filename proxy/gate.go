package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
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

	closed    atomic.Pointer[string] // why every request is now denied
	idPrefix  string
	idCounter atomic.Uint64
	auditDown atomic.Bool // logged the audit failure once
}

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
	if why := g.closed.Load(); why != nil {
		d = policy.Decision{Reason: *why}
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
	if err := g.rec.Write(&rec); err != nil {
		// Fail closed: an unrecorded access is a denied one.
		if !g.auditDown.Swap(true) {
			g.log.Error().Err(err).Msg("audit log write failed; denying every request")
		}
		d = policy.Decision{Reason: ReasonAuditDown, Rules: d.Rules}
		g.metrics.auditError()
	}
	g.metrics.decision(req.Protocol, d, latency)
	return d
}

// Close makes every later Check deny with reason (the task deadline, a
// drain), still recording each one.
func (g *Gate) Close(reason string) { g.closed.Store(&reason) }

// NewRequestID returns a unique id for one request: a per-run random
// prefix and a counter.
func (g *Gate) NewRequestID() string {
	return g.idPrefix + strconv.FormatUint(g.idCounter.Add(1), 10)
}
