package s3

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// unsignedTrailerRequest frames payload as a client would in
// STREAMING-UNSIGNED-PAYLOAD-TRAILER mode, with chunk-sized chunks.
func unsignedTrailerRequest(t *testing.T, payload []byte, name string, chunk int) *http.Request {
	t.Helper()
	var b bytes.Buffer
	for rest := payload; len(rest) > 0; {
		n := min(len(rest), chunk)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	h := checksums[name]()
	h.Write(payload)
	fmt.Fprintf(&b, "0\r\n%s:%s\r\n\r\n", name, base64.StdEncoding.EncodeToString(h.Sum(nil)))
	r, err := http.NewRequest(http.MethodPut, "http://127.0.0.1/b/k", bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	r.Header.Set("X-Amz-Trailer", name)
	return r
}

func decodeUnsigned(t *testing.T, r *http.Request) (*DecodedBody, []byte, error) {
	t.Helper()
	a := &Auth{PayloadMode: PayloadStreamingUnsignedTrailer}
	rc, err := a.Body(r)
	if err != nil {
		t.Fatal(err)
	}
	db := rc.(*DecodedBody)
	got, err := io.ReadAll(db)
	return db, got, err
}

// TestTrailerBodyRoundTrip re-frames verified bodies and decodes the result
// with the same strict decoder: the payload and checksum survive, and the
// length announced before the first byte is the length sent.
func TestTrailerBodyRoundTrip(t *testing.T) {
	for name := range checksums {
		for _, size := range []int{0, 1, upstreamChunk - 1, upstreamChunk, upstreamChunk + 1, 3*upstreamChunk + 17} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				payload := bytes.Repeat([]byte("airlock!"), size/8+1)[:size]
				r := unsignedTrailerRequest(t, payload, name, 8000)
				a := &Auth{PayloadMode: PayloadStreamingUnsignedTrailer}
				rc, err := a.Body(r)
				if err != nil {
					t.Fatal(err)
				}
				framed, err := io.ReadAll(newTrailerBody(rc.(*DecodedBody), int64(size)))
				if err != nil {
					t.Fatal(err)
				}
				if want := encodedLength(int64(size), name); int64(len(framed)) != want {
					t.Fatalf("framed %d bytes, announced %d", len(framed), want)
				}
				again, err := http.NewRequest(http.MethodPut, "http://127.0.0.1/b/k", bytes.NewReader(framed))
				if err != nil {
					t.Fatal(err)
				}
				again.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(size))
				again.Header.Set("X-Amz-Trailer", name)
				db, got, err := decodeUnsigned(t, again)
				if err != nil {
					t.Fatalf("re-framed body does not decode: %v\n%q", err, framed[max(0, len(framed)-80):])
				}
				if !bytes.Equal(got, payload) {
					t.Fatal("payload changed")
				}
				if db.Trailer().Get(name) == "" {
					t.Fatal("trailer lost")
				}
			})
		}
	}
}

// TestTrailerBodyRefusesBadSource: a body that fails verification fails
// the re-framed stream before its final chunk, so the upstream request is
// aborted rather than completed.
func TestTrailerBodyRefusesBadSource(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 100000)
	r := unsignedTrailerRequest(t, payload, "x-amz-checksum-crc32", 8000)
	raw, _ := io.ReadAll(r.Body)
	i := bytes.LastIndex(raw, []byte("x-amz-checksum-crc32:"))
	bad := bytes.Clone(raw)
	copy(bad[i+len("x-amz-checksum-crc32:"):], "AAAAAA==")
	r.Body = io.NopCloser(bytes.NewReader(bad))
	a := &Auth{PayloadMode: PayloadStreamingUnsignedTrailer}
	rc, err := a.Body(r)
	if err != nil {
		t.Fatal(err)
	}
	framed, err := io.ReadAll(newTrailerBody(rc.(*DecodedBody), int64(len(payload))))
	if err == nil {
		t.Fatal("a bad checksum was re-framed")
	}
	if strings.Contains(string(framed), "0\r\nx-amz-checksum") {
		t.Fatal("the final chunk went out before the checksum was verified")
	}
}

func TestWithoutAWSChunked(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"deflate, aws-chunked, gzip"}, []string{"deflate, gzip"}},
		{[]string{"aws-chunked"}, nil},
		{[]string{"AWS-Chunked,gzip"}, []string{"gzip"}},
		{[]string{"deflate,  gzip"}, []string{"deflate,  gzip"}}, // untouched
		{[]string{"aws-chunked", "br"}, []string{"br"}},
	} {
		if got := withoutAWSChunked(c.in); !slices.Equal(got, c.want) {
			t.Errorf("withoutAWSChunked(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
