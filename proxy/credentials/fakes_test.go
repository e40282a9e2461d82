package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/credentials"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// t0 is the fake clock's start.
var t0 = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

// fakeClock is a manual clock: After registers a waiter that Advance fires.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// AdvanceTo moves the clock to t and fires the waiters due by then.
func (c *fakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// Sleeper waits until a goroutine sleeps on the clock and returns when it
// wants to wake.
func (c *fakeClock) Sleeper(t *testing.T) time.Time {
	t.Helper()
	limit := time.Now().Add(10 * time.Second)
	for time.Now().Before(limit) {
		c.mu.Lock()
		if len(c.waiters) > 0 {
			at := c.waiters[0].at
			for _, w := range c.waiters[1:] {
				if w.at.Before(at) {
					at = w.at
				}
			}
			c.mu.Unlock()
			return at
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatal("nothing sleeps on the fake clock")
	return time.Time{}
}

// Wake advances to the sleeper's time, waits for it to sleep again, and
// returns the time it woke it at and the time it sleeps until next.
func (c *fakeClock) Wake(t *testing.T) (at, next time.Time) {
	t.Helper()
	at = c.Sleeper(t)
	c.AdvanceTo(at)
	return at, c.Sleeper(t)
}

// fakeSource hands out numbered credentials whose password is canary+id.
type fakeSource struct {
	clock  *fakeClock
	canary string

	mu          sync.Mutex
	maxTTL      time.Duration // caps validity, as Vault's max_ttl does; 0: none
	fixedTTL    time.Duration // grants this whatever is asked, as STS with a set duration; 0: none
	n           int
	noRenew     bool
	obtainErr   error   // every Obtain fails with it
	renewErrs   []error // the next Renew calls fail with these, in order
	renewErr    error   // then every Renew fails with it
	revokeErr   error
	revokeErrs  []error // the next Revoke calls fail with these, in order (before revokeErr)
	revokeCalls int
	blockRevoke bool // Revoke waits for its ctx to end
	obtained    []time.Duration
	renewed     []time.Duration
	revoked     []string
}

func (s *fakeSource) Obtain(_ context.Context, validity time.Duration) (*credentials.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obtained = append(s.obtained, validity)
	if s.obtainErr != nil {
		return nil, s.obtainErr
	}
	s.n++
	id := fmt.Sprintf("fake-%d", s.n)
	return &credentials.Credential{
		ID:       id,
		Expiry:   s.clock.Now().Add(s.capped(validity)),
		User:     id,
		Password: secret.New(s.canary + "-password-" + id),
	}, nil
}

func (s *fakeSource) Renew(_ context.Context, c *credentials.Credential, validity time.Duration) (*credentials.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renewed = append(s.renewed, validity)
	if s.noRenew {
		return nil, credentials.ErrNoRenew
	}
	if len(s.renewErrs) > 0 {
		err := s.renewErrs[0]
		s.renewErrs = s.renewErrs[1:]
		return nil, err
	}
	if s.renewErr != nil {
		return nil, s.renewErr
	}
	nc := *c
	nc.Expiry = s.clock.Now().Add(s.capped(validity))
	return &nc, nil
}

func (s *fakeSource) capped(validity time.Duration) time.Duration {
	if s.fixedTTL > 0 {
		return s.fixedTTL
	}
	if s.maxTTL > 0 {
		return min(validity, s.maxTTL)
	}
	return validity
}

func (s *fakeSource) Revoke(ctx context.Context, c *credentials.Credential) error {
	s.mu.Lock()
	s.revokeCalls++
	block, err := s.blockRevoke, s.revokeErr
	if len(s.revokeErrs) > 0 {
		err, s.revokeErrs = s.revokeErrs[0], s.revokeErrs[1:]
	}
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return fmt.Errorf("revoke stalled: %w", ctx.Err())
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.revoked = append(s.revoked, c.ID)
	s.mu.Unlock()
	return nil
}

// set changes the source under its lock.
func (s *fakeSource) set(f func(s *fakeSource)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *fakeSource) validities() (obtained, renewed []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.obtained), slices.Clone(s.renewed)
}

func (s *fakeSource) revokedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revoked)
}

// recorder keeps the records written to it.
type recorder struct {
	mu      sync.Mutex
	records []audit.Record
	err     error // Write fails with it
}

func (r *recorder) Write(rec *audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	cp := *rec
	if rec.Credential != nil {
		c := *rec.Credential
		cp.Credential = &c
	}
	r.records = append(r.records, cp)
	return nil
}

// statuses lists "status id" for each record.
func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		out = append(out, rec.Credential.Status+" "+rec.Credential.ID)
	}
	return out
}

func (r *recorder) last() audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records[len(r.records)-1]
}

var errFake = errors.New("vault is unreachable")

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noJitter keeps renewal delays exact.
func noJitter(d time.Duration) time.Duration { return d }
