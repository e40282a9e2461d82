package report_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/report"
)

// FuzzAdd feeds arbitrary bytes to the report as a log: it must not
// panic, must count each line at most once, and must render.
func FuzzAdd(f *testing.F) {
	f.Add(writeLog(f, "", testKey, runSpec{task: "t", start: t0, allowed: []string{"a.b"}, denied: []string{"lake/x"}}))
	f.Add(writeLog(f, "", nil, runSpec{task: "t", start: t0, s3allowed: []string{"lake/y/z"}}, runSpec{task: "u", start: t0.Add(time.Hour)}))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","seq":1,"event":"credential","task":"t","credential":null}` + "\n"))
	f.Add([]byte(`{"event":"decision","decision":"deny","resources":["a"],"time":"x"}` + "\n\n{}\n" + `{"event":"lifecycle","phase":"exit","detail":"(exit 99999999999999999999)"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := report.NewBuilder(testKey)
		if err := b.Add("fuzz", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		rep := b.Report(t0)
		lines := int64(bytes.Count(data, []byte("\n")) + 1)
		if rep.Records > lines || rep.Logs[0].Malformed+rep.Records > lines {
			t.Fatalf("%d records and %d malformed from %d lines", rep.Records, rep.Logs[0].Malformed, lines)
		}
		if err := report.WriteHTML(io.Discard, rep); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPerRunMapsAreCapped: a run that denies thousands of distinct
// resources keeps a bounded number, the rest counted as other.
func TestPerRunMapsAreCapped(t *testing.T) {
	var denied []string
	for i := range 5000 {
		denied = append(denied, fmt.Sprintf("lake/p%d/obj", i))
	}
	data := writeLog(t, "", testKey, runSpec{task: "t", start: t0, denied: denied})
	b := report.NewBuilder(testKey)
	if err := b.Add("big", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rep := b.Report(t0)
	r := rep.Runs[0]
	if r.Denied != 5000 {
		t.Fatalf("denied %d", r.Denied)
	}
	var sum int64
	var other bool
	for _, c := range r.DenialsByResource {
		sum += c.Count
		other = other || c.Key == report.OtherKey
	}
	if len(r.DenialsByResource) > 65 || !other || sum != 5000 {
		t.Errorf("%d entries (other %v) summing to %d", len(r.DenialsByResource), other, sum)
	}
	if len(r.Prefixes) > 257 {
		t.Errorf("%d prefixes kept", len(r.Prefixes))
	}
	if !strings.Contains(fmt.Sprint(rep.MostDenied[0]), "lake/p") {
		t.Errorf("most denied: %v", rep.MostDenied[:1])
	}
}
