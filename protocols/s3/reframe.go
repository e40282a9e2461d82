package s3

import (
	"encoding/base64"
	"errors"
	"io"
	"strconv"
)

// upstreamChunk is the chunk size of bodies re-framed for the upstream.
const upstreamChunk = 64 << 10

// Upstream headers of a re-framed body.
const payloadUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

// trailerBody re-frames a verified aws-chunked payload for the upstream as
// aws-chunked with an unsigned checksum trailer (the upstream mode of
// STREAMING-UNSIGNED-PAYLOAD-TRAILER), so the upstream checks and stores the
// checksum the client declared. Without it, an upload whose
// CreateMultipartUpload named a checksum algorithm would have its parts
// refused. The framing is fixed (upstreamChunk-sized chunks), so the
// encoded length is known before the first byte: no Transfer-Encoding.
type trailerBody struct {
	src  *DecodedBody
	name string // x-amz-checksum-…
	left int64  // payload bytes not yet framed
	buf  []byte
	out  []byte // framed bytes not yet returned
	done bool
}

func newTrailerBody(src *DecodedBody, size int64) *trailerBody {
	return &trailerBody{src: src, name: src.TrailerName(), left: size, buf: make([]byte, min(size, upstreamChunk))}
}

// encodedLength is the framed length of a size-byte payload with the
// checksum trailer name.
func encodedLength(size int64, name string) int64 {
	frame := func(n int64) int64 { return int64(len(strconv.FormatInt(n, 16))) + 2 + n + 2 }
	l := size / upstreamChunk * frame(upstreamChunk)
	if rem := size % upstreamChunk; rem > 0 {
		l += frame(rem)
	}
	sum := base64.StdEncoding.EncodedLen(checksums[name]().Size())
	return l + int64(len("0\r\n")+len(name)+1+sum+len("\r\n\r\n"))
}

func (t *trailerBody) Read(p []byte) (int, error) {
	for len(t.out) == 0 {
		if t.done {
			return 0, io.EOF
		}
		if err := t.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, t.out)
	t.out = t.out[n:]
	return n, nil
}

// fill frames the next chunk, or the final chunk and trailer once the
// source has verified the whole payload.
func (t *trailerBody) fill() error {
	if t.left > 0 {
		size := min(t.left, upstreamChunk)
		if _, err := io.ReadFull(t.src, t.buf[:size]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errTooShort
			}
			return err
		}
		t.left -= size
		t.out = strconv.AppendInt(t.out[:0], size, 16)
		t.out = append(t.out, "\r\n"...)
		t.out = append(t.out, t.buf[:size]...)
		t.out = append(t.out, "\r\n"...)
		return nil
	}
	var one [1]byte
	for {
		n, err := t.src.Read(one[:])
		if n > 0 {
			return errTooLong
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	sum := t.src.checksum()
	if sum == nil {
		return errFraming
	}
	t.out = append(t.out[:0], "0\r\n"+t.name+":"...)
	t.out = base64.StdEncoding.AppendEncode(t.out, sum)
	t.out = append(t.out, "\r\n\r\n"...)
	t.done = true
	return nil
}

func (t *trailerBody) Close() error { return t.src.Close() }
