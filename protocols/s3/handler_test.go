package s3_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// handlerRig is the handler between an SDK client (local key) and a fake
// upstream that verifies the re-signed request with the held key, using
// the package's own Verifier.
type handlerRig struct {
	client   *awss3.Client
	local    string       // the handler's URL
	upstream atomic.Int32 // requests that reached the upstream
	upAuth   atomic.Value // the last upstream verification error, as a string
	upBodies atomic.Int32 // request bodies the upstream received whole
}

func newHandlerRig(t *testing.T, held func(context.Context) (aws.Credentials, error)) *handlerRig {
	r := &handlerRig{}
	upVerifier := &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDHELD", Secret: secret.New("held-secret")}}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.upstream.Add(1)
		msg := "ok"
		if a, err := upVerifier.Verify(req); err != nil {
			msg = err.Error()
		} else if body, err := a.Body(req); err != nil {
			msg = err.Error()
		} else if b, err := io.ReadAll(body); err != nil {
			msg = err.Error()
		} else if len(b) > 0 {
			r.upBodies.Add(1)
		}
		r.upAuth.Store(msg)
		if msg != "ok" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "object body")
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	h, err := s3.New(s3.Config{
		Check:       func(*policy.Request) policy.Decision { return policy.Decision{Allow: true} },
		Verifier:    &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDLOCAL", Secret: secret.New("local-secret")}}},
		Endpoint:    u,
		Region:      "us-east-1",
		Credentials: held,
		Log:         zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(h)
	t.Cleanup(local.Close)
	r.local = local.URL
	r.client = awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(local.URL), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	})
	return r
}

// TestHandlerReSigns: what reaches the upstream is signed with the held
// key, body included, and the answer comes back.
func TestHandlerReSigns(t *testing.T) {
	r := newHandlerRig(t, func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
	})
	ctx := context.Background()
	if _, err := r.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("a b/c+d.txt"), Body: strings.NewReader("payload")}); err != nil {
		t.Fatalf("put: %v (upstream: %v)", err, r.upAuth.Load())
	}
	out, err := r.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("a b/c+d.txt")})
	if err != nil {
		t.Fatalf("get: %v (upstream: %v)", err, r.upAuth.Load())
	}
	b, _ := io.ReadAll(out.Body)
	if string(b) != "object body" || r.upstream.Load() != 2 {
		t.Fatalf("got %q after %d upstream requests", b, r.upstream.Load())
	}
}

// TestHandlerHashMismatchNeverReachesUpstream: a body signed by its
// SHA-256 but altered in transit (same length) gets
// XAmzContentSHA256Mismatch, and the upstream never receives it whole,
// although Airlock forwards it as UNSIGNED-PAYLOAD.
func TestHandlerHashMismatchNeverReachesUpstream(t *testing.T) {
	r := newHandlerRig(t, func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
	})
	signed := strings.Repeat("the signed body. ", 20000) // 340 kB: several reads
	sent := signed[:len(signed)-1] + "!"
	sum := sha256.Sum256([]byte(signed))
	req, err := http.NewRequest(http.MethodPut, r.local+"/lake/k", strings.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	creds := aws.Credentials{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "XAmzContentSHA256Mismatch") {
		t.Fatalf("got %d %s, want 400 XAmzContentSHA256Mismatch", resp.StatusCode, b)
	}
	if n := r.upBodies.Load(); n != 0 {
		t.Fatalf("the upstream received %d whole bodies that did not match their signed SHA-256", n)
	}
	// The same body unaltered goes through, whole.
	if _, err := r.client.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("k"), Body: strings.NewReader(signed)}); err != nil {
		t.Fatalf("put: %v (upstream: %v)", err, r.upAuth.Load())
	}
	if n := r.upBodies.Load(); n != 1 {
		t.Fatalf("the upstream received %d whole bodies, want 1", n)
	}
}

// TestHandlerFailsClosedWithoutCredential: when the held credential has
// expired unrenewed, requests get 503 with a clear message and nothing
// reaches the upstream.
func TestHandlerFailsClosedWithoutCredential(t *testing.T) {
	r := newHandlerRig(t, func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("credential for s3 expired at 2030-01-02T03:30:00Z: renewal failed")
	})
	_, err := r.client.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("k")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(ae.ErrorMessage(), "upstream credentials are unavailable") {
		t.Fatalf("got %v, want ServiceUnavailable naming the credentials", err)
	}
	if n := r.upstream.Load(); n != 0 {
		t.Fatalf("%d requests reached the upstream without a credential", n)
	}
}

// BenchmarkHandlerGet streams 64 MiB objects from a local upstream through
// the handler (plain HTTP both ways: the handler's own cost, no TLS).
func BenchmarkHandlerGet(b *testing.B) { benchHandlerGet(b, false) }

// BenchmarkHandlerGetTLSUpstream: the same with the upstream on HTTPS
// (one TLS decryption in the handler; the client hop stays plain).
func BenchmarkHandlerGetTLSUpstream(b *testing.B) { benchHandlerGet(b, true) }

func benchHandlerGet(b *testing.B, tlsUp bool) {
	const size = 64 << 20
	block := make([]byte, 256<<10)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for n := 0; n < size; n += len(block) {
			w.Write(block)
		}
	}))
	var transport http.RoundTripper
	if tlsUp {
		up.StartTLS()
		t := up.Client().Transport.(*http.Transport).Clone()
		t.ForceAttemptHTTP2 = false
		transport = t
	} else {
		up.Start()
	}
	defer up.Close()
	u, _ := url.Parse(up.URL)
	h, err := s3.New(s3.Config{
		Check:    func(*policy.Request) policy.Decision { return policy.Decision{Allow: true} },
		Verifier: &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDLOCAL", Secret: secret.New("local-secret")}}},
		Endpoint: u, Region: "us-east-1", Log: zerolog.Nop(), Transport: transport,
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	local := httptest.NewServer(h)
	defer local.Close()
	c := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(local.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String("big")})
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := io.Copy(io.Discard, out.Body); n != size {
			b.Fatalf("read %d", n)
		}
		out.Body.Close()
	}
}
