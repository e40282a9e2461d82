package audit_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// benchRecord is a typical decision: 2 resources, 1 rule, 80-byte statement.
func benchRecord() *audit.Record {
	stmt := "SELECT o.id, o.total FROM sales.orders o JOIN sales.items i ON i.order_id = o.id"
	if len(stmt) != 80 {
		panic(fmt.Sprintf("statement is %d bytes, want 80", len(stmt)))
	}
	return &audit.Record{
		Event: audit.EventDecision, RequestID: "01J9Z3K8Q4V6W2X0", Conn: "c17",
		Client: "127.0.0.1:50432", User: "etl", Protocol: "postgres", Action: "select",
		Resources: []string{"sales.orders", "sales.items"}, Statement: stmt,
		Decision: audit.DecisionAllow, Mode: audit.ModeEnforce,
		Rules: []string{"read-sales"}, Reason: "allowed by read-sales",
		Latency: 18*time.Microsecond + 420*time.Nanosecond,
	}
}

func BenchmarkWrite(b *testing.B) {
	l := audit.New(io.Discard, audit.Options{Key: testKey, Task: "run-42"})
	defer l.Close()
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteParallel(b *testing.B) {
	l := audit.New(io.Discard, audit.Options{Key: testKey, Task: "run-42"})
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRecord()
		for pb.Next() {
			if err := l.Write(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	var recs []*audit.Record
	for range 1000 {
		recs = append(recs, benchRecord())
	}
	log := writeLog(b, testKey, recs)
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Verify(strings.NewReader(string(log)), audit.VerifyOptions{Key: testKey, AllowOpen: true}); err != nil {
			b.Fatal(err)
		}
	}
}
