package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

const (
	testKeyID  = "AKIALOCALTEST0000001"
	testSecret = "local/secret+key=never-upstream"
	testRegion = "us-east-1"
	emptyHash  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// testNow is the clock every signature in these tests is made at.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func testCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
}

func newVerifier(now time.Time) *s3.Verifier {
	return &s3.Verifier{
		Keys: []s3.LocalKey{{AccessKeyID: "AKIAOTHERKEY", Secret: secret.New("other")}, {AccessKeyID: testKeyID, Secret: secret.New(testSecret)}},
		Now:  func() time.Time { return now },
	}
}

// s3Signer signs like the S3 client does: the path is signed as sent.
var s3Signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

// escapeKey encodes an object key the way the SDK builds S3 paths: every
// byte but unreserved characters and '/' percent-encoded.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// clientRequest builds a request as an S3 client would send it.
func clientRequest(t testing.TB, method, host, path, rawQuery string, body []byte, headers map[string]string) *http.Request {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: host, Path: path, RawPath: escapeKey(path), RawQuery: rawQuery}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

// signHeader signs r in the Authorization header with the test key.
func signHeader(t testing.TB, r *http.Request, payload string, at time.Time) {
	t.Helper()
	signWith(t, r, testCreds(), payload, testRegion, at)
}

func signWith(t testing.TB, r *http.Request, creds aws.Credentials, payload, region string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payload)
	// A fresh signer: the SDK caches derived keys by key id, not by secret.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, r, payload, "s3", region, at); err != nil {
		t.Fatal(err)
	}
}

// overWire writes r as a client would and reads it back as a server does.
func overWire(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sha256Hex(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// codeOf is the S3 error code of err, or "" when err is nil.
func codeOf(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae *s3.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *s3.AuthError", err, err)
	}
	if ae.Status < 400 || ae.Message == "" {
		t.Errorf("error %v has status %d, message %q", err, ae.Status, ae.Message)
	}
	return ae.Code
}

func TestVerifyHeaderSigned(t *testing.T) {
	keys := []string{
		"plain.txt",
		"with space/and+plus/and%percent",
		"unicode/日本語/ü/é.csv",
		"double//slash//",
		"../up/./dot/..",
		"sub-delims!$&'()*,;=:@",
		"tilde~and_under-dash.x",
		"question?mark#hash[brackets]{braces}\"quote\"",
	}
	type tc struct {
		name    string
		method  string
		path    string
		query   string
		body    []byte
		payload string
		headers map[string]string
	}
	cases := []tc{
		{name: "get", method: "GET", path: "/bucket/key.txt", payload: emptyHash,
			headers: map[string]string{"Range": "bytes=0-9", "If-None-Match": `"abc"`}},
		{name: "list", method: "GET", path: "/bucket", query: "list-type=2&prefix=a%2Fb&delimiter=%2F", payload: emptyHash},
		{name: "list unsorted query", method: "GET", path: "/bucket", query: "prefix=a%20b&list-type=2&max-keys=10&encoding-type=url", payload: emptyHash},
		{name: "put hashed", method: "PUT", path: "/bucket/dir/obj", body: []byte("hello, world"), payload: sha256Hex([]byte("hello, world")),
			headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Owner": "  etl   job  ", "X-Amz-Storage-Class": "STANDARD"}},
		{name: "put unsigned payload", method: "PUT", path: "/bucket/obj", body: []byte("data"), payload: "UNSIGNED-PAYLOAD"},
		{name: "delete", method: "DELETE", path: "/bucket/obj", payload: emptyHash},
		{name: "head", method: "HEAD", path: "/bucket/obj", payload: emptyHash},
		{name: "post delete objects", method: "POST", path: "/bucket", query: "delete", body: []byte("<Delete/>"), payload: sha256Hex([]byte("<Delete/>"))},
		{name: "post uploads", method: "POST", path: "/bucket/big.bin", query: "uploads", payload: emptyHash},
		{name: "upload part", method: "PUT", path: "/bucket/big.bin", query: "partNumber=3&uploadId=abc%2Bdef%3D%3D", body: []byte("part"), payload: "UNSIGNED-PAYLOAD"},
		{name: "copy", method: "PUT", path: "/bucket/dst", payload: emptyHash, headers: map[string]string{"X-Amz-Copy-Source": "/src/a%20b"}},
		{name: "root", method: "GET", path: "/", payload: emptyHash},
	}
	for _, k := range keys {
		cases = append(cases, tc{name: "key " + k, method: "PUT", path: "/bucket/" + k, body: []byte("x"), payload: sha256Hex([]byte("x"))})
	}
	v := newVerifier(testNow)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clientRequest(t, c.method, "127.0.0.1:9000", c.path, c.query, c.body, c.headers)
			signHeader(t, r, c.payload, testNow)
			srv := overWire(t, r)
			a, err := v.Verify(srv)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if a.KeyID != testKeyID || a.Region != testRegion || a.Presigned || !a.Date.Equal(testNow) {
				t.Errorf("auth = %+v", a)
			}
			wantMode := s3.PayloadHashed
			if c.payload == "UNSIGNED-PAYLOAD" {
				wantMode = s3.PayloadUnsigned
			} else if a.PayloadSHA256 != c.payload {
				t.Errorf("PayloadSHA256 = %q, want %q", a.PayloadSHA256, c.payload)
			}
			if a.PayloadMode != wantMode {
				t.Errorf("PayloadMode = %q, want %q", a.PayloadMode, wantMode)
			}
			if !strings.Contains(r.Header.Get("Authorization"), "Signature="+a.SeedSignature) {
				t.Errorf("SeedSignature %q is not the request's", a.SeedSignature)
			}
			if a.SignedHeaders[0] == "" || !contains(a.SignedHeaders, "host") || !contains(a.SignedHeaders, "x-amz-date") {
				t.Errorf("SignedHeaders = %q", a.SignedHeaders)
			}
			body, err := a.Body(srv)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil || !bytes.Equal(got, c.body) && len(c.body)+len(got) > 0 {
				t.Errorf("body = %q, %v; want %q", got, err, c.body)
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestVerifyPathAsSent: a client that sends characters Go leaves alone
// (and signs what it sends) and one that signs the S3 encoding of a path
// its HTTP stack sends differently are both accepted; both name one key.
func TestVerifyPathAsSent(t *testing.T) {
	v := newVerifier(testNow)
	for _, raw := range []string{"/bucket/a+b!c$d@e:f", "/bucket/%61%62c", "/bucket/x%2fy", "/bucket/%7euser"} {
		t.Run(raw, func(t *testing.T) {
			r, err := http.NewRequest("GET", "http://127.0.0.1:9000"+raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			signHeader(t, r, emptyHash, testNow)
			if _, err := v.Verify(overWire(t, r)); err != nil {
				t.Fatalf("signed as sent: %v", err)
			}
			// Signed over the S3 encoding, sent as written.
			r2, _ := http.NewRequest("GET", "http://127.0.0.1:9000"+raw, nil)
			signed := *r2.URL
			signed.RawPath = escapeKey(signed.Path)
			r2.URL = &signed
			signHeader(t, r2, emptyHash, testNow)
			r2.URL, _ = url.Parse("http://127.0.0.1:9000" + raw)
			if _, err := v.Verify(overWire(t, r2)); err != nil {
				t.Fatalf("signed in S3 encoding: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	base := func(t *testing.T) *http.Request {
		r := clientRequest(t, "PUT", "127.0.0.1:9000", "/bucket/key", "partNumber=1&uploadId=u", []byte("abc"),
			map[string]string{"X-Amz-Meta-A": "1", "Content-Type": "text/plain"})
		signHeader(t, r, sha256Hex([]byte("abc")), testNow)
		return r
	}
	cases := []struct {
		name   string
		now    time.Time
		edit   func(t *testing.T, r *http.Request) *http.Request // on the client request, after signing
		region string
		code   string
	}{
		{name: "valid", code: ""},
		{name: "skew 14m ahead", now: testNow.Add(14 * time.Minute), code: ""},
		{name: "skew 14m behind", now: testNow.Add(-14 * time.Minute), code: ""},
		{name: "skew 16m ahead", now: testNow.Add(16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "skew 16m behind", now: testNow.Add(-16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "tampered header", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("X-Amz-Meta-A", "2")
			return r
		}},
		{name: "tampered content-type", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Content-Type", "text/html")
			return r
		}},
		{name: "tampered path", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.URL.Path, r.URL.RawPath = "/bucket/other", ""
			return r
		}},
		{name: "tampered host", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Host = "127.0.0.1:9001"
			return r
		}},
		{name: "tampered query", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.URL.RawQuery = "partNumber=2&uploadId=u"
			return r
		}},
		{name: "added query", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.URL.RawQuery += "&acl"
			return r
		}},
		{name: "tampered method", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Method = "POST"
			return r
		}},
		{name: "tampered signature", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			h := r.Header.Get("Authorization")
			i := strings.Index(h, "Signature=") + len("Signature=")
			flip := "0"
			if h[i] == '0' {
				flip = "1"
			}
			r.Header.Set("Authorization", h[:i]+flip+h[i+1:])
			return r
		}},
		{name: "tampered date", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format("20060102T150405Z"))
			return r
		}},
		{name: "tampered payload hash", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return r
		}},
		{name: "unsigned amz header", code: "AccessDenied", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("X-Amz-Copy-Source", "/other/secret")
			return r
		}},
		{name: "wrong key id", code: "InvalidAccessKeyId", edit: func(t *testing.T, r *http.Request) *http.Request {
			c := testCreds()
			c.AccessKeyID = "AKIAUNKNOWN"
			signWith(t, r, c, sha256Hex([]byte("abc")), testRegion, testNow)
			return r
		}},
		{name: "wrong secret", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			c := testCreds()
			c.SecretAccessKey = "guess"
			signWith(t, r, c, sha256Hex([]byte("abc")), testRegion, testNow)
			return r
		}},
		{name: "other region accepted", code: "", edit: func(t *testing.T, r *http.Request) *http.Request {
			signWith(t, r, testCreds(), sha256Hex([]byte("abc")), "eu-west-1", testNow)
			return r
		}},
		{name: "configured region", region: "eu-west-1", code: "AuthorizationHeaderMalformed"},
		{name: "other service", code: "AuthorizationHeaderMalformed", edit: func(t *testing.T, r *http.Request) *http.Request {
			if err := s3Signer.SignHTTP(context.Background(), testCreds(), r, sha256Hex([]byte("abc")), "sts", testRegion, testNow); err != nil {
				t.Fatal(err)
			}
			return r
		}},
		{name: "unsigned host", code: "InvalidRequest", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			return r
		}},
		{name: "unsorted signed headers", code: "AuthorizationHeaderMalformed", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-length;content-type;host", "host;content-length;content-type", 1))
			return r
		}},
		{name: "missing content sha256", code: "InvalidRequest", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Del("X-Amz-Content-Sha256")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-content-sha256", "", 1))
			return r
		}},
		{name: "bad content sha256", code: "InvalidRequest", edit: func(t *testing.T, r *http.Request) *http.Request {
			signHeader(t, r, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", testNow)
			return r
		}},
		{name: "no auth", code: "AccessDenied", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Del("Authorization")
			return r
		}},
		{name: "sigv2 with a wrong signature", code: "SignatureDoesNotMatch", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Authorization", "AWS "+testKeyID+":c2lnbmF0dXJl")
			return r
		}},
		{name: "header and query auth", code: "InvalidArgument", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
			return r
		}},
		{name: "duplicate component", code: "AuthorizationHeaderMalformed", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Signature=00")
			return r
		}},
		{name: "credential date differs", code: "AuthorizationHeaderMalformed", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testNow.Format("20060102"), "20250101", 1))
			return r
		}},
		{name: "malformed query", code: "InvalidRequest", edit: func(t *testing.T, r *http.Request) *http.Request {
			r.URL.RawQuery += "&x=%zz"
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = testNow
			}
			v := newVerifier(now)
			v.Region = c.region
			r := base(t)
			if c.edit != nil {
				r = c.edit(t, r)
			}
			_, err := v.Verify(overWire(t, r))
			if got := codeOf(t, err); got != c.code {
				t.Fatalf("Verify = %v; want code %q", err, c.code)
			}
			if err != nil && (strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "AWS4-HMAC-SHA256\n")) {
				t.Errorf("error leaks signing material: %v", err)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	presign := func(t *testing.T, method, path, query string, expires time.Duration, headers map[string]string, at time.Time) *http.Request {
		r := clientRequest(t, method, "127.0.0.1:9000", path, query, nil, headers)
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
		r.URL.RawQuery = q.Encode()
		signed, hdr, err := s3Signer.PresignHTTP(context.Background(), testCreds(), r, "UNSIGNED-PAYLOAD", "s3", testRegion, at)
		if err != nil {
			t.Fatal(err)
		}
		out, err := http.NewRequest(method, signed, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range hdr {
			if k != "Host" {
				out.Header[k] = vs
			}
		}
		return out
	}
	cases := []struct {
		name    string
		method  string
		query   string
		expires time.Duration
		headers map[string]string
		now     time.Time
		edit    func(r *http.Request)
		code    string
	}{
		{name: "get", method: "GET", expires: time.Hour, now: testNow.Add(59 * time.Minute)},
		{name: "get with query", method: "GET", query: "response-content-type=text%2Fplain&versionId=v1", expires: time.Hour, now: testNow},
		{name: "put with signed header", method: "PUT", expires: 15 * time.Minute, headers: map[string]string{"Content-Type": "application/json", "X-Amz-Meta-Run": "42"}, now: testNow},
		{name: "expired", method: "GET", expires: time.Hour, now: testNow.Add(61 * time.Minute), code: "AccessDenied"},
		{name: "not yet valid", method: "GET", expires: time.Hour, now: testNow.Add(-20 * time.Minute), code: "AccessDenied"},
		{name: "old but unexpired", method: "GET", expires: 7 * 24 * time.Hour, now: testNow.Add(6 * 24 * time.Hour)},
		{name: "expires over 7 days", method: "GET", expires: 7*24*time.Hour + time.Second, now: testNow, code: "AuthorizationQueryParametersError"},
		{name: "tampered query", method: "GET", query: "versionId=v1", expires: time.Hour, now: testNow, code: "SignatureDoesNotMatch",
			edit: func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=v1", "versionId=v2", 1)
			}},
		{name: "tampered expires", method: "GET", expires: time.Hour, now: testNow, code: "SignatureDoesNotMatch",
			edit: func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=3600", "X-Amz-Expires=3601", 1)
			}},
		{name: "tampered path", method: "GET", expires: time.Hour, now: testNow, code: "SignatureDoesNotMatch",
			edit: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other", "" }},
		{name: "tampered signed header", method: "PUT", expires: time.Hour, headers: map[string]string{"X-Amz-Meta-Run": "42"}, now: testNow, code: "SignatureDoesNotMatch",
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Run", "43") }},
		{name: "unsigned amz header", method: "GET", expires: time.Hour, now: testNow, code: "AccessDenied",
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Server-Side-Encryption", "AES256") }},
		{name: "missing signature", method: "GET", expires: time.Hour, now: testNow, code: "AuthorizationQueryParametersError",
			edit: func(r *http.Request) {
				q := r.URL.Query()
				q.Del("X-Amz-Signature")
				r.URL.RawQuery = q.Encode() + "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := presign(t, c.method, "/bucket/dir/my key+1.txt", c.query, c.expires, c.headers, testNow)
			if c.edit != nil {
				c.edit(r)
			}
			a, err := newVerifier(c.now).Verify(overWire(t, r))
			if got := codeOf(t, err); got != c.code {
				t.Fatalf("Verify = %v; want code %q", err, c.code)
			}
			if err == nil && (!a.Presigned || a.PayloadMode != s3.PayloadUnsigned || a.KeyID != testKeyID) {
				t.Errorf("auth = %+v", a)
			}
		})
	}
}

// TestAWSExampleSeedSignatures checks the canonical request against the
// signatures AWS publishes for its streaming examples (testdata/sigv4).
func TestAWSExampleSeedSignatures(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			r := vec.request(t, vec.body(t))
			a, err := vec.verifier().Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			if a.SeedSignature != vec.SeedSignature || a.PayloadMode != vec.Headers["x-amz-content-sha256"] {
				t.Fatalf("seed %s, mode %s", a.SeedSignature, a.PayloadMode)
			}
		})
	}
}

// TestAuthPrintsNoKey: printing an Auth (a debug log line) shows neither
// the derived signing key nor the secret.
func TestAuthPrintsNoKey(t *testing.T) {
	r := clientRequest(t, "GET", "127.0.0.1:9000", "/b/k", "", nil, nil)
	signHeader(t, r, emptyHash, testNow)
	a, err := newVerifier(testNow).Verify(overWire(t, r))
	if err != nil {
		t.Fatal(err)
	}
	key := deriveKey(testSecret, testNow.Format("20060102"), testRegion)
	for _, out := range []string{fmt.Sprintf("%v", a), fmt.Sprintf("%+v", *a), fmt.Sprintf("%#v", *a)} {
		if strings.Contains(out, string(key)) || strings.Contains(out, hex.EncodeToString(key)) ||
			strings.Contains(out, fmt.Sprint(key)) || strings.Contains(out, testSecret) {
			t.Errorf("printed Auth holds key material: %s", out)
		}
	}
}

// deriveKey is the SigV4 signing key, computed here independently.
func deriveKey(secretKey, day, region string) []byte {
	k := []byte("AWS4" + secretKey)
	for _, s := range []string{day, region, "s3", "aws4_request"} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		k = m.Sum(nil)
	}
	return k
}

// BenchmarkVerify: a signed GET with six signed headers, as the SDK sends.
func BenchmarkVerify(b *testing.B) {
	r := clientRequest(b, "GET", "127.0.0.1:9000", "/bucket/data/2026/03/14/part-00042.parquet", "versionId=3HL4kqtJlcpXroDTDmjVBH40Nrjfkd", nil, map[string]string{
		"Range":           "bytes=0-1048575",
		"If-None-Match":   `"9b2cf535f27731c974343645a3985328"`,
		"Amz-Sdk-Request": "attempt=1; max=3",
		"User-Agent":      "aws-sdk-go-v2/1.47.7 os/linux lang/go#1.26 md/GOOS#linux api/s3#1.114.8",
	})
	signHeader(b, r, emptyHash, testNow)
	srv := overWire(b, r)
	if n := strings.Count(r.Header.Get("Authorization"), ";") + 1; n != 6 {
		b.Fatalf("%d signed headers", n)
	}
	v := newVerifier(testNow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(srv); err != nil {
			b.Fatal(err)
		}
	}
}
