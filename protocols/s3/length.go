package s3

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A request body of unknown length (Transfer-Encoding: chunked without
// Content-Length, outside the aws-chunked modes, which declare their length
// in x-amz-decoded-content-length) is refused before anything is
// forwarded, with the answer S3 itself gives: 411 MissingContentLength.
// Streaming it upstream as it arrives would not help: AWS S3 and MinIO
// both refuse a PutObject or UploadPart body without a length (MinIO
// answers exactly this 411), so the upload would fail upstream anyway,
// only later and with Airlock's own request. Learning the length by
// holding the whole body would break the constant-memory promise for
// bodies of any size. And forwarding it as an empty body would store an
// empty object under a 200: silent loss of the client's data. So the client learns at once, in
// S3's own words, that it must send a length, and the upstream never sees
// the request.

// errUnknownLength is S3's answer to a body without a length.
var errUnknownLength = authErr(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")

// errBodyTooLong is a body that holds data past the length it declared.
var errBodyTooLong = invalidRequest("The request body holds more data than its declared length.")

// lengthRefusal says why a request's body cannot be forwarded whole, in
// the client's S3 error and in the words of the audit record; nil when it
// can. It reads no body byte, so a refused client waiting for
// "100 Continue" is answered without sending its body.
func lengthRefusal(r *http.Request, mode string) (*AuthError, string) {
	if isStreaming(mode) {
		return nil, "" // the decoded length is declared and enforced by the chunk decoder
	}
	if r.ContentLength < 0 {
		return errUnknownLength, "body of unknown length (Transfer-Encoding: chunked without Content-Length) refused with 411 MissingContentLength; nothing was forwarded"
	}
	for _, v := range r.Header["Content-Encoding"] {
		for e := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
				// Decoding it would store other bytes than the
				// signature covers; passing it on, other bytes than
				// an S3 server that decodes it would store.
				return invalidRequest("Content-Encoding aws-chunked needs a STREAMING-* x-amz-content-sha256."),
					"aws-chunked Content-Encoding without a STREAMING-* x-amz-content-sha256 refused; nothing was forwarded"
			}
		}
	}
	return nil, ""
}

func isStreaming(mode string) bool { return strings.HasPrefix(mode, "STREAMING-") }

// drainEmpty reads a body whose declared length is zero to its end, so its
// verification runs (the signed SHA-256 of an empty body, the chunk
// signatures and checksum of an empty aws-chunked stream) before the
// upstream is told the body is empty. Data in it is an error.
func drainEmpty(body io.Reader) error {
	var one [1]byte
	for range 1 << 16 { // a reader that returns (0, nil) forever is not waited on
		n, err := body.Read(one[:])
		switch {
		case n > 0:
			return errBodyTooLong
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// Bounds of discardBody.
const (
	maxDiscard  = 64 << 20
	discardTime = 30 * time.Second
)

// discardBody reads and throws away, within bounds, the body of a request
// refused before it was forwarded, so that a client that sends its whole
// body before it reads the answer (one without "Expect: 100-continue")
// receives the S3 error rather than a reset connection. A client waiting
// for "100 Continue" is answered at once: reading would ask it for the body.
func discardBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(discardTime))
	_, _ = io.CopyN(io.Discard, r.Body, maxDiscard)
}

// failedReader remembers the first error its reader returned other than
// io.EOF: the transport reports a failed request body as a failed request,
// and this tells the two apart.
type failedReader struct {
	r io.Reader

	mu  sync.Mutex // the transport reads in its own goroutine
	err error
}

func (f *failedReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
	return n, err
}

// failure is the body's error, if it failed.
func (f *failedReader) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
