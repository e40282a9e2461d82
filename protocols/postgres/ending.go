package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// How a session ends. Whichever side ends first, both sockets close at
// once; the client learns why with a FATAL ErrorResponse, as PostgreSQL
// itself would tell it: the server's own FATAL passed on, or Airlock's when
// the upstream vanished without one, when a pinned parameter changed, or
// when Airlock stops the session (shutdown, task deadline).

// errEnded is the error of a session Airlock ended on purpose; errStopped
// of one it stopped because its context was done.
var (
	errEnded   = errors.New("session ended by Airlock")
	errStopped = errors.New("session stopped")
)

// closeWait bounds the last write to a client that does not read.
const closeWait = time.Second

// boundaryError is an upstream read that failed between two frames: a
// FATAL written to the client then arrives whole.
type boundaryError struct{ err error }

func (e *boundaryError) Error() string { return "read from upstream: " + e.err.Error() }
func (e *boundaryError) Unwrap() error { return e.err }

// drainWait bounds how long the client socket stays half-open after the
// session ended, so that what Airlock wrote last reaches the client before
// the close (closing with unread input would reset the connection, and
// the client could lose the FATAL).
const drainWait = 250 * time.Millisecond

// closeBoth closes the upstream socket, half-closes the client's (reads
// end at the client's EOF or within drainWait; relay closes it after), and
// wakes whatever waits on the session.
func (s *session) closeBoth() {
	s.doneOnce.Do(func() { close(s.done) })
	_ = s.up.Close()
	_ = s.client.SetWriteDeadline(time.Now().Add(drainWait)) // a writer blocked on a client that reads no more
	if cw, ok := s.client.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = s.client.SetReadDeadline(time.Now().Add(drainWait))
		return
	}
	_ = s.client.Close()
}

// upstreamEnded runs when the upstream loop ends with err. When the
// upstream went away between frames and the client is still there, the
// client gets a FATAL: the reason Airlock stops the session (stop), or, if
// the server sent no FATAL of its own, one naming the cause.
func (s *session) upstreamEnded(err error) error {
	var be *boundaryError
	if !errors.As(err, &be) || s.clientGone.Load() {
		return err
	}
	msg := ""
	if p := s.stopMsg.Load(); p != nil {
		msg = *p
		err = errStopped
	} else if !s.sawFatal {
		cause := "the server closed the connection"
		if !errors.Is(be.err, io.EOF) {
			cause = be.err.Error()
		}
		msg = "airlock: the upstream session ended: " + cause
		s.h.cfg.Log.Warn().Err(be.err).Str("conn", s.conn.ID).Msg("upstream session ended")
	}
	if msg != "" {
		_ = s.client.SetWriteDeadline(time.Now().Add(closeWait))
		_ = s.sendClient(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01", Message: msg})
	}
	_ = s.cw.Flush()
	return err
}

// stop ends the session because ctx is done: a query in flight is
// cancelled upstream, and the client is told the cause (ctx's cause, or
// "Airlock is shutting down"). The upstream loop writes the FATAL when it
// sees the upstream socket close.
func (s *session) stop() {
	msg := "Airlock is shutting down"
	if c := context.Cause(s.ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		msg = c.Error()
	}
	s.stopWith("airlock: " + msg)
}

// refuse ends the session from the client side when nothing may run
// (Config.Refusing): the refusal is recorded as a guard rail where the
// sink allows, and the upstream loop, the client's one writer, tells the
// client why.
func (s *session) refuse(why string) error {
	s.guard(why, "execute")
	s.stopWith("airlock: " + why + "; the session ends")
	return fmt.Errorf("%w: %s", errEnded, why)
}

// stopWith cancels what runs upstream and closes the upstream socket;
// the upstream loop then sends the client FATAL 57P01 with msg.
func (s *session) stopWith(msg string) {
	s.stopMsg.Store(&msg)
	s.cancelInFlight()
	s.doneOnce.Do(func() { close(s.done) })
	_ = s.client.SetWriteDeadline(time.Now().Add(closeWait))
	_ = s.up.Close()
}

// cancelInFlight sends the upstream a CancelRequest when a reply is still
// owed (a query may be running): closing the socket alone would leave it
// running until it next writes.
func (s *session) cancelInFlight() {
	if !s.rep.busy() || s.upKey == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeWait/2)
	defer cancel()
	if err := sendCancel(ctx, *s.upKey); err != nil {
		s.h.cfg.Log.Warn().Err(err).Str("conn", s.conn.ID).Msg("cancel at session end")
	}
}

// endSession ends the session from the upstream loop (the client's only
// writer): it records the reason as a guard-rail denial, sends the client
// a FATAL, and returns errEnded, on which relay closes both sockets before
// anything more the client sent is forwarded.
func (s *session) endSession(reason string) error {
	_ = s.up.Close()                        // nothing more reaches the server
	s.doneOnce.Do(func() { close(s.done) }) // fromClient waits no more
	s.guard(reason, "set")
	_ = s.client.SetWriteDeadline(time.Now().Add(closeWait))
	_ = s.sendClient(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "42501",
		Message: "airlock: " + reason + "; the session ends"})
	_ = s.cw.Flush()
	s.clientGone.Store(true) // nothing more to tell it
	return fmt.Errorf("%w: %s", errEnded, reason)
}

// checkPinned ends the session when the server reports a pinned parameter
// with a value other than the one the session started with.
func (s *session) checkPinned(name, value string) error {
	lk := strings.ToLower(name)
	if _, pinned := s.h.pinned[lk]; !pinned {
		return nil
	}
	if old, ok := s.upParams[name]; ok && old != value {
		return s.endSession(fmt.Sprintf("pinned parameter %s changed from %q to %q", name, old, value))
	}
	return nil
}

// errorFields returns an ErrorResponse body's severity (unlocalised when
// given) and SQLSTATE.
func errorFields(b []byte) (severity, code string) {
	for len(b) > 1 {
		f := b[0]
		v, rest, ok := cstring(b[1:])
		if !ok {
			break
		}
		switch f {
		case 'V':
			severity = v
		case 'S':
			if severity == "" {
				severity = v
			}
		case 'C':
			code = v
		}
		b = rest
	}
	return severity, code
}
