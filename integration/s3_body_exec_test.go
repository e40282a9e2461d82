package integration_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlockproxy/airlock/internal/miniotest"
)

// TestS3StreamedPresignedPutExec: curl uploading from a pipe (curl -T -)
// and Python requests uploading from a generator, both Transfer-Encoding:
// chunked without Content-Length, to presigned URLs made by boto3, inside
// `airlock exec`. MinIO itself refuses such a body with 411
// MissingContentLength; through Airlock the client gets the same 411,
// nothing is stored, and the audit log says why. The AWS CLI reading the
// same pipe (aws s3 cp -) sends parts of known length and stores it whole.
func TestS3StreamedPresignedPutExec(t *testing.T) {
	for _, tool := range []string{"curl", "python3", "aws"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	m := miniotest.Start(t)
	m.MakeBucket(t, "lake")
	dir := t.TempDir()
	data := randomBytes(16<<20 + 5) // past what the HTTP server reads of an unread body before it resets the connection
	in := writeFile(t, filepath.Join(dir, "in.bin"), string(data))

	// The reference: MinIO's own answer to a streamed presigned PUT.
	ref, err := http.NewRequest(http.MethodPut, m.Endpoint+"/lake/curated/direct.bin?X-Amz-Expires=600", io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	ref.ContentLength = -1
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}, ref, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ref.URL, _ = url.Parse(u)
	resp, err := http.DefaultClient.Do(ref)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired || !strings.Contains(string(msg), "<Code>MissingContentLength</Code>") {
		t.Fatalf("MinIO answered a streamed presigned PUT with %d %s; the choice to refuse with 411 rests on it", resp.StatusCode, msg)
	}

	secretFile := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey)
	auditPath := filepath.Join(dir, "audit.jsonl")
	config := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: streamed, ttl: 5m}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:0'}
exec: {allow_same_uid: true}  # the tests run the task as themselves
s3:
  upstream: {endpoint: '%s', region: us-east-1}
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s}
policy:
  rules:
    - {name: write-curated, allow: 's3.action in ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"] && s3.bucket == "lake" && s3.key.startsWith("curated/")'}
`, m.Endpoint, m.AccessKey, secretFile, auditPath, writeFile(t, filepath.Join(dir, "key"), "streamed-put-audit-key-0123456789")))
	const task = `
presign() {
	python3 -c '
import os, sys, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(c.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": sys.argv[1]}, ExpiresIn=600))
' "$1"
}
url=$(presign curated/streamed-curl.bin) || exit 3
cat "$IN" | curl -sS -T - -o "$OUT/answer-curl" -w '%{http_code}' "$url" > "$OUT/code-curl"
url=$(presign curated/streamed-requests.bin) || exit 3
python3 -c '
import os, sys, requests
def chunks():
	with open(os.environ["IN"], "rb") as f:
		while b := f.read(100000):
			yield b
r = requests.put(sys.argv[1], data=chunks(), verify=os.environ.get("REQUESTS_CA_BUNDLE", True))
open(os.environ["OUT"] + "/code-requests", "w").write(str(r.status_code))
open(os.environ["OUT"] + "/answer-requests", "w").write(r.text)
' "$url" || exit 4
cat "$IN" | aws s3 cp - s3://lake/curated/streamed-awscli.bin > "$OUT/awscli.log" 2>&1 || exit 5
`
	res := airlock(t, []string{"IN=" + in, "OUT=" + dir}, "exec", "-c", config, "--", "sh", "-c", task)
	if res.code != 0 {
		t.Fatalf("airlock exec: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// The AWS CLI reads a pipe in parts of known length (multipart): it
	// stores the whole body.
	if got, err := getDirect(t, m, "curated/streamed-awscli.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("aws s3 cp - : MinIO holds %d bytes (%v), want the %d sent", len(got), err, len(data))
	}
	for _, client := range []string{"curl", "requests"} {
		key := "curated/streamed-" + client + ".bin"
		code := readFile(t, filepath.Join(dir, "code-"+client))
		answer := readFile(t, filepath.Join(dir, "answer-"+client))
		got, err := getDirect(t, m, key)
		switch code {
		case "200":
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s got 200; MinIO holds %d bytes (%v), not the %d sent", client, len(got), err, len(data))
			}
		case "411":
			mustContain(t, client+"'s answer", answer, "<Code>MissingContentLength</Code>")
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) {
				t.Fatalf("%s got 411, but MinIO answers %v", client, err)
			}
			mustContain(t, "the audit log", readFile(t, auditPath), `"decision":"deny"`, "unknown length", "lake/"+key)
		default:
			t.Fatalf("%s got %q %s, want the whole body stored or 411", client, code, answer)
		}
	}
}

// getDirect reads an object of bucket lake from m with its root credentials.
func getDirect(t *testing.T, m *miniotest.Server, key string) ([]byte, error) {
	out, err := s3Direct(t, m).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// s3Direct is a client of m with its root credentials.
func s3Direct(t *testing.T, m *miniotest.Server) *s3.Client {
	return (&s3Rig{minio: m}).direct(t)
}
