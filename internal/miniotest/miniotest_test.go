package miniotest_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/airlockproxy/airlock/internal/miniotest"
	"github.com/airlockproxy/airlock/internal/testutil"
)

func TestPutGet(t *testing.T) {
	t.Parallel()
	s := miniotest.Start(t)
	s.MakeBucket(t, "airlock-test")
	c := client(s, s.AccessKey, s.SecretKey, "")
	ctx := t.Context()

	body := []byte("hello from miniotest")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("airlock-test"),
		Key:    aws.String("dir/hello.txt"),
		Body:   bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if got := getObject(t, c, "airlock-test", "dir/hello.txt"); !bytes.Equal(got, body) {
		t.Errorf("GetObject = %q, want %q", got, body)
	}

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("airlock-test"), Key: aws.String("missing")})
	if code := apiCode(err); code != "NoSuchKey" {
		t.Errorf("GetObject of a missing key: error %v (code %q), want NoSuchKey", err, code)
	}
	wrong := client(s, s.AccessKey, "not-"+s.SecretKey, "")
	_, err = wrong.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("airlock-test"), Key: aws.String("dir/hello.txt")})
	if code := apiCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("GetObject with a wrong secret: error %v (code %q), want SignatureDoesNotMatch", err, code)
	}
}

// TestAssumeRole checks MinIO's STS on the S3 endpoint: AssumeRole signed
// with service "sts" returns temporary credentials that read objects, and
// that are refused without their session token.
func TestAssumeRole(t *testing.T) {
	t.Parallel()
	s := miniotest.Start(t)
	s.MakeBucket(t, "sts-test")
	root := client(s, s.AccessKey, s.SecretKey, "")
	_, err := root.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String("sts-test"), Key: aws.String("k"), Body: strings.NewReader("v"),
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}

	creds := assumeRole(t, s, 900*time.Second)
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" {
		t.Fatalf("AssumeRole returned incomplete credentials: %+v", creds)
	}
	if left := time.Until(creds.Expires); left < 10*time.Minute || left > 16*time.Minute {
		t.Errorf("credentials expire in %v, want about 15 minutes", left)
	}

	temp := client(s, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	if got := getObject(t, temp, "sts-test", "k"); string(got) != "v" {
		t.Errorf("GetObject with temporary credentials = %q, want %q", got, "v")
	}
	noToken := client(s, creds.AccessKeyID, creds.SecretAccessKey, "")
	_, err = noToken.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("sts-test"), Key: aws.String("k")})
	if err == nil {
		t.Error("GetObject with temporary credentials but no session token succeeded")
	}
}

func TestServersAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := miniotest.Start(t), miniotest.Start(t)
	if a.Endpoint == b.Endpoint || a.Dir == b.Dir || a.SecretKey == b.SecretKey {
		t.Fatalf("two servers share an endpoint, dir or key: %+v %+v", a, b)
	}
	a.MakeBucket(t, "only-in-a")
	_, err := client(b, b.AccessKey, b.SecretKey, "").HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("only-in-a")})
	if code := apiCode(err); code != "NotFound" {
		t.Errorf("HeadBucket on server b of a bucket made on server a: error %v (code %q), want NotFound", err, code)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Chdir(t.TempDir()) // no go.mod above, so no bin/minio
	tests := []struct {
		ci                string
		wantSkip, wantErr bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &testutil.Recorder{TB: t}
			r.Run(func() { miniotest.Start(r) })
			if (r.SkipMsg != "") != tt.wantSkip || (r.FatalMsg != "") != tt.wantErr {
				t.Errorf("skipped %q, failed %q; want skip %t, failure %t", r.SkipMsg, r.FatalMsg, tt.wantSkip, tt.wantErr)
			}
			if msg := r.SkipMsg + r.FatalMsg; !strings.Contains(msg, "scripts/install-minio.sh") {
				t.Errorf("message %q does not say how to install MinIO", msg)
			}
		})
	}
}

func client(s *miniotest.Server, key, secret, token string) *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, token),
	})
}

func getObject(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return data
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// assumeRole calls STS AssumeRole on the server's endpoint as the root user:
// POST / with a form body, SigV4-signed for service "sts".
func assumeRole(t *testing.T, s *miniotest.Server, d time.Duration) aws.Credentials {
	t.Helper()
	form := url.Values{
		"Action":          {"AssumeRole"},
		"Version":         {"2011-06-15"},
		"DurationSeconds": {strconv.Itoa(int(d.Seconds()))},
	}.Encode()
	sum := sha256.Sum256([]byte(form))
	hash := hex.EncodeToString(sum[:])
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.Endpoint+"/", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	root := aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	if err := v4.NewSigner().SignHTTP(t.Context(), root, req, hash, "sts", s.Region, time.Now()); err != nil {
		t.Fatalf("sign AssumeRole: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("AssumeRole: %s: %s", resp.Status, body)
	}
	var out struct {
		Credentials struct {
			AccessKeyID     string    `xml:"AccessKeyId"`
			SecretAccessKey string    `xml:"SecretAccessKey"`
			SessionToken    string    `xml:"SessionToken"`
			Expiration      time.Time `xml:"Expiration"`
		} `xml:"AssumeRoleResult>Credentials"`
	}
	if err := xml.Unmarshal(body, &out); err != nil {
		t.Fatalf("AssumeRole response: %v\n%s", err, body)
	}
	c := out.Credentials
	return aws.Credentials{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		CanExpire: true, Expires: c.Expiration,
	}
}

// TestStartTLS: the server speaks HTTPS with a certificate CAFile verifies.
func TestStartTLS(t *testing.T) {
	s := miniotest.StartTLS(t)
	if !strings.HasPrefix(s.Endpoint, "https://") {
		t.Fatalf("endpoint %s", s.Endpoint)
	}
	s.MakeBucket(t, "tls")
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := s3.New(s3.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}})
	if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("tls")}); err != nil {
		t.Fatal(err)
	}
	// Without the CA, the certificate is refused.
	plain := s3.New(s3.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")})
	if _, err := plain.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("tls")}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}
}
