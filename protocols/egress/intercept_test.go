package egress_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/egress"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// s3Host is the S3 upstream's name as the task uses it. Nothing resolves
// it: intercepted connections are never dialled.
const s3Host = "s3.example.test"

// fakeS3 stores objects PUT with the held key's signature (checked with
// the S3 package's own verifier) and counts every request.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string]string
	requests int
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	held := &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDHELD", Secret: secret.New("held-secret")}}}
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	a, err := held.Verify(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	b, err := a.Body(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	data, err := io.ReadAll(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if r.Method == http.MethodPut {
		f.mu.Lock()
		f.objects[r.URL.Path] = string(data)
		f.mu.Unlock()
	}
}

func (f *fakeS3) state() (map[string]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.objects {
		out[k] = v
	}
	return out, f.requests
}

// newInterceptRig is the proxy with the real S3 handler in front of a
// fake upstream, intercepting s3Host:443.
func newInterceptRig(t *testing.T) (*rig, *fakeS3, *certs.CA) {
	t.Helper()
	up := &fakeS3{objects: map[string]string{}}
	upstream := httptest.NewServer(http.HandlerFunc(up.serve))
	t.Cleanup(upstream.Close)
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOptions{
		rules:  []policy.Rule{{Name: "write-curated", Allow: `s3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/")`}},
		egress: []string{`true`}, // S3 hosts are intercepted whatever the egress rules say
		config: func(c *egress.Config) {
			u, _ := url.Parse(upstream.URL)
			h, err := s3.New(s3.Config{
				Check:    c.Check,
				Verifier: &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDLOCAL", Secret: secret.New("local-secret")}}},
				Endpoint: u,
				Region:   "us-east-1",
				Credentials: func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
				},
				HostSuffixes: []string{"localhost", s3Host},
				Log:          zerolog.New(zerolog.NewTestWriter(t)),
			})
			if err != nil {
				t.Fatal(err)
			}
			c.S3, c.S3Hosts, c.CA = h, []string{s3Host + ":443"}, ca
		},
	})
	return r, up, ca
}

// TestInterceptS3: the SDK, pointed at the S3 host's real name and the
// proxy, gets its requests verified, checked per object by the S3 rules
// and re-signed, in virtual-hosted and path style; the CONNECTs themselves
// are not checked.
func TestInterceptS3(t *testing.T) {
	r, up, ca := newInterceptRig(t)
	for _, pathStyle := range []bool{false, true} {
		client := awss3.New(awss3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("https://" + s3Host), UsePathStyle: pathStyle, Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
			HTTPClient:  r.client(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}),
		})
		ctx := context.Background()
		key := "curated/vhost.csv"
		if pathStyle {
			key = "curated/path.csv"
		}
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: strings.NewReader("a,b\n1,2\n")}); err != nil {
			t.Fatalf("path style %v: put: %v", pathStyle, err)
		}
		_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String("raw/x.csv"), Body: strings.NewReader("no")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "no rule allows") {
			t.Fatalf("path style %v: denied put: %v", pathStyle, err)
		}
	}
	objects, n := up.state()
	if len(objects) != 2 || objects["/lake/curated/vhost.csv"] != "a,b\n1,2\n" || objects["/lake/curated/path.csv"] != "a,b\n1,2\n" || n != 2 {
		t.Fatalf("upstream holds %v after %d requests", objects, n)
	}
	for _, c := range r.decided() {
		if c.Protocol != policy.ProtocolS3 || c.S3.Bucket != "lake" || c.S3.Action != "PutObject" {
			t.Errorf("unexpected check %+v", c)
		}
	}
	if got := len(r.decided()); got != 4 {
		t.Fatalf("%d checks, want one per S3 request (4)", got)
	}
}

// TestInterceptPinsHost: inside an intercepted connection, a request for
// another host is refused with a request id and reaches nothing.
func TestInterceptPinsHost(t *testing.T) {
	r, up, ca := newInterceptRig(t)
	c, br, resp := r.connect(t, "lake."+s3Host+":443")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	if br.Buffered() != 0 {
		t.Fatal("bytes after the CONNECT response")
	}
	tc := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "lake." + s3Host})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("the intercepted host's certificate: %v", err)
	}
	if got := tc.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "lake."+s3Host {
		t.Fatalf("leaf for %v", got)
	}
	io.WriteString(tc, "GET /secret.csv HTTP/1.1\r\nHost: evil.example.com\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	text := body(t, resp)
	id := resp.Header.Get(egress.RequestIDHeader)
	if resp.StatusCode != http.StatusMisdirectedRequest || id == "" || !strings.Contains(text, "not the CONNECT target") || !strings.Contains(text, id) {
		t.Fatalf("status %d body %q", resp.StatusCode, text)
	}
	if _, n := up.state(); n != 0 {
		t.Fatalf("%d requests reached the upstream", n)
	}
	if checks := r.decided(); len(checks) != 1 || checks[0].Guard == "" || checks[0].HTTP.Host != "lake."+s3Host {
		t.Fatalf("checks %+v, want one guard denial", checks)
	}
}

// TestInterceptPlainHTTP: an absolute-form request to an intercepted host
// is the S3 handler's too (here refused for want of a signature), never
// forwarded.
func TestInterceptPlainHTTP(t *testing.T) {
	r, up, _ := newInterceptRig(t)
	resp, err := r.client(nil).Get("http://lake." + s3Host + ":443/curated/x.csv")
	if err != nil {
		t.Fatal(err)
	}
	text := body(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(text, "<Code>AccessDenied</Code>") || resp.Header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("status %d body %q", resp.StatusCode, text)
	}
	if _, n := up.state(); n != 0 {
		t.Fatalf("%d requests reached the upstream", n)
	}
	if checks := r.decided(); len(checks) != 1 || checks[0].Protocol != policy.ProtocolS3 || !strings.Contains(checks[0].Guard, "signature") {
		t.Fatalf("checks %+v, want the S3 handler's signature denial", checks)
	}
}
