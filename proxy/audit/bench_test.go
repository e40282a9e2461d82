package audit_test

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// BenchmarkWriteConcurrent measures what record-before-forward costs: c
// callers each write records to a file and wait, as the gate does for
// every request. ns/op is the time per record over all callers (so
// records/s = 1e9 / ns/op); p50-µs and p99-µs are one Write's latency.
// The sub-benchmarks compare writing each batch (the default) with
// fsyncing each batch too (audit.sync: fsync).
func BenchmarkWriteConcurrent(b *testing.B) {
	for _, mode := range []string{"write", "fsync"} {
		for _, c := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", mode, c), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "audit.jsonl")
				l, err := audit.Open(path, audit.Options{Key: testKey, Task: "run-42", Sync: mode == "fsync"})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				benchCallers(b, c, l.Write)
			})
		}
	}
}

// benchCallers runs b.N writes spread over c goroutines and reports the
// latency percentiles of one write.
func benchCallers(b *testing.B, c int, write func(*audit.Record) error) {
	lat := make([][]time.Duration, c)
	per := b.N / c
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range c {
		n := per
		if g == 0 {
			n += b.N % c
		}
		wg.Go(func() {
			r := benchRecord()
			ls := make([]time.Duration, 0, n)
			for range n {
				t0 := time.Now()
				if err := write(r); err != nil {
					b.Error(err)
					return
				}
				ls = append(ls, time.Since(t0))
			}
			lat[g] = ls
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	var all []time.Duration
	for _, ls := range lat {
		all = append(all, ls...)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
