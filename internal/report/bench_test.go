package report_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/report"
	"github.com/airlockproxy/airlock/proxy/audit"
)

// genLog writes one log of about n records (one run): decisions over many
// tables and S3 prefixes, a tenth of them denied, and a credential's life.
func genLog(t testing.TB, path string, n, variant int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	start := t0.Add(time.Duration(variant) * time.Hour)
	at := start
	l := audit.New(bw, audit.Options{Key: testKey, Task: fmt.Sprintf("task-%d", variant%7), Now: func() time.Time { at = at.Add(time.Millisecond); return at }})
	must := func(r *audit.Record) {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	must(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseStart, PolicySHA256: policyA})
	must(&audit.Record{Event: audit.EventCredential, Credential: &audit.Credential{ID: "airlock_x", Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialIssued, Expiry: start.Add(time.Hour)}})
	for i := range n - 4 {
		r := &audit.Record{Event: audit.EventDecision, RequestID: "01J9Z3K8Q4V6W2X0" + strconv.Itoa(i), Conn: "c17", Client: "127.0.0.1:50432",
			User: "etl", Mode: audit.ModeEnforce, Decision: audit.DecisionAllow, Rules: []string{"read-sales"}, Reason: "allowed by read-sales",
			Latency: 18 * time.Microsecond}
		if i%2 == 0 {
			r.Protocol, r.Action = "postgres", "select"
			r.Resources = []string{fmt.Sprintf("sales.t%d", (i*7+variant)%500), "sales.items"}
			r.Statement = "SELECT o.id, o.total FROM sales.orders o JOIN sales.items i ON i.order_id = o.id"
		} else {
			r.Protocol, r.Action = "s3", "GetObject"
			r.Resources = []string{fmt.Sprintf("lake/raw/p%d/part-%d.parquet", (i+variant)%300, i)}
		}
		if i%10 == 3 {
			r.Decision, r.Rules, r.Reason = audit.DecisionDeny, nil, "no rule allows it"
		}
		must(r)
	}
	must(&audit.Record{Event: audit.EventCredential, Credential: &audit.Credential{ID: "airlock_x", Source: "ephemeral-role", Upstream: "postgres", Status: audit.CredentialRevoked}})
	must(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseExit, Detail: "task: exited (exit 0)"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBench measures the report over generated logs: by default 10 million
// records across 1,000 logs (AIRLOCK_REPORT_BENCH=1; AIRLOCK_REPORT_BENCH_RECORDS
// and _LOGS change the size). The logs are 20 distinct files on disk,
// each read as many separate inputs. It prints records/s and peak memory,
// on one core (GOMAXPROCS=1) and on all.
func TestBench(t *testing.T) {
	if os.Getenv("AIRLOCK_REPORT_BENCH") == "" {
		t.Skip("set AIRLOCK_REPORT_BENCH=1 to run the report benchmark (10 million records)")
	}
	total := envInt(t, "AIRLOCK_REPORT_BENCH_RECORDS", 10_000_000)
	logs := envInt(t, "AIRLOCK_REPORT_BENCH_LOGS", 1000)
	const distinct = 20
	per := total / logs
	dir := t.TempDir()
	genStart := time.Now()
	var wg sync.WaitGroup
	for v := range min(distinct, logs) {
		wg.Go(func() { genLog(t, filepath.Join(dir, fmt.Sprintf("v%02d.jsonl", v)), per, v) })
	}
	wg.Wait()
	t.Logf("generated %d distinct logs of %d records in %s", min(distinct, logs), per, time.Since(genStart).Round(time.Millisecond))
	srcs := make([]report.Source, logs)
	for i := range srcs {
		path := filepath.Join(dir, fmt.Sprintf("v%02d.jsonl", i%distinct))
		srcs[i] = report.Source{Name: fmt.Sprintf("log-%04d.jsonl", i), Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
	}
	procsList := []int{1, runtime.NumCPU()}
	if p := os.Getenv("AIRLOCK_REPORT_BENCH_PROCS"); p != "" {
		procsList = []int{envInt(t, "AIRLOCK_REPORT_BENCH_PROCS", 1)}
	}
	for _, procs := range procsList {
		prev := runtime.GOMAXPROCS(procs)
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		peak := sampleHeap()
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := report.Generate(context.Background(), srcs, report.Options{Key: testKey})
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		peakHeap := peak()
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Records != int64(per*logs) || rep.BrokenLogs != 0 || len(rep.Runs) != logs {
			t.Fatalf("records %d broken %d runs %d", rep.Records, rep.BrokenLogs, len(rep.Runs))
		}
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		rate := float64(rep.Records) / el.Seconds()
		msg := fmt.Sprintf("report bench GOMAXPROCS=%d: %d records in %d logs, chains verified, in %s: %.0f records/s wall, %.0f records per CPU-second (%s CPU); peak heap in use %.1f MiB (%.1f MiB before), max RSS %.1f MiB",
			procs, rep.Records, logs, el.Round(time.Millisecond), rate, float64(rep.Records)/cpu.Seconds(), cpu.Round(time.Millisecond),
			float64(peakHeap)/(1<<20), float64(base.HeapInuse)/(1<<20), float64(ru.Maxrss)/1024)
		t.Log(msg)
		fmt.Println(msg)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleHeap samples HeapInuse every 20ms until the returned function is
// called, which returns the largest sample.
func sampleHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

func BenchmarkAdd(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.jsonl")
	genLog(b, path, 10000, 1)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		bl := report.NewBuilder(testKey)
		if err := bl.Add("x", bytesReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "records/s")
}
