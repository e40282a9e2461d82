package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/airlockproxy/airlock/internal/miniotest"
)

// canarySecret is written over MinIO's root secret in files Airlock reads;
// it must never appear in Airlock's output, the audit log or the task's env.
type s3Rig struct {
	minio      *miniotest.Server
	pid        int // airlock run's
	dir        string
	config     string
	auditPath  string
	keyFile    string
	local      string
	endpoint   string
	caFile     string
	keyID, key string
}

const s3Rules = `
    - {name: write-curated, allow: 's3.action in ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload", "CopyObject"] && s3.bucket == "lake" && s3.key.startsWith("curated/")'}
    - {name: read-raw, allow: 's3.action in ["GetObject", "HeadObject"] && s3.bucket == "lake" && s3.key.glob("raw/**")'}
    - {name: list, allow: 's3.action == "ListObjectsV2" && s3.bucket == "lake" && (s3.prefix.startsWith("raw/") || s3.prefix.startsWith("curated/"))'}
    - {name: delete-tmp, allow: 's3.action in ["DeleteObject", "DeleteObjects"] && s3.bucket == "lake" && s3.key.startsWith("tmp/")'}
    - {name: broad-other, allow: 's3.bucket == "other"'}
    - {name: tagged, allow: 's3.action in ["PutObject", "CopyObject"] && s3.bucket == "lake" && s3.key.startsWith("tagged/") && s3.headers.all(h, h in ["x-amz-tagging", "x-amz-tagging-directive", "x-amz-storage-class"])'}`

// newS3Rig starts MinIO with buckets lake and other, seeds raw/ and
// secret/ objects, and runs `airlock run` in front of it.
func newS3Rig(t *testing.T, plainHTTP bool) *s3Rig {
	t.Helper()
	return newS3RigOn(t, plainHTTP, miniotest.Start(t))
}

// newS3RigOn is newS3Rig in front of m (which may serve HTTPS).
func newS3RigOn(t *testing.T, plainHTTP bool, m *miniotest.Server) *s3Rig {
	t.Helper()
	m.MakeBucket(t, "lake")
	m.MakeBucket(t, "other")
	dir := t.TempDir()
	r := &s3Rig{minio: m, dir: dir, auditPath: filepath.Join(dir, "audit.jsonl"), keyFile: filepath.Join(dir, "key"), local: filepath.Join(dir, "local")}
	writeFile(t, r.keyFile, "s3-integration-key-0123456789abcdef")
	secretFile := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey+"\n")
	port := freePort(t)
	r.config = writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: s3-it, ttl: 5m}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:%d'}
local: {dir: %s}
s3:
  upstream: {endpoint: '%s', region: us-east-1, ca_file: '%s'}
  plain_http: %v
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s, flush_interval: 10ms}
exec: {allow_same_uid: true}  # the tests run the task as themselves
policy:
  rules:%s
`, port, r.local, m.Endpoint, m.CAFile, plainHTTP, m.AccessKey, secretFile, r.auditPath, r.keyFile, s3Rules))
	scheme := "https"
	if plainHTTP {
		scheme = "http"
	}
	r.endpoint = fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, airlockBin, "run", "-c", r.config)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.pid = cmd.Process.Pid
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if strings.Contains(stderr.String(), m.SecretKey) {
			t.Error("the upstream secret key is in Airlock's log")
		}
		if t.Failed() {
			t.Logf("airlock log:\n%s", stderr.String())
		}
	})
	waitPort(t, port)
	waitLocal(t, r.local)
	r.caFile = filepath.Join(r.local, "ca.pem")
	creds, err := os.ReadFile(filepath.Join(r.local, "aws-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(creds), "\n") {
		k, v, _ := strings.Cut(l, " = ")
		switch k {
		case "aws_access_key_id":
			r.keyID = v
		case "aws_secret_access_key":
			r.key = v
		}
	}
	direct := r.direct(t)
	for _, k := range []string{"raw/a.csv", "raw/2026/b.csv", "secret/s.csv", "tmp/1", "tmp/2", "tmp/3"} {
		if _, err := direct.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(k), Body: strings.NewReader("seed " + k)}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *s3Rig) httpClient(t *testing.T) *http.Client {
	pem, err := os.ReadFile(r.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
}

// client is the task's view: Airlock's endpoint and the local key pair.
func (r *s3Rig) client(t *testing.T, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(r.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(r.keyID, r.key, ""),
		HTTPClient:   r.httpClient(t),
	}, opts...)
}

// direct talks to MinIO itself, to check what really happened.
func (r *s3Rig) direct(t *testing.T) *s3.Client {
	return r.directAt(t, r.minio.Endpoint)
}

// directAt is a client with MinIO's own credentials sending to endpoint,
// MinIO or a byte relay in front of it.
func (r *s3Rig) directAt(t *testing.T, endpoint string) *s3.Client {
	o := s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(r.minio.AccessKey, r.minio.SecretKey, ""),
	}
	if r.minio.CAFile != "" {
		pem, err := os.ReadFile(r.minio.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	return s3.New(o)
}

func (r *s3Rig) object(t *testing.T, key string) ([]byte, bool) {
	t.Helper()
	out, err := r.direct(t).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b, true
}

func wantAccessDenied(t *testing.T, err error, why string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), why) {
		t.Fatalf("got %v, want AccessDenied mentioning %q", err, why)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestS3SDKThroughAirlock(t *testing.T) {
	r := newS3Rig(t, false)
	ctx := context.Background()
	c := r.client(t)
	// PutObject with the SDK defaults over TLS: aws-chunked with a CRC32 trailer.
	for name, cl := range map[string]*s3.Client{
		"default":       c,
		"when_required": r.client(t, func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }),
	} {
		data := randomBytes(3<<20 + 17)
		key := "curated/" + name + ".bin"
		if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("PutObject %s: %v", name, err)
		}
		if got, ok := r.object(t, key); !ok || !bytes.Equal(got, data) {
			t.Fatalf("PutObject %s: MinIO holds %d bytes, want the %d sent", name, len(got), len(data))
		}
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/overwrite.csv"), Body: strings.NewReader("x")})
	wantAccessDenied(t, err, "no rule allows")
	if _, ok := r.object(t, "raw/overwrite.csv"); ok {
		t.Fatal("a denied PutObject reached MinIO")
	}
	// Reads and listings.
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/2026/b.csv")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "seed raw/2026/b.csv" {
		t.Fatalf("GetObject: %q", b)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("secret/s.csv")})
	wantAccessDenied(t, err, "no rule allows")
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("raw/")})
	if err != nil || len(l.Contents) != 2 {
		t.Fatalf("ListObjectsV2 raw/: %v %v", l, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake")})
	wantAccessDenied(t, err, "no rule allows")
	// A copy is a read of its source and a write of its destination.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/copied.csv"), CopySource: aws.String("lake/raw/a.csv")}); err != nil {
		t.Fatalf("allowed copy: %v", err)
	}
	if got, _ := r.object(t, "curated/copied.csv"); string(got) != "seed raw/a.csv" {
		t.Fatalf("copy: %q", got)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/stolen.csv"), CopySource: aws.String("lake/secret/s.csv")})
	wantAccessDenied(t, err, "no rule allows")
	if _, ok := r.object(t, "curated/stolen.csv"); ok {
		t.Fatal("a copy from a denied source reached MinIO")
	}
	// DeleteObjects: every key is checked; one denied key denies all.
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("lake"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("tmp/3")}, {Key: aws.String("raw/a.csv")}}}})
	wantAccessDenied(t, err, "no rule allows")
	if _, ok := r.object(t, "tmp/3"); !ok {
		t.Fatal("DeleteObjects with a denied key deleted an allowed one")
	}
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("lake"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("tmp/1")}, {Key: aws.String("tmp/2")}}}}); err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	if _, ok := r.object(t, "tmp/1"); ok {
		t.Fatal("tmp/1 survived an allowed DeleteObjects")
	}
	// A configuration operation needs a rule that names it: broad-other
	// does not reach PutBucketPolicy.
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("other"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	wantAccessDenied(t, err, "no rule names PutBucketPolicy")
}

func TestS3PresignedAndTampered(t *testing.T) {
	r := newS3Rig(t, false)
	ctx := context.Background()
	ps := s3.NewPresignClient(r.client(t))
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/a.csv")})
	if err != nil {
		t.Fatal(err)
	}
	hc := r.httpClient(t)
	resp, err := hc.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "seed raw/a.csv" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/presigned.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, strings.NewReader("via presigned PUT"))
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := r.object(t, "curated/presigned.txt"); resp.StatusCode != 200 || string(got) != "via presigned PUT" {
		t.Fatalf("presigned PUT: %d %q", resp.StatusCode, got)
	}
	// A tampered signature, and a presigned URL pointed at another key.
	i := strings.Index(get.URL, "X-Amz-Signature=") + len("X-Amz-Signature=")
	flipped := byte('0')
	if get.URL[i] == '0' {
		flipped = '1'
	}
	for _, u := range []string{
		get.URL[:i] + string(flipped) + get.URL[i+1:],
		strings.Replace(get.URL, "raw/a.csv", "raw/2026/b.csv", 1),
	} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "SignatureDoesNotMatch") {
			t.Fatalf("tampered presigned URL: %d %s", resp.StatusCode, b)
		}
	}
	// A correctly signed aws-chunked upload that does not say its decoded
	// length gets S3's own answer, 411 MissingContentLength.
	body := "5\r\nhello\r\n0\r\n\r\n"
	req, _ = http.NewRequest(http.MethodPut, r.endpoint+"/lake/curated/nolength.txt", strings.NewReader(body))
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: r.keyID, SecretAccessKey: r.key}, req,
		"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired || !strings.Contains(string(b), "MissingContentLength") {
		t.Fatalf("aws-chunked without x-amz-decoded-content-length: %d %s", resp.StatusCode, b)
	}
}

func TestS3PlainHTTP(t *testing.T) {
	r := newS3Rig(t, true)
	ctx := context.Background()
	data := randomBytes(1<<20 + 3)
	// Over plain HTTP the SDK signs the whole payload's SHA-256.
	if _, err := r.client(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("curated/plain.bin"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.object(t, "curated/plain.bin"); !bytes.Equal(got, data) {
		t.Fatalf("plain HTTP PutObject: %d bytes in MinIO", len(got))
	}
}
