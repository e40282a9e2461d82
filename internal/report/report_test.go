package report_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/airlockproxy/airlock/internal/report"
)

func generate(t *testing.T, key []byte, args ...string) *report.Report {
	t.Helper()
	srcs, err := report.Expand(context.Background(), args)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Generate(context.Background(), srcs, report.Options{Key: key, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findRun(t *testing.T, rep *report.Report, task string, start time.Time) *report.Run {
	t.Helper()
	for _, r := range rep.Runs {
		if r.Task == task && r.Start.Equal(start) {
			return r
		}
	}
	t.Fatalf("no run of %s at %s in %d runs", task, start, len(rep.Runs))
	return nil
}

func TestRunsAcrossLogs(t *testing.T) {
	dir := t.TempDir()
	fleet(t, dir, testKey)
	rep := generate(t, testKey, dir)

	if len(rep.Logs) != 3 || len(rep.Runs) != 4 || rep.BrokenLogs != 0 {
		t.Fatalf("logs %d runs %d broken %d, want 3, 4, 0", len(rep.Logs), len(rep.Runs), rep.BrokenLogs)
	}
	first := findRun(t, rep, "nightly-sales", t0)
	if first.Allowed != 2 || first.Denied != 1 || first.Chain != report.ChainVerified {
		t.Errorf("first run: allowed %d denied %d chain %s", first.Allowed, first.Denied, first.Chain)
	}
	if !slices.Equal(first.Policies, []string{policyA}) || first.ExitCode == nil || *first.ExitCode != 0 {
		t.Errorf("first run: policies %v exit %v", first.Policies, first.ExitCode)
	}
	if got := first.DenialsByResource; len(got) != 1 || got[0].Key != "s3 lake/raw/pii.csv" {
		t.Errorf("first run denials by resource: %v", got)
	}
	if got := first.DenialsByCause; len(got) != 1 || got[0].Key != "no rule allows it" {
		t.Errorf("first run denials by cause: %v", got)
	}
	if len(first.Changes) != 0 {
		t.Errorf("a task's first run has no earlier run to differ from: %v", first.Changes)
	}
	if len(first.Credentials) != 2 {
		t.Fatalf("credentials: %+v", first.Credentials)
	}
	pg, s3 := first.Credentials[0], first.Credentials[1]
	if pg.State != "revoked" || pg.Task != "nightly-sales" || !pg.Expiry.Equal(t0.Add(15*time.Minute)) || pg.Issued.IsZero() || pg.Ended.IsZero() {
		t.Errorf("postgres credential: %+v", pg)
	}
	if s3.State != "released" || s3.Upstream != "s3" {
		t.Errorf("s3 credential: %+v", s3)
	}

	second := findRun(t, rep, "nightly-sales", t0.Add(24*time.Hour))
	if len(second.Changes) != 0 {
		t.Errorf("second run did what the first did, yet: %v", second.Changes)
	}
	third := findRun(t, rep, "nightly-sales", t0.Add(48*time.Hour))
	changes := strings.Join(third.Changes, "; ")
	if !strings.Contains(changes, "postgres hr.salaries") || !strings.Contains(changes, "152 decisions") {
		t.Errorf("third run's changes: %q", changes)
	}
	if strings.Contains(changes, "sales.orders") {
		t.Errorf("sales.orders is not new: %q", changes)
	}
	if rep.ChangedRuns != 1 {
		t.Errorf("changed runs %d, want 1", rep.ChangedRuns)
	}
	export := findRun(t, rep, "export", t0.Add(25*time.Hour))
	if export.ExitCode == nil || *export.ExitCode != 3 || export.Chain != report.ChainVerified {
		t.Errorf("export run: exit %v chain %s", export.ExitCode, export.Chain)
	}
	if len(rep.MostDenied) == 0 || rep.MostDenied[0] != (report.Count{Key: "s3 lake/raw/pii.csv", Count: 3}) {
		t.Errorf("most denied: %v", rep.MostDenied)
	}
	var allowed, denied int64
	for _, b := range rep.Timeline.Buckets {
		allowed += b.Allowed
		denied += b.Denied
	}
	if allowed != 2+1+1+150 || denied != 4 {
		t.Errorf("timeline totals allowed %d denied %d", allowed, denied)
	}
	if len(rep.Timeline.Buckets) > 240 {
		t.Errorf("timeline has %d buckets", len(rep.Timeline.Buckets))
	}
}

// alter rewrites the first occurrence of old in the file at path.
func alter(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAlteredLogIsFlagged(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		seq            uint64
		kind           string
	}{
		{"decision flipped", `"decision":"deny"`, `"decision":"allow"`, 6, "modified"},
		{"line cut", `{"time":"2026-12-01T09:00:00.2`, `{"time`, 3, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fleet(t, dir, testKey)
			altered := filepath.Join(dir, "2026-12-01", "b.jsonl")
			alter(t, altered, tc.old, tc.new)
			rep := generate(t, testKey, dir)
			if rep.BrokenLogs != 1 {
				t.Fatalf("broken logs %d, want 1", rep.BrokenLogs)
			}
			for _, lg := range rep.Logs {
				broken := lg.Chain == report.ChainBroken
				if broken != (lg.Source == altered) {
					t.Errorf("%s: chain %s", lg.Source, lg.Chain)
				}
				if broken && (lg.BrokenSeq != tc.seq || !strings.Contains(lg.Detail, tc.kind)) {
					t.Errorf("%s: broken at %d (%s), want seq %d, %s", lg.Source, lg.BrokenSeq, lg.Detail, tc.seq, tc.kind)
				}
			}
			// The altered log's first run holds the break; the run after it
			// cannot be trusted either. Runs in other logs verify.
			if r := findRun(t, rep, "nightly-sales", t0.Add(24*time.Hour)); r.Chain != report.ChainBroken {
				t.Errorf("run holding the break: %s", r.Chain)
			}
			if r := findRun(t, rep, "nightly-sales", t0); r.Chain != report.ChainVerified {
				t.Errorf("run in an intact log: %s", r.Chain)
			}
			var page bytes.Buffer
			if err := report.WriteHTML(&page, rep); err != nil {
				t.Fatal(err)
			}
			html := page.String()
			alert := strings.Index(html, `id="alert"`)
			runs := strings.Index(html, `id="runs"`)
			if alert < 0 || alert > runs || !strings.Contains(html[alert:runs], altered) {
				t.Errorf("the page does not flag %s before the runs table", altered)
			}
		})
	}
}

func TestKeyStatus(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, filepath.Join(dir, "keyed.jsonl"), testKey, runSpec{task: "t", start: t0, allowed: []string{"a.b"}})
	writeLog(t, filepath.Join(dir, "plain.jsonl"), nil, runSpec{task: "u", start: t0, allowed: []string{"a.b"}})
	for _, tc := range []struct {
		key          []byte
		keyed, plain string
	}{
		{nil, report.ChainNoKey, report.ChainVerifiedUnkeyed},
		{testKey, report.ChainVerified, report.ChainBroken},
	} {
		rep := generate(t, tc.key, dir)
		got := map[string]string{}
		for _, lg := range rep.Logs {
			got[filepath.Base(lg.Source)] = lg.Chain
		}
		if got["keyed.jsonl"] != tc.keyed || got["plain.jsonl"] != tc.plain {
			t.Errorf("key %v: %v, want keyed %s plain %s", tc.key != nil, got, tc.keyed, tc.plain)
		}
		// Records are counted whatever the chain says.
		if rep.Records != 2*int64(rep.Logs[0].Records) || rep.Records == 0 {
			t.Errorf("records %d", rep.Records)
		}
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	fleet(t, dir, testKey)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a log"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{dir}, 3},
		{[]string{filepath.Join(dir, "2026-12-0*")}, 2},
		{[]string{filepath.Join(dir, "*", "a.jsonl")}, 1},
		{[]string{filepath.Join(dir, "2026-11-30", "a.jsonl"), filepath.Join(dir, "2026-12-02")}, 2},
	} {
		srcs, err := report.Expand(context.Background(), tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if len(srcs) != tc.want {
			t.Errorf("%v: %d sources, want %d", tc.args, len(srcs), tc.want)
		}
	}
	for _, bad := range []string{filepath.Join(dir, "nope"), filepath.Join(dir, "*.none"), t.TempDir()} {
		if _, err := report.Expand(context.Background(), []string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestTimelineStaysBounded(t *testing.T) {
	dir := t.TempDir()
	// Runs a day apart plus a sub-second burst: the span, not the count
	// of distinct seconds, sets the bucket width.
	var specs []runSpec
	for d := range 5 {
		specs = append(specs, runSpec{task: "t", start: t0.Add(time.Duration(d) * 24 * time.Hour), allowed: []string{"a.b", "a.c"}})
	}
	writeLog(t, filepath.Join(dir, "x.jsonl"), testKey, specs...)
	rep := generate(t, testKey, dir)
	tl := rep.Timeline
	if n := len(tl.Buckets); n == 0 || n > 240 {
		t.Fatalf("%d buckets", n)
	}
	span := tl.Buckets[len(tl.Buckets)-1].Start.Sub(tl.Buckets[0].Start)
	if slots := int64(span.Seconds())/tl.WidthSeconds + 1; slots > 240 {
		t.Errorf("%d slots of %ds", slots, tl.WidthSeconds)
	}
	var n int64
	for _, b := range tl.Buckets {
		n += b.Allowed + b.Denied
	}
	if n != 10 {
		t.Errorf("timeline holds %d decisions, want 10", n)
	}
	if w := tl.WidthSeconds; !tl.Buckets[0].Start.Equal(time.Unix(t0.Unix()/w*w, 0)) {
		t.Errorf("first bucket %s, width %ds", tl.Buckets[0].Start, tl.WidthSeconds)
	}
}

func TestReadErrorMarksLogUnreadable(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	data := writeLog(t, good, testKey, runSpec{task: "t", start: t0, allowed: []string{"a.b"}})
	cut := bytes.Index(data, []byte("\n")) + 1
	srcs := []report.Source{
		{Name: "s3://b/reset.jsonl", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(errors.New("connection reset")))), nil
		}},
		{Name: "s3://b/denied.jsonl", Open: func(context.Context) (io.ReadCloser, error) { return nil, errors.New("AccessDenied") }},
	}
	more, err := report.Expand(context.Background(), []string{good})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Generate(context.Background(), append(srcs, more...), report.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Logs) != 3 || rep.BrokenLogs != 2 {
		t.Fatalf("%d logs, %d not verified: %+v", len(rep.Logs), rep.BrokenLogs, rep.Logs)
	}
	if lg := rep.Logs[0]; lg.Chain != report.ChainUnreadable || !strings.Contains(lg.Detail, "connection reset") || lg.Records != 1 {
		t.Errorf("reset log: %+v", lg)
	}
	if lg := rep.Logs[1]; lg.Chain != report.ChainUnreadable || !strings.Contains(lg.Detail, "AccessDenied") {
		t.Errorf("denied log: %+v", lg)
	}
	if lg := rep.Logs[2]; lg.Chain != report.ChainVerified {
		t.Errorf("good log after them: %+v", lg)
	}
}
