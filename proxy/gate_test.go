package proxy_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// recorder keeps records, or fails when err is set.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
	err  error
}

func (r *recorder) Write(rec *audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.recs = append(r.recs, *rec)
	return nil
}

func newGate(t *testing.T, observe bool, rec proxy.Recorder) *proxy.Gate {
	t.Helper()
	e, err := policy.Compile([]policy.Rule{
		{Name: "sel", Allow: `sql.kind == "select"`},
		{Name: "no-pii", Deny: `"s.pii" in sql.tables`},
	}, policy.Options{Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	return proxy.NewGate(proxy.GateOptions{Engine: e, Recorder: rec, Task: policy.Task{ID: "t-9"}, Metrics: proxy.NewMetrics()})
}

func TestGateRecordsEveryDecision(t *testing.T) {
	rec := &recorder{}
	g := newGate(t, false, rec)
	allow := g.Check(&policy.Request{Protocol: "postgres", Conn: policy.Conn{ID: "c1", Client: "127.0.0.1:5"},
		SQL: policy.SQL{Kind: "select", Kinds: []string{"select", "delete"}, Functions: []string{"pg_catalog.now"},
			Tables: []string{"s.a"}, Text: "SELECT * FROM s.a WHERE id = $1"}})
	deny := g.Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select", Tables: []string{"s.pii"}}})
	none := g.Check(&policy.Request{Protocol: "s3", S3: policy.S3{Action: "GetObject", Bucket: "b", Key: "k"}})
	if !allow.Allow || deny.Allow || none.Allow {
		t.Fatalf("decisions: %+v %+v %+v", allow, deny, none)
	}
	if len(rec.recs) != 3 {
		t.Fatalf("%d records, want 3", len(rec.recs))
	}
	r0, r1, r2 := rec.recs[0], rec.recs[1], rec.recs[2]
	if r0.Decision != "allow" || r0.Conn != "c1" || r0.Statement != "SELECT * FROM s.a WHERE id = $1" || r0.Action != "select" ||
		strings.Join(r0.Resources, ",") != "s.a" || strings.Join(r0.Rules, ",") != "sel" || r0.RequestID == "" || r0.Mode != "enforce" {
		t.Errorf("allow record: %+v", r0)
	}
	if strings.Join(r0.Kinds, ",") != "select,delete" || strings.Join(r0.Functions, ",") != "pg_catalog.now" {
		t.Errorf("allow record's kinds %q and functions %q", r0.Kinds, r0.Functions)
	}
	if r1.Decision != "deny" || r1.Reason != "denied by rule no-pii" || strings.Join(r1.Rules, ",") != "sel,no-pii" {
		t.Errorf("deny record: %+v", r1)
	}
	if r2.Decision != "deny" || r2.Reason != "no rule allows" || r2.Rules == nil || strings.Join(r2.Resources, ",") != "b/k" || r2.Action != "GetObject" {
		t.Errorf("no-rule record: %+v", r2)
	}
	if r0.RequestID == r1.RequestID {
		t.Error("request ids repeat")
	}
}

func TestGateFailsClosed(t *testing.T) {
	rec := &recorder{err: errors.New("disk full")}
	g := newGate(t, true, rec) // observe mode would allow; a lost record must not
	d := g.Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select"}})
	if d.Allow || d.Reason != proxy.ReasonAuditDown {
		t.Fatalf("got %+v, want a denial because the audit log is down", d)
	}
}

func TestGateObserveAndClose(t *testing.T) {
	rec := &recorder{}
	g := newGate(t, true, rec)
	d := g.Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "delete"}})
	if !d.Allow || !d.WouldDeny || rec.recs[0].Decision != "allow" || !rec.recs[0].WouldDeny || rec.recs[0].Mode != "observe" {
		t.Fatalf("observe: %+v / %+v", d, rec.recs[0])
	}
	g.Close("task deadline passed (task.ttl 1s)", proxy.CauseDeadline)
	d = g.Check(&policy.Request{Protocol: "postgres", SQL: policy.SQL{Kind: "select"}})
	if d.Allow || d.Reason != "task deadline passed (task.ttl 1s)" || len(rec.recs) != 2 || rec.recs[1].Decision != "deny" {
		t.Fatalf("closed gate: %+v / %+v", d, rec.recs)
	}
}

func BenchmarkGateCheck(b *testing.B) {
	e, err := policy.Compile([]policy.Rule{{Name: "sel", Allow: `sql.kind == "select"`}}, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l := audit.New(discard{}, audit.Options{Key: []byte("0123456789abcdef0123456789abcdef")})
	defer l.Close()
	g := proxy.NewGate(proxy.GateOptions{Engine: e, Recorder: l, Task: policy.Task{ID: "t"}, Metrics: proxy.NewMetrics()})
	req := policy.Request{Protocol: "postgres", Conn: policy.Conn{ID: "c1"}, SQL: policy.SQL{Kind: "select", Tables: []string{"s.a"}, Text: "SELECT a FROM s.a WHERE id = $1"}}
	b.ReportAllocs()
	for b.Loop() {
		r := req
		g.Check(&r)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// healthRecorder is a recorder that reports the sink's health, as
// audit.Log does.
type healthRecorder struct {
	recorder
	down bool
}

func (h *healthRecorder) Healthy() bool { return !h.down }

// Refusing says why nothing may run: a closed gate's reason, or the audit
// sink being down; "" otherwise.
func TestGateRefusing(t *testing.T) {
	rec := &healthRecorder{}
	g := newGate(t, false, rec)
	if why := g.Refusing(); why != "" {
		t.Fatalf("healthy open gate refuses: %q", why)
	}
	rec.down = true
	if why := g.Refusing(); why != proxy.ReasonAuditDown {
		t.Fatalf("sink down: %q, want %q", why, proxy.ReasonAuditDown)
	}
	rec.down = false
	g.Close("task deadline passed (task.ttl 1m)", proxy.CauseDeadline)
	if why := g.Refusing(); why != "task deadline passed (task.ttl 1m)" {
		t.Fatalf("closed gate: %q", why)
	}
}
