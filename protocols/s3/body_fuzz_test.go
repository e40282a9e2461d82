package s3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/protocols/s3"
)

// How FuzzHandlerBody signs its request.
var fuzzBodyModes = []string{"presigned", s3.PayloadUnsigned, "sha256", s3.PayloadStreaming}

// How it frames the body on the wire.
var fuzzFramings = []string{framedLength, framedChunked, framedCut, framedZero}

// FuzzHandlerBody sends a request body through the handler to an upstream
// that records what it received, signed and framed in every way a client
// may (a length, Transfer-Encoding: chunked with no length, a client that
// stops early, Content-Length: 0 with data after it), optionally altered
// on the wire. The client is told it succeeded exactly when the upstream
// received one whole body, and that body is the one the client framed and
// its signature covers; a body of unknown length outside aws-chunked is
// refused with 411 before anything is forwarded.
func FuzzHandlerBody(f *testing.F) {
	f.Add([]byte("streamed body, no length"), uint8(0), uint8(1), uint32(0), byte(0))
	f.Add([]byte("streamed body, no length"), uint8(1), uint8(1), uint32(0), byte(0))
	f.Add(bytes.Repeat([]byte("chunks "), 3000), uint8(3), uint8(1), uint32(0), byte(0))
	f.Add([]byte("hidden after a zero length"), uint8(2), uint8(3), uint32(0), byte(0))
	f.Add([]byte("cut short"), uint8(1), uint8(2), uint32(0), byte(0))
	f.Add([]byte("altered"), uint8(2), uint8(0), uint32(3), byte(1))
	f.Add([]byte{}, uint8(0), uint8(1), uint32(0), byte(0))
	f.Fuzz(func(t *testing.T, payload []byte, mode, framing uint8, pos uint32, flip byte) {
		if len(payload) > 1<<17 {
			return
		}
		m, fr := fuzzBodyModes[int(mode)%len(fuzzBodyModes)], fuzzFramings[int(framing)%len(fuzzFramings)]
		r := newBodyRig(t)
		const path = "/bucket/k"
		var req = presigned(t, r.addr, path)
		wire := payload
		switch m {
		case s3.PayloadUnsigned:
			req = headerSigned(t, r.addr, path, "", m, nil)
		case "sha256":
			sum := sha256.Sum256(payload)
			req = headerSigned(t, r.addr, path, "", hex.EncodeToString(sum[:]), nil)
		case s3.PayloadStreaming:
			st := stream{mode: m, payload: payload, chunk: 4096}
			req, _ = st.request(t, r.addr)
			req.URL.Path, req.URL.RawPath = path, ""
			req.ContentLength = 0 // unsigned: sendRaw frames the body
			signHeader(t, req, m, testNow)
			seed := req.Header.Get("Authorization")
			wire = st.frame(t, newChunkSigner(seed[strings.LastIndex(seed, "=")+1:], testNow))
		}
		wire = bytes.Clone(wire)
		if len(wire) > 0 && flip != 0 {
			wire[int(pos%uint32(len(wire)))] ^= flip
		}
		status, msg := sendRaw(t, r.addr, req, wire, fr)
		up := r.upstream()
		var whole [][]byte
		for _, b := range up {
			if b.whole {
				whole = append(whole, b.data)
			}
		}
		ok := status >= 200 && status < 300
		what := fmt.Sprintf("%s body framed %s: %d %s", m, fr, status, msg)
		if !ok {
			if status < 400 || !strings.Contains(msg, "<Code>") {
				t.Fatalf("%s: not an S3 error", what)
			}
			if len(whole) != 0 {
				t.Fatalf("%s: refused, but the upstream received a whole %d-byte body", what, len(whole[0]))
			}
			if fr == framedChunked && m != s3.PayloadStreaming && (status != 411 || !strings.Contains(msg, "<Code>MissingContentLength</Code>")) {
				t.Fatalf("%s: want 411 MissingContentLength", what)
			}
			return
		}
		if len(whole) != 1 {
			t.Fatalf("%s: success, but the upstream received %d whole bodies", what, len(whole))
		}
		// What the client framed as its body, decoded.
		want := wire
		if fr == framedZero {
			want = nil
		}
		if m == "sha256" || m == s3.PayloadStreaming {
			want = payload // only the signed body may succeed
		}
		if fr == framedChunked && m != s3.PayloadStreaming || fr == framedCut {
			t.Fatalf("%s: success for a body that could not be forwarded whole", what)
		}
		if !bytes.Equal(whole[0], want) {
			t.Fatalf("%s: the upstream stored %d bytes, not the %d the client sent", what, len(whole[0]), len(want))
		}
	})
}
