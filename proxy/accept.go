package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Accept retry bounds: like net/http, wait 5 ms after a failed accept,
// doubling up to 1 s, so that a listener outlives descriptor exhaustion
// (EMFILE, ENFILE), a full backlog of aborted connections (ECONNABORTED)
// or memory pressure, while not spinning.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	acceptLogEvery   = 10 * time.Second // at most one warning per listener per interval
)

// retryListener retries failed accepts with backoff, never returning an
// error other than the listener's own closing: one exhausted resource
// must not stop a server that is serving other connections.
type retryListener struct {
	net.Listener
	name    string
	log     zerolog.Logger
	metrics *Metrics
	sleep   func(time.Duration) // nil: time.Sleep
	lastLog atomic.Int64        // unix nanos of the last warning
}

func newRetryListener(ln net.Listener, name string, log zerolog.Logger, m *Metrics) *retryListener {
	return &retryListener{Listener: ln, name: name, log: log, metrics: m}
}

func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	suppressed := 0
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if l.metrics != nil {
			l.metrics.AcceptErrors.WithLabelValues(l.name).Inc()
		}
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		now := time.Now().UnixNano()
		if last := l.lastLog.Load(); now-last >= int64(acceptLogEvery) && l.lastLog.CompareAndSwap(last, now) {
			l.log.Warn().Err(err).Str("protocol", l.name).Dur("retry_in", delay).Int("suppressed", suppressed).
				Msg("accept failed; retrying (connections already open are served)")
			suppressed = 0
		} else {
			suppressed++
		}
		sleep := l.sleep
		if sleep == nil {
			sleep = time.Sleep
		}
		sleep(delay)
	}
}
