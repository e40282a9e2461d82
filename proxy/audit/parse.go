package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// parsedLine is what verification needs from one record's line.
type parsedLine struct {
	body   []byte // the bytes the mac covers: from '{' up to ,"mac":"
	mac    []byte // lowercase hex
	prev   []byte // lowercase hex
	seq    uint64
	event  Event
	phase  string
	detail string // resume records only
}

// lineFields are the JSON fields verification reads; the mac covers the rest.
type lineFields struct {
	Time    string  `json:"time"`
	Seq     *uint64 `json:"seq"`
	Event   Event   `json:"event"`
	Phase   string  `json:"phase"`
	LastSeq *uint64 `json:"last_seq"`
	Detail  string  `json:"detail"`
}

const timePrefix = `{"time":"`

// parseLine checks that b (one line, without its newline) has the record
// layout — a JSON object, time first, then prev and mac last — and
// returns its chain fields. It does not check the mac.
func parseLine(b []byte) (parsedLine, error) {
	var p parsedLine
	n := len(b)
	if n < len(timePrefix)+prevField+macField || !bytes.HasPrefix(b, []byte(timePrefix)) {
		return p, errors.New(`not an audit record: it does not start with {"time":`)
	}
	m := n - macField
	if string(b[m:m+len(macKey)]) != macKey || string(b[n-len(macEnd):]) != macEnd {
		return p, errors.New("not an audit record: mac is not the last field")
	}
	p.body = b[:m]
	p.mac = b[m+len(macKey) : n-len(macEnd)]
	q := m - prevField
	if string(b[q:q+len(prevKey)]) != prevKey || b[m-1] != '"' {
		return p, errors.New("not an audit record: prev does not come just before mac")
	}
	p.prev = b[q+len(prevKey) : m-1]
	if !isLowerHex(p.mac) || !isLowerHex(p.prev) {
		return p, errors.New("not an audit record: prev or mac is not lowercase hex")
	}
	var f lineFields
	if err := json.Unmarshal(b, &f); err != nil {
		return p, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := time.Parse(time.RFC3339Nano, f.Time); err != nil {
		return p, fmt.Errorf("bad time: %w", err)
	}
	if f.Seq == nil || *f.Seq == 0 {
		return p, errors.New("no seq")
	}
	p.seq, p.event, p.phase = *f.Seq, f.Event, f.Phase
	if p.isResume() {
		p.detail = f.Detail
	}
	switch p.event {
	case EventDecision, EventCredential, EventLifecycle:
	default:
		return p, fmt.Errorf("unknown event %q", p.event)
	}
	if p.isExit() && (f.LastSeq == nil || *f.LastSeq != p.seq) {
		return p, errors.New("exit record without last_seq equal to its seq")
	}
	return p, nil
}

func (p *parsedLine) isExit() bool  { return p.event == EventLifecycle && p.phase == PhaseExit }
func (p *parsedLine) isStart() bool { return p.event == EventLifecycle && p.phase == PhaseStart }
func (p *parsedLine) isResume() bool {
	return p.event == EventLifecycle && p.phase == PhaseResume
}

func isLowerHex(b []byte) bool {
	if len(b) != hexLen {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// chainHash computes a record's mac, keyed or not, reusing its state.
type chainHash struct {
	h   hash.Hash
	sum []byte
	hex [hexLen]byte
}

func newChainHash(key []byte) *chainHash {
	c := &chainHash{sum: make([]byte, 0, sha256.Size)}
	if len(key) > 0 {
		c.h = hmac.New(sha256.New, key)
	} else {
		c.h = sha256.New()
	}
	return c
}

// matches reports whether mac (hex) is the mac of body.
func (c *chainHash) matches(body, mac []byte) bool {
	c.h.Reset()
	c.h.Write(body)
	c.sum = c.h.Sum(c.sum[:0])
	hex.Encode(c.hex[:], c.sum)
	return hmac.Equal(c.hex[:], mac)
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// lineReader reads lines of at most MaxLineBytes, reusing its buffer.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline, and whether it had one.
// At the end of input it returns io.EOF. The line is valid until the next
// call.
func (lr *lineReader) next() (line []byte, complete bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(lr.buf)+len(chunk) > MaxLineBytes+1 {
			return nil, false, errLineTooLong
		}
		lr.buf = append(lr.buf, chunk...)
		switch {
		case err == nil:
			return lr.buf[:len(lr.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.buf) == 0 {
				return nil, false, io.EOF
			}
			return lr.buf, false, nil
		default:
			return nil, false, err
		}
	}
}
