package postgres

import (
	"sync"
)

// Reply tracking: every client message the server answers gets an entry,
// in order, naming the reply that will answer it and the change to the
// session model that reply confirms. The server answers in order, so the
// entry at the head is always the one being answered: its change is
// applied when the server confirms it, dropped when the server refuses it
// or skips it after an error (to the next Sync in the extended protocol, to
// the end of the Query in the simple one). Entries for Airlock's own
// messages (the statement raising a denial, the check of the pinned
// parameters) are hidden: their replies never reach the client.

type replyKind uint8

const (
	rParse     replyKind = iota + 1 // ParseComplete
	rBind                           // BindComplete
	rClose                          // CloseComplete
	rDescribe                       // RowDescription or NoData
	rExecute                        // CommandComplete, EmptyQueryResponse or PortalSuspended
	rStatement                      // one statement of a simple Query: CommandComplete or EmptyQueryResponse
	rSync                           // ReadyForQuery after Sync
	rQueryEnd                       // ReadyForQuery ending a Query
)

func (k replyKind) extended() bool { return k <= rExecute }
func (k replyKind) syncs() bool    { return k == rSync || k == rQueryEnd }

// accepts reports whether a reply of message type typ answers an entry of
// kind k.
func (k replyKind) accepts(typ byte) bool {
	switch typ {
	case '1':
		return k == rParse
	case '2':
		return k == rBind
	case '3':
		return k == rClose
	case 'T', 'n':
		return k == rDescribe
	case 'C', 'I':
		return k == rExecute || k == rStatement
	case 's':
		return k == rExecute
	}
	return false
}

// owed is one reply the server owes.
type owed struct {
	kind   replyKind
	hidden bool // Airlock's own message: its replies are swallowed
	verify bool // Airlock's check of the pinned parameters
	// resolve: Airlock's read of the server's prepared statements, to
	// settle what an ambiguous error left (see failed)
	resolve bool
	span    uint64
	copies  uint64      // CopyDone/CopyFail messages the client had sent before it
	close   byte        // rClose: 'S' statement or 'P' portal
	name    string      // statement (Parse, Close) or portal (Bind, Execute, Close)
	stmt    string      // Bind: the statement
	info    *stmtInfo   // Parse: the statement
	fx      []sqlEffect // a Query's statement: its effects
	done    chan struct{}
}

// effectful reports whether confirming o can change prepared statements
// or portals.
func (o *owed) effectful() bool {
	switch o.kind {
	case rParse, rBind, rClose, rExecute:
		return true
	case rStatement:
		return len(o.fx) > 0
	}
	return false
}

// replies is the queue of owed replies and the session model they update.
// fromClient pushes, fromUpstream answers.
type replies struct {
	mu       sync.Mutex
	q        []owed
	base     []owed // q's array, from its start
	span     uint64 // spans pushed: a span ends with each Sync or Query
	copies   uint64 // CopyDone and CopyFail messages seen from the client
	skipping bool   // the server skips to the next Sync (an error with none queued)
	m        *model
	changed  chan struct{} // closed and replaced when entries leave the queue
	waiting  bool          // and someone waits on it
	// uncertain are effects the server may or may not have applied; seen
	// collects the prepared statements the server lists meanwhile.
	uncertain     []sqlEffect
	heldUncertain map[string]portalInfo // cursors WITH HOLD a failed commit may have kept
	resolving     bool
	seen          map[string]bool
}

func newReplies() *replies {
	return &replies{m: newModel(), changed: make(chan struct{})}
}

// push queues an entry in the current span; a sync entry ends the span.
func (r *replies) push(o owed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o.span, o.copies = r.span, r.copies
	if o.kind.syncs() {
		r.span++
	}
	if r.skipping && o.kind != rSync {
		r.release(&o) // the server ignores it
		return
	}
	r.skipping = false
	if len(r.q) == 0 {
		r.q = r.base[:0] // reuse the array: most sessions owe a few replies at a time
	}
	r.q = append(r.q, o)
	if cap(r.q) > cap(r.base) {
		r.base = r.q[:0]
	}
}

// copyEnd notes the client's CopyDone or CopyFail.
func (r *replies) copyEnd() {
	r.mu.Lock()
	r.copies++
	r.mu.Unlock()
}

// copyIn handles CopyInResponse: when an Execute started COPY FROM STDIN,
// the server ignores every Sync the client sent before ending the copy
// (libpq sends one after Execute and another after CopyDone).
func (r *replies) copyIn() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.q) == 0 || r.q[0].kind != rExecute {
		return
	}
	at := r.q[0].copies
	kept := r.q[:1]
	for _, o := range r.q[1:] {
		if o.kind == rSync && o.copies == at {
			continue
		}
		kept = append(kept, o)
	}
	r.q = kept
}

// currentSpan is the span the next pushed entry joins.
func (r *replies) currentSpan() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.span
}

func (r *replies) release(o *owed) {
	if o.done != nil {
		close(o.done)
		o.done = nil
	}
}

// pop removes the head entry (the caller holds mu).
func (r *replies) pop() owed {
	o := r.q[0]
	r.q[0] = owed{}
	r.q = r.q[1:]
	if len(r.q) == 0 {
		r.q = r.base[:0]
	}
	r.release(&o)
	if r.waiting {
		close(r.changed)
		r.changed, r.waiting = make(chan struct{}), false
	}
	return o
}

// head reports whether the reply now arriving answers a hidden entry and
// whether that entry is the pinned-parameter check; for replies that do
// not end an entry (DataRow, RowDescription of a Query, ErrorResponse is
// handled by failed).
func (r *replies) head() (hidden, verify, resolve bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.q) == 0 {
		return false, false, false
	}
	return r.q[0].hidden, r.q[0].verify, r.q[0].resolve
}

// answer handles a reply of type typ ('1', '2', '3', 'T', 'n', 'C', 'I',
// 's'; tag is CommandComplete's) and reports whether to swallow it.
func (r *replies) answer(typ byte, tag string) (hidden bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.q) > 0 && typ == 'T' && !r.q[0].kind.accepts('T') {
		return r.q[0].hidden // a Query's or Execute's rows
	}
	for len(r.q) > 0 && !r.q[0].kind.syncs() {
		if !r.q[0].kind.accepts(typ) {
			if typ == 'T' || typ == 'n' {
				return r.q[0].hidden
			}
			r.pop() // out of step: never confirmed, never applied
			continue
		}
		o := r.pop()
		r.confirm(&o, typ, tag)
		return o.hidden
	}
	return false
}

// confirm applies the change a reply confirms.
func (r *replies) confirm(o *owed, typ byte, tag string) {
	m := r.m
	switch o.kind {
	case rParse:
		if o.info != nil {
			m.stmts[o.name] = *o.info
		} else {
			m.stmts[o.name] = stmtInfo{}
		}
	case rBind:
		m.bind(o.name, o.stmt)
	case rClose:
		if o.close == 'S' {
			delete(m.stmts, o.name)
		} else {
			delete(m.portals, o.name)
		}
	case rExecute:
		if typ == 'C' {
			m.complete(m.portals[o.name].fx, tag)
		}
	case rStatement:
		if typ == 'C' {
			m.complete(o.fx, tag)
		}
		if o.resolve {
			r.settle()
		}
	}
}

// namesStatements reports whether fx change prepared statements.
func namesStatements(fx []sqlEffect) bool {
	for _, e := range fx {
		switch e.op {
		case opPrepare, opDeallocate, opDeallocateAll, opDiscardAll:
			return true
		}
	}
	return false
}

// needsResolve reports whether the model holds uncertain effects that no
// read of the server's prepared statements is settling yet, and marks one
// as under way.
func (r *replies) needsResolve() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if (len(r.uncertain) == 0 && len(r.heldUncertain) == 0) || r.resolving {
		return false
	}
	r.resolving, r.seen = true, map[string]bool{}
	return true
}

// resolveRow notes a prepared statement ("s" + name) or cursor ("c" +
// name) the server lists.
func (r *replies) resolveRow(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen != nil {
		r.seen[name] = true
	}
}

// settle applies the uncertain effects as the server's list shows them
// (the caller holds mu).
func (r *replies) settle() {
	m := r.m
	for _, e := range r.uncertain {
		switch e.op {
		case opPrepare:
			if _, ok := m.stmts[e.name]; !ok && r.seen["s"+e.name] {
				m.stmts[e.name] = stmtInfo{sql: e.sql, opaque: e.opaque}
			}
		case opDeallocate, opDeallocateAll, opDiscardAll:
			for k := range m.stmts {
				if k != "" && !r.seen["s"+k] && (e.op != opDeallocate || k == e.name) {
					delete(m.stmts, k)
				}
			}
		}
	}
	for k, p := range r.heldUncertain {
		if _, taken := m.portals[k]; !taken && r.seen["c"+k] {
			m.portals[k] = p
		}
	}
	r.uncertain, r.heldUncertain, r.resolving, r.seen = nil, nil, false, nil
}

// failed handles an ErrorResponse: the entry it answers is refused, and
// what the server will now skip is dropped. It reports whether the error
// answers a hidden entry, and whether that is the pinned-parameter check.
func (r *replies) failed() (hidden, verify bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m.failed = true
	if len(r.q) == 0 {
		return false, false
	}
	if r.q[0].kind.syncs() { // e.g. the commit at Sync failed
		return r.q[0].hidden, false
	}
	o := r.pop()
	if o.resolve { // give up: the model stays as the server's replies left it
		r.uncertain, r.heldUncertain, r.resolving, r.seen = nil, nil, false, nil
	}
	if o.kind == rStatement && len(r.q) > 0 && r.q[0].kind == rQueryEnd && namesStatements(o.fx) {
		// The last statement of a Query reports its CommandComplete only
		// after the implicit transaction commits: this error may be the
		// commit's, after the statement's own (non-transactional) effect.
		r.uncertain = append(r.uncertain, o.fx...)
	}
	if o.kind.extended() {
		for len(r.q) > 0 && r.q[0].kind != rSync {
			r.pop()
		}
		r.skipping = len(r.q) == 0
	} else {
		for len(r.q) > 0 && !r.q[0].kind.syncs() {
			r.pop()
		}
	}
	return o.hidden, o.verify
}

// ready handles ReadyForQuery with transaction status status and reports
// whether to swallow it.
func (r *replies) ready(status byte) (hidden bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipping = false
	for len(r.q) > 0 {
		o := r.pop()
		if o.kind == rQueryEnd {
			r.m.simpleQuery()
		}
		if o.kind.syncs() {
			hidden = o.hidden
			break
		}
	}
	for k, p := range r.m.ready(status) {
		if r.heldUncertain == nil {
			r.heldUncertain = map[string]portalInfo{}
		}
		r.heldUncertain[k] = p
	}
	return hidden
}

// busy reports whether the server owes any reply (a query may be running).
func (r *replies) busy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.q) > 0
}

// settled returns nil when no entry of a span before span that could
// change the model is still owed; otherwise a channel closed at the next
// change of the queue.
func (r *replies) settled(span uint64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.q {
		if r.q[i].span >= span {
			break
		}
		if r.q[i].effectful() {
			r.waiting = true
			return r.changed
		}
	}
	return nil
}

// speculate returns the model as it will be if every owed entry succeeds:
// what a statement sent now will find, as far as entries of its own span
// go (an error among them means it never runs).
func (r *replies) speculate() *model {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m.clone()
	for i := range r.q {
		o := &r.q[i]
		switch o.kind {
		case rParse, rBind, rClose:
			saved := r.m
			r.m = m
			r.confirm(o, 'C', "")
			r.m = saved
		case rExecute:
			m.complete(m.portals[o.name].fx, "")
		case rStatement:
			m.complete(o.fx, "")
		}
	}
	return m
}

// snapshot returns a copy of the confirmed model (for tests).
func (r *replies) snapshot() *model {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.clone()
}

// stmtOpaque reports whether the prepared statement name, as the owed
// Parses and the model have it, can run opaque code.
func (r *replies) stmtOpaque(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.q) - 1; i >= 0; i-- {
		if r.q[i].kind == rParse && r.q[i].name == name && !r.q[i].hidden {
			return r.q[i].info != nil && r.q[i].info.opaque
		}
	}
	return r.m.stmts[name].opaque
}
