package integration_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shellWithLocalEnv runs a shell script with the task's environment from
// `airlock run`'s local dir (what a sidecar's task would source).
func (r *s3Rig) shell(t *testing.T, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", ". "+filepath.Join(r.local, "env")+" && "+script)
	cmd.Dir = r.dir
	cmd.WaitDelay = 5 * time.Second // a stuck grandchild must not hold the pipes open
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Skipf("%s unavailable (%v: %s); scripts/deps.sh installs it", name, err, out)
	}
}

func TestS3AWSCLI(t *testing.T) {
	needTool(t, "aws", "--version")
	r := newS3Rig(t, false)
	writeFile(t, filepath.Join(r.dir, "report.csv"), "a,b\n1,2\n")
	for _, step := range []struct {
		script string
		denied bool
	}{
		{"aws s3 cp report.csv s3://lake/curated/report.csv", false},
		{"aws s3 ls s3://lake/raw/", false},
		{"mkdir -p out && echo x > out/1.csv && echo y > out/2.csv && aws s3 sync out s3://lake/curated/sync/", false},
		{"aws s3api copy-object --bucket lake --key curated/copy.csv --copy-source lake/raw/a.csv", false},
		{"aws s3api delete-objects --bucket lake --delete 'Objects=[{Key=tmp/1},{Key=tmp/2}]'", false},
		{"aws s3 rm s3://lake/tmp/3", false},
		// A denied upload: the CLI sends Expect: 100-continue and must get
		// the 403 at once (it used to wait for "100 Continue" until its
		// timeout while Airlock drained the body it never sent).
		{"aws s3 cp report.csv s3://lake/raw/report.csv", true},
		{"aws s3 ls s3://lake/", true},
		{"aws s3api copy-object --bucket lake --key curated/s.csv --copy-source lake/secret/s.csv", true},
		{"aws s3api delete-objects --bucket lake --delete 'Objects=[{Key=raw/a.csv}]'", true},
	} {
		out, err := r.shell(t, step.script)
		if step.denied {
			if err == nil || !strings.Contains(out, "AccessDenied") {
				t.Errorf("%s: want AccessDenied, got %v\n%s", step.script, err, out)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", step.script, err, out)
		}
	}
	for key, want := range map[string]string{"curated/report.csv": "a,b\n1,2\n", "curated/sync/2.csv": "y\n", "curated/copy.csv": "seed raw/a.csv"} {
		if got, ok := r.object(t, key); !ok || string(got) != want {
			t.Errorf("%s: %q %v", key, got, ok)
		}
	}
	for _, key := range []string{"raw/report.csv", "curated/s.csv"} {
		if _, ok := r.object(t, key); ok {
			t.Errorf("denied %s reached MinIO", key)
		}
	}
	for key, want := range map[string]bool{"tmp/1": false, "tmp/3": false, "raw/a.csv": true} {
		if _, ok := r.object(t, key); ok != want {
			t.Errorf("%s exists=%v, want %v", key, ok, want)
		}
	}
}

func TestS3Boto3(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	r := newS3Rig(t, false)
	script := writeFile(t, filepath.Join(r.dir, "task.py"), `
import os, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
data = os.urandom(3 * 1024 * 1024 + 5)
# One PutObject (aws-chunked with a CRC32 trailer), then a multipart upload
# (upload_fileobj above its 8 MiB threshold: CreateMultipartUpload with a
# checksum algorithm, parts with CRC32 trailers, CompleteMultipartUpload).
s3.put_object(Bucket="lake", Key="curated/big.bin", Body=data)
print("uploaded", len(data))
import io
multi = bytes(range(256)) * (9 * 4096) + b"tail"
s3.upload_fileobj(io.BytesIO(multi), "lake", "curated/multi.bin")
print("multipart", len(multi))
print("read", s3.get_object(Bucket="lake", Key="raw/a.csv")["Body"].read().decode())
try:
    s3.get_object(Bucket="lake", Key="secret/s.csv")
    print("NOT DENIED")
except botocore.exceptions.ClientError as e:
    print("denied", e.response["Error"]["Code"])
open("big.bin", "wb").write(data)
`)
	out, err := r.shell(t, "python3 "+script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, "boto3", out, "uploaded 3145733", "multipart 9437188", "read seed raw/a.csv", "denied AccessDenied")
	got, ok := r.object(t, "curated/big.bin")
	if !ok || len(got) != 3145733 {
		t.Fatalf("put_object: %d bytes in MinIO", len(got))
	}
	want := append(bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 9*4096), "tail"...)
	if got, ok := r.object(t, "curated/multi.bin"); !ok || !bytes.Equal(got, want) {
		t.Fatalf("multipart upload: %d bytes in MinIO, want %d", len(got), len(want))
	}
}
