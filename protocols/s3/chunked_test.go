package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// vector is one of AWS's published streaming examples (testdata/sigv4).
type vector struct {
	Name          string            `json:"name"`
	AccessKeyID   string            `json:"access_key_id"`
	Secret        string            `json:"secret_access_key"`
	Time          string            `json:"time"`
	Method        string            `json:"method"`
	Host          string            `json:"host"`
	Path          string            `json:"path"`
	Headers       map[string]string `json:"headers"`
	SignedHeaders string            `json:"signed_headers"`
	SeedSignature string            `json:"seed_signature"`
	PayloadByte   string            `json:"payload_byte"`
	Chunks        []struct {
		Size      int    `json:"size"`
		Signature string `json:"signature"`
	} `json:"chunks"`
	AfterFinal string `json:"after_final"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/sigv4/aws-streaming.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Vectors
}

func (v vector) payload() []byte {
	n := 0
	for _, c := range v.Chunks {
		n += c.Size
	}
	return bytes.Repeat([]byte(v.PayloadByte), n)
}

// body is the aws-chunked body of the example, as AWS frames it.
func (v vector) body(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	data := v.payload()
	for _, c := range v.Chunks {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", c.Size, c.Signature)
		if c.Size > 0 {
			b.Write(data[:c.Size])
			data = data[c.Size:]
			b.WriteString("\r\n")
		}
	}
	b.WriteString(v.AfterFinal)
	return b.Bytes()
}

func (v vector) verifier() *s3.Verifier {
	at, _ := time.Parse("20060102T150405Z", v.Time)
	return &s3.Verifier{
		Keys: []s3.LocalKey{{AccessKeyID: v.AccessKeyID, Secret: secret.New(v.Secret)}},
		Now:  func() time.Time { return at },
	}
}

// request is the example request as a server reads it off the wire.
func (v vector) request(t testing.TB, body []byte) *http.Request {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", v.Method, v.Path, v.Host)
	for k, val := range v.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, val)
	}
	if _, ok := v.Headers["content-length"]; !ok {
		fmt.Fprintf(&b, "content-length: %d\r\n", len(body))
	}
	fmt.Fprintf(&b, "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request,SignedHeaders=%s,Signature=%s\r\n\r\n",
		v.AccessKeyID, v.Time[:8], v.SignedHeaders, v.SeedSignature)
	b.Write(body)
	r, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// decode verifies r and reads its decoded body through readers of every
// shape; it returns what was read and the error that ended the reading.
func decode(t testing.TB, a *s3.Auth, r *http.Request, wrap func(io.Reader) io.Reader) ([]byte, http.Header, error) {
	t.Helper()
	body, err := a.Body(r)
	if err != nil {
		return nil, nil, err
	}
	defer body.Close()
	var rd io.Reader = body
	if wrap != nil {
		rd = wrap(body)
	}
	out, err := io.ReadAll(rd)
	return out, body.(*s3.DecodedBody).Trailer(), err
}

var readShapes = map[string]func(io.Reader) io.Reader{
	"all":  nil,
	"one":  iotest.OneByteReader,
	"half": iotest.HalfReader,
	"7 bytes": func(r io.Reader) io.Reader {
		return readerFunc(func(p []byte) (int, error) { return r.Read(p[:min(len(p), 7)]) })
	},
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestAWSExampleChunks(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run(vec.Name, func(t *testing.T) {
			want := vec.payload()
			body := vec.body(t)
			if cl, ok := vec.Headers["content-length"]; ok && cl != strconv.Itoa(len(body)) {
				t.Fatalf("framed %d bytes, the example says %s", len(body), cl)
			}
			r := vec.request(t, body)
			a, err := vec.verifier().Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			for name, shape := range readShapes {
				r.Body = io.NopCloser(bytes.NewReader(body))
				got, trailer, err := decode(t, a, r, shape)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: %d bytes, %v", name, len(got), err)
				}
				if trailing := vec.Headers["x-amz-trailer"]; trailing != "" && trailer.Get(trailing) != "sOO8/Q==" {
					t.Errorf("trailer = %v", trailer)
				}
			}
			r.Body = io.NopCloser(iotest.TimeoutReader(bytes.NewReader(body)))
			if _, _, err := decode(t, a, r, nil); codeOf(t, err) != "IncompleteBody" {
				t.Errorf("read error: %v", err)
			}
		})
	}
}

// TestAWSExampleChunksRefused breaks the examples' bodies: no byte of a
// chunk whose signature fails is returned, and the last bytes of the
// payload never are unless everything checks out.
func TestAWSExampleChunksRefused(t *testing.T) {
	vecs := loadVectors(t)
	plain, trailer := vecs[0], vecs[1]
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	cases := []struct {
		name   string
		vec    vector
		edit   func([]byte) []byte
		header [2]string // a header changed after verification
		max    int       // Verifier.MaxChunkSize
		code   string
		upTo   int // at most this many bytes may be returned
	}{
		{name: "data in first chunk", vec: plain, edit: func(b []byte) []byte { b[200] = 'b'; return b }, code: "SignatureDoesNotMatch", upTo: 0},
		{name: "data in second chunk", vec: plain, edit: func(b []byte) []byte { b[65626+100] = 'b'; return b }, code: "SignatureDoesNotMatch", upTo: 65535},
		{name: "first signature", vec: plain, edit: replace("ad80c730", "ad80c731"), code: "SignatureDoesNotMatch", upTo: 0},
		{name: "final signature", vec: plain, edit: replace("b6c6ea8a", "b6c6ea8b"), code: "SignatureDoesNotMatch", upTo: 66559},
		{name: "chunks swapped", vec: plain, edit: func(b []byte) []byte {
			return append(append([]byte{}, b[65626:65626+1112]...), append(b[:65626], b[65626+1112:]...)...)
		}, code: "SignatureDoesNotMatch", upTo: 0},
		{name: "final chunk dropped", vec: plain, edit: func(b []byte) []byte { return b[:65626+1112] }, code: "IncompleteBody", upTo: 66559},
		{name: "truncated in data", vec: plain, edit: func(b []byte) []byte { return b[:30000] }, code: "IncompleteBody", upTo: 0},
		{name: "truncated in header", vec: plain, edit: func(b []byte) []byte { return b[:65626+40] }, code: "IncompleteBody", upTo: 65535},
		{name: "data after the end", vec: trailer, edit: func(b []byte) []byte { return append(b, "0\r\n"...) }, code: "InvalidRequest", upTo: 66559},
		{name: "missing CRLF after data", vec: plain, edit: func(b []byte) []byte {
			return append(append([]byte{}, b[:88+65536]...), b[88+65536+2:]...)
		}, code: "InvalidRequest", upTo: 0},
		{name: "size not hex", vec: plain, edit: replace("10000;", "1000g;"), code: "InvalidChunkSizeError", upTo: 0},
		{name: "size over the limit", vec: plain, max: 32 << 10, code: "InvalidChunkSizeError", upTo: 0},
		{name: "bare LF", vec: plain, edit: replace("a288648\r\n", "a288648\n"), code: "InvalidRequest", upTo: 0},
		{name: "no chunk signature", vec: plain, edit: replace(";chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", ""), code: "InvalidRequest", upTo: 0},
		{name: "garbage", vec: plain, edit: func([]byte) []byte { return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }, code: "InvalidRequest", upTo: 0},
		{name: "declared length shorter", vec: plain, header: [2]string{"X-Amz-Decoded-Content-Length", "66559"}, code: "InvalidRequest", upTo: 65535},
		{name: "declared length longer", vec: plain, header: [2]string{"X-Amz-Decoded-Content-Length", "66561"}, code: "IncompleteBody", upTo: 66559},
		{name: "declared length missing", vec: plain, header: [2]string{"X-Amz-Decoded-Content-Length", ""}, code: "MissingContentLength", upTo: 0},
		{name: "trailer value", vec: trailer, edit: replace("sOO8/Q==", "sOO8/A=="), code: "SignatureDoesNotMatch", upTo: 66559},
		{name: "trailer signature", vec: trailer, edit: replace("d81f82fc", "d81f82fd"), code: "SignatureDoesNotMatch", upTo: 66559},
		{name: "trailer signature missing", vec: trailer, edit: replace("x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n", ""), code: "MalformedTrailerError", upTo: 66559},
		{name: "trailer undeclared", vec: trailer, edit: replace("x-amz-checksum-crc32c:", "x-amz-checksum-crc32:"), code: "MalformedTrailerError", upTo: 66559},
		{name: "trailer truncated", vec: trailer, edit: func(b []byte) []byte { return b[:len(b)-40] }, code: "IncompleteBody", upTo: 66559},
		{name: "unknown trailer algorithm", vec: trailer, header: [2]string{"X-Amz-Trailer", "x-amz-checksum-md5"}, code: "InvalidRequest", upTo: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.vec.body(t)
			v := c.vec.verifier()
			v.MaxChunkSize = c.max
			a, err := v.Verify(c.vec.request(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				body = c.edit(body)
			}
			for name, shape := range readShapes {
				r := c.vec.request(t, body)
				if c.header[0] != "" {
					r.Header.Set(c.header[0], c.header[1])
				}
				got, trailer, err := decode(t, a, r, shape)
				if code := codeOf(t, err); code != c.code {
					t.Fatalf("%s: err = %v, want %s", name, err, c.code)
				}
				if len(got) > c.upTo || !bytes.Equal(got, c.vec.payload()[:len(got)]) {
					t.Fatalf("%s: returned %d bytes (at most %d allowed)", name, len(got), c.upTo)
				}
				if trailer != nil {
					t.Errorf("trailer %v after a failure", trailer)
				}
			}
		})
	}
}

// TestAWSExampleTrailerFraming: clients frame the end of a signed trailer
// body in slightly different ways; each is accepted.
func TestAWSExampleTrailerFraming(t *testing.T) {
	vec := loadVectors(t)[1]
	const final = "0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
	for name, edit := range map[string]func([]byte) []byte{
		"CRLF before trailer":   func(b []byte) []byte { return bytes.Replace(b, []byte(final), []byte(final+"\r\n"), 1) },
		"no final CRLF":         func(b []byte) []byte { return b[:len(b)-2] },
		"upper-case hex size":   func(b []byte) []byte { return bytes.Replace(b, []byte("400;"), []byte("0400;"), 1) },
		"space after the colon": func(b []byte) []byte { return bytes.Replace(b, []byte("crc32c:"), []byte("crc32c: "), 1) },
	} {
		t.Run(name, func(t *testing.T) {
			a, err := vec.verifier().Verify(vec.request(t, vec.body(t)))
			if err != nil {
				t.Fatal(err)
			}
			got, trailer, err := decode(t, a, vec.request(t, edit(vec.body(t))), nil)
			if err != nil || !bytes.Equal(got, vec.payload()) || trailer.Get("X-Amz-Checksum-Crc32c") != "sOO8/Q==" {
				t.Fatalf("%d bytes, trailer %v, %v", len(got), trailer, err)
			}
		})
	}
}

// chunkSigner signs aws-chunked bodies, independently of the package.
type chunkSigner struct {
	key         []byte
	date, scope string
	prev        string
}

func newChunkSigner(seed string, at time.Time) *chunkSigner {
	return &chunkSigner{
		key:  deriveKey(testSecret, at.Format("20060102"), testRegion),
		date: at.Format("20060102T150405Z"), scope: at.Format("20060102") + "/" + testRegion + "/s3/aws4_request",
		prev: seed,
	}
}

func (s *chunkSigner) sign(kind, hashes string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind + "\n" + s.date + "\n" + s.scope + "\n" + s.prev + "\n" + hashes))
	s.prev = hex.EncodeToString(m.Sum(nil))
	return s.prev
}

func (s *chunkSigner) chunk(data []byte) string {
	return s.sign("AWS4-HMAC-SHA256-PAYLOAD", emptyHash+"\n"+sha256Hex(data))
}

func (s *chunkSigner) trailer(canonical string) string {
	return s.sign("AWS4-HMAC-SHA256-TRAILER", sha256Hex([]byte(canonical)))
}

// checksumOf is the base64 value of an x-amz-checksum-* trailer.
func checksumOf(t testing.TB, name string, data []byte) string {
	t.Helper()
	var h hash.Hash
	switch name {
	case "x-amz-checksum-crc32":
		h = crc32.NewIEEE()
	case "x-amz-checksum-crc32c":
		h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "x-amz-checksum-crc64nvme":
		h = crc64.New(crc64.MakeTable(0x9A6C9329AC4BC9B5))
	case "x-amz-checksum-sha1":
		h = sha1.New()
	case "x-amz-checksum-sha256":
		h = sha256.New()
	default:
		t.Fatalf("no checksum %s", name)
	}
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// stream is a generated aws-chunked upload.
type stream struct {
	mode     string
	payload  []byte
	chunk    int
	checksum string // trailer name, "" for none
	sum      string // trailer value; checksumOf(payload) when ""
}

// frame builds the body; s signs it (nil for the unsigned mode).
func (st stream) frame(t testing.TB, s *chunkSigner) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Grow(len(st.payload) + len(st.payload)/max(st.chunk, 1)*100 + 300)
	data := st.payload
	for {
		n := min(st.chunk, len(data))
		if s != nil {
			fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, s.chunk(data[:n]))
		} else {
			fmt.Fprintf(&b, "%x\r\n", n)
		}
		if n == 0 {
			break
		}
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	if st.mode == s3.PayloadStreaming {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canonical string
	if st.checksum != "" {
		sum := st.sum
		if sum == "" {
			sum = checksumOf(t, st.checksum, st.payload)
		}
		canonical = st.checksum + ":" + sum + "\n"
		b.WriteString(st.checksum + ":" + sum + "\r\n")
	}
	if s != nil {
		b.WriteString("x-amz-trailer-signature:" + s.trailer(canonical) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// request signs the upload's headers with the test key; it returns the
// client request (without a body) and the body.
func (st stream) request(t testing.TB, host string) (*http.Request, []byte) {
	t.Helper()
	r := clientRequest(t, "PUT", host, "/bucket/uploads/part 1.bin", "", nil, map[string]string{
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": strconv.Itoa(len(st.payload)),
		"Content-Type":                 "application/octet-stream",
	})
	if st.checksum != "" {
		r.Header.Set("X-Amz-Trailer", st.checksum)
	}
	signHeader(t, r, st.mode, testNow)
	var s *chunkSigner
	if st.mode != s3.PayloadStreamingUnsignedTrailer {
		seed := r.Header.Get("Authorization")
		s = newChunkSigner(seed[strings.LastIndex(seed, "=")+1:], testNow)
	}
	body := st.frame(t, s)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r, body
}

func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestChunkedModes(t *testing.T) {
	checks := []string{"", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256"}
	v := newVerifier(testNow)
	for _, mode := range []string{s3.PayloadStreaming, s3.PayloadStreamingTrailer, s3.PayloadStreamingUnsignedTrailer} {
		for _, size := range []int{0, 1, 8191, 65536, 200_001} {
			for _, chunk := range []int{8192, 65536} {
				for _, cs := range checks {
					if mode == s3.PayloadStreaming && cs != "" {
						continue
					}
					st := stream{mode: mode, payload: patterned(size), chunk: chunk, checksum: cs}
					t.Run(fmt.Sprintf("%s/%d/%d/%s", mode, size, chunk, cs), func(t *testing.T) {
						r, _ := st.request(t, "127.0.0.1:9000")
						srv := overWire(t, r)
						a, err := v.Verify(srv)
						if err != nil {
							t.Fatal(err)
						}
						if a.PayloadMode != mode {
							t.Fatalf("mode %s", a.PayloadMode)
						}
						got, trailer, err := decode(t, a, srv, iotest.HalfReader)
						if err != nil || !bytes.Equal(got, st.payload) {
							t.Fatalf("%d of %d bytes, %v", len(got), size, err)
						}
						if cs != "" && trailer.Get(cs) != checksumOf(t, cs, st.payload) {
							t.Errorf("trailer %v", trailer)
						}
					})
				}
			}
		}
	}
}

// TestChecksumCheckValues pins each algorithm to its published check
// value (the checksum of "123456789"), so the trailer checks do not merely
// agree with the test's own arithmetic.
func TestChecksumCheckValues(t *testing.T) {
	be := func(n int, v uint64) string {
		b := binary.BigEndian.AppendUint64(nil, v)
		return base64.StdEncoding.EncodeToString(b[8-n:])
	}
	for name, sum := range map[string]string{
		"x-amz-checksum-crc32":     be(4, 0xCBF43926),
		"x-amz-checksum-crc32c":    be(4, 0xE3069283),
		"x-amz-checksum-crc64nvme": be(8, 0xAE8B14860A799888),
		"x-amz-checksum-sha1":      "98O8HYCOBHMq32eZZczDTKeuNEE=",
		"x-amz-checksum-sha256":    "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
	} {
		t.Run(name, func(t *testing.T) {
			st := stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: []byte("123456789"), chunk: 4, checksum: name, sum: sum}
			r, _ := st.request(t, "127.0.0.1:9000")
			srv := overWire(t, r)
			a, err := newVerifier(testNow).Verify(srv)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := decode(t, a, srv, nil); err != nil || string(got) != "123456789" {
				t.Fatalf("%q, %v", got, err)
			}
		})
	}
}

func TestUnsignedTrailerRefused(t *testing.T) {
	payload := patterned(100_000)
	good := stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 65536, checksum: "x-amz-checksum-crc32"}
	cases := []struct {
		name   string
		st     stream
		edit   func([]byte) []byte
		header [2]string
		code   string
	}{
		{name: "bad checksum", st: stream{mode: good.mode, payload: payload, chunk: 65536, checksum: good.checksum, sum: "AAAAAA=="}, code: "BadDigest"},
		{name: "flipped data", st: good, edit: func(b []byte) []byte { b[70_000] ^= 1; return b }, code: "BadDigest"},
		{name: "checksum not base64", st: stream{mode: good.mode, payload: payload, chunk: 65536, checksum: good.checksum, sum: "%%%"}, code: "MalformedTrailerError"},
		{name: "checksum missing", st: stream{mode: good.mode, payload: payload, chunk: 65536}, header: [2]string{"X-Amz-Trailer", "x-amz-checksum-crc32"}, code: "MalformedTrailerError"},
		{name: "trailer not declared", st: good, header: [2]string{"X-Amz-Trailer", "-"}, code: "MalformedTrailerError"},
		{name: "other trailer declared", st: good, header: [2]string{"X-Amz-Trailer", "x-amz-checksum-sha256"}, code: "MalformedTrailerError"},
		{name: "repeated trailer", st: good, edit: func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("x-amz-checksum-crc32:"))
			return append(b[:i:i], append(append([]byte{}, b[i:len(b)-2]...), b[i:]...)...)
		}, code: "MalformedTrailerError"},
		{name: "signature extension", st: good, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte("10000\r\n"), []byte("10000;chunk-signature=00\r\n"), 1)
		}, code: "InvalidRequest"},
		{name: "chunk longer than declared", st: good, edit: func(b []byte) []byte { return bytes.Replace(b, []byte("10000\r\n"), []byte("20000\r\n"), 1) }, code: "InvalidRequest"},
		{name: "huge chunk size", st: good, edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte("10000\r\n"), []byte("fffffffffffffffff\r\n"), 1)
		}, code: "InvalidChunkSizeError"},
		{name: "truncated", st: good, edit: func(b []byte) []byte { return b[:len(b)/2] }, code: "IncompleteBody"},
		{name: "long line", st: good, edit: func(b []byte) []byte {
			return append([]byte(strings.Repeat("0", 40_000)), b...)
		}, code: "InvalidRequest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, body := c.st.request(t, "127.0.0.1:9000")
			srv := overWire(t, r)
			a, err := newVerifier(testNow).Verify(srv)
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				body = c.edit(body)
			}
			for name, shape := range readShapes {
				srv.Body = io.NopCloser(bytes.NewReader(body))
				switch c.header[1] {
				case "":
				case "-":
					srv.Header.Del(c.header[0])
				default:
					srv.Header.Set(c.header[0], c.header[1])
				}
				got, _, err := decode(t, a, srv, shape)
				if code := codeOf(t, err); code != c.code {
					t.Fatalf("%s: err = %v, want %s", name, err, c.code)
				}
				if len(got) >= len(payload) {
					t.Fatalf("%s: all %d bytes returned before the failure", name, len(got))
				}
			}
		})
	}
}

func TestHashedPayload(t *testing.T) {
	payload := patterned(300_000)
	for _, c := range []struct {
		name string
		body []byte
		code string
	}{
		{"intact", payload, ""},
		{"flipped", append(append([]byte{}, payload[:1000]...), append([]byte{payload[1000] ^ 1}, payload[1001:]...)...), "XAmzContentSHA256Mismatch"},
		{"short", payload[:len(payload)-1], "XAmzContentSHA256Mismatch"},
		{"empty", nil, "XAmzContentSHA256Mismatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := clientRequest(t, "PUT", "127.0.0.1:9000", "/bucket/k", "", payload, nil)
			signHeader(t, r, sha256Hex(payload), testNow)
			srv := overWire(t, r)
			a, err := newVerifier(testNow).Verify(srv)
			if err != nil {
				t.Fatal(err)
			}
			for name, shape := range readShapes {
				srv.Body = io.NopCloser(bytes.NewReader(c.body))
				got, _, err := decode(t, a, srv, shape)
				if codeOf(t, err) != c.code {
					t.Fatalf("%s: %v", name, err)
				}
				if c.code == "" && !bytes.Equal(got, payload) || c.code != "" && len(got) >= len(c.body) && len(c.body) > 0 {
					t.Fatalf("%s: %d bytes returned", name, len(got))
				}
			}
			srv.Body = io.NopCloser(iotest.ErrReader(io.ErrUnexpectedEOF))
			if _, _, err := decode(t, a, srv, nil); codeOf(t, err) != "IncompleteBody" || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("truncated: %v", err)
			}
		})
	}
}

// record is what the test S3 server saw of one request.
type record struct {
	method, path, query string
	mode                string
	length              int
	sha256              string
	trailer             http.Header
	verifyCode          string // "" when the signature checked out
	bodyCode            string // "" when the body checked out
}

type s3Server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []record
}

func (s *s3Server) records() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record(nil), s.seen...)
}

func (s *s3Server) last(t *testing.T) record {
	t.Helper()
	rs := s.records()
	if len(rs) == 0 {
		t.Fatal("the server saw no request")
	}
	return rs[len(rs)-1]
}

// newS3Server is a stand-in S3 endpoint that verifies every request and
// its body, and answers just enough for the SDK to be content.
func newS3Server(t *testing.T, tls bool, v *s3.Verifier) *s3Server {
	s := &s3Server{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
		defer func() {
			s.mu.Lock()
			s.seen = append(s.seen, rec)
			s.mu.Unlock()
		}()
		code := func(err error) string {
			var ae *s3.AuthError
			if errors.As(err, &ae) {
				return ae.Code
			}
			return "not an AuthError: " + err.Error()
		}
		a, err := v.Verify(r)
		if err != nil {
			rec.verifyCode = code(err)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "<Error><Code>%s</Code></Error>", rec.verifyCode)
			return
		}
		rec.mode = a.PayloadMode
		body, err := a.Body(r)
		if err != nil {
			rec.bodyCode = code(err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		data, err := io.ReadAll(body)
		rec.length, rec.sha256 = len(data), sha256Hex(data)
		rec.trailer = body.(*s3.DecodedBody).Trailer()
		if err != nil {
			rec.bodyCode = code(err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("ETag", `"`+rec.sha256[:32]+`"`)
		q := r.URL.Query()
		switch {
		case r.Method == "GET" && q.Get("list-type") == "2":
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
		case r.Method == "POST" && q.Has("uploads"):
			fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>up+1/=</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == "POST" && q.Has("delete"):
			fmt.Fprint(w, `<DeleteResult></DeleteResult>`)
		case r.Method == "PUT" && r.Header.Get("X-Amz-Copy-Source") != "":
			fmt.Fprint(w, `<CopyObjectResult><ETag>"x"</ETag></CopyObjectResult>`)
		case r.Method == "GET":
			fmt.Fprint(w, "object body")
		case r.Method == "DELETE":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func newClient(srv *s3Server, opts ...func(*s3sdk.Options)) *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
		// What config.LoadDefaultConfig gives the client (s3.New alone
		// leaves it unset, which computes no checksum).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}, opts...)
}

// liveVerifier checks against the real clock, as the SDK signs with it.
func liveVerifier() *s3.Verifier {
	v := newVerifier(time.Time{})
	v.Now = nil
	return v
}

// onlyReader hides Seek, so the SDK cannot hash the body up front.
type onlyReader struct{ io.Reader }

// TestSDKPutObject uploads with the real S3 client in its default and
// configured ways, over TLS and plain HTTP.
func TestSDKPutObject(t *testing.T) {
	payload := patterned(3<<20 + 12345) // over 2 MiB: Expect: 100-continue
	whenRequired := func(o *s3sdk.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }
	cases := []struct {
		name    string
		tls     bool
		opts    []func(*s3sdk.Options)
		alg     types.ChecksumAlgorithm
		body    func() io.Reader
		mode    string
		trailer string
	}{
		{name: "tls default", tls: true, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Crc32"},
		{name: "tls crc32c", tls: true, alg: types.ChecksumAlgorithmCrc32c, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Crc32c"},
		{name: "tls crc64nvme", tls: true, alg: types.ChecksumAlgorithmCrc64nvme, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Crc64nvme"},
		{name: "tls sha1", tls: true, alg: types.ChecksumAlgorithmSha1, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Sha1"},
		{name: "tls sha256", tls: true, alg: types.ChecksumAlgorithmSha256, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Sha256"},
		{name: "tls unseekable", tls: true, body: func() io.Reader { return onlyReader{bytes.NewReader(payload)} }, mode: s3.PayloadStreamingUnsignedTrailer, trailer: "X-Amz-Checksum-Crc32"},
		{name: "tls when_required", tls: true, opts: []func(*s3sdk.Options){whenRequired}, mode: s3.PayloadUnsigned},
		{name: "http default", tls: false, mode: s3.PayloadHashed},
		{name: "http when_required", tls: false, opts: []func(*s3sdk.Options){whenRequired}, mode: s3.PayloadHashed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newS3Server(t, c.tls, liveVerifier())
			var body io.Reader = bytes.NewReader(payload)
			if c.body != nil {
				body = c.body()
			}
			_, err := newClient(srv, c.opts...).PutObject(context.Background(), &s3sdk.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String("dir/obj ü+1.bin"), Body: body,
				ContentLength: aws.Int64(int64(len(payload))), ChecksumAlgorithm: c.alg,
			})
			rec := srv.last(t)
			if err != nil {
				t.Fatalf("PutObject: %v (server: %+v)", err, rec)
			}
			if rec.mode != c.mode || rec.length != len(payload) || rec.sha256 != sha256Hex(payload) || rec.path != "/bucket/dir/obj ü+1.bin" {
				t.Fatalf("server saw %s, %d bytes, path %q", rec.mode, rec.length, rec.path)
			}
			if c.trailer != "" && rec.trailer.Get(c.trailer) == "" {
				t.Errorf("trailer = %v, want %s", rec.trailer, c.trailer)
			}
		})
	}
}

// TestSDKOperations runs other operations through the verifier: queries,
// special keys, sub-resources, copies, batch deletes.
func TestSDKOperations(t *testing.T) {
	srv := newS3Server(t, true, liveVerifier())
	c := newClient(srv)
	ctx := context.Background()
	b := aws.String("bucket")
	keys := []string{"a b", "a+b", "100%", "日本/語", "x//y", "../z", "q?x=1&y#2", "~!$&'()*,;=:@"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Errorf("PutObject %q: %v", k, err)
		}
		if _, err := c.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: b, Key: aws.String(k), Range: aws.String("bytes=0-3")}); err != nil {
			t.Errorf("GetObject %q: %v", k, err)
		}
		if _, err := c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: b, Key: aws.String(k)}); err != nil {
			t.Errorf("HeadObject %q: %v", k, err)
		}
		if _, err := c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: b, Key: aws.String(k)}); err != nil {
			t.Errorf("DeleteObject %q: %v", k, err)
		}
	}
	if _, err := c.ListObjectsV2(ctx, &s3sdk.ListObjectsV2Input{Bucket: b, Prefix: aws.String("a/b c+"), Delimiter: aws.String("/"), StartAfter: aws.String("a/b=")}); err != nil {
		t.Errorf("ListObjectsV2: %v", err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: b, Key: aws.String("big/file"), Metadata: map[string]string{"run": "42"}})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	if _, err := c.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: b, Key: aws.String("big/file"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(patterned(70_000))}); err != nil {
		t.Errorf("UploadPart: %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3sdk.CopyObjectInput{Bucket: b, Key: aws.String("dst"), CopySource: aws.String("src/a%20b")}); err != nil {
		t.Errorf("CopyObject: %v", err)
	}
	if _, err := c.DeleteObjects(ctx, &s3sdk.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}}}}); err != nil {
		t.Errorf("DeleteObjects: %v", err)
	}
	for _, rec := range srv.records() {
		if rec.verifyCode != "" || rec.bodyCode != "" {
			t.Errorf("%s %s?%s: %s%s", rec.method, rec.path, rec.query, rec.verifyCode, rec.bodyCode)
		}
	}
	if n := len(srv.records()); n != 4*len(keys)+5 {
		t.Errorf("server saw %d requests", n)
	}

	// The wrong key and the wrong secret.
	for name, creds := range map[string]aws.CredentialsProvider{
		"InvalidAccessKeyId":    credentials.NewStaticCredentialsProvider("AKIAWRONG", testSecret, ""),
		"SignatureDoesNotMatch": credentials.NewStaticCredentialsProvider(testKeyID, "wrong", ""),
	} {
		wrong := newClient(srv, func(o *s3sdk.Options) { o.Credentials = creds })
		if _, err := wrong.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: b, Key: aws.String("k")}); err == nil || srv.last(t).verifyCode != name {
			t.Errorf("%s: err %v, server %+v", name, err, srv.last(t))
		}
	}
}

// TestSDKPresigned: URLs from the S3 presign client work with a plain
// HTTP client, until they expire.
func TestSDKPresigned(t *testing.T) {
	srv := newS3Server(t, true, liveVerifier())
	pc := s3sdk.NewPresignClient(newClient(srv), s3sdk.WithPresignExpires(10*time.Minute))
	ctx := context.Background()
	get, err := pc.PresignGetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("dir/a b+c.txt"), ResponseContentType: aws.String("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	put, err := pc.PresignPutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("up/日本.csv"), ContentType: aws.String("text/csv")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		method, url string
		header      http.Header
		body        string
	}{{get.Method, get.URL, get.SignedHeader, ""}, {put.Method, put.URL, put.SignedHeader, "a,b\n1,2\n"}} {
		req, err := http.NewRequest(p.method, p.url, strings.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range p.header {
			if k != "Host" {
				req.Header[k] = vs
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		rec := srv.last(t)
		if resp.StatusCode != 200 || rec.verifyCode != "" || rec.length != len(p.body) {
			t.Errorf("%s: status %d, server %+v", p.method, resp.StatusCode, rec)
		}
	}
	// Expired (and far in the future) on the server's clock.
	for _, skew := range []time.Duration{11 * time.Minute, -20 * time.Minute} {
		v := liveVerifier()
		v.Now = func() time.Time { return time.Now().Add(skew) }
		late := newS3Server(t, true, v)
		resp, err := late.Client().Get(strings.Replace(get.URL, srv.URL, late.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || late.last(t).verifyCode != "AccessDenied" {
			t.Errorf("skew %s: status %d, %+v", skew, resp.StatusCode, late.last(t))
		}
	}
}

// TestChunkSignedUploadOverHTTP sends hand-framed signed aws-chunked
// bodies (there is no chunk signer in the SDK) over a real connection,
// with Content-Length and with Transfer-Encoding: chunked.
func TestChunkSignedUploadOverHTTP(t *testing.T) {
	srv := newS3Server(t, false, newVerifier(testNow))
	host := strings.TrimPrefix(srv.URL, "http://")
	payload := patterned(1<<20 + 3)
	for _, c := range []struct {
		name    string
		st      stream
		edit    func([]byte) []byte
		chunked bool
		code    string
	}{
		{name: "signed", st: stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}},
		{name: "signed, transfer-encoding chunked", st: stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}, chunked: true},
		{name: "signed trailer", st: stream{mode: s3.PayloadStreamingTrailer, payload: payload, chunk: 100_000, checksum: "x-amz-checksum-crc32c"}},
		{name: "unsigned trailer", st: stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 1 << 20, checksum: "x-amz-checksum-crc32"}},
		{name: "tampered chunk", st: stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}, edit: func(b []byte) []byte { b[500_000] ^= 0x20; return b }, code: "SignatureDoesNotMatch"},
		{name: "tampered chunk signature", st: stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + 20
			b[i] ^= 1
			return b
		}, code: "SignatureDoesNotMatch"},
		{name: "bad crc", st: stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 1 << 16, checksum: "x-amz-checksum-crc32", sum: "AAAAAA=="}, code: "BadDigest"},
		{name: "truncated", st: stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}, chunked: true, edit: func(b []byte) []byte { return b[:len(b)/3] }, code: "IncompleteBody"},
		{name: "garbage framing", st: stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 1 << 16}, edit: func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }, code: "InvalidRequest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, body := c.st.request(t, host)
			if c.edit != nil {
				body = c.edit(body)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if c.chunked {
				r.Body = io.NopCloser(onlyReader{bytes.NewReader(body)})
				r.ContentLength = -1
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			rec := srv.last(t)
			if rec.verifyCode != "" || rec.bodyCode != c.code {
				t.Fatalf("server: %+v", rec)
			}
			if c.code == "" && (rec.length != len(payload) || rec.sha256 != sha256Hex(payload)) {
				t.Fatalf("decoded %d bytes", rec.length)
			}
			if c.code != "" && rec.length >= len(payload) {
				t.Fatalf("all %d bytes returned before %s", rec.length, c.code)
			}
		})
	}
}

// TestForwardAbortsOnBadStream streams the decoded body to an upstream the
// way a forwarder does (Content-Length: the decoded length). A stream
// proven bad at its very end must not reach the upstream complete.
func TestForwardAbortsOnBadStream(t *testing.T) {
	var mu sync.Mutex
	var complete []bool
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		mu.Lock()
		complete = append(complete, err == nil && n == r.ContentLength)
		mu.Unlock()
	}))
	defer upstream.Close()
	v := newVerifier(testNow)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), 403)
			return
		}
		body, err := a.Body(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n, _ := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		out, _ := http.NewRequest("PUT", upstream.URL+"/x", body)
		out.ContentLength = n
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			var ae *s3.AuthError
			if errors.As(err, &ae) {
				http.Error(w, ae.Code, ae.Status)
				return
			}
			http.Error(w, err.Error(), 502)
			return
		}
		resp.Body.Close()
	}))
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	payload := patterned(300_000)
	flipTrailerSig := func(b []byte) []byte {
		i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + 30
		b[i] ^= 1
		return b
	}
	for _, c := range []struct {
		name   string
		st     stream
		edit   func([]byte) []byte
		status int
	}{
		{"good crc", stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 300_000, checksum: "x-amz-checksum-crc32"}, nil, 200},
		{"bad crc", stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 300_000, checksum: "x-amz-checksum-crc32", sum: "AAAAAA=="}, nil, 400},
		{"good signed trailer", stream{mode: s3.PayloadStreamingTrailer, payload: payload, chunk: 100_000, checksum: "x-amz-checksum-sha256"}, nil, 200},
		{"bad trailer signature", stream{mode: s3.PayloadStreamingTrailer, payload: payload, chunk: 100_000, checksum: "x-amz-checksum-sha256"}, flipTrailerSig, 403},
		{"bad final chunk signature", stream{mode: s3.PayloadStreaming, payload: payload, chunk: 100_000}, func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + 20
			b[i] ^= 1
			return b
		}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			complete = nil
			mu.Unlock()
			r, body := c.st.request(t, host)
			if c.edit != nil {
				body = c.edit(body)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d", resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond) // let the upstream handler finish
			mu.Lock()
			defer mu.Unlock()
			want := c.status == 200
			if want && len(complete) != 1 {
				t.Fatalf("the upstream saw %d requests", len(complete))
			}
			for _, ok := range complete {
				if ok != want {
					t.Fatalf("upstream received a complete body: %v, want %v", ok, want)
				}
			}
		})
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	payload := patterned(64 << 20)
	for _, c := range []struct {
		name string
		st   stream
	}{
		{"signed 64KiB chunks", stream{mode: s3.PayloadStreaming, payload: payload, chunk: 64 << 10}},
		{"signed trailer crc32c", stream{mode: s3.PayloadStreamingTrailer, payload: payload, chunk: 64 << 10, checksum: "x-amz-checksum-crc32c"}},
		{"unsigned trailer crc32 64KiB chunks", stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 64 << 10, checksum: "x-amz-checksum-crc32"}},
		{"unsigned trailer crc32 one chunk", stream{mode: s3.PayloadStreamingUnsignedTrailer, payload: payload, chunk: 64 << 20, checksum: "x-amz-checksum-crc32"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, body := c.st.request(b, "127.0.0.1:9000")
			srv := overWire(b, r)
			a, err := newVerifier(testNow).Verify(srv)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				srv.Body = io.NopCloser(bytes.NewReader(body))
				d, err := a.Body(srv)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, onlyReader{d}, buf); err != nil || n != int64(len(payload)) {
					b.Fatal(n, err)
				}
			}
		})
	}
	b.Run("sha256 payload", func(b *testing.B) {
		r := clientRequest(b, "PUT", "127.0.0.1:9000", "/bucket/k", "", payload, nil)
		signHeader(b, r, sha256Hex(payload), testNow)
		srv := overWire(b, r)
		a, err := newVerifier(testNow).Verify(srv)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			srv.Body = io.NopCloser(bytes.NewReader(payload))
			d, err := a.Body(srv)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.CopyBuffer(io.Discard, onlyReader{d}, buf); err != nil || n != int64(len(payload)) {
				b.Fatal(n, err)
			}
		}
	})
}
