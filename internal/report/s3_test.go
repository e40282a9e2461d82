package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/internal/report"
)

// TestS3Prefix reads logs from MinIO through the SDK's default credential
// chain: the keys and endpoint come from the environment only.
func TestS3Prefix(t *testing.T) {
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "audit")
	dir := t.TempDir()
	fleet(t, dir, testKey)
	alter(t, filepath.Join(dir, "2026-12-02", "c.jsonl"), `"decision":"deny"`, `"decision":"allow"`)
	c := s3.New(s3.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
	put := func(key, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("audit"), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	put("fleet/2026-11-30/a.jsonl", filepath.Join(dir, "2026-11-30", "a.jsonl"))
	put("fleet/2026-12-01/b.jsonl", filepath.Join(dir, "2026-12-01", "b.jsonl"))
	put("fleet/2026-12-02/c.jsonl", filepath.Join(dir, "2026-12-02", "c.jsonl"))
	put("fleet/README.txt", filepath.Join(dir, "2026-11-30", "a.jsonl")) // not *.jsonl: skipped
	put("other/x.jsonl", filepath.Join(dir, "2026-11-30", "a.jsonl"))    // outside the prefix

	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	rep := generate(t, testKey, "s3://audit/fleet/")
	if len(rep.Logs) != 3 || len(rep.Runs) != 4 {
		t.Fatalf("%d logs, %d runs, want 3 and 4", len(rep.Logs), len(rep.Runs))
	}
	for _, lg := range rep.Logs {
		want := report.ChainVerified
		if lg.Source == "s3://audit/fleet/2026-12-02/c.jsonl" {
			want = report.ChainBroken
		}
		if lg.Chain != want {
			t.Errorf("%s: %s (%s), want %s", lg.Source, lg.Chain, lg.Detail, want)
		}
	}
	// One object named exactly.
	if rep := generate(t, testKey, "s3://audit/other/x.jsonl"); len(rep.Logs) != 1 || rep.BrokenLogs != 0 {
		t.Errorf("one object: %d logs, %d broken", len(rep.Logs), rep.BrokenLogs)
	}
	// Wrong keys in the environment: listing fails with the SDK's error.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-canary")
	if _, err := report.Expand(t.Context(), []string{"s3://audit/fleet/"}); err == nil {
		t.Error("wrong secret: no error")
	} else if bytes.Contains([]byte(err.Error()), []byte("wrong-secret-canary")) {
		t.Errorf("the error shows the secret: %v", err)
	}
}
