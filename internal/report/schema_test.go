package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// schemaValidator checks a JSON value against the subset of JSON Schema
// (draft 2020-12) the audit record schema uses. A keyword outside the
// subset is an error, so the schema cannot quietly use one it ignores.
type schemaValidator struct{}

var knownKeywords = []string{"$schema", "$id", "title", "description", "type", "properties", "required",
	"additionalProperties", "enum", "const", "pattern", "format", "minimum", "items", "allOf", "if", "then"}

func (v schemaValidator) validate(schema map[string]any, val any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range schema {
		if !slices.Contains(knownKeywords, k) {
			return []string{path + ": schema keyword " + k + " is outside the validator's subset"}
		}
	}
	if t, ok := schema["type"].(string); ok && !hasType(val, t) {
		fail("want %s, have %T", t, val)
		return errs
	}
	if e, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, val) }) {
		fail("%v is not one of %v", val, e)
	}
	if c, ok := schema["const"]; ok && !jsonEqual(c, val) {
		fail("%v is not %v", val, c)
	}
	if p, ok := schema["pattern"].(string); ok {
		if s, isStr := val.(string); isStr && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
	}
	if f, ok := schema["format"].(string); ok && f == "date-time" {
		if s, isStr := val.(string); isStr {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				fail("%q is not a date-time", s)
			}
		}
	}
	if m, ok := schema["minimum"].(json.Number); ok {
		if n, isNum := val.(json.Number); isNum {
			a, _ := n.Float64()
			b, _ := m.Float64()
			if a < b {
				fail("%v < minimum %v", n, m)
			}
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		if arr, isArr := val.([]any); isArr {
			for i, x := range arr {
				errs = append(errs, v.validate(items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	if obj, isObj := val.(map[string]any); isObj {
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing %s", r)
			}
		}
		for k, x := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, v.validate(ps, x, path+"."+k)...)
			} else if ap, ok := schema["additionalProperties"].(bool); ok && !ap {
				fail("unexpected field %s", k)
			}
		}
	}
	for _, sub := range asList(schema["allOf"]) {
		s := sub.(map[string]any)
		if cond, ok := s["if"].(map[string]any); ok {
			if len(v.validate(cond, val, path)) == 0 {
				if then, ok := s["then"].(map[string]any); ok {
					errs = append(errs, v.validate(then, val, path)...)
				}
			}
			continue
		}
		errs = append(errs, v.validate(s, val, path)...)
	}
	return errs
}

func asList(x any) []any { l, _ := x.([]any); return l }

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(n.String(), ".eE")
	}
	return false
}

func jsonEqual(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// everyKind writes one record of every event kind, status and phase, with
// every optional field, through the audit package.
func everyKind(t *testing.T) []byte {
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{Key: testKey, Task: "schema"})
	recs := []*audit.Record{
		{Event: audit.EventLifecycle, Phase: audit.PhaseStart, PolicySHA256: policyA, Detail: "mode=enforce"},
		{Event: audit.EventLifecycle, Phase: audit.PhaseReady},
		{Event: audit.EventDecision, RequestID: "r1", Conn: "c1", Client: "127.0.0.1:1", User: "etl", Protocol: "postgres",
			Action: "select", Resources: []string{"a.b", "c.d"}, Statement: strings.Repeat("SELECT 1; ", 500),
			Kinds: []string{"select", "delete"}, Functions: []string{"pg_catalog.now"},
			Decision: audit.DecisionAllow, Mode: audit.ModeEnforce, Rules: []string{"r"}, Reason: "allowed by r", Latency: 1500 * time.Nanosecond},
		{Event: audit.EventDecision, Protocol: "s3", Action: "GetObject", Resources: []string{"lake/raw/x"}, Decision: audit.DecisionDeny, Reason: "no rule allows it"},
		{Event: audit.EventDecision, Protocol: "http", Action: "CONNECT", Resources: []string{"example.com:443"}, Decision: audit.DecisionAllow,
			Mode: audit.ModeObserve, WouldDeny: true, Reason: "observe"},
	}
	for _, st := range []string{audit.CredentialIssued, audit.CredentialRenewed, audit.CredentialRevokeFailed, audit.CredentialRevoked,
		audit.CredentialExpired, audit.CredentialFailed, audit.CredentialReleased} {
		recs = append(recs, &audit.Record{Event: audit.EventCredential, Detail: st, Credential: &audit.Credential{
			ID: "airlock_x", Source: "ephemeral-role", Upstream: "postgres", Status: st, Expiry: t0}})
	}
	recs = append(recs, &audit.Record{Event: audit.EventCredential, Credential: &audit.Credential{Status: audit.CredentialIssued}},
		&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseResume, Detail: "audit sink failed; resumed"},
		&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseDrain},
		&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseExit, Detail: "task: exited (exit 0)"})
	for _, r := range recs {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRecordsMatchSchema(t *testing.T) {
	raw, err := os.ReadFile("../../docs/audit-record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	schema := decodeJSON(t, raw).(map[string]any)
	var v schemaValidator
	lines := bytes.Split(bytes.TrimSpace(everyKind(t)), []byte("\n"))
	seen := map[string]bool{}
	for i, line := range lines {
		rec := decodeJSON(t, line).(map[string]any)
		if errs := v.validate(schema, rec, fmt.Sprintf("line %d", i+1)); len(errs) > 0 {
			t.Errorf("%s\n%s", strings.Join(errs, "\n"), line)
		}
		for k := range rec {
			seen[k] = true
		}
	}
	// Every field the schema names is produced by some record above, so
	// the schema describes what is written, not what might be.
	for k := range schema["properties"].(map[string]any) {
		if !seen[k] {
			t.Errorf("no generated record has %s", k)
		}
	}

	// The schema rejects what a record must not be.
	good := string(lines[2])
	for _, tc := range []struct{ name, from, to string }{
		{"unknown field", `"task":"schema"`, `"task":"schema","tenant":"x"`},
		{"bad decision", `"decision":"allow"`, `"decision":"maybe"`},
		{"seq as string", `"seq":3`, `"seq":"3"`},
		{"seq zero", `"seq":3`, `"seq":0`},
		{"no rules", `"rules":["r"],`, ``},
		{"bad time", `"time":"`, `"time":"yesterday`},
		{"short mac", `"mac":"`, `"mac":"0`},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if bad == good {
			t.Fatalf("%s: %q not in the record", tc.name, tc.from)
		}
		if errs := v.validate(schema, decodeJSON(t, []byte(bad)), tc.name); len(errs) == 0 {
			t.Errorf("%s: the schema accepts %s", tc.name, bad)
		}
	}
}
