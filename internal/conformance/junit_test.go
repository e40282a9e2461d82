package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/airlockproxy/airlock/internal/conformance"
)

func junitFixture(t *testing.T, name string) map[string]conformance.Outcome {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "s3", name))
	if err != nil {
		t.Fatal(err)
	}
	out, err := conformance.ParseJUnit(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompareJUnit(t *testing.T) {
	direct, airlock := junitFixture(t, "direct.xml"), junitFixture(t, "airlock.xml")
	if got := direct["s3tests.functional.test_s3::test_skipped"].Result; got != "skipped" {
		t.Fatalf("skipped test parsed as %q", got)
	}
	want := map[string]struct {
		verdict conformance.Verdict
		reason  string
	}{
		"test_same":      {conformance.Identical, ""},
		"test_denied":    {conformance.ByDesign, "AccessDenied: airlock: guard rail"},
		"test_code":      {conformance.Otherwise, ""},
		"test_both_fail": {conformance.Identical, ""}, // same result, another message
		"test_skipped":   {conformance.Identical, ""},
	}
	results := conformance.CompareJUnit(direct, airlock)
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		name := r.Name[len("s3tests.functional.test_s3::"):]
		w := want[name]
		if r.Verdict != w.verdict {
			t.Errorf("%s: %s, want %s", name, r.Verdict, w.verdict)
		}
		if w.reason != "" && (len(r.Diffs) != 1 || r.Diffs[0].Reason != w.reason) {
			t.Errorf("%s: differences %+v, want reason %q", name, r.Diffs, w.reason)
		}
	}
}

func TestS3Reason(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"ClientError: An error occurred (AccessDenied) when calling the GetObject operation: airlock: no rule allows GetObject", "AccessDenied: airlock: no rule allows GetObject"},
		{"ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied.", ""},
		{"assert 'InvalidRequest' == 'InvalidBucketName'", ""},
	} {
		if got := conformance.S3Reason(tc.text); got != tc.want {
			t.Errorf("S3Reason(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
