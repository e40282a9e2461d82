package integration_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/airlockproxy/airlock/internal/miniotest"
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

// request builds a PUT to Airlock for u's key, with u's metadata headers
// and the body as given (length known, or chunked on the wire).
func (b *bodyRun) request(t *testing.T, u upload, query string, body []byte, streamed bool) *http.Request {
	t.Helper()
	target := b.r.endpoint + "/lake/" + u.key
	if query != "" {
		target += "?" + query
	}
	var rd io.Reader = bytes.NewReader(body)
	if streamed {
		rd = io.MultiReader(bytes.NewReader(body)) // no length the client could know
	}
	req, err := http.NewRequest(http.MethodPut, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if streamed {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	for k, v := range u.meta {
		req.Header.Set("x-amz-meta-"+k, v)
	}
	if u.expect {
		req.Header.Set("Expect", "100-continue")
	}
	return req
}

var signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

func (b *bodyRun) creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: b.r.keyID, SecretAccessKey: b.r.key}
}

// raw is a header-signed PutObject whose payload is protected as payload
// says (UNSIGNED-PAYLOAD or the hex SHA-256).
func (b *bodyRun) raw(t *testing.T, u upload, payload string, streamed bool) outcome {
	t.Helper()
	req := b.request(t, u, "", u.data, streamed)
	return b.signAndSend(t, req, payload)
}

func (b *bodyRun) signAndSend(t *testing.T, req *http.Request, payload string) outcome {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := signer.SignHTTP(context.Background(), b.creds(), req, payload, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return b.send(t, req)
}

// send sends req and reads S3's answer.
func (b *bodyRun) send(t *testing.T, req *http.Request) outcome {
	t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 300 {
		return outcome{status: resp.StatusCode}
	}
	var e struct{ Code string }
	if err := xml.Unmarshal(msg, &e); err != nil || e.Code == "" {
		t.Fatalf("%s %s: %d without an S3 error: %q", req.Method, req.URL.Path, resp.StatusCode, msg)
	}
	return outcome{status: resp.StatusCode, code: e.Code}
}

// chunked sends u as aws-chunked in the given mode, in random-sized
// chunks, with the named checksum trailer ("" for none).
func (b *bodyRun) chunked(t *testing.T, u upload, mode, trailer string) outcome {
	t.Helper()
	req := b.request(t, u, "", nil, false)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(u.data)))
	if trailer != "" {
		req.Header.Set("X-Amz-Trailer", trailer)
	}
	chunk := 8<<10 + b.rng.IntN(1<<20)
	// The framed length is signed: frame once with dummy signatures to learn it.
	req.ContentLength = int64(len(frameChunks(u.data, chunk, mode, trailer, nil)))
	now := time.Now()
	req.Header.Set("X-Amz-Content-Sha256", mode)
	if err := signer.SignHTTP(context.Background(), b.creds(), req, mode, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	var cs *chunkSigner
	if mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
		a := req.Header.Get("Authorization")
		cs = newChunkSigner(b.r.key, now, a[strings.LastIndex(a, "=")+1:])
	}
	body := frameChunks(u.data, chunk, mode, trailer, cs)
	if int64(len(body)) != req.ContentLength {
		t.Fatalf("framed %d bytes, signed %d", len(body), req.ContentLength)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return b.send(t, req)
}

// chunkSigner signs aws-chunked chunks and trailers as the SDKs do.
type chunkSigner struct {
	key               []byte
	date, scope, prev string
}

func newChunkSigner(secret string, at time.Time, seed string) *chunkSigner {
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	day := at.UTC().Format("20060102")
	key := mac(mac(mac(mac([]byte("AWS4"+secret), day), "us-east-1"), "s3"), "aws4_request")
	return &chunkSigner{key: key, date: at.UTC().Format("20060102T150405Z"), scope: day + "/us-east-1/s3/aws4_request", prev: seed}
}

func (s *chunkSigner) sign(kind, hashes string) string {
	if s == nil {
		return strings.Repeat("0", 64)
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind + "\n" + s.date + "\n" + s.scope + "\n" + s.prev + "\n" + hashes))
	s.prev = hex.EncodeToString(m.Sum(nil))
	return s.prev
}

func hexSHA256(b []byte) string { d := sha256.Sum256(b); return hex.EncodeToString(d[:]) }

// frameChunks frames data as aws-chunked; s signs it (nil: placeholder
// signatures of the right length, or none in the unsigned mode).
func frameChunks(data []byte, chunk int, mode, trailer string, s *chunkSigner) []byte {
	signed := mode != "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	var b bytes.Buffer
	for rest := data; ; {
		n := min(chunk, len(rest))
		if signed {
			fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, s.sign("AWS4-HMAC-SHA256-PAYLOAD", hexSHA256(nil)+"\n"+hexSHA256(rest[:n])))
		} else {
			fmt.Fprintf(&b, "%x\r\n", n)
		}
		if n == 0 {
			break
		}
		b.Write(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
	if !strings.HasSuffix(mode, "-TRAILER") {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canonical string
	if trailer != "" {
		var h hash.Hash
		switch trailer {
		case "x-amz-checksum-crc32":
			h = crc32.NewIEEE()
		case "x-amz-checksum-crc32c":
			h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
		case "x-amz-checksum-sha1":
			h = sha1.New()
		default:
			h = sha256.New()
		}
		h.Write(data)
		canonical = trailer + ":" + base64.StdEncoding.EncodeToString(h.Sum(nil)) + "\n"
		b.WriteString(strings.TrimSuffix(canonical, "\n") + "\r\n")
	}
	if signed {
		b.WriteString("x-amz-trailer-signature:" + s.sign("AWS4-HMAC-SHA256-TRAILER", hexSHA256([]byte(canonical))) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// presigned is a PUT to a presigned URL (UNSIGNED-PAYLOAD), its metadata
// headers signed, with a Content-Length or streamed.
func (b *bodyRun) presigned(t *testing.T, u upload, streamed bool) outcome {
	t.Helper()
	req := b.request(t, u, "X-Amz-Expires=600", u.data, streamed)
	expect := req.Header.Get("Expect")
	req.Header.Del("Expect") // not signed: a client adds it as it sends
	signedURL, hdr, err := signer.PresignHTTP(context.Background(), b.creds(), req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if req.URL, err = url.Parse(signedURL); err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	if expect != "" {
		req.Header.Set("Expect", expect)
	}
	return b.send(t, req)
}

// multipart uploads u in parts of 5 MiB (the last shorter): metadata at
// CreateMultipartUpload, UploadPart signed by SHA-256 or streamed
// (UNSIGNED-PAYLOAD, no length), then CompleteMultipartUpload. A refused
// part aborts the upload.
func (b *bodyRun) multipart(t *testing.T, u upload, streamed bool) outcome {
	t.Helper()
	ctx := context.Background()
	cr, err := b.sdk.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key), Metadata: u.meta})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), 0; off < len(u.data) || n == 1; n++ {
		part := u.data[off:min(off+5<<20, len(u.data))]
		off += len(part)
		q := fmt.Sprintf("partNumber=%d&uploadId=%s", n, url.QueryEscape(aws.ToString(cr.UploadId)))
		req := b.request(t, upload{key: u.key, expect: u.expect}, q, part, streamed)
		payload := "UNSIGNED-PAYLOAD"
		if !streamed {
			payload = hexSHA256(part)
		}
		if got := b.signAndSend(t, req, payload); got.code != "" {
			if _, err := b.sdk.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key), UploadId: cr.UploadId}); err != nil {
				t.Fatalf("AbortMultipartUpload: %v", err)
			}
			return got
		}
		lp, err := b.r.direct(t).ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("lake"), Key: aws.String(u.key), UploadId: cr.UploadId})
		if err != nil || len(lp.Parts) != int(n) {
			t.Fatalf("ListParts in MinIO: %v, %d parts, want %d", err, len(lp.Parts), n)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: lp.Parts[n-1].ETag})
	}
	_, err = b.sdk.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return sdkOutcome(t, err)
}

// multipartSDK is a multipart upload by the SDK: its UploadPart is signed
// by SHA-256 over plain HTTP, aws-chunked with a CRC32 trailer over TLS,
// and the upload names CRC32 as its checksum.
func multipartSDK(t *testing.T, b *bodyRun, u upload) outcome {
	t.Helper()
	ctx := context.Background()
	cr, err := b.sdk.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key),
		Metadata: u.meta, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), 0; off < len(u.data) || n == 1; n++ {
		part := u.data[off:min(off+5<<20, len(u.data))]
		off += len(part)
		out, err := b.sdk.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("lake"), Key: aws.String(u.key), UploadId: cr.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(part), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			if _, aerr := b.sdk.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key), UploadId: cr.UploadId}); aerr != nil {
				t.Fatalf("AbortMultipartUpload: %v", aerr)
			}
			return sdkOutcome(t, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	_, err = b.sdk.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("lake"), Key: aws.String(u.key),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return sdkOutcome(t, err)
}

// copyObject stores u's bytes in MinIO under raw/ (a readable source) and
// copies them through Airlock, replacing the metadata with u's.
func copyObject(t *testing.T, b *bodyRun, u upload) outcome {
	t.Helper()
	ctx := context.Background()
	src := "raw/" + strings.TrimPrefix(u.key, "curated/")
	if _, err := b.r.direct(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(src), Body: bytes.NewReader(u.data),
		Metadata: map[string]string{"source-only": "1"}}); err != nil {
		t.Fatalf("seed the copy source: %v", err)
	}
	_, err := b.sdk.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("lake"), Key: aws.String(u.key), CopySource: aws.String("lake/" + src),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: u.meta})
	return sdkOutcome(t, err)
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

// TestS3StreamedPresignedPutExec: curl uploading from a pipe (curl -T -)
// and Python requests uploading from a generator, both Transfer-Encoding:
// chunked without Content-Length, to presigned URLs made by boto3, inside
// `airlock exec`. MinIO itself refuses such a body with 411
// MissingContentLength; through Airlock the client gets the same 411,
// nothing is stored, and the audit log says why.
func TestS3StreamedPresignedPutExec(t *testing.T) {
	for _, tool := range []string{"curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	m := miniotest.Start(t)
	m.MakeBucket(t, "lake")
	dir := t.TempDir()
	data := randomBytes(16<<20 + 5) // past what the HTTP server reads of an unread body before it resets the connection
	in := writeFile(t, filepath.Join(dir, "in.bin"), string(data))

	// The reference: MinIO's own answer to a streamed presigned PUT.
	ref, err := http.NewRequest(http.MethodPut, m.Endpoint+"/lake/curated/direct.bin?X-Amz-Expires=600", io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	ref.ContentLength = -1
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}, ref, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ref.URL, _ = url.Parse(u)
	resp, err := http.DefaultClient.Do(ref)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired || !strings.Contains(string(msg), "<Code>MissingContentLength</Code>") {
		t.Fatalf("MinIO answered a streamed presigned PUT with %d %s; the choice to refuse with 411 rests on it", resp.StatusCode, msg)
	}

	secretFile := writeFile(t, filepath.Join(dir, "s3-secret"), m.SecretKey)
	auditPath := filepath.Join(dir, "audit.jsonl")
	config := writeFile(t, filepath.Join(dir, "airlock.yaml"), fmt.Sprintf(`
task: {id: streamed, ttl: 5m}
listen: {admin: '127.0.0.1:0', s3: '127.0.0.1:0'}
s3:
  upstream: {endpoint: '%s', region: us-east-1}
  credentials: {source: static, access_key_id: %s, secret_access_key_file: %s}
audit: {path: %s, key_file: %s}
policy:
  rules:
    - {name: write-curated, allow: 's3.action == "PutObject" && s3.bucket == "lake" && s3.key.startsWith("curated/")'}
`, m.Endpoint, m.AccessKey, secretFile, auditPath, writeFile(t, filepath.Join(dir, "key"), "streamed-put-audit-key-0123456789")))
	const task = `
presign() {
	python3 -c '
import os, sys, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(c.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": sys.argv[1]}, ExpiresIn=600))
' "$1"
}
url=$(presign curated/streamed-curl.bin) || exit 3
cat "$IN" | curl -sS -T - -o "$OUT/answer-curl" -w '%{http_code}' "$url" > "$OUT/code-curl"
url=$(presign curated/streamed-requests.bin) || exit 3
python3 -c '
import os, sys, requests
def chunks():
	with open(os.environ["IN"], "rb") as f:
		while b := f.read(100000):
			yield b
r = requests.put(sys.argv[1], data=chunks(), verify=os.environ.get("REQUESTS_CA_BUNDLE", True))
open(os.environ["OUT"] + "/code-requests", "w").write(str(r.status_code))
open(os.environ["OUT"] + "/answer-requests", "w").write(r.text)
' "$url" || exit 4
`
	res := airlock(t, []string{"IN=" + in, "OUT=" + dir}, "exec", "-c", config, "--", "sh", "-c", task)
	if res.code != 0 {
		t.Fatalf("airlock exec: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, client := range []string{"curl", "requests"} {
		key := "curated/streamed-" + client + ".bin"
		code := readFile(t, filepath.Join(dir, "code-"+client))
		answer := readFile(t, filepath.Join(dir, "answer-"+client))
		out, err := s3Direct(t, m).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
		switch code {
		case "200":
			if err != nil {
				t.Fatalf("%s got 200, but MinIO holds no object: %v", client, err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, data) {
				t.Fatalf("%s got 200; MinIO holds %d bytes, not the %d sent", client, len(got), len(data))
			}
		case "411":
			mustContain(t, client+"'s answer", answer, "<Code>MissingContentLength</Code>")
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) {
				t.Fatalf("%s got 411, but MinIO answers %v", client, err)
			}
			mustContain(t, "the audit log", readFile(t, auditPath), `"decision":"deny"`, "unknown length", "lake/"+key)
		default:
			t.Fatalf("%s got %q %s, want the whole body stored or 411", client, code, answer)
		}
	}
}

// s3Direct is a client of m with its root credentials.
func s3Direct(t *testing.T, m *miniotest.Server) *s3.Client {
	return (&s3Rig{minio: m}).direct(t)
}
