package credentials

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// Validity and renewal bounds.
const (
	// NoDeadlineValidity stands for the task's remaining lifetime when
	// BrokerOptions.Deadline is zero.
	NoDeadlineValidity = time.Hour
	// MinValidity is the least validity the broker asks a source for, even
	// past the deadline with no margin.
	MinValidity = time.Minute
	// DefaultAttemptTimeout bounds one renewal attempt when
	// BrokerOptions.AttemptTimeout is zero.
	DefaultAttemptTimeout = 30 * time.Second

	minBackoff = time.Second
	maxBackoff = time.Minute
	// A failed revocation is tried again after revokeMinBackoff, doubling
	// up to revokeMaxBackoff, while Stop's ctx lasts.
	revokeMinBackoff = 100 * time.Millisecond
	revokeMaxBackoff = 2 * time.Second
	minRenewDelay    = time.Second
	coverSlack       = time.Second // sources may round an expiry down
	jitterFraction   = 0.1
)

// ErrRevokeFailed marks (wrapped) the error of [Broker.Stop] when a
// credential could not be revoked: it may still work upstream until it
// expires. Its revoke-failed record names it.
var ErrRevokeFailed = errors.New("credential not revoked")

// ErrNoRevoke is returned by [Source.Revoke] when the source cannot end a
// credential (a static login): it stays valid after Airlock exits. The
// broker logs a warning and writes no revoked record for it.
var ErrNoRevoke = errors.New("credential source cannot revoke")

// Recorder takes audit records; *audit.Log is one.
type Recorder interface {
	Write(*audit.Record) error
}

// BrokerOptions are a Broker's dependencies. The zero value is usable: no
// audit records, no log, the real clock and ±10% jitter.
type BrokerOptions struct {
	// Recorder receives a credential record for each change of state;
	// nil writes none.
	Recorder Recorder
	// Log is the diagnostic log.
	Log zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits for a duration on Now's clock; nil means time.After.
	After func(time.Duration) <-chan time.Time
	// Jitter spreads a renewal delay; nil means a uniform ±10%.
	Jitter func(time.Duration) time.Duration
	// Deadline is the task's deadline. A credential is asked for the
	// remaining lifetime plus its margin; zero means NoDeadlineValidity.
	Deadline time.Time
	// AttemptTimeout bounds one renewal attempt; zero means
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration
}

// Broker holds one credential per upstream: it obtains them at Start,
// renews each at two thirds of its lifetime (retrying with backoff on
// failure), fails closed when one expires unrenewed, and revokes them all
// at Stop. Each change of state is written as a credential audit record.
// It is safe for concurrent use.
type Broker struct {
	rec            Recorder
	log            zerolog.Logger
	now            func() time.Time
	after          func(time.Duration) <-chan time.Time
	jitter         func(time.Duration) time.Duration
	deadline       time.Time
	attemptTimeout time.Duration

	mu      sync.Mutex
	entries []*entry // in Add order
	started bool
	stopped bool
	cancel  context.CancelFunc // ends renewal
	renewal sync.WaitGroup     // the renewal goroutines
}

// entry is one upstream's source and credential.
type entry struct {
	upstream string
	source   string
	src      Source
	margin   time.Duration

	// Guarded by Broker.mu.
	cred    *Credential   // current; nil before Start and after Stop
	retired []*Credential // replaced at renewal, still valid until they expire; revoked at Stop
	lastErr error         // the last renewal failure, cleared by a success
}

// NewBroker returns a broker without sources; Add them before Start.
func NewBroker(opts BrokerOptions) *Broker {
	b := &Broker{
		rec:            opts.Recorder,
		log:            opts.Log,
		now:            opts.Now,
		after:          opts.After,
		jitter:         opts.Jitter,
		deadline:       opts.Deadline,
		attemptTimeout: opts.AttemptTimeout,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.after == nil {
		b.after = time.After
	}
	if b.jitter == nil {
		b.jitter = uniformJitter
	}
	if b.attemptTimeout <= 0 {
		b.attemptTimeout = DefaultAttemptTimeout
	}
	return b
}

// uniformJitter returns d moved by up to ±10%.
func uniformJitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - jitterFraction + 2*jitterFraction*rand.Float64()))
}

// Add gives upstream its source. sourceName goes into records and List;
// margin is added to the task's remaining lifetime when asking for
// validity. Add panics when called after Start or twice for one upstream:
// both are wiring mistakes.
func (b *Broker) Add(upstream string, src Source, sourceName string, margin time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		panic("credentials: Broker.Add after Start")
	}
	for _, e := range b.entries {
		if e.upstream == upstream {
			panic("credentials: a second source for upstream " + upstream)
		}
	}
	b.entries = append(b.entries, &entry{upstream: upstream, source: sourceName, src: src, margin: margin})
}

// Start obtains every credential, in parallel, records each as issued (or
// failed), and starts renewing those that expire. An error means Airlock
// must not become ready; call Stop in any case, to revoke what was
// obtained. ctx bounds the obtaining only; renewal runs until Stop.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.started || b.stopped {
		b.mu.Unlock()
		return errors.New("credential broker: already started or stopped")
	}
	b.started = true
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	entries := b.entries
	b.mu.Unlock()

	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() { errs[i] = b.obtain(ctx, e) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return errors.New("credential broker: stopped while starting")
	}
	for _, e := range entries {
		if !e.cred.Expiry.IsZero() {
			b.renewal.Add(1)
			go b.renewLoop(runCtx, e, e.cred)
		}
	}
	return nil
}

// obtain gets e's first credential and records it.
func (b *Broker) obtain(ctx context.Context, e *entry) error {
	validity := b.validity(e.margin)
	c, err := e.src.Obtain(ctx, validity)
	if err == nil && c == nil {
		err = errors.New("source returned no credential")
	}
	if err != nil {
		err = fmt.Errorf("obtain %s credential (%s): %w", e.upstream, e.source, err)
		b.log.Error().Err(err).Str("upstream", e.upstream).Str("source", e.source).Msg("credential not obtained")
		return errors.Join(err, b.record(e, nil, audit.CredentialFailed, err.Error()))
	}
	c = stamp(e, c)
	if !b.hold(e, c) {
		// Stop ran meanwhile and will not see c: end it here.
		return errors.Join(errors.New("credential broker: stopped while starting"), b.revoke(ctx, e, c))
	}
	b.log.Info().Str("upstream", e.upstream).Str("source", e.source).Str("credential_id", c.ID).
		Time("expiry", c.Expiry).Dur("validity_requested", validity).Msg("credential issued")
	if err := b.record(e, c, audit.CredentialIssued, "requested validity "+validity.String()); err != nil {
		return fmt.Errorf("record issued %s credential: %w", e.upstream, err)
	}
	return nil
}

// ExpiredError is returned by Current for a credential past its expiry.
type ExpiredError struct {
	Upstream string
	Expiry   time.Time
	Err      error // the last renewal failure; nil if none was tried
}

func (e *ExpiredError) Error() string {
	msg := "credential for " + e.Upstream + " expired at " + e.Expiry.UTC().Format(time.RFC3339)
	if e.Err == nil {
		return msg + ": not renewed"
	}
	return msg + ": renewal failed: " + e.Err.Error()
}

func (e *ExpiredError) Unwrap() error { return e.Err }

// Current returns upstream's credential. It fails closed, with an
// *ExpiredError, once the credential has expired without renewal, and
// with another error before Start, after Stop, or for an unknown upstream.
// The credential must not be modified.
func (b *Broker) Current(upstream string) (*Credential, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(upstream)
	switch {
	case e == nil:
		return nil, fmt.Errorf("no credential source for %s", upstream)
	case b.stopped:
		return nil, fmt.Errorf("credential for %s: revoked at shutdown", upstream)
	case e.cred == nil:
		return nil, fmt.Errorf("credential for %s not obtained", upstream)
	}
	c := e.cred
	if !c.Expiry.IsZero() && !b.now().Before(c.Expiry) {
		return nil, &ExpiredError{Upstream: upstream, Expiry: c.Expiry, Err: e.lastErr}
	}
	return c, nil
}

// List describes the current credentials, in the order of Add, without
// their secrets.
func (b *Broker) List() []Info {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Info
	for _, e := range b.entries {
		if c := e.cred; c != nil {
			out = append(out, Info{ID: c.ID, Upstream: c.Upstream, Source: c.Source, Expiry: c.Expiry})
		}
	}
	return out
}

// Secrets returns every secret value held, replaced ones included, for
// keeping them out of a child's environment.
func (b *Broker) Secrets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.entries {
		for _, c := range e.retired {
			out = append(out, c.secrets()...)
		}
		if e.cred != nil {
			out = append(out, e.cred.secrets()...)
		}
	}
	return out
}

// Stop ends renewal and revokes every credential held, replaced ones
// included, in parallel, recording each as revoked or revoke-failed. A
// revocation that fails is tried again with backoff until ctx's deadline
// (once only when ctx has none); ctx bounds the whole of it. The error
// wraps ErrRevokeFailed when a credential stayed unrevoked. Later calls do
// nothing and return nil.
func (b *Broker) Stop(ctx context.Context) error {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil
	}
	b.stopped = true
	cancel := b.cancel
	b.mu.Unlock()

	var errs []error
	if cancel != nil {
		cancel()
	}
	done := make(chan struct{})
	go func() { b.renewal.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("wait for renewal to stop: %w", ctx.Err()))
	}

	type held struct {
		e *entry
		c *Credential
	}
	var all []held
	b.mu.Lock()
	for _, e := range b.entries {
		for _, c := range e.retired {
			all = append(all, held{e, c})
		}
		if e.cred != nil {
			all = append(all, held{e, e.cred})
		}
		e.cred, e.retired = nil, nil
	}
	b.mu.Unlock()

	revokeErrs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, h := range all {
		wg.Go(func() { revokeErrs[i] = b.revoke(ctx, h.e, h.c) })
	}
	wg.Wait()
	return errors.Join(append(errs, revokeErrs...)...)
}

// revoke ends c, trying again with backoff while ctx has a deadline that
// has not passed, and records the outcome.
func (b *Broker) revoke(ctx context.Context, e *entry, c *Credential) error {
	log := b.log.With().Str("upstream", e.upstream).Str("source", e.source).Str("credential_id", c.ID).Logger()
	_, retry := ctx.Deadline()
	delay := revokeMinBackoff
	attempts := 0
	var err error
	for {
		attempts++
		err = e.src.Revoke(ctx, c)
		if err == nil || errors.Is(err, ErrNoRevoke) || !retry || ctx.Err() != nil {
			break
		}
		log.Warn().Err(err).Int("attempt", attempts).Dur("retry_in", delay).Msg("credential not revoked; trying again")
		t := time.NewTimer(delay) // real time: shutdown is bounded in real time
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		if ctx.Err() != nil {
			break
		}
		delay = min(2*delay, revokeMaxBackoff)
	}
	switch {
	case errors.Is(err, ErrNoRevoke):
		until := "it does not expire"
		if !c.Expiry.IsZero() {
			until = "it stays valid until " + c.Expiry.UTC().Format(time.RFC3339)
		}
		log.Warn().Msg("credential cannot be revoked: " + until)
		return b.record(e, c, audit.CredentialReleased, "the source cannot revoke it; "+until)
	case err != nil:
		err = fmt.Errorf("revoke %s credential %s: %w", e.upstream, c.ID, err)
		detail := err.Error()
		if attempts > 1 {
			detail = fmt.Sprintf("%s (%d attempts)", detail, attempts)
		}
		log.Error().Err(err).Int("attempts", attempts).Msg("credential not revoked")
		return errors.Join(fmt.Errorf("%w: %w", ErrRevokeFailed, err), b.record(e, c, audit.CredentialRevokeFailed, detail))
	}
	if attempts > 1 {
		log.Info().Int("attempts", attempts).Msg("credential revoked")
	} else {
		log.Info().Msg("credential revoked")
	}
	return b.record(e, c, audit.CredentialRevoked, "")
}

// hold makes c e's current credential, keeping a replaced one for Stop to
// revoke. It reports false, holding nothing, once Stop has begun.
func (b *Broker) hold(e *entry, c *Credential) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	if old := e.cred; old != nil && old.ID != c.ID {
		e.retired = append(e.retired, old)
	}
	e.cred, e.lastErr = c, nil
	return true
}

func (b *Broker) entry(upstream string) *entry {
	for _, e := range b.entries {
		if e.upstream == upstream {
			return e
		}
	}
	return nil
}

// validity is the task's remaining lifetime plus margin, at least MinValidity.
func (b *Broker) validity(margin time.Duration) time.Duration {
	rest := NoDeadlineValidity
	if !b.deadline.IsZero() {
		rest = max(b.deadline.Sub(b.now()), 0)
	}
	return max(rest+margin, MinValidity)
}

// record writes a credential record; c may be nil for a failure to obtain.
func (b *Broker) record(e *entry, c *Credential, status, detail string) error {
	if b.rec == nil {
		return nil
	}
	ac := &audit.Credential{Source: e.source, Upstream: e.upstream, Status: status}
	if c != nil {
		ac.ID, ac.Expiry = c.ID, c.Expiry
	}
	r := &audit.Record{Time: b.now(), Event: audit.EventCredential, Credential: ac, Detail: detail}
	if err := b.rec.Write(r); err != nil {
		b.log.Error().Err(err).Str("upstream", e.upstream).Str("status", status).Msg("credential audit record not written")
		return fmt.Errorf("write %s record: %w", status, err)
	}
	return nil
}

// stamp copies c with e's source and upstream names.
func stamp(e *entry, c *Credential) *Credential {
	cc := *c
	cc.Source, cc.Upstream = e.source, e.upstream
	return &cc
}
