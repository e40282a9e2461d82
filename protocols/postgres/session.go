package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/internal/rawconn"
	"github.com/airlockproxy/airlock/policy"
)

// relay runs the session: client → upstream here, upstream → client in a
// second goroutine. Each side has one writer. It returns when either side
// ends; the other is then closed.
func (s *session) relay() error {
	back := make(chan error, 1)
	go func() { back <- s.fromUpstream() }()
	// Closing both sides ends both loops when the server drains.
	stop := context.AfterFunc(s.ctx, func() { s.up.Close(); s.client.Close() })
	defer stop()
	err := s.fromClient()
	s.up.Close()
	s.client.Close()
	berr := <-back
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = berr
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
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
		case 'B':
			s.queue.push('2', false)
			err = s.cr.copyFrame(s.uw, typ, n)
		case 'S':
			err = s.cr.copyFrame(s.uw, typ, n)
			s.queue.syncPoint()
		case 'E', 'D', 'C', 'H', 'd', 'c', 'f':
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

// fromUpstream relays server messages to the client as raw frames,
// swallowing the replies to Airlock's own injected messages and watching
// for changes of pinned parameters.
func (s *session) fromUpstream() error {
	var buf []byte
	for {
		typ, n, err := s.ur.next()
		if err != nil {
			return err
		}
		switch typ {
		case '1', '2': // ParseComplete, BindComplete
			if s.queue.answer(typ) {
				if _, err := s.ur.r.Discard(n); err != nil {
					return err
				}
				goto flush
			}
		case 'H': // CopyOutResponse: rows stream in until CopyDone
			s.batchUpstream(true)
		case 'c':
			s.batchUpstream(false)
		case 'E':
			s.queue.failed()
			s.batchUpstream(false)
		case 'Z':
			s.queue.ready()
			s.batchUpstream(false)
		case 'S':
			if buf, err = s.ur.body(buf, n, 64<<10); err != nil {
				return err
			}
			var ps pgproto3.ParameterStatus
			if err := ps.Decode(buf); err != nil {
				return err
			}
			if err := s.checkPinned(ps.Name, ps.Value); err != nil {
				return err
			}
			if err := writeFrame(s.cw, typ, buf); err != nil {
				return err
			}
			goto flush
		case 'D', 'd': // rows: copied in runs
			if err := s.ur.copyRun(s.cw, typ, n); err != nil {
				return err
			}
			goto flush
		}
		if err := s.ur.copyFrame(s.cw, typ, n); err != nil {
			return err
		}
	flush:
		if s.ur.r.Buffered() == 0 {
			if err := s.cw.Flush(); err != nil {
				return err
			}
		}
	}
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

// checkPinned ends the session when the server reports a pinned parameter
// with a value other than the one the session started with.
func (s *session) checkPinned(name, value string) error {
	lk := strings.ToLower(name)
	if _, pinned := s.h.pinned[lk]; !pinned {
		return nil
	}
	if old, ok := s.upParams[name]; ok && old != value {
		s.guard(fmt.Sprintf("pinned parameter %s changed from %q to %q", name, old, value), "set")
		_ = s.sendClient(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "42501",
			Message: fmt.Sprintf("airlock: pinned parameter %s changed; the session ends", name)})
		_ = s.cw.Flush()
		return fmt.Errorf("pinned parameter %s changed", name)
	}
	return nil
}

// onQuery checks every statement of a simple Query; all must be allowed or
// the upstream gets the raise statement instead.
func (s *session) onQuery(n int) error {
	body, err := s.cr.body(s.buf, n, s.h.cfg.MaxMessage)
	s.buf = body
	var text string
	if err == nil {
		text, _, _ = cstring(body)
	} else if !errors.Is(err, errTooLong) {
		return err
	}
	defer s.queue.syncPoint()
	if ok, reason, id := s.checkText(text, err); !ok {
		return writeQuery(s, raiseSQL(reason, id))
	}
	return writeFrame(s.uw, 'Q', body)
}

// onParse checks a Parse's statement. A denied one is replaced by an
// unnamed Parse/Bind/Execute of the raise statement: the server fails at
// that Execute and skips to Sync, as it would have for a failed Parse; the
// ParseComplete and BindComplete of the injection are swallowed.
func (s *session) onParse(n int) error {
	body, err := s.cr.body(s.buf, n, s.h.cfg.MaxMessage)
	s.buf = body
	var text string
	if err == nil {
		_, rest, ok := cstring(body)
		if text, _, ok = cstring(rest); !ok {
			return errors.New("protocol violation: malformed Parse")
		}
	} else if !errors.Is(err, errTooLong) {
		return err
	}
	if ok, reason, id := s.checkText(text, err); !ok {
		return s.inject(raiseSQL(reason, id))
	}
	s.queue.push('1', false)
	return writeFrame(s.uw, 'P', body)
}

func (s *session) inject(sql string) error {
	for _, m := range []interface{ Encode([]byte) ([]byte, error) }{
		&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{},
	} {
		if err := encodeTo(s.uw, m); err != nil {
			return err
		}
	}
	s.queue.push('1', true)
	s.queue.push('2', true)
	return nil
}

// onFunctionCall denies the fast-path FunctionCall message (a guard rail):
// the server gets a simple Query of the raise statement, which answers
// ErrorResponse and ReadyForQuery, as the client expects.
func (s *session) onFunctionCall(n int) error {
	if _, err := s.cr.r.Discard(n); err != nil {
		return err
	}
	d, id := s.guard("FunctionCall messages are never allowed", "function_call")
	defer s.queue.syncPoint()
	return writeQuery(s, raiseSQL(d.Reason, id))
}

func writeQuery(s *session, sql string) error {
	b, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		return err
	}
	_, err = s.uw.Write(b)
	return err
}

// checkText classifies text and checks each statement in turn. It returns
// whether all are allowed, and for the first denied one the reason and its
// request id. readErr is the error reading the text (too long).
func (s *session) checkText(text string, readErr error) (bool, string, string) {
	var (
		stmts  []Statement
		cached bool
		err    error
	)
	if readErr != nil {
		err = fmt.Errorf("statement longer than %d bytes", s.h.cfg.MaxMessage)
	} else {
		stmts, cached, err = s.h.classify(text)
	}
	if err != nil {
		d, id := s.guardText("statement cannot be checked: "+err.Error(), "unparsed", text)
		return false, d.Reason, id
	}
	for i := range stmts {
		req := s.request(&stmts[i])
		if cached && stmts[i].Execute == "" {
			// The same statement shape decides the same (the engine
			// ignores Memo for a tripped guard rail). EXECUTE's tables
			// come from this session's PREPAREs.
			req.Memo = &stmts[i]
		}
		d := s.h.cfg.Check(&req)
		if !d.Allow {
			return false, d.Reason, req.ID
		}
	}
	for i := range stmts {
		s.remember(&stmts[i])
	}
	return true, "", ""
}

// request builds the policy request for one statement.
func (s *session) request(st *Statement) policy.Request {
	req := policy.Request{Protocol: policy.ProtocolPostgres, Conn: s.conn, SQL: st.SQL, Guard: st.Guard}
	req.SQL.Database = s.h.cfg.Database
	if req.Guard == "" {
		for _, p := range st.SetParams {
			_, pinned := s.h.pinned[p]
			if (pinned || p == "all") && st.SQL.Command != "SHOW" {
				// RESET ALL and DISCARD ALL would reset the pinned ones too.
				req.Guard = "the session parameter " + p + " is pinned"
				if p == "all" {
					req.Guard = st.SQL.Command + " would reset the pinned session parameters"
				}
				break
			}
		}
	}
	if st.Execute != "" && req.Guard == "" {
		inner, ok := s.prepared[st.Execute]
		if !ok {
			req.Guard = "EXECUTE of " + st.Execute + ", which Airlock did not see prepared"
		} else {
			// Merge, never replace: CREATE TABLE x AS EXECUTE p writes x as
			// well as whatever p touches.
			req.SQL.Reads = union(req.SQL.Reads, inner.Reads)
			req.SQL.Writes = union(req.SQL.Writes, inner.Writes)
			req.SQL.Tables = union(req.SQL.Tables, inner.Tables)
			req.SQL.Functions = union(req.SQL.Functions, inner.Functions)
			req.SQL.Kinds = union(req.SQL.Kinds, inner.Kinds)
		}
	}
	return req
}

// remember applies an allowed statement's effect on prepared statements.
func (s *session) remember(st *Statement) {
	switch {
	case st.Prepare != nil:
		s.prepared[st.Prepare.Name] = st.Prepare.Inner
	case st.Deallocate == "*":
		clear(s.prepared)
	case st.Deallocate != "":
		delete(s.prepared, st.Deallocate)
	}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// respQueue tracks the ParseComplete and BindComplete replies in flight,
// so that the replies to injected messages can be swallowed. Entries carry
// the number of sync points (Sync, Query, FunctionCall) sent before them:
// when the server reports an error it skips everything up to the next
// Sync, so the entries of that span will never be answered.
type respQueue struct {
	mu   sync.Mutex
	q    []pending
	sent uint64 // sync points sent
	recv uint64 // ReadyForQuery received
}

type pending struct {
	typ     byte
	swallow bool
	epoch   uint64
}

func (r *respQueue) push(typ byte, swallow bool) {
	r.mu.Lock()
	r.q = append(r.q, pending{typ, swallow, r.sent})
	r.mu.Unlock()
}

func (r *respQueue) syncPoint() {
	r.mu.Lock()
	r.sent++
	r.mu.Unlock()
}

// answer pops the entry a ParseComplete/BindComplete answers and reports
// whether to swallow it.
func (r *respQueue) answer(typ byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.q) > 0 {
		p := r.q[0]
		r.q = r.q[1:]
		if p.typ == typ {
			return p.swallow
		}
	}
	return false
}

func (r *respQueue) failed() {
	r.mu.Lock()
	for len(r.q) > 0 && r.q[0].epoch <= r.recv {
		r.q = r.q[1:]
	}
	r.mu.Unlock()
}

func (r *respQueue) ready() {
	r.mu.Lock()
	r.recv++
	for len(r.q) > 0 && r.q[0].epoch < r.recv {
		r.q = r.q[1:]
	}
	if len(r.q) == 0 {
		r.q = r.q[:0:0]
	}
	r.mu.Unlock()
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
