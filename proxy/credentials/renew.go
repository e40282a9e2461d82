package credentials

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

// renewLoop keeps e's credential, c to begin with, renewed until ctx ends:
// at two thirds of its lifetime, then after 1s, 2s, 4s… (at most a
// minute, and not past the expiry) while attempts fail. With a deadline,
// a credential that already lasts to the deadline plus margin is left
// alone. When one outlives its renewal the loop records the expiry, once,
// and goes on trying, with a fresh credential when renewal fails.
func (b *Broker) renewLoop(ctx context.Context, e *entry, c *Credential) {
	defer b.renewal.Done()
	next := b.renewAt(c, b.now())
	failures := 0
	expiryNoted := false
	for {
		wake := next
		if !expiryNoted && c.Expiry.Before(wake) {
			wake = c.Expiry
		}
		if !b.sleepUntil(ctx, wake) {
			return
		}
		now := b.now()
		expired := !now.Before(c.Expiry)
		if expired && !expiryNoted {
			expiryNoted = true
			b.noteExpired(e, c)
		}
		if now.Before(next) {
			continue // woke for the expiry only
		}

		validity := b.validity(e.margin)
		if !b.deadline.IsZero() && !expired && !c.Expiry.Before(now.Add(validity-coverSlack)) {
			// It lasts past the deadline plus margin already: renewing
			// would gain nothing. Airlock exits before it expires.
			next = c.Expiry
			continue
		}
		nc, err := b.renew(ctx, e, c, validity, expired)
		if err != nil {
			if ctx.Err() != nil {
				return // Stop
			}
			failures++
			next = now.Add(backoff(failures))
			if !expired && next.After(c.Expiry) {
				next = c.Expiry
			}
			b.noteFailure(e, c, err, failures, next)
			continue
		}
		replaced := nc.ID != c.ID
		if !b.hold(e, nc) {
			// Stop has begun and may have collected what it revokes already.
			if replaced {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.attemptTimeout)
				_ = b.revoke(rctx, e, nc) // logged and recorded
				cancel()
			}
			return
		}
		b.noteRenewed(e, c, nc, replaced)
		if nc.Expiry.IsZero() {
			return // a replacement that does not expire
		}
		c, failures, expiryNoted = nc, 0, false
		next = b.renewAt(c, now)
	}
}

// renew extends c, or replaces it when the source cannot renew or, once c
// has expired, when renewal fails.
func (b *Broker) renew(ctx context.Context, e *entry, c *Credential, validity time.Duration, expired bool) (*Credential, error) {
	ctx, cancel := context.WithTimeout(ctx, b.attemptTimeout)
	defer cancel()
	nc, err := e.src.Renew(ctx, c, validity)
	if err == nil && nc == nil {
		err = errors.New("source returned no credential")
	}
	if err == nil {
		return stamp(e, nc), nil
	}
	renewErr := fmt.Errorf("renew: %w", err)
	if !errors.Is(err, ErrNoRenew) && !expired {
		return nil, renewErr
	}
	nc, err = e.src.Obtain(ctx, validity)
	if err == nil && nc == nil {
		err = errors.New("source returned no credential")
	}
	if err != nil {
		obtainErr := fmt.Errorf("obtain a replacement: %w", err)
		if errors.Is(renewErr, ErrNoRenew) {
			return nil, obtainErr
		}
		return nil, errors.Join(renewErr, obtainErr)
	}
	return stamp(e, nc), nil
}

// sleepUntil waits for t on the broker's clock; false when ctx ended first.
func (b *Broker) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(b.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-b.after(d):
		return true
	}
}

// renewAt is when to renew c, obtained or renewed at from: two thirds of
// its remaining lifetime later, jittered, and at least a second.
func (b *Broker) renewAt(c *Credential, from time.Time) time.Time {
	d := b.jitter(c.Expiry.Sub(from) * 2 / 3)
	return from.Add(max(d, minRenewDelay))
}

// backoff is the wait after the n-th failure in a row: 1s, 2s, 4s… 1m.
func backoff(n int) time.Duration {
	if n > 7 {
		return maxBackoff
	}
	return min(minBackoff<<(n-1), maxBackoff)
}

func (b *Broker) noteRenewed(e *entry, old, c *Credential, replaced bool) {
	log := b.log.Info().Str("upstream", e.upstream).Str("source", e.source).Str("credential_id", c.ID).Time("expiry", c.Expiry)
	if replaced {
		// A new credential: issued, so that each id has its own history.
		log.Str("replaces", old.ID).Msg("credential replaced")
		_ = b.record(e, c, audit.CredentialIssued, "replaces "+old.ID) // logged
		return
	}
	log.Msg("credential renewed")
	_ = b.record(e, c, audit.CredentialRenewed, "")
}

// noteFailure keeps err for Current, logs every failure and records the
// first of a run.
func (b *Broker) noteFailure(e *entry, c *Credential, err error, failures int, next time.Time) {
	b.mu.Lock()
	if e.cred == c {
		e.lastErr = err
	}
	b.mu.Unlock()
	b.log.Warn().Err(err).Str("upstream", e.upstream).Str("source", e.source).Str("credential_id", c.ID).
		Time("expiry", c.Expiry).Int("attempt", failures).Time("retry_at", next).Msg("credential renewal failed")
	if failures == 1 {
		_ = b.record(e, c, audit.CredentialFailed, "renewal failed: "+err.Error()) // logged
	}
}

func (b *Broker) noteExpired(e *entry, c *Credential) {
	b.mu.Lock()
	lastErr := e.lastErr
	b.mu.Unlock()
	detail := "not renewed before expiry"
	if lastErr != nil {
		detail += ": " + lastErr.Error()
	}
	b.log.Error().AnErr("renewal_error", lastErr).Str("upstream", e.upstream).Str("source", e.source).
		Str("credential_id", c.ID).Time("expiry", c.Expiry).Msg("credential expired; requests needing it fail until it is renewed")
	_ = b.record(e, c, audit.CredentialExpired, detail) // logged
}
