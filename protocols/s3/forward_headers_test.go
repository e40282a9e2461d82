package s3_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// echoUpstream is an HTTP/1.1 server that keeps the request line and
// header lines of each request exactly as they arrived on the wire.
type echoUpstream struct {
	ln   net.Listener
	seen chan wireRequest
}

type wireRequest struct {
	target string
	lines  [][2]string // header name and value, in arrival order, bytes untouched
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoUpstream{ln: ln, seen: make(chan wireRequest, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.serve(c)
		}
	}()
	return e
}

func (e *echoUpstream) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewReader(bufio.NewReader(c))
	for {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		parts := strings.SplitN(line, " ", 3)
		if len(parts) != 3 {
			return
		}
		req := wireRequest{target: parts[1]}
		length := 0
		for {
			l, err := tp.ReadLine()
			if err != nil {
				return
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			value = strings.TrimLeft(value, " \t")
			req.lines = append(req.lines, [2]string{name, value})
			if strings.EqualFold(name, "Content-Length") {
				length, _ = strconv.Atoi(value)
			}
		}
		if _, err := io.CopyN(io.Discard, tp.R, int64(length)); err != nil {
			return
		}
		e.seen <- req
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	}
}

// TestForwardedHeaders lists every request header Airlock changes on the
// way to the upstream, and why; every other header the client sent
// arrives with its value byte for byte (names in Go's canonical case,
// which S3 reads case-insensitively), or the request is refused.
func TestForwardedHeaders(t *testing.T) {
	up := newEchoUpstream(t)
	u, _ := url.Parse("http://" + up.ln.Addr().String())
	h, err := s3.New(s3.Config{
		Check:    func(*policy.Request) policy.Decision { return policy.Decision{Allow: true} },
		Verifier: &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: "AKIDLOCAL", Secret: secret.New("local-secret")}}},
		Endpoint: u, Region: "us-east-1", Log: zerolog.New(zerolog.NewTestWriter(t)),
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret", SessionToken: "held-token"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(h)
	defer local.Close()

	// What the client sends, and what the upstream must receive instead
	// when Airlock changes it: "" means removed, "*" any value Airlock sets.
	const removed, anyValue = "", "*"
	changed := map[string]struct{ want, why string }{
		"Authorization":         {anyValue, "signature with the held credentials"},
		"X-Amz-Date":            {anyValue, "time of Airlock's signature"},
		"X-Amz-Content-Sha256":  {"UNSIGNED-PAYLOAD", "Airlock forwards the verified body unsigned"},
		"X-Amz-Security-Token":  {"held-token", "the held session token replaces the client's"},
		"Content-Length":        {anyValue, "framing"},
		"Content-Encoding":      {"deflate, gzip", "as written (was \"deflate,gzip\" when the header was rebuilt)"},
		"X-Forwarded-For":       {removed, "S3 does not read it; MinIO would take it as the client's address"},
		"Amz-Sdk-Request":       {removed, "the SDK's bookkeeping for the client's own request"},
		"Amz-Sdk-Invocation-Id": {removed, "the SDK's bookkeeping for the client's own request"},
		"Cookie":                {removed, "S3 does not read it"},
	}
	sent := [][2]string{
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Encoding", "deflate, gzip"}, // aws-chunked needs a STREAMING-* body (see TestWithoutAWSChunked)
		{"Content-Disposition", `attachment; filename="a b.txt"`},
		{"Content-Language", "en-GB, fr"},
		{"Cache-Control", "no-cache,  max-age=0"},
		{"Expires", "Thu, 01 Dec 2094 16:00:00 GMT"},
		{"If-None-Match", "*"},
		{"User-Agent", "task/1.0  (x)"},
		{"X-Amz-Meta-Camelcase", "Value  With   Spaces"},
		{"X-Amz-Meta-Empty", ""},
		{"X-Amz-Meta-Unicode", "=?UTF-8?B?w6k=?="},
		{"X-Amz-Storage-Class", "STANDARD"},
		{"X-Amz-Tagging", "a=1&b=2"},
		{"X-Amz-Checksum-Crc32", "AAAAAA=="},
		{"X-Amz-Expected-Bucket-Owner", "123456789012"},
		{"X-Amz-Security-Token", "client-token"},
		{"X-Forwarded-For", "10.1.2.3"},
		{"Amz-Sdk-Request", "attempt=1; max=3"},
		{"Amz-Sdk-Invocation-Id", "0f0f"},
		{"Cookie", "a=b"},
	}
	body := "hello"
	req, _ := http.NewRequest(http.MethodPut, local.URL+"/lake/dir/a%20b.txt", strings.NewReader(body))
	for _, kv := range sent {
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	// The local key pair has no session token; the client's token header
	// is signed like any other x-amz-* header.
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret"},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret"},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	got := <-up.seen
	if got.target != "/lake/dir/a%20b.txt" {
		t.Errorf("upstream target %q", got.target)
	}
	arrived := map[string][]string{}
	for _, l := range got.lines {
		arrived[textproto.CanonicalMIMEHeaderKey(l[0])] = append(arrived[textproto.CanonicalMIMEHeaderKey(l[0])], l[1])
	}
	for _, kv := range sent {
		name := textproto.CanonicalMIMEHeaderKey(kv[0])
		vals := arrived[name]
		c, isChanged := changed[name]
		switch {
		case isChanged && c.want == removed:
			if len(vals) != 0 {
				t.Errorf("%s reached the upstream (%q), want removed: %s", name, vals, c.why)
			}
		case isChanged && c.want == anyValue:
			if len(vals) != 1 {
				t.Errorf("%s: upstream got %q, want one value Airlock sets: %s", name, vals, c.why)
			}
		case isChanged:
			if len(vals) != 1 || vals[0] != c.want {
				t.Errorf("%s: upstream got %q, want %q: %s", name, vals, c.want, c.why)
			}
		default:
			if len(vals) != 1 || vals[0] != kv[1] {
				t.Errorf("%s: client sent %q, upstream got %q", name, kv[1], vals)
			}
		}
	}
	// Nothing arrives that the client did not send, but what Airlock must set.
	for name := range arrived {
		if _, ok := changed[name]; ok {
			continue
		}
		if !sentHas(sent, name) && name != "Host" && name != "Accept-Encoding" {
			t.Errorf("upstream got %s: %q, which the client did not send", name, arrived[name])
		}
	}
}

func sentHas(sent [][2]string, name string) bool {
	for _, kv := range sent {
		if textproto.CanonicalMIMEHeaderKey(kv[0]) == name {
			return true
		}
	}
	return false
}
