package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/internal/miniotest"
)

// egressTask is the task: the AWS CLI (path style) and boto3 (virtual-hosted
// style) use the S3 upstream's real endpoint through HTTPS_PROXY, trusting
// AWS_CA_BUNDLE, and a plain HTTPS request goes to a host no rule allows.
//
// MinIO listens on loopback, which NO_PROXY (as Airlock sets it) exempts
// from the proxy; a real S3 endpoint is not on loopback, so the task
// unsets NO_PROXY to take the path it would take in production.
const egressTask = `
set -e
unset NO_PROXY no_proxy
cd "$WORK"
printf 'a,b\n1,2\n' > in.csv
aws --endpoint-url "$S3_REAL" s3api put-object --bucket lake --key curated/cli.csv --body in.csv > /dev/null
echo "cli put ok"
if aws --endpoint-url "$S3_REAL" s3api put-object --bucket lake --key raw/cli.csv --body in.csv 2> denied.txt; then
  echo "cli put NOT DENIED"
fi
echo "cli denied: $(cat denied.txt)"
python3 egress_task.py
`

const egressPython = `
import os, boto3, botocore, urllib.request
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_REAL"], config=Config(s3={"addressing_style": "virtual"}))
data = os.urandom(1024 * 1024 + 7)
open("boto.bin", "wb").write(data)
s3.put_object(Bucket="lake", Key="curated/boto.bin", Body=data)
print("boto3 put ok")
try:
    s3.put_object(Bucket="lake", Key="raw/boto.bin", Body=b"no")
    print("boto3 put NOT DENIED")
except botocore.exceptions.ClientError as e:
    print("boto3 denied:", e.response["Error"]["Code"])
try:
    urllib.request.urlopen("https://egress-denied.example/", timeout=20)
    print("egress NOT DENIED")
except Exception as e:
    print("egress denied:", e)
`

// TestEgressInterceptsS3: the egress proxy intercepts the S3 upstream's
// host (MinIO over TLS, addressed as localhost): allowed PutObjects land
// in MinIO with their exact bytes, denied ones get AccessDenied and change
// nothing, the CONNECTs to the S3 host need no egress rule, and a CONNECT
// to any other host is checked and denied.
func TestEgressInterceptsS3(t *testing.T) {
	needTool(t, "aws", "--version")
	needTool(t, "python3", "-c", "import boto3")
	m := miniotest.StartTLS(t)
	m.MakeBucket(t, "lake")
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	writeFile(t, filepath.Join(work, "egress_task.py"), egressPython)
	// The name the task uses, as it would use s3.<region>.amazonaws.com: its
	// certificate (from MinIO's CA) names localhost; bucket.localhost is
	// its virtual-hosted form.
	real := strings.Replace(m.Endpoint, "127.0.0.1", "localhost", 1)
	auditPath := filepath.Join(dir, "audit.jsonl")
	secretFile := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey+"\n")
	key := writeFile(t, filepath.Join(dir, "audit-key"), "egress-integration-key-0123456789")
	config := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: egress-it, ttl: 5m}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:0', http_proxy: '127.0.0.1:0'}
s3:
  upstream: {endpoint: '%s', region: us-east-1, ca_file: '%s'}
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
egress:
  allow: ['http.host == "allowed.example"']
audit: {path: %s, key_file: %s, flush_interval: 10ms}
exec: {allow_same_uid: true}  # the tests run the task as themselves
policy:
  rules:
    - {name: write-curated, allow: 's3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/")'}
`, real, m.CAFile, m.AccessKey, secretFile, auditPath, key))

	res := airlock(t, []string{"WORK=" + work, "S3_REAL=" + real}, "exec", "-c", config, "--", "sh", "-c", egressTask)
	if res.code != 0 {
		t.Fatalf("task exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	mustContain(t, "task output", res.stdout, "cli put ok", "cli denied:", "AccessDenied", "boto3 put ok", "boto3 denied: AccessDenied", "egress denied:", "403")
	if strings.Contains(res.stdout, "NOT DENIED") {
		t.Fatalf("a denied request went through:\n%s", res.stdout)
	}

	minio := &s3Rig{minio: m}
	if got, ok := minio.object(t, "curated/cli.csv"); !ok || string(got) != "a,b\n1,2\n" {
		t.Errorf("curated/cli.csv in MinIO: %q %v", got, ok)
	}
	want, err := os.ReadFile(filepath.Join(work, "boto.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := minio.object(t, "curated/boto.bin"); !ok || !bytes.Equal(got, want) {
		t.Errorf("curated/boto.bin in MinIO: %d bytes, want %d", len(got), len(want))
	}
	for _, k := range []string{"raw/cli.csv", "raw/boto.bin"} {
		if _, ok := minio.object(t, k); ok {
			t.Errorf("denied %s reached MinIO", k)
		}
	}

	// The audit log: S3 decisions from the intercepted connections, one
	// http decision (the denied CONNECT), none for the S3 host itself.
	var decisions []string
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, auditPath)), "\n") {
		var rec struct {
			Event, Protocol, Action, Decision string
			Resources                         []string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Event == "decision" {
			decisions = append(decisions, fmt.Sprintf("%s %s %s %s", rec.Protocol, rec.Action, strings.Join(rec.Resources, ","), rec.Decision))
		}
	}
	all := strings.Join(decisions, "\n")
	mustContain(t, "decisions", all,
		"s3 PutObject lake/curated/cli.csv allow", "s3 PutObject lake/raw/cli.csv deny",
		"s3 PutObject lake/curated/boto.bin allow", "s3 PutObject lake/raw/boto.bin deny",
		"http CONNECT egress-denied.example:443 deny")
	if strings.Contains(all, "http CONNECT localhost") || strings.Contains(all, "http CONNECT lake.localhost") {
		t.Errorf("a CONNECT to the S3 host was decided by the egress rules:\n%s", all)
	}
	if res := airlock(t, nil, "audit", "verify", "--key-file", key, auditPath); res.code != 0 {
		t.Errorf("audit verify: %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
