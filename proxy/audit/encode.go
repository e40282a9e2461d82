package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// zeroMAC is the prev of the first record of a file.
const zeroMAC = "0000000000000000000000000000000000000000000000000000000000000000"

// Fixed parts of the chain suffix: ...,"prev":"<64 hex>","mac":"<64 hex>"}
const (
	prevKey   = `,"prev":"`
	macKey    = `,"mac":"`
	macEnd    = `"}`
	hexLen    = 2 * sha256.Size
	prevField = len(prevKey) + hexLen + 1 // ,"prev":"…"
	macField  = len(macKey) + hexLen + len(macEnd)
)

var errEncoderOff = errors.New("the JSON encoder produced no line (zerolog's global level disabled, or built with binary_log?)")

// lineBuffer receives the one line zerolog writes per event.
type lineBuffer struct{ b []byte }

func (lb *lineBuffer) Write(p []byte) (int, error) {
	lb.b = append(lb.b, p...)
	return len(p), nil
}

// encoder turns Records into chained lines, reusing every buffer and hash.
// It is not safe for concurrent use; Log serialises it.
type encoder struct {
	zl      zerolog.Logger
	out     lineBuffer
	scratch []byte
	chunk   []byte
	sum     []byte // digest of the last line, cap sha256.Size
	stmt    hash.Hash
	mac     hash.Hash
	prev    [hexLen]byte // mac of the last record, hex
	next    [hexLen]byte // mac of the line being built, hex
}

func newEncoder(key []byte) *encoder {
	e := &encoder{
		scratch: make([]byte, 0, 128),
		chunk:   make([]byte, 0, 4096),
		sum:     make([]byte, 0, sha256.Size),
		stmt:    sha256.New(),
	}
	e.zl = zerolog.New(&e.out)
	if len(key) > 0 {
		e.mac = hmac.New(sha256.New, key)
	} else {
		e.mac = sha256.New()
	}
	copy(e.prev[:], zeroMAC)
	return e
}

// encode builds the chained line for r in e.out.b and its mac in e.next.
// It does not advance the chain: call commit once the line is written.
func (e *encoder) encode(r *Record, t time.Time, seq uint64, task string) ([]byte, error) {
	e.out.b = e.out.b[:0]
	ev := e.zl.Log()
	if ev == nil {
		return nil, errEncoderOff
	}
	e.scratch = appendTime(e.scratch[:0], t)
	ev.RawJSON("time", e.scratch).
		Uint64("seq", seq).
		Str("event", string(r.Event)).
		Str("task", task)
	if r.RequestID != "" {
		ev.Str("request_id", r.RequestID)
	}
	if r.Conn != "" {
		ev.Str("conn", r.Conn)
	}
	if r.Client != "" {
		ev.Str("client", r.Client)
	}
	if r.User != "" {
		ev.Str("user", r.User)
	}
	if r.Protocol != "" {
		ev.Str("protocol", r.Protocol)
	}
	if r.Action != "" {
		ev.Str("action", r.Action)
	}
	if len(r.Resources) > 0 {
		ev.Strs("resources", r.Resources)
	}
	if r.Statement != "" {
		text, cut := truncateStatement(r.Statement)
		ev.Str("statement", text)
		e.scratch = e.appendStatementHash(e.scratch[:0], r.Statement)
		ev.RawJSON("statement_sha256", e.scratch)
		if cut {
			ev.Bool("statement_truncated", true)
		}
	}
	if len(r.Kinds) > 0 {
		ev.Strs("kinds", r.Kinds)
	}
	if len(r.Functions) > 0 {
		ev.Strs("functions", r.Functions)
	}
	decision := r.Event == EventDecision
	if decision || r.Decision != "" {
		ev.Str("decision", r.Decision)
	}
	if r.Mode != "" {
		ev.Str("mode", r.Mode)
	}
	if r.WouldDeny {
		ev.Bool("would_deny", true)
	}
	if decision || len(r.Rules) > 0 {
		ev.Strs("rules", r.Rules)
	}
	if decision || r.Reason != "" {
		ev.Str("reason", r.Reason)
	}
	if r.Latency != 0 {
		e.scratch = appendMicros(e.scratch[:0], r.Latency)
		ev.RawJSON("latency_us", e.scratch)
	}
	if c := r.Credential; c != nil {
		d := zerolog.Dict()
		if c.ID != "" {
			d.Str("id", c.ID)
		}
		if c.Source != "" {
			d.Str("source", c.Source)
		}
		if c.Upstream != "" {
			d.Str("upstream", c.Upstream)
		}
		if c.Status != "" {
			d.Str("status", c.Status)
		}
		if !c.Expiry.IsZero() {
			e.scratch = appendTime(e.scratch[:0], c.Expiry)
			d.RawJSON("expiry", e.scratch)
		}
		ev.Dict("credential", d)
	}
	if r.Phase != "" {
		ev.Str("phase", r.Phase)
		if r.Event == EventLifecycle && r.Phase == PhaseExit {
			ev.Uint64("last_seq", seq)
		}
	}
	if r.PolicySHA256 != "" {
		ev.Str("policy_sha256", r.PolicySHA256)
	}
	if r.Detail != "" {
		ev.Str("detail", r.Detail)
	}
	ev.Send()

	b := e.out.b
	n := len(b)
	if n < 3 || b[0] != '{' || b[n-2] != '}' || b[n-1] != '\n' {
		return nil, errEncoderOff
	}
	if n-2+prevField+macField > MaxLineBytes {
		return nil, fmt.Errorf("%w: record encodes to %d bytes, more than the %d-byte line limit",
			ErrInvalidRecord, n-2+prevField+macField, MaxLineBytes)
	}
	b = append(b[:n-2], prevKey...)
	b = append(b, e.prev[:]...)
	b = append(b, '"')

	e.mac.Reset()
	e.mac.Write(b)
	e.sum = e.mac.Sum(e.sum[:0])
	hex.Encode(e.next[:], e.sum)

	b = append(b, macKey...)
	b = append(b, e.next[:]...)
	b = append(b, macEnd...)
	b = append(b, '\n')
	e.out.b = b
	return b, nil
}

// commit makes the line just encoded the previous record of the chain.
func (e *encoder) commit() { e.prev = e.next }

// appendStatementHash appends the quoted hex SHA-256 of s, hashing it in
// chunks so that no statement is copied whole.
func (e *encoder) appendStatementHash(dst []byte, s string) []byte {
	e.stmt.Reset()
	for len(s) > 0 {
		n := min(len(s), cap(e.chunk))
		e.chunk = append(e.chunk[:0], s[:n]...)
		e.stmt.Write(e.chunk)
		s = s[n:]
	}
	e.sum = e.stmt.Sum(e.sum[:0])
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, e.sum)
	return append(dst, '"')
}

// appendTime appends t as a quoted RFC 3339 UTC timestamp with nanoseconds.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendMicros appends d in microseconds with exactly three decimals.
func appendMicros(dst []byte, d time.Duration) []byte {
	ns := uint64(d)
	if d < 0 {
		dst = append(dst, '-')
		ns = -ns
	}
	dst = strconv.AppendUint(dst, ns/1000, 10)
	frac := ns % 1000
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
