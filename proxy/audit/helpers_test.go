package audit_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// testKey is the chain key of the test logs; never a real one.
var testKey = []byte("airlock-test-key-not-a-secret-000")

var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// stepClock returns a clock that starts at baseTime and advances 1.5 ms a
// call; it is safe for concurrent use.
func stepClock() func() time.Time {
	var mu sync.Mutex
	t := baseTime
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(1500 * time.Microsecond)
		return t
	}
}

// longStatement is a normalised statement longer than audit.MaxStatement
// whose cut falls inside a two-byte UTF-8 sequence.
func longStatement() string {
	var b strings.Builder
	b.WriteString(`SELECT o."größe"`) // 18 bytes: byte 4096 is the second byte of a ß
	for b.Len() < audit.MaxStatement+200 {
		b.WriteString(`, "größe"`)
	}
	b.WriteString(` FROM sales.orders WHERE id = $1`)
	return b.String()
}

// sampleRecords is one run: one record of each kind, six in all.
func sampleRecords() []*audit.Record {
	return []*audit.Record{
		{Event: audit.EventLifecycle, Phase: audit.PhaseStart, Detail: "airlock 0.1.0, mode enforce",
			PolicySHA256: "5f0c6a6d2d1b4c0e9a8f7e6d5c4b3a29180f1e2d3c4b5a69788796a5b4c3d2e1"},
		{Event: audit.EventCredential, Credential: &audit.Credential{
			ID: "airlock_run_42", Source: "ephemeral-role", Upstream: "postgres",
			Status: audit.CredentialIssued, Expiry: baseTime.Add(2*time.Hour + 5*time.Minute),
		}},
		{
			Event: audit.EventDecision, RequestID: "req-0001", Conn: "c1", Client: "127.0.0.1:50432",
			User: "etl", Protocol: "postgres", Action: "select",
			Resources: []string{"sales.orders"}, Statement: longStatement(),
			Decision: audit.DecisionDeny, Mode: audit.ModeEnforce,
			Rules: []string{"never-pii"}, Reason: "rule never-pii denies \"sales.orders\"\n(test)",
			Latency: 41*time.Microsecond + 250*time.Nanosecond,
		},
		{
			Event: audit.EventDecision, RequestID: "req-0002", Conn: "c2", Client: "127.0.0.1:50444",
			User: "AKIALOCAL", Protocol: "s3", Action: "PutObject",
			Resources: []string{"lake/curated/run-42/part-0000.parquet"},
			Decision:  audit.DecisionAllow, Mode: audit.ModeEnforce,
			Rules: []string{"write-curated"}, Reason: "allowed by write-curated",
			Latency: 12 * time.Microsecond,
		},
		{
			Event: audit.EventDecision, RequestID: "req-0003", Conn: "c1", Client: "127.0.0.1:50432",
			User: "etl", Protocol: "postgres", Action: "delete",
			Resources: []string{"sales.orders"}, Statement: "DELETE FROM sales.orders WHERE id = $1",
			Kinds: []string{"delete"}, Functions: []string{"pg_catalog.now"},
			Decision: audit.DecisionAllow, Mode: audit.ModeObserve, WouldDeny: true,
			Rules: []string{}, Reason: "no rule allows",
			Latency: 3*time.Microsecond + 7*time.Nanosecond,
		},
		{Event: audit.EventLifecycle, Phase: audit.PhaseExit, Detail: "task exited 0"},
	}
}

// writeLog writes recs to a new in-memory log and returns its bytes.
func writeLog(t testing.TB, key []byte, recs []*audit.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{Key: key, Task: "run-42", Now: stepClock()})
	for i, r := range recs {
		if err := l.Write(r); err != nil {
			t.Fatalf("write record %d: %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return buf.Bytes()
}

// splitLines splits a log into lines, each with its newline.
func splitLines(b []byte) [][]byte {
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// rechain recomputes prev and mac of every line from the spec's definition,
// independently of the package: mac = HMAC-SHA256(key, bytes before
// ,"mac":") or SHA-256 of them when key is empty.
func rechain(t testing.TB, lines [][]byte, key []byte) []byte {
	t.Helper()
	prev := strings.Repeat("0", 64)
	var out bytes.Buffer
	for i, line := range lines {
		j := bytes.LastIndex(line, []byte(`,"prev":"`))
		if j < 0 {
			t.Fatalf("line %d has no prev", i+1)
		}
		body := append(append([]byte{}, line[:j]...), `,"prev":"`+prev+`"`...)
		prev = macOf(key, body)
		out.Write(body)
		out.WriteString(`,"mac":"` + prev + `"}` + "\n")
	}
	return out.Bytes()
}

func macOf(key, body []byte) string {
	if len(key) == 0 {
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:])
	}
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
