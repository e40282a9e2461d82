package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/s3"
)

// bodyRig is the handler in front of an upstream that records every
// request body it received and whether it received it whole, with a gate
// that records every decision.
type bodyRig struct {
	addr string // the handler's host:port
	up   *httptest.Server

	mu        sync.Mutex
	bodies    []upBody
	decisions []policy.Request
}

type upBody struct {
	path  string
	data  []byte
	whole bool // the body ended where its framing said
}

func newBodyRig(t testing.TB) *bodyRig {
	r := &bodyRig{}
	r.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, upBody{path: req.URL.Path, data: b, whole: err == nil})
		r.mu.Unlock()
		if err != nil {
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.up.Close)
	u, _ := url.Parse(r.up.URL)
	h, err := s3.New(s3.Config{
		Check: func(req *policy.Request) policy.Decision {
			r.mu.Lock()
			defer r.mu.Unlock()
			req.ID = fmt.Sprintf("req-%d", len(r.decisions)+1)
			r.decisions = append(r.decisions, *req)
			return policy.Decision{Allow: req.Guard == "", Reason: req.Guard}
		},
		Verifier: newVerifier(testNow),
		Endpoint: u, Region: testRegion, Log: zerolog.Nop(),
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(h)
	t.Cleanup(local.Close)
	r.addr = strings.TrimPrefix(local.URL, "http://")
	return r
}

// upstream waits for the upstream's handlers to finish and returns what
// they received.
func (r *bodyRig) upstream() []upBody {
	r.up.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies
}

// Framings of a request body on the wire.
const (
	framedLength  = "length"  // Content-Length: the body's length
	framedChunked = "chunked" // Transfer-Encoding: chunked, no Content-Length
	framedCut     = "cut"     // Content-Length: twice the body's length; the client stops after the body
	framedZero    = "zero"    // Content-Length: 0, the body follows anyway
)

// sendRaw writes req's request line and headers, then body framed as
// asked, on a fresh connection, and reads the response.
func sendRaw(t testing.TB, addr string, req *http.Request, body []byte, framing string, extra ...string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	switch framing {
	case framedLength:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	case framedCut:
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", 2*len(body)+1)
		b.Write(body)
	case framedZero:
		b.WriteString("Content-Length: 0\r\n\r\n")
		b.Write(body)
	case framedChunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 1000)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	if framing == framedCut {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		return 0, "no response: " + err.Error()
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(msg)
}

// presigned is a PUT URL signed in the query with the test key.
func presigned(t testing.TB, host, path string) *http.Request {
	t.Helper()
	r := clientRequest(t, "PUT", host, path, "X-Amz-Expires=900", nil, nil)
	u, _, err := s3Signer.PresignHTTP(context.Background(), testCreds(), r, "UNSIGNED-PAYLOAD", "s3", testRegion, testNow)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest("PUT", u, nil)
	return out
}

// headerSigned is a PUT signed in the Authorization header.
func headerSigned(t testing.TB, host, path, rawQuery, payload string, headers map[string]string) *http.Request {
	t.Helper()
	r := clientRequest(t, "PUT", host, path, rawQuery, nil, headers)
	signHeader(t, r, payload, testNow)
	return r
}

// TestBodyNeverReplaced: every way a client can frame a request body
// reaches the upstream whole, or is refused with an S3 error while the
// upstream receives no whole body. A body of unknown length is refused
// with S3's own 411 MissingContentLength before anything is forwarded,
// and its audit record says so.
func TestBodyNeverReplaced(t *testing.T) {
	data := patterned(70_001)
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	const path = "/bucket/uploads/part 1.bin"
	signedStream := func(host string, decoded []byte, declared int) (*http.Request, []byte) {
		st := stream{mode: s3.PayloadStreaming, payload: decoded, chunk: 8192}
		r, _ := st.request(t, host)
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(declared))
		r.ContentLength = 0 // unsigned: sendRaw frames the body
		signHeader(t, r, st.mode, testNow)
		seed := r.Header.Get("Authorization")
		return r, st.frame(t, newChunkSigner(seed[strings.LastIndex(seed, "=")+1:], testNow))
	}
	cases := []struct {
		name    string
		req     func(host string) (*http.Request, []byte)
		framing string
		extra   []string
		status  int
		code    string // the S3 error code, "" for success
		audit   string // in the guard reason of the decision record
	}{
		{name: "presigned PUT, chunked", framing: framedChunked, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), data }},
		{name: "presigned PUT, chunked, Expect 100-continue", framing: framedChunked, extra: []string{"Expect: 100-continue"}, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), data }},
		{name: "presigned PUT, chunked, empty", framing: framedChunked, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), nil }},
		{name: "UNSIGNED-PAYLOAD, chunked", framing: framedChunked, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) {
				return headerSigned(t, h, path, "", s3.PayloadUnsigned, nil), data
			}},
		{name: "UploadPart UNSIGNED-PAYLOAD, chunked", framing: framedChunked, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) {
				return headerSigned(t, h, path, "partNumber=1&uploadId=u1", s3.PayloadUnsigned, nil), data
			}},
		{name: "SHA-256, chunked", framing: framedChunked, status: 411, code: "MissingContentLength", audit: "unknown length",
			req: func(h string) (*http.Request, []byte) { return headerSigned(t, h, path, "", hash, nil), data }},
		{name: "aws-chunked in Content-Encoding, UNSIGNED-PAYLOAD", framing: framedLength, status: 400, code: "InvalidRequest", audit: "aws-chunked",
			req: func(h string) (*http.Request, []byte) {
				return headerSigned(t, h, path, "", s3.PayloadUnsigned, map[string]string{"Content-Encoding": "gzip, aws-chunked"}), data
			}},
		{name: "SHA-256 of data, Content-Length 0", framing: framedZero, status: 400, code: "XAmzContentSHA256Mismatch",
			req: func(h string) (*http.Request, []byte) { return headerSigned(t, h, path, "", hash, nil), data }},
		{name: "aws-chunked declaring 0 bytes, carrying data", framing: framedLength, status: 400, code: "InvalidRequest",
			req: func(h string) (*http.Request, []byte) { return signedStream(h, data, 0) }},
		{name: "UNSIGNED-PAYLOAD, client stops mid-body", framing: framedCut, status: 400, code: "IncompleteBody",
			req: func(h string) (*http.Request, []byte) {
				return headerSigned(t, h, path, "", s3.PayloadUnsigned, nil), data
			}},
		{name: "presigned PUT, client stops mid-body", framing: framedCut, status: 400, code: "IncompleteBody",
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), data }},
		{name: "aws-chunked, chunked on the wire", framing: framedChunked, status: 200,
			req: func(h string) (*http.Request, []byte) { return signedStream(h, data, len(data)) }},
		{name: "presigned PUT, length", framing: framedLength, status: 200,
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), data }},
		{name: "presigned PUT, length, Expect 100-continue", framing: framedLength, extra: []string{"Expect: 100-continue"}, status: 200,
			req: func(h string) (*http.Request, []byte) { return presigned(t, h, path), data }},
		{name: "SHA-256, length", framing: framedLength, status: 200,
			req: func(h string) (*http.Request, []byte) { return headerSigned(t, h, path, "", hash, nil), data }},
		{name: "empty SHA-256, Content-Length 0", framing: framedLength, status: 200,
			req: func(h string) (*http.Request, []byte) { return headerSigned(t, h, path, "", emptyHash, nil), nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newBodyRig(t)
			req, body := tc.req(r.addr)
			status, msg := sendRaw(t, r.addr, req, body, tc.framing, tc.extra...)
			if status != tc.status || !strings.Contains(msg, "<Code>"+tc.code+"</Code>") && tc.code != "" {
				t.Fatalf("got %d %s, want %d %s", status, msg, tc.status, tc.code)
			}
			up := r.upstream()
			if tc.code != "" {
				for _, b := range up {
					if b.whole {
						t.Fatalf("refused with %s, but the upstream received a whole %d-byte body", tc.code, len(b.data))
					}
				}
			} else {
				want := data
				if len(body) == 0 {
					want = nil
				}
				if len(up) != 1 || !up[0].whole || !bytes.Equal(up[0].data, want) {
					t.Fatalf("the upstream received %d requests; want one with the %d bytes sent", len(up), len(want))
				}
			}
			if tc.audit == "" {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.decisions) != 1 || !strings.Contains(r.decisions[0].Guard, tc.audit) || !strings.Contains(r.decisions[0].Guard, "nothing was forwarded") {
				t.Fatalf("decisions %+v, want one guard naming %q", r.decisions, tc.audit)
			}
			if res := r.decisions[0].Resources(); len(res) != 1 || res[0] != "bucket/uploads/part 1.bin" {
				t.Fatalf("the record names %q, want the object", res)
			}
		})
	}
}

// TestBodyTransferEncodingTricks: framings that disagree with themselves
// (Content-Length next to chunked, transfer codings other than chunked)
// are refused, by the HTTP server or the handler, and no whole body
// reaches the upstream.
func TestBodyTransferEncodingTricks(t *testing.T) {
	data := patterned(5000)
	cases := []struct {
		name    string
		framing string
		extra   []string
	}{
		{"Content-Length and chunked", framedChunked, []string{"Content-Length: 5000"}},
		{"Content-Length 0 and chunked", framedChunked, []string{"Content-Length: 0"}},
		{"chunked twice", framedChunked, []string{"Transfer-Encoding: chunked"}},
		{"gzip, chunked", framedChunked, []string{"Transfer-Encoding: gzip"}},
		{"identity", framedLength, []string{"Transfer-Encoding: identity"}},
		{"two Content-Lengths", framedLength, []string{"Content-Length: 10"}},
	}
	for _, tc := range cases {
		for _, p := range []string{"presigned", s3.PayloadUnsigned} {
			t.Run(tc.name+"/"+p, func(t *testing.T) {
				r := newBodyRig(t)
				req := presigned(t, r.addr, "/bucket/k")
				if p != "presigned" {
					req = headerSigned(t, r.addr, "/bucket/k", "", p, nil)
				}
				status, msg := sendRaw(t, r.addr, req, data, tc.framing, tc.extra...)
				up := r.upstream()
				if status < 400 && status != 0 {
					t.Fatalf("answered %d %s", status, msg)
				}
				for _, b := range up {
					if b.whole {
						t.Fatalf("answered %d, but the upstream received a whole %d-byte body", status, len(b.data))
					}
				}
				t.Logf("%d %.60s", status, msg)
			})
		}
	}
}

// BenchmarkHandlerPut streams 64 MiB UNSIGNED-PAYLOAD PutObject bodies
// through the handler to a local upstream that reads and drops them.
func BenchmarkHandlerPut(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n, err := io.Copy(io.Discard, req.Body); err != nil || n != size {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	h, err := s3.New(s3.Config{
		Check:    func(*policy.Request) policy.Decision { return policy.Decision{Allow: true} },
		Verifier: newVerifier(testNow), Endpoint: u, Region: testRegion, Log: zerolog.Nop(),
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDHELD", SecretAccessKey: "held-secret"}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	local := httptest.NewServer(h)
	defer local.Close()
	host := strings.TrimPrefix(local.URL, "http://")
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		req := headerSigned(b, host, "/bucket/big", "", s3.PayloadUnsigned, nil)
		req.URL.Scheme, req.URL.Host = "http", host
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(data)), size
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
