package s3_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/airlockproxy/airlock/protocols/s3"
)

var fuzzModes = []string{s3.PayloadStreaming, s3.PayloadStreamingTrailer, s3.PayloadStreamingUnsignedTrailer}

// FuzzChunked frames a payload as the client would, breaks the framing
// (a flipped byte, inserted bytes, a cut), and decodes it. The decoder
// must not panic; in the signed modes every byte it returns must be the
// payload's (no byte of a chunk whose signature failed is ever returned);
// a success must return the payload exactly; a failure must be an
// *AuthError and must withhold the payload's last byte.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("hello, world"), uint8(0), uint16(5), uint32(0), byte(0), []byte(nil), uint32(0))
	f.Add(bytes.Repeat([]byte("a"), 9000), uint8(1), uint16(4096), uint32(4200), byte(1), []byte(nil), uint32(0))
	f.Add(bytes.Repeat([]byte("ab"), 3000), uint8(2), uint16(1000), uint32(0), byte(0), []byte("1;chunk-signature=\r\n"), uint32(0))
	f.Add([]byte("x"), uint8(1), uint16(1), uint32(0), byte(0), []byte(nil), uint32(150))
	f.Add([]byte(nil), uint8(2), uint16(1), uint32(3), byte(0), []byte("\r\n"), uint32(0))
	f.Fuzz(func(t *testing.T, payload []byte, mode uint8, chunk uint16, pos uint32, flip byte, insert []byte, cut uint32) {
		st := stream{mode: fuzzModes[int(mode)%len(fuzzModes)], payload: payload, chunk: int(chunk)%(1<<16) + 1}
		if len(payload) > 1<<18 || len(insert) > 1<<12 || len(payload)/st.chunk > 1<<10 {
			return // keep each run fast
		}
		if st.mode != s3.PayloadStreaming {
			st.checksum = "x-amz-checksum-crc32c"
		}
		r, body := st.request(t, "127.0.0.1:9000")
		srv := overWire(t, r)
		v := newVerifier(testNow)
		v.MaxChunkSize = 1 << 16
		a, err := v.Verify(srv)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(body); n > 0 {
			p := int(pos % uint32(n))
			body[p] ^= flip
			body = append(append(append([]byte{}, body[:p]...), insert...), body[p:]...)
		}
		if cut > 0 {
			body = body[:int(cut)%(len(body)+1)]
		}
		srv.Body = io.NopCloser(bytes.NewReader(body))
		out, _, err := decode(t, a, srv, iotest.HalfReader)
		if st.mode != s3.PayloadStreamingUnsignedTrailer && !bytes.HasPrefix(payload, out) {
			t.Fatalf("returned %d bytes that are not the signed payload's", len(out))
		}
		if err == nil {
			if !bytes.Equal(out, payload) {
				t.Fatalf("success with %d bytes, not the %d-byte payload", len(out), len(payload))
			}
			return
		}
		var ae *s3.AuthError
		if !errors.As(err, &ae) || ae.Code == "" || ae.Status < 400 {
			t.Fatalf("error %v (%T)", err, err)
		}
		if len(payload) > 0 && len(out) >= len(payload) {
			t.Fatalf("all %d bytes returned, then %v", len(out), err)
		}
	})
}

// FuzzVerify feeds arbitrary Authorization headers, query strings, paths
// and dates to Verify: no panic, only *AuthError failures, and a success
// only for the key it knows.
func FuzzVerify(f *testing.F) {
	get := clientRequest(f, "GET", "127.0.0.1:9000", "/bucket/a b/c+d", "list-type=2&prefix=a%2Fb", nil, map[string]string{"Range": "bytes=0-1"})
	signHeader(f, get, emptyHash, testNow)
	f.Add("GET", get.URL.RequestURI(), get.Header.Get("Authorization"), get.Header.Get("X-Amz-Date"), emptyHash, "bytes=0-1")
	f.Add("PUT", "/bucket/k?partNumber=1&uploadId=x", get.Header.Get("Authorization"), get.Header.Get("X-Amz-Date"), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "")
	f.Add("GET", "/b/k", "AWS4-HMAC-SHA256 Credential=/,SignedHeaders=,Signature=", "20260314T150926Z", "UNSIGNED-PAYLOAD", "")
	f.Add("GET", "/b/k", "AWS4-HMAC-SHA256 Credential=AKIALOCALTEST0000001/20260314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz", "20260314T150926Z", "", "")
	f.Add("GET", "/b/k", "AWS AKIALOCALTEST0000001:sig", "", "", "")
	f.Add("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIALOCALTEST0000001%2F20260314%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260314T150926Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", "", "", "")
	f.Add("GET", "/b/k?X-Amz-Signature=&X-Amz-Expires=99999999999999999999", "", "", "", "")
	f.Add("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIALOCALTEST0000001%2F20260314%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260314T150926Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", "", "", "")
	f.Add("DELETE", "//..//%2e%2e/%zz?%zz=%", "AWS4-HMAC-SHA256  ,,,,", "Mon, 02 Jan 2006 15:04:05 GMT", "e3b0", "")
	v := newVerifier(testNow)
	f.Fuzz(func(t *testing.T, method, target, authz, date, payload, rng string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := &http.Request{Method: method, URL: u, Host: "127.0.0.1:9000", Header: http.Header{}, Body: http.NoBody}
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": date, "X-Amz-Content-Sha256": payload, "Range": rng} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		if strings.HasSuffix(date, "GMT") { // the Date header instead of X-Amz-Date
			r.Header["Date"] = []string{date}
			r.Header.Del("X-Amz-Date")
		}
		a, err := v.Verify(r)
		if err != nil {
			checkAuthError(t, err)
			return
		}
		if a.KeyID != testKeyID || a.PayloadMode == "" || len(a.SeedSignature) != 64 {
			t.Fatalf("auth %+v", a)
		}
		if body, err := a.Body(r); err == nil {
			_, _ = io.Copy(io.Discard, body)
		}
	})
}

// checkAuthError fails t unless err is an S3 error a client can be sent (a
// code, a message, a 4xx/5xx status) that does not hold the local secret.
func checkAuthError(t *testing.T, err error) {
	t.Helper()
	var ae *s3.AuthError
	if !errors.As(err, &ae) || ae.Code == "" || ae.Message == "" || ae.Status < 400 {
		t.Fatalf("error %v (%T)", err, err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatal("error holds the secret")
	}
}
