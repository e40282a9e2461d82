package s3_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// The upstream goes away in the middle of a GET's body (a restart, a
// network error): the client finds out at once, with an error, never a
// short body taken for the whole object, and the next request on the
// client's keep-alive connection still works.
func TestUpstreamEndsMidBody(t *testing.T) {
	const size = 1 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/whole") {
			io.WriteString(w, "whole")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 100<<10))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // gone, 100 KiB into 1 MiB
		}
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	h, err := s3.New(s3.Config{
		Check:    func(*policy.Request) policy.Decision { return policy.Decision{Allow: true} },
		Verifier: &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDLOCAL", Secret: secret.New("local-secret")}}},
		Endpoint: u, Region: "us-east-1",
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
		},
		Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(h)
	t.Cleanup(local.Close)
	client := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(local.URL), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("big")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, out.Body)
	out.Body.Close()
	if err == nil || n >= size {
		t.Fatalf("read %d of %d bytes with error %v: a cut body must end in an error", n, size, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the client learned of the cut after %v", d)
	}
	got, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("whole")})
	if err != nil {
		t.Fatalf("next request: %v", err)
	}
	b, _ := io.ReadAll(got.Body)
	if string(b) != "whole" {
		t.Fatalf("next request read %q", b)
	}
}
