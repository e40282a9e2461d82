package s3

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// DecodedBody is the reader Auth.Body returns: the payload as the client
// meant it, checked as it streams.
type DecodedBody struct {
	r      io.Reader
	chunks *chunkReader // aws-chunked modes only
	closed atomic.Bool
}

// Read returns decoded payload bytes. It fails with an *AuthError the
// moment the stream is proven bad, and never returns the final bytes of the
// payload (nor io.EOF) before the whole stream is verified: a forwarder that
// streams the body upstream can still abort the upstream request.
func (b *DecodedBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errBodyClosed
	}
	return b.r.Read(p)
}

// Close makes later Reads fail. It leaves the request body itself to the
// HTTP server, which closes it after the response is written: closing it
// here would drain the client's body first, and a client waiting for
// "100 Continue" would never send it (the response would never be flushed).
// Close may be called from another goroutine than Read (the transport's).
func (b *DecodedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// checksum is the verified checksum of the payload, once Read has returned
// io.EOF; nil before, and when no checksum trailer was declared.
func (b *DecodedBody) checksum() []byte {
	if b.chunks == nil || !b.chunks.done || b.chunks.sum == nil {
		return nil
	}
	return b.chunks.sum.Sum(nil)
}

// TrailerName is the checksum trailer the client declared in x-amz-trailer
// (lower case, e.g. x-amz-checksum-crc32), or "" for none.
func (b *DecodedBody) TrailerName() string {
	if b.chunks == nil {
		return ""
	}
	return b.chunks.want
}

// Trailer returns the verified trailing headers of an aws-chunked body
// (x-amz-checksum-*) once Read has returned io.EOF; nil before, and for
// other payload modes. The trailer signature is not included.
func (b *DecodedBody) Trailer() http.Header {
	if b.chunks == nil || !b.chunks.done {
		return nil
	}
	return b.chunks.trailer
}

var _ io.ReadCloser = (*DecodedBody)(nil)

// Body wraps r.Body according to a.PayloadMode; reading the result yields
// the decoded payload. The returned reader is always a *DecodedBody.
//
//   - UNSIGNED-PAYLOAD: the body as sent.
//   - sha256: the body as sent; the last Read compares its SHA-256 with the
//     signed one (XAmzContentSHA256Mismatch).
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: aws-chunked; each chunk
//     is held until its signature is verified (SignatureDoesNotMatch),
//     then the trailer's signature and checksum (BadDigest).
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked without signatures;
//     the declared checksum trailer is verified at the end (BadDigest).
//
// Broken framing fails with IncompleteBody (truncated), InvalidChunkSizeError
// (a size that is not hex or over the limit), MalformedTrailerError or
// InvalidRequest; a payload longer or shorter than x-amz-decoded-content-length
// fails before any byte past it is returned. Body fails at once with
// MissingContentLength or InvalidRequest when the headers that describe an
// aws-chunked body are missing or unsupported.
func (a *Auth) Body(r *http.Request) (io.ReadCloser, error) {
	src := r.Body
	if src == nil {
		src = http.NoBody
	}
	switch a.PayloadMode {
	case PayloadUnsigned:
		return &DecodedBody{r: src}, nil
	case PayloadHashed:
		want, err := hex.DecodeString(a.PayloadSHA256)
		if err != nil || len(want) != sha256.Size {
			return nil, invalidRequest("x-amz-content-sha256 is not a SHA-256 digest")
		}
		return &DecodedBody{r: &hashReader{br: bufio.NewReaderSize(src, 32<<10), h: sha256.New(), want: want}}, nil
	case PayloadStreaming, PayloadStreamingTrailer, PayloadStreamingUnsignedTrailer:
		c, err := a.newChunkReader(r.Header, src)
		if err != nil {
			return nil, err
		}
		return &DecodedBody{r: c, chunks: c}, nil
	}
	return nil, invalidRequest("unsupported payload mode")
}

var (
	errSHA256Mismatch = authErr(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
		"The provided 'x-amz-content-sha256' header does not match what was computed.")
	errChunkSignature = authErr(http.StatusForbidden, "SignatureDoesNotMatch",
		"The chunk signature we calculated does not match the signature you provided.")
	errTrailerSignature = authErr(http.StatusForbidden, "SignatureDoesNotMatch",
		"The trailer signature we calculated does not match the signature you provided.")
	errChunkSize = authErr(http.StatusBadRequest, "InvalidChunkSizeError",
		"A chunk size is not a hexadecimal number within the limit.")
	errFraming  = invalidRequest("The aws-chunked body is malformed.")
	errTooLong  = invalidRequest("The aws-chunked body holds more data than x-amz-decoded-content-length.")
	errTooShort = authErr(http.StatusBadRequest, "IncompleteBody",
		"The aws-chunked body holds less data than x-amz-decoded-content-length.")
	errAfterEnd = invalidRequest("There is data after the end of the aws-chunked body.")

	errBodyClosed = errors.New("s3: read of a closed request body")
)

// incomplete wraps a failed or short read of the request body.
func incomplete(err error) *AuthError {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &AuthError{Code: "IncompleteBody", Status: http.StatusBadRequest,
		Message: "You did not provide the number of bytes specified by the Content-Length HTTP header.", Err: err}
}

func badTrailer(msg string) *AuthError {
	return authErr(http.StatusBadRequest, "MalformedTrailerError", msg)
}

// hashReader passes the body through, hashing it, and checks the digest
// before it hands over the last bytes.
type hashReader struct {
	br   *bufio.Reader
	h    hash.Hash
	want []byte
	err  error
}

func (h *hashReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := h.br.Read(p)
	h.h.Write(p[:n])
	if err == nil {
		// Is this the end? Then the verdict comes with these bytes.
		if _, err = h.br.Peek(1); err == nil {
			return n, nil
		}
	}
	if err != io.EOF {
		h.err = incomplete(err)
		return 0, h.err
	}
	if !hmac.Equal(h.h.Sum(nil), h.want) {
		h.err = errSHA256Mismatch
		return 0, h.err
	}
	h.err = io.EOF
	return n, nil
}

// Checksum trailers S3 defines, by lower-case header name.
var checksums = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64NVME) },
	"x-amz-checksum-sha1":      sha1.New,
	"x-amz-checksum-sha256":    sha256.New,
}

// crc64NVME is CRC-64/NVME (polynomial 0xAD93D23594C93659, bit-reversed
// here as hash/crc64 expects).
var crc64NVME = crc64.MakeTable(0x9A6C9329AC4BC9B5)

const (
	maxLine     = 1024 // a chunk header or trailer line
	maxTrailers = 8
	trailerSig  = "x-amz-trailer-signature"
)

// chunkReader decodes an aws-chunked body. Signed chunks are read whole
// and verified before any of their bytes are returned; unsigned chunks
// stream. Either way the last bytes of a chunk are only returned once the
// next chunk header has been read, and if that is the final chunk, once
// the trailer is verified and the stream is over.
type chunkReader struct {
	br       *bufio.Reader
	signed   bool
	trailers bool   // a trailer section follows the final chunk
	want     string // the declared checksum trailer, lower-case; "" for none
	sum      hash.Hash
	declared int64 // x-amz-decoded-content-length
	total    int64 // decoded bytes framed so far
	maxChunk int

	mac     hash.Hash // HMAC-SHA256 with the signing key
	prefix  []byte    // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
	prevSig [2 * sha256.Size]byte
	sig     [2 * sha256.Size]byte // the current chunk's signature, as sent
	sts     []byte

	buf  []byte // signed: the current chunk
	data []byte // signed: verified bytes not yet returned
	left int64  // unsigned: bytes of the current chunk not yet read

	done    bool
	err     error
	trailer http.Header
}

func (a *Auth) newChunkReader(h http.Header, src io.Reader) (*chunkReader, error) {
	dl := h["X-Amz-Decoded-Content-Length"]
	if len(dl) != 1 {
		return nil, authErr(http.StatusLengthRequired, "MissingContentLength", "aws-chunked bodies need x-amz-decoded-content-length")
	}
	declared, err := strconv.ParseInt(dl[0], 10, 64)
	if err != nil || declared < 0 {
		return nil, authErr(http.StatusLengthRequired, "MissingContentLength", "x-amz-decoded-content-length is not a length")
	}
	c := &chunkReader{
		br:       bufio.NewReaderSize(src, 32<<10),
		signed:   a.PayloadMode != PayloadStreamingUnsignedTrailer,
		trailers: a.PayloadMode != PayloadStreaming,
		declared: declared,
		maxChunk: a.maxChunk,
	}
	if c.maxChunk <= 0 {
		c.maxChunk = defaultChunk
	}
	if joined := strings.ToLower(strings.TrimSpace(strings.Join(h["X-Amz-Trailer"], ","))); joined != "" {
		if !c.trailers {
			return nil, invalidRequest("x-amz-trailer needs a *-TRAILER x-amz-content-sha256")
		}
		newSum, ok := checksums[joined]
		if !ok {
			return nil, invalidRequest("x-amz-trailer must name one supported checksum (crc32, crc32c, crc64nvme, sha1, sha256)")
		}
		c.want, c.sum = joined, newSum()
	}
	if c.signed {
		if a.signingKey.IsZero() || len(a.SeedSignature) != len(c.prevSig) {
			return nil, invalidRequest("the request was not verified")
		}
		c.mac = hmac.New(sha256.New, []byte(a.signingKey.Reveal()))
		c.prefix = []byte("AWS4-HMAC-SHA256-PAYLOAD\n" + a.amzDate + "\n" + a.scope + "\n")
		copy(c.prevSig[:], a.SeedSignature)
	}
	return c, nil
}

func (c *chunkReader) fail(err error) error {
	c.err, c.data = err, nil
	return err
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.data) > 0 {
			n := copy(p, c.data)
			c.data = c.data[n:]
			if len(c.data) == 0 {
				if err := c.next(); err != nil {
					return 0, c.fail(err)
				}
			}
			return n, nil
		}
		if c.left > 0 {
			n, err := c.br.Read(p[:min(int64(len(p)), c.left)])
			c.left -= int64(n)
			if c.sum != nil {
				c.sum.Write(p[:n])
			}
			if err != nil {
				return 0, c.fail(incomplete(err))
			}
			if c.left == 0 {
				if err := c.crlf(); err != nil {
					return 0, c.fail(err)
				}
				if err := c.next(); err != nil {
					return 0, c.fail(err)
				}
			}
			return n, nil
		}
		if c.done {
			return 0, c.fail(io.EOF)
		}
		if err := c.next(); err != nil {
			return 0, c.fail(err)
		}
	}
}

// next reads the next chunk header and, for a signed chunk, its data; the
// final chunk ends the stream.
func (c *chunkReader) next() error {
	size, sig, err := c.header()
	if err != nil {
		return err
	}
	if size > c.declared-c.total {
		return errTooLong
	}
	if size == 0 {
		return c.finish(sig)
	}
	c.total += size
	if !c.signed {
		c.left = size
		return nil
	}
	if int64(cap(c.buf)) < size {
		c.buf = make([]byte, size)
	}
	c.buf = c.buf[:size]
	if _, err := io.ReadFull(c.br, c.buf); err != nil {
		return incomplete(err)
	}
	if err := c.crlf(); err != nil {
		return err
	}
	digest := sha256.Sum256(c.buf)
	if err := c.verifyChunk(sig, digest[:]); err != nil {
		return err
	}
	if c.sum != nil {
		c.sum.Write(c.buf)
	}
	c.data = c.buf
	return nil
}

// header parses "<hex size>[;chunk-signature=<64 hex>]\r\n".
func (c *chunkReader) header() (int64, []byte, error) {
	line, err := c.line()
	if err == io.EOF {
		return 0, nil, incomplete(err) // a stream must end with the final chunk
	}
	if err != nil {
		return 0, nil, err
	}
	hexSize, ext, hasExt := bytes.Cut(line, []byte{';'})
	var sig []byte
	if c.signed {
		const key = "chunk-signature="
		if !hasExt || !bytes.HasPrefix(ext, []byte(key)) || len(ext) != len(key)+2*sha256.Size {
			return 0, nil, errFraming
		}
		// Copied: the line aliases the read buffer, which the data overwrites.
		sig = append(c.sig[:0], ext[len(key):]...)
	} else if hasExt {
		return 0, nil, errFraming
	}
	if len(hexSize) == 0 || len(hexSize) > 16 {
		return 0, nil, errChunkSize
	}
	var size int64
	for _, d := range hexSize {
		var v byte
		switch {
		case '0' <= d && d <= '9':
			v = d - '0'
		case 'a' <= d && d <= 'f':
			v = d - 'a' + 10
		case 'A' <= d && d <= 'F':
			v = d - 'A' + 10
		default:
			return 0, nil, errChunkSize
		}
		if size > (1<<62)>>4 {
			return 0, nil, errChunkSize
		}
		size = size<<4 | int64(v)
	}
	if c.signed && size > int64(c.maxChunk) {
		return 0, nil, errChunkSize
	}
	return size, sig, nil
}

// verifyChunk checks one chunk signature and moves the chain on.
func (c *chunkReader) verifyChunk(sig, dataSHA256 []byte) error {
	c.sts = append(c.sts[:0], c.prefix...)
	c.sts = append(c.sts, c.prevSig[:]...)
	c.sts = append(c.sts, "\n"+emptySHA256+"\n"...)
	c.sts = hex.AppendEncode(c.sts, dataSHA256)
	return c.verify(sig, c.sts, errChunkSignature)
}

// verify compares sig (hex, as sent) with the HMAC of sts and, when they
// match, makes it the previous signature of the chain.
func (c *chunkReader) verify(sig, sts []byte, mismatch error) error {
	var got, want [sha256.Size]byte
	if len(sig) != 2*len(got) {
		return mismatch
	}
	if _, err := hex.Decode(got[:], sig); err != nil {
		return mismatch
	}
	c.mac.Reset()
	c.mac.Write(sts)
	c.mac.Sum(want[:0])
	if !hmac.Equal(got[:], want[:]) {
		return mismatch
	}
	hex.Encode(c.prevSig[:], want[:])
	return nil
}

// finish handles the final chunk: its signature, the trailer, the checksum
// and the end of the stream.
func (c *chunkReader) finish(sig []byte) error {
	if c.signed {
		if err := c.verifyChunk(sig, emptyDigest[:]); err != nil {
			return err
		}
	}
	if c.total != c.declared {
		return errTooShort
	}
	if !c.trailers {
		// "\r\n" (the final chunk's empty data), then the end.
		line, err := c.line()
		if err == nil && len(line) != 0 {
			return errAfterEnd
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err := c.end(); err != nil {
			return err
		}
		c.done = true
		return nil
	}
	if err := c.readTrailer(); err != nil {
		return err
	}
	c.done = true
	return nil
}

var emptyDigest = sha256.Sum256(nil)

// readTrailer reads "name:value\r\n" lines up to an empty line (or the end
// of the stream), checks the trailer signature in the signed mode, and the
// declared checksum.
func (c *chunkReader) readTrailer() error {
	var (
		names, values []string
		sig           []byte
		skipped       bool
	)
	for {
		line, err := c.line()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if len(names) == 0 && sig == nil && !skipped {
				skipped = true // the final chunk's empty data, sent by some clients
				continue
			}
			if err := c.end(); err != nil {
				return err
			}
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return badTrailer("A trailer line is not name:value.")
		}
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		value = bytes.TrimSpace(value)
		switch {
		case n == trailerSig && c.signed && sig == nil:
			sig = bytes.Clone(value)
		case n == c.want && n != "" && !slices.Contains(names, n):
			names, values = append(names, n), append(values, string(value))
		default:
			return badTrailer("The trailer " + strconv.Quote(limit(n)) + " was not declared in x-amz-trailer, or is repeated.")
		}
		if len(names) > maxTrailers {
			return badTrailer("Too many trailers.")
		}
	}
	if c.signed {
		if sig == nil {
			return badTrailer("The trailer has no x-amz-trailer-signature.")
		}
		var canon []byte
		for i, n := range names {
			canon = append(canon, n+":"+values[i]+"\n"...)
		}
		digest := sha256.Sum256(canon)
		sts := []byte("AWS4-HMAC-SHA256-TRAILER\n")
		sts = append(sts, c.prefix[len("AWS4-HMAC-SHA256-PAYLOAD\n"):]...)
		sts = append(sts, c.prevSig[:]...)
		sts = append(sts, '\n')
		sts = hex.AppendEncode(sts, digest[:])
		if err := c.verify(sig, sts, errTrailerSignature); err != nil {
			return err
		}
	}
	if c.want != "" {
		if len(names) == 0 {
			return badTrailer("The trailer " + c.want + " declared in x-amz-trailer is missing.")
		}
		got, err := base64.StdEncoding.DecodeString(values[0])
		if err != nil {
			return badTrailer("The trailer " + c.want + " is not base64.")
		}
		if !hmac.Equal(got, c.sum.Sum(nil)) {
			return authErr(http.StatusBadRequest, "BadDigest", "The "+strings.TrimPrefix(c.want, "x-amz-checksum-")+" you specified did not match the calculated checksum.")
		}
	}
	c.trailer = make(http.Header, len(names))
	for i, n := range names {
		c.trailer.Set(n, values[i])
	}
	return nil
}

// line reads one CRLF-terminated line and returns it without the CRLF; a
// clean end of the stream before the line is io.EOF.
func (c *chunkReader) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == io.EOF && len(line) == 0:
		return nil, io.EOF
	case err == bufio.ErrBufferFull:
		return nil, errFraming
	case err != nil:
		return nil, incomplete(err)
	case len(line) > maxLine || len(line) < 2 || line[len(line)-2] != '\r':
		return nil, errFraming
	}
	return line[:len(line)-2], nil
}

// crlf consumes the "\r\n" after a chunk's data.
func (c *chunkReader) crlf() error {
	b, err := c.br.Peek(2)
	if err != nil {
		return incomplete(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errFraming
	}
	_, _ = c.br.Discard(2)
	return nil
}

// end checks that nothing follows.
func (c *chunkReader) end() error {
	switch _, err := c.br.Peek(1); {
	case err == nil:
		return errAfterEnd
	case err != io.EOF:
		return incomplete(err)
	}
	return nil
}
