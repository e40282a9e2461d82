package integration_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

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
