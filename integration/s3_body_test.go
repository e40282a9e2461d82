package integration_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// bodySeed is the seed of TestS3BodyIdentity: fixed, so a normal run is
// repeatable; AIRLOCK_BODY_SEED picks another.
func bodySeed(t *testing.T) uint64 {
	seed := uint64(20261203)
	if s := os.Getenv("AIRLOCK_BODY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("AIRLOCK_BODY_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (AIRLOCK_BODY_SEED=%d reruns it)", seed, seed)
	return seed
}

// upload is one object a path sends: random bytes, a random key and
// random user metadata (lower-case names).
type upload struct {
	key  string
	data []byte
	meta map[string]string
	// expect asks the raw paths for "Expect: 100-continue".
	expect bool
}

// outcome is what the client was told.
type outcome struct {
	status int
	code   string // the S3 error code; "" on success
}

// uploadPath is one way a client uploads through Airlock; want is the S3
// error code it must be refused with ("" when the object must be stored).
type uploadPath struct {
	name string
	want string
	send func(t *testing.T, b *bodyRun, u upload) outcome
}

// bodyRun is one listener's run: the rig, its clients, a random source.
type bodyRun struct {
	r    *s3Rig
	hc   *http.Client
	sdk  *s3.Client
	rng  *rand.Rand
	name string
}

// The sizes every path sends: empty, one byte, around the decoder's and
// the relay's buffers, and one larger than any buffer Airlock holds (its
// relay ring is 512 KiB; a multipart upload of it has two parts).
func bodySizes(rng *rand.Rand) []int {
	return []int{0, 1, 8<<10 - 1, 64<<10 + 1, 1<<20 + 17, 5<<20 + 1 + rng.IntN(1<<20), rng.IntN(3 << 20)}
}

var uploadPaths = []uploadPath{
	{name: "sdk-put", send: sdkPut},
	{name: "unsigned-payload", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.raw(t, u, "UNSIGNED-PAYLOAD", false)
	}},
	{name: "sha256", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		sum := sha256.Sum256(u.data)
		return b.raw(t, u, hex.EncodeToString(sum[:]), false)
	}},
	{name: "aws-chunked-signed", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.chunked(t, u, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "")
	}},
	{name: "aws-chunked-signed-trailer", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.chunked(t, u, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", b.checksum())
	}},
	{name: "aws-chunked-unsigned-trailer", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.chunked(t, u, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", b.checksum())
	}},
	{name: "presigned-length", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.presigned(t, u, false)
	}},
	{name: "presigned-chunked", want: "MissingContentLength", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.presigned(t, u, true)
	}},
	{name: "unsigned-payload-chunked", want: "MissingContentLength", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.raw(t, u, "UNSIGNED-PAYLOAD", true)
	}},
	{name: "multipart", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.multipart(t, u, false)
	}},
	{name: "multipart-part-chunked", want: "MissingContentLength", send: func(t *testing.T, b *bodyRun, u upload) outcome {
		return b.multipart(t, u, true)
	}},
	{name: "multipart-sdk", send: multipartSDK},
	{name: "copy", send: copyObject},
}

// TestS3BodyIdentity is the property every upload path must keep: through
// Airlock (plain and TLS listeners) to MinIO, the stored object holds
// exactly the bytes and user metadata the client sent, or the client was
// refused with an S3 error and nothing was stored. Bodies are random
// (fixed seed), of the sizes in bodySizes, over every path in uploadPaths.
func TestS3BodyIdentity(t *testing.T) {
	seed := bodySeed(t)
	for i, listener := range []string{"plain", "tls"} {
		t.Run(listener, func(t *testing.T) {
			r := newS3Rig(t, listener == "plain")
			// A client that sends "Expect: 100-continue" waits for the
			// answer before it sends the body, as curl and Go's default
			// transport do.
			hc := r.httpClient(t)
			hc.Transport.(*http.Transport).ExpectContinueTimeout = 10 * time.Second
			b := &bodyRun{r: r, hc: hc, sdk: r.client(t), rng: rand.New(rand.NewPCG(seed, uint64(i))), name: listener}
			for _, p := range uploadPaths {
				for j, size := range bodySizes(b.rng) {
					u := b.newUpload(fmt.Sprintf("curated/body/%s/%s/%d", listener, p.name, j), size)
					got := p.send(t, b, u)
					b.check(t, p, u, got)
				}
			}
			for j := range 4 {
				b.cutShort(t, fmt.Sprintf("curated/body/%s/cut/%d", listener, j), j%2 == 0)
			}
		})
	}
}

func (b *bodyRun) newUpload(prefix string, size int) upload {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	word := func(n int, set string) string {
		s := make([]byte, n)
		for i := range s {
			s[i] = set[b.rng.IntN(len(set))]
		}
		return string(s)
	}
	u := upload{key: prefix + "-" + word(6, alnum) + ".bin", data: make([]byte, size), meta: map[string]string{}, expect: b.rng.IntN(2) == 0}
	for i := range u.data {
		u.data[i] = byte(b.rng.Uint32())
	}
	for range b.rng.IntN(4) {
		u.meta[word(1+b.rng.IntN(10), alnum)+"-"+word(2, alnum)] = word(1+b.rng.IntN(30), alnum+"ABCXYZ-_.")
	}
	return u
}

func (b *bodyRun) checksum() string {
	return []string{"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha1", "x-amz-checksum-sha256"}[b.rng.IntN(4)]
}

// check asserts the property for one upload.
func (b *bodyRun) check(t *testing.T, p uploadPath, u upload, got outcome) {
	t.Helper()
	what := fmt.Sprintf("%s %s, %d bytes, %d metadata", b.name, p.name, len(u.data), len(u.meta))
	ctx := context.Background()
	direct := b.r.direct(t)
	head, herr := direct.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String(u.key)})
	var nf *types.NotFound
	stored := !errors.As(herr, &nf)
	if stored && herr != nil {
		t.Errorf("%s: HEAD in MinIO: %v", what, herr)
		return
	}
	if got.code != "" {
		if got.status < 400 {
			t.Errorf("%s: error %s with status %d", what, got.code, got.status)
			return
		}
		if stored {
			t.Errorf("%s: refused with %d %s, but MinIO holds %d bytes", what, got.status, got.code, aws.ToInt64(head.ContentLength))
			return
		}
		if got.code != p.want {
			t.Errorf("%s: refused with %d %s, want %s", what, got.status, got.code, cmp.Or(p.want, "success"))
		}
		return
	}
	if p.want != "" {
		t.Errorf("%s: answered %d, want the S3 error %s", what, got.status, p.want)
		return
	}
	if !stored {
		t.Errorf("%s: answered %d, but MinIO holds no object", what, got.status)
		return
	}
	out, err := direct.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(u.key)})
	if err != nil {
		t.Errorf("%s: GET from MinIO: %v", what, err)
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	out.Body.Close()
	want := sha256.Sum256(u.data)
	if err != nil || n != int64(len(u.data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("%s: MinIO holds %d bytes (%v) that are not the %d sent", what, n, err, len(u.data))
		return
	}
	if !maps.Equal(out.Metadata, u.meta) {
		t.Errorf("%s: MinIO holds metadata %v, want %v", what, out.Metadata, u.meta)
	}
}

// sdkPut is PutObject with the SDK's defaults: a SHA-256 signed payload
// over plain HTTP, aws-chunked with a CRC32 trailer over TLS.
func sdkPut(t *testing.T, b *bodyRun, u upload) outcome {
	_, err := b.sdk.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(u.key),
		Body: bytes.NewReader(u.data), Metadata: u.meta})
	return sdkOutcome(t, err)
}

func sdkOutcome(t *testing.T, err error) outcome {
	t.Helper()
	if err == nil {
		return outcome{status: 200}
	}
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("not an S3 error: %v", err)
	}
	return outcome{status: re.HTTPStatusCode(), code: ae.ErrorCode()}
}

// cutShort sends an UNSIGNED-PAYLOAD PutObject (presigned or header
// signed) that declares a random length up to 2 MiB and stops at a random
// point of its body: the client must not be told it succeeded, and MinIO
// must not store a short object.
func (b *bodyRun) cutShort(t *testing.T, key string, presign bool) {
	t.Helper()
	u := b.newUpload(key, 1+b.rng.IntN(2<<20))
	u.expect = false
	sent := b.rng.IntN(len(u.data))
	req := b.request(t, u, "", u.data, false)
	if presign {
		req.URL.RawQuery = "X-Amz-Expires=600"
		signedURL, hdr, err := signer.PresignHTTP(context.Background(), b.creds(), req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.URL, _ = url.Parse(signedURL)
		maps.Copy(req.Header, hdr)
	} else {
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := signer.SignHTTP(context.Background(), b.creds(), req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(u.data[:sent]))
	var wire bytes.Buffer
	_ = req.Write(&wire) // fails at the short body, after writing it
	if !bytes.HasSuffix(wire.Bytes(), u.data[:sent]) {
		t.Fatal("the request was not written up to its cut")
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(b.r.endpoint, "http://"), "https://")
	var c interface {
		net.Conn
		CloseWrite() error
	}
	if b.name == "tls" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(readFile(t, b.r.caFile)))
		tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		c = tc
	} else {
		tc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c = tc.(*net.TCPConn)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(wire.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWrite()
	what := fmt.Sprintf("%s cut after %d of %d bytes (presigned %v)", b.name, sent, len(u.data), presign)
	// The client stopped sending, not reading: it hears what went wrong.
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("%s: no answer: %v", what, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "<Code>IncompleteBody</Code>") {
		t.Errorf("%s: answered %d %s, want 400 IncompleteBody", what, resp.StatusCode, msg)
	}
	time.Sleep(200 * time.Millisecond) // MinIO gives up on the upstream request
	if _, err := b.r.direct(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: aws.String(u.key)}); !errors.As(err, new(*types.NotFound)) {
		t.Errorf("%s: MinIO answers %v, want no object", what, err)
	}
}
