package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/internal/rawconn"
)

// relay runs the session: client → upstream and upstream → client, each in
// its own goroutine with one writer per socket. When either side ends, or
// ctx is done, the session ends: both sockets close, and the client gets a
// FATAL saying why unless it left first.
func (s *session) relay() error {
	up := make(chan error, 1)
	cl := make(chan error, 1)
	go func() { up <- s.fromUpstream() }()
	go func() { cl <- s.fromClient() }()
	var err, other error
	select {
	case err = <-up:
		s.closeBoth()
		other = <-cl
	case err = <-cl:
		if errors.Is(err, errEnded) {
			// The upstream side is ending the session and telling the
			// client why: let it finish.
			err = <-up
			s.closeBoth()
			other = nil
			break
		}
		s.clientGone.Store(true)
		s.cancelInFlight() // the client will never read its result
		s.closeBoth()
		other = <-up
	case <-s.ctx.Done():
		s.stop()
		err = <-up
		s.closeBoth()
		other = <-cl
	}
	// fromClient may have stopped on the drain deadline.
	if ne, ok := other.(net.Error); ok && ne.Timeout() {
		other = nil
	}
	_ = s.client.Close()
	if quiet(err) {
		err = other
	}
	if quiet(err) {
		return nil
	}
	return err
}

// quiet reports whether err is an ordinary end of a relay loop.
func quiet(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, errStopped)
}

// fromClient reads client messages, checks statements, and writes to the
// upstream. It never writes to the client: denials are raised upstream.
func (s *session) fromClient() error {
	for {
		typ, n, err := s.cr.next()
		if err != nil {
			return err
		}
		switch typ {
		case 'Q':
			err = s.onQuery(n)
		case 'P':
			err = s.onParse(n)
		case 'B', 'E', 'C', 'D':
			err = s.onPortalMessage(typ, n)
		case 'S':
			s.rep.push(owed{kind: rSync})
			s.verifyDue = s.verifyDue || s.opaque
			s.opaque = false
			err = s.cr.copyFrame(s.uw, typ, n)
		case 'c', 'f':
			s.rep.copyEnd()
			err = s.cr.copyFrame(s.uw, typ, n)
		case 'H', 'd':
			err = s.cr.copyFrame(s.uw, typ, n)
		case 'F':
			err = s.onFunctionCall(n)
		case 'X':
			_ = s.cr.copyFrame(s.uw, typ, n)
			_ = s.uw.Flush()
			return io.EOF
		default:
			return fmt.Errorf("protocol violation: client message %q after startup", typ)
		}
		if err != nil {
			return err
		}
		if s.cr.r.Buffered() == 0 {
			if err := s.uw.Flush(); err != nil {
				return err
			}
		}
	}
}

// onPortalMessage forwards Bind, Execute, Close or Describe, noting the
// reply the server owes for it.
func (s *session) onPortalMessage(typ byte, n int) error {
	if err := s.verifyIfDue(); err != nil {
		return err
	}
	if typ == 'B' && s.h.cfg.Refusing != nil {
		if why := s.h.cfg.Refusing(); why != "" {
			return s.refuse(why)
		}
	}
	b := s.cr.peek(n)
	switch typ {
	case 'B':
		portal, rest, _ := cstring(b)
		stmt, _, _ := cstring(rest)
		s.rep.push(owed{kind: rBind, name: portal, stmt: stmt})
		s.noteOpaqueBind(stmt)
	case 'E':
		portal, _, _ := cstring(b)
		s.rep.push(owed{kind: rExecute, name: portal})
	case 'C':
		o := owed{kind: rClose}
		if len(b) > 0 {
			o.close = b[0]
			o.name, _, _ = cstring(b[1:])
		}
		s.rep.push(o)
	case 'D':
		s.rep.push(owed{kind: rDescribe})
	}
	return s.cr.copyFrame(s.uw, typ, n)
}

// fromUpstream relays server messages to the client and, when the
// upstream ends, tells the client why (see upstreamEnded).
func (s *session) fromUpstream() error {
	err := s.upstreamLoop()
	return s.upstreamEnded(err)
}

// upstreamLoop relays server messages to the client, one frame at a time,
// flushing when nothing more is buffered.
func (s *session) upstreamLoop() error {
	var buf []byte
	for {
		typ, n, err := s.ur.next()
		if err != nil {
			return &boundaryError{err}
		}
		if buf, err = s.upstreamFrame(typ, n, buf); err != nil {
			return err
		}
		if s.ur.r.Buffered() == 0 {
			if err := s.cw.Flush(); err != nil {
				return err
			}
		}
	}
}

// upstreamFrame relays one server message whose header was just read:
// replies confirm what they answer (see replies), replies to Airlock's own
// messages are swallowed, ParameterStatus is checked against the pinned
// parameters. buf is scratch space for the bodies read whole.
func (s *session) upstreamFrame(typ byte, n int, buf []byte) ([]byte, error) {
	var err error
	switch typ {
	case '1', '2', '3', 'n', 'I', 's':
		return buf, s.pass(typ, n, s.rep.answer(typ, ""))
	case 'T':
		s.batchUpstream(false)
		return buf, s.pass(typ, n, s.rep.answer(typ, ""))
	case 'H': // CopyOutResponse: rows stream in until CopyDone
		s.batchUpstream(true)
	case 'G': // CopyInResponse
		s.rep.copyIn()
	case 'c':
		s.batchUpstream(false)
	case 'D', 'd': // rows: copied in runs
		if hidden, verify, resolve := s.rep.head(); hidden && typ == 'D' {
			if buf, err = s.ur.body(buf, n, 64<<10); err != nil {
				return buf, err
			}
			switch {
			case verify:
				return buf, s.checkVerifyRow(buf)
			case resolve:
				var row pgproto3.DataRow
				if err := row.Decode(buf); err == nil && len(row.Values) == 1 {
					s.rep.resolveRow(string(row.Values[0]))
				}
			}
			return buf, nil
		}
		return buf, s.ur.copyRun(s.cw, typ, n)
	case 'C', 'E', 'Z', 'S':
		if typ == 'E' && n > 64<<10 { // not one Airlock must read
			s.rep.failed()
			break
		}
		if buf, err = s.ur.body(buf, n, 64<<10); err != nil {
			return buf, err
		}
		s.batchUpstream(false)
		hide, err := s.inspect(typ, buf)
		if err != nil || hide {
			return buf, err
		}
		return buf, writeFrame(s.cw, typ, buf)
	}
	return buf, s.pass(typ, n, false)
}

// pass copies a frame to the client, or drops it when hide.
func (s *session) pass(typ byte, n int, hide bool) error {
	if hide {
		_, err := s.ur.r.Discard(n)
		return err
	}
	return s.ur.copyFrame(s.cw, typ, n)
}

// inspect handles a CommandComplete, ErrorResponse, ReadyForQuery or
// ParameterStatus read whole, and reports whether to swallow it.
func (s *session) inspect(typ byte, body []byte) (bool, error) {
	switch typ {
	case 'C':
		tag, _, _ := cstring(body)
		return s.rep.answer(typ, tag), nil
	case 'E':
		sev, code := errorFields(body)
		if sev == "FATAL" || sev == "PANIC" {
			s.sawFatal = true
		}
		hidden, verify := s.rep.failed()
		if verify && code != "25P02" {
			// Outside a failed transaction the check must succeed.
			return true, s.endSession("the check of the pinned session parameters failed (SQLSTATE " + code + ")")
		}
		return hidden, nil
	case 'Z':
		status := byte('I')
		if len(body) == 1 {
			status = body[0]
		}
		return s.rep.ready(status), nil
	}
	var ps pgproto3.ParameterStatus
	if err := ps.Decode(body); err != nil {
		return false, err
	}
	return false, s.checkPinned(ps.Name, ps.Value)
}

// Read batching on the upstream socket during COPY OUT: PostgreSQL sends
// 8 KiB at a time, and waking for each costs more than relaying it. With
// 128 KiB Airlock's CPU per 100 MB copy is 70–110 ms, with 32 KiB 130–210
// ms (README, Performance). The reads stay 64 KiB, the upstream reader's
// size: a wake-up then finds two of them waiting.
const (
	copyBatch     = 128 << 10
	copyBatchWait = 500 * time.Microsecond
)

// batchUpstream turns read batching on the upstream socket on or off (see
// rawconn.SetReadBatch); called by fromUpstream, the socket's reader.
func (s *session) batchUpstream(on bool) {
	if on == s.batching {
		return
	}
	rc := rawconn.Of(s.up)
	if rc == nil {
		return
	}
	var err error
	if on {
		err = rc.SetReadBatch(copyBatch, copyBatchWait)
	} else {
		err = rc.SetReadBatch(0, 0)
	}
	if err != nil {
		s.h.cfg.Log.Debug().Err(err).Str("conn", s.conn.ID).Msg("upstream read batching")
		return
	}
	s.batching = on
}

// classCache keeps classifications by statement text, and by shape (the
// text without its literals, see shape) where that is safe, so that a
// repeated statement costs a lexer pass and a map lookup. It is cleared
// when full.
type classCache struct {
	mu sync.RWMutex
	m  map[string][]Statement // by text, or by shape (keys with a NUL)
}

const (
	cacheEntries = 10000
	cacheMaxText = 16 << 10
)

// classify returns text's statements, and whether they came from or went
// into the cache: cached statements are shared and never change, so a
// pointer to one stands for its content (policy.Request.Memo).
func (h *Handler) classify(text string) ([]Statement, bool, error) {
	h.cache.mu.RLock()
	st, ok := h.cache.m[text]
	h.cache.mu.RUnlock()
	if ok {
		return st, true, nil
	}
	var key, norm string
	shaped := false
	if len(text) <= cacheMaxText {
		if key, norm, shaped = shape(text); shaped {
			h.cache.mu.RLock()
			st, ok = h.cache.m[key]
			h.cache.mu.RUnlock()
			if ok {
				return st, true, nil
			}
		}
	}
	st, err := h.cfg.Classifier.Classify(text)
	if err != nil || len(text) > cacheMaxText {
		return st, false, err
	}
	if shaped && shapeable(st, norm) {
		text = key // one entry for every statement of the shape
	}
	h.cache.mu.Lock()
	if h.cache.m == nil || len(h.cache.m) >= cacheEntries {
		h.cache.m = make(map[string][]Statement, 256)
	}
	h.cache.m[text] = st
	h.cache.mu.Unlock()
	return st, true, nil
}
