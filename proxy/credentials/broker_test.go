package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/internal/testutil"
	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/credentials"
)

// fixture is a broker with one fake source for postgres, on a fake clock.
type fixture struct {
	clock *fakeClock
	src   *fakeSource
	rec   *recorder
	logs  *syncBuffer
	b     *credentials.Broker
}

// syncBuffer collects a logger's output for a test to read.
type syncBuffer = testutil.SyncBuffer

// setup makes a fixture; deadline is relative to t0, zero for none.
func setup(t *testing.T, deadline, margin time.Duration, tweak func(*fakeSource)) *fixture {
	t.Helper()
	clock := newFakeClock()
	src := &fakeSource{clock: clock, canary: "canary-" + strings.ReplaceAll(t.Name(), "/", "-")}
	if tweak != nil {
		tweak(src)
	}
	f := &fixture{clock: clock, src: src, rec: &recorder{}, logs: &syncBuffer{}}
	opts := credentials.BrokerOptions{
		Recorder: f.rec,
		Log:      zerolog.New(f.logs),
		Now:      clock.Now,
		After:    clock.After,
		Jitter:   noJitter,
	}
	if deadline != 0 {
		opts.Deadline = t0.Add(deadline)
	}
	f.b = credentials.NewBroker(opts)
	f.b.Add("postgres", src, "fake", margin)
	t.Cleanup(func() { _ = f.b.Stop(context.Background()) })
	return f
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	if err := f.b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func (f *fixture) current(t *testing.T) *credentials.Credential {
	t.Helper()
	c, err := f.b.Current("postgres")
	if err != nil {
		t.Fatalf("Current at %s: %v", f.clock.Now().Sub(t0), err)
	}
	return c
}

func TestBrokerStart(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 5*time.Minute, nil)
	if _, err := f.b.Current("postgres"); err == nil {
		t.Error("Current before Start: no error")
	}
	f.start(t)

	wantExpiry := t0.Add(65 * time.Minute)
	want := audit.Record{Time: t0, Event: audit.EventCredential, Detail: "requested validity 1h5m0s",
		Credential: &audit.Credential{ID: "fake-1", Source: "fake", Upstream: "postgres", Status: audit.CredentialIssued, Expiry: wantExpiry}}
	got := f.rec.last()
	gotCred, wantCred := *got.Credential, *want.Credential
	got.Credential, want.Credential = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) || gotCred != wantCred {
		t.Errorf("record = %+v %+v, want %+v %+v", got, gotCred, want, wantCred)
	}
	c := f.current(t)
	if c.ID != "fake-1" || c.Source != "fake" || c.Upstream != "postgres" || !c.Expiry.Equal(wantExpiry) ||
		c.Password.Reveal() != f.src.canary+"-password-fake-1" {
		t.Errorf("Current = %+v", c)
	}
	wantList := []credentials.Info{{ID: "fake-1", Upstream: "postgres", Source: "fake", Expiry: wantExpiry}}
	if got := f.b.List(); !slices.Equal(got, wantList) {
		t.Errorf("List = %+v, want %+v", got, wantList)
	}
	if got := f.b.Secrets(); !slices.Equal(got, []string{c.Password.Reveal()}) {
		t.Errorf("Secrets = %q", got)
	}
	if _, err := f.b.Current("s3"); err == nil || !strings.Contains(err.Error(), "no credential source for s3") {
		t.Errorf("Current(s3) = %v; want no source", err)
	}
	if err := f.b.Start(context.Background()); err == nil {
		t.Error("second Start: no error")
	}
}

func TestBrokerValidity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		deadline, margin time.Duration // deadline from t0; 0: none
		want             time.Duration
	}{
		{"remaining lifetime plus margin", 2 * time.Hour, 5 * time.Minute, 2*time.Hour + 5*time.Minute},
		{"no margin", 30 * time.Minute, 0, 30 * time.Minute},
		{"no deadline", 0, 5 * time.Minute, credentials.NoDeadlineValidity + 5*time.Minute},
		{"deadline passed", -10 * time.Minute, 5 * time.Minute, 5 * time.Minute},
		{"deadline passed, no margin", -10 * time.Minute, 0, credentials.MinValidity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tt.deadline, tt.margin, nil)
			f.start(t)
			if got, _ := f.src.validities(); !slices.Equal(got, []time.Duration{tt.want}) {
				t.Errorf("validity asked = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBrokerRenewsAtTwoThirds(t *testing.T) {
	t.Parallel()
	// The source caps validity at 30m, as Vault's max_ttl would.
	f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.maxTTL = 30 * time.Minute })
	f.start(t)

	steps := []struct {
		at, next, expiry time.Duration // from t0
	}{
		{20 * time.Minute, 40 * time.Minute, 50 * time.Minute}, // asks 45m, gets 30m
		// Asks 25m: the deadline plus margin, so no later renewal is due.
		{40 * time.Minute, 56*time.Minute + 40*time.Second, 65 * time.Minute},
		// Lasting to the deadline plus margin already: no call, sleep to the expiry.
		{56*time.Minute + 40*time.Second, 65 * time.Minute, 65 * time.Minute},
	}
	for _, s := range steps {
		at, next := f.clock.Wake(t)
		if !at.Equal(t0.Add(s.at)) || !next.Equal(t0.Add(s.next)) {
			t.Fatalf("woke at %s, sleeps to %s; want %s, %s", at.Sub(t0), next.Sub(t0), s.at, s.next)
		}
		if got := f.current(t).Expiry; !got.Equal(t0.Add(s.expiry)) {
			t.Errorf("at %s expiry = %s, want %s", s.at, got.Sub(t0), s.expiry)
		}
	}
	if _, renewed := f.src.validities(); !slices.Equal(renewed, []time.Duration{45 * time.Minute, 25 * time.Minute}) {
		t.Errorf("renewal validities = %v, want [45m 25m]", renewed)
	}
	want := []string{"issued fake-1", "renewed fake-1", "renewed fake-1"}
	if got := f.rec.statuses(); !slices.Equal(got, want) {
		t.Errorf("records = %q, want %q", got, want)
	}
	if r := f.rec.last(); !r.Credential.Expiry.Equal(t0.Add(65 * time.Minute)) {
		t.Errorf("renewed record expiry = %s", r.Credential.Expiry)
	}
}

func TestBrokerRenewsWithoutDeadline(t *testing.T) {
	t.Parallel()
	// A source that grants more than asked (STS with a set duration): with
	// no deadline, the broker still renews it at two thirds.
	f := setup(t, 0, 5*time.Minute, func(s *fakeSource) { s.fixedTTL = 12 * time.Hour })
	f.start(t)
	at, next := f.clock.Wake(t)
	if !at.Equal(t0.Add(8*time.Hour)) || !next.Equal(t0.Add(16*time.Hour)) {
		t.Errorf("renewed at %s, next at %s; want 8h, 16h", at.Sub(t0), next.Sub(t0))
	}
	if got := f.rec.statuses(); !slices.Equal(got, []string{"issued fake-1", "renewed fake-1"}) {
		t.Errorf("records = %q", got)
	}
}

func TestBrokerJitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		jitter   func(time.Duration) time.Duration
		min, max time.Duration
	}{
		{"early", func(d time.Duration) time.Duration { return d * 9 / 10 }, 18 * time.Minute, 18 * time.Minute},
		{"late", func(d time.Duration) time.Duration { return d * 11 / 10 }, 22 * time.Minute, 22 * time.Minute},
		{"default", nil, 18 * time.Minute, 22 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			src := &fakeSource{clock: clock, maxTTL: 30 * time.Minute}
			b := credentials.NewBroker(credentials.BrokerOptions{Now: clock.Now, After: clock.After, Jitter: tt.jitter, Deadline: t0.Add(time.Hour)})
			b.Add("postgres", src, "fake", 0)
			t.Cleanup(func() { _ = b.Stop(context.Background()) })
			if err := b.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if at := clock.Sleeper(t).Sub(t0); at < tt.min || at > tt.max {
				t.Errorf("renewal due at %s, want within [%s, %s]", at, tt.min, tt.max)
			}
		})
	}
}

func TestBrokerRenewalBackoff(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) {
		s.maxTTL = 30 * time.Minute
		s.renewErrs = []error{errFake, errFake, errFake}
	})
	f.start(t)
	want := []time.Duration{ // wake-ups, from t0
		20 * time.Minute,               // fails
		20*time.Minute + time.Second,   // fails
		20*time.Minute + 3*time.Second, // fails
		20*time.Minute + 7*time.Second, // renews
	}
	for i, w := range want {
		at, _ := f.clock.Wake(t)
		if !at.Equal(t0.Add(w)) {
			t.Fatalf("attempt %d at %s, want %s", i+1, at.Sub(t0), w)
		}
		f.current(t) // still valid while retrying
	}
	wantRecords := []string{"issued fake-1", "failed fake-1", "renewed fake-1"} // one failed record per run of failures
	if got := f.rec.statuses(); !slices.Equal(got, wantRecords) {
		t.Errorf("records = %q, want %q", got, wantRecords)
	}
	f.rec.mu.Lock()
	failed := f.rec.records[1]
	f.rec.mu.Unlock()
	if failed.Detail != "renewal failed: renew: vault is unreachable" {
		t.Errorf("failed record detail = %q", failed.Detail)
	}
	if n := strings.Count(f.logs.String(), "credential renewal failed"); n != 3 {
		t.Errorf("%d renewal failures logged, want 3:\n%s", n, f.logs)
	}
}

func TestBrokerExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) {
		s.maxTTL = 30 * time.Minute
		s.renewErr = errFake
	})
	f.start(t)
	expiry := t0.Add(30 * time.Minute)

	// Backoff: 1s, 2s, 4s… at most a minute, and never past the expiry.
	at, _ := f.clock.Wake(t)
	if !at.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("first renewal at %s", at.Sub(t0))
	}
	prev := at
	f.src.set(func(s *fakeSource) { s.obtainErr = errors.New("vault is sealed") })
	for n := 1; prev.Before(expiry); n++ {
		f.current(t)
		at, _ = f.clock.Wake(t)
		want := prev.Add(min(time.Second<<min(n-1, 10), time.Minute))
		if want.After(expiry) {
			want = expiry
		}
		if !at.Equal(want) {
			t.Fatalf("attempt %d at %s, want %s", n+1, at.Sub(t0), want.Sub(t0))
		}
		prev = at
	}

	// Expired: Current fails closed, saying why.
	_, err := f.b.Current("postgres")
	var expErr *credentials.ExpiredError
	if !errors.As(err, &expErr) || !errors.Is(err, errFake) {
		t.Fatalf("Current after expiry = %v; want an ExpiredError wrapping the renewal failure", err)
	}
	wantMsg := "credential for postgres expired at 2030-01-02T03:30:00Z: renewal failed: renew: vault is unreachable\nobtain a replacement: vault is sealed"
	if err.Error() != wantMsg {
		t.Errorf("Current error = %q, want %q", err, wantMsg)
	}
	// Attempts go on, a minute apart, and the expiry is recorded once.
	for range 3 {
		at, _ := f.clock.Wake(t)
		if !at.Equal(prev.Add(time.Minute)) {
			t.Fatalf("attempt after expiry at %s, want %s", at.Sub(t0), prev.Add(time.Minute).Sub(t0))
		}
		prev = at
	}
	got := f.rec.statuses()
	if n := count(got, "expired fake-1"); n != 1 {
		t.Errorf("%d expired records, want 1: %q", n, got)
	}
	if n := count(got, "failed fake-1"); n != 1 {
		t.Errorf("%d failed records, want 1: %q", n, got)
	}

	// The source recovers: a fresh credential replaces the expired one.
	f.src.set(func(s *fakeSource) { s.obtainErr = nil })
	f.clock.Wake(t)
	if c := f.current(t); c.ID != "fake-2" {
		t.Errorf("Current after recovery = %s, want fake-2", c.ID)
	}
	if r := f.rec.last(); r.Credential.Status != audit.CredentialIssued || r.Credential.ID != "fake-2" || r.Detail != "replaces fake-1" {
		t.Errorf("record after recovery = %+v %+v", r, r.Credential)
	}
	if n := len(f.b.Secrets()); n != 2 {
		t.Errorf("Secrets has %d values, want the old and the new password", n)
	}
	if err := f.b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.src.revokedIDs(); !sameSet(got, []string{"fake-1", "fake-2"}) {
		t.Errorf("revoked %q, want fake-1 and fake-2", got)
	}
}

func TestBrokerNoRenewObtainsFresh(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.maxTTL = 30 * time.Minute; s.noRenew = true })
	f.start(t)
	at, next := f.clock.Wake(t)
	if !at.Equal(t0.Add(20*time.Minute)) || !next.Equal(t0.Add(40*time.Minute)) {
		t.Errorf("replaced at %s, next at %s", at.Sub(t0), next.Sub(t0))
	}
	wantList := []credentials.Info{{ID: "fake-2", Upstream: "postgres", Source: "fake", Expiry: t0.Add(50 * time.Minute)}}
	if got := f.b.List(); !slices.Equal(got, wantList) {
		t.Errorf("List = %+v, want %+v", got, wantList)
	}
	if n := len(f.b.Secrets()); n != 2 {
		t.Errorf("Secrets has %d values, want 2 (the replaced credential is valid until it expires)", n)
	}
	if err := f.b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"issued fake-1", "issued fake-2", "revoked fake-1", "revoked fake-2"}
	if got := f.rec.statuses(); !slices.Equal(got[:2], want[:2]) || !sameSet(got[2:], want[2:]) {
		t.Errorf("records = %q, want %q", got, want)
	}
}

func TestBrokerStop(t *testing.T) {
	t.Parallel()
	t.Run("revokes", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, nil)
		f.start(t)
		f.clock.Sleeper(t) // renewal is running
		if err := f.b.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := f.src.revokedIDs(); !slices.Equal(got, []string{"fake-1"}) {
			t.Errorf("revoked %q", got)
		}
		r := f.rec.last()
		if r.Credential.Status != audit.CredentialRevoked || r.Credential.ID != "fake-1" || r.Credential.Upstream != "postgres" {
			t.Errorf("record = %+v", r.Credential)
		}
		if _, err := f.b.Current("postgres"); err == nil {
			t.Error("Current after Stop: no error")
		}
		if got := f.b.List(); len(got) != 0 {
			t.Errorf("List after Stop = %+v", got)
		}
		n := len(f.rec.statuses())
		if err := f.b.Stop(context.Background()); err != nil || len(f.rec.statuses()) != n || len(f.src.revokedIDs()) != 1 {
			t.Errorf("second Stop = %v, and it revoked or recorded again", err)
		}
	})
	t.Run("revoke fails", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.revokeErr = errFake })
		f.start(t)
		err := f.b.Stop(context.Background())
		if !errors.Is(err, errFake) || !strings.Contains(err.Error(), "revoke postgres credential fake-1: vault is unreachable") {
			t.Errorf("Stop = %v", err)
		}
		r := f.rec.last()
		if r.Credential.Status != audit.CredentialRevokeFailed || r.Detail != "revoke postgres credential fake-1: vault is unreachable" {
			t.Errorf("record = %+v %+v", r, r.Credential)
		}
	})
	t.Run("revoke fails, then succeeds on a retry", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.revokeErrs = []error{errFake, errFake} })
		f.start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.b.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v", err)
		}
		if r := f.rec.last(); r.Credential.Status != audit.CredentialRevoked || f.src.revokeCalls != 3 {
			t.Errorf("record %+v after %d calls; want revoked after 3", r.Credential, f.src.revokeCalls)
		}
	})
	t.Run("revoke keeps failing until the deadline", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.revokeErr = errFake })
		f.start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		defer cancel()
		began := time.Now()
		err := f.b.Stop(ctx)
		if !errors.Is(err, credentials.ErrRevokeFailed) || !errors.Is(err, errFake) {
			t.Fatalf("Stop = %v; want ErrRevokeFailed and the cause", err)
		}
		if el := time.Since(began); el < 700*time.Millisecond || el > 3*time.Second {
			t.Errorf("Stop took %s; want it to retry until the 800ms deadline", el)
		}
		r := f.rec.last()
		if r.Credential.Status != audit.CredentialRevokeFailed || r.Credential.ID != "fake-1" || f.src.revokeCalls < 3 {
			t.Errorf("record %+v %q after %d calls", r.Credential, r.Detail, f.src.revokeCalls)
		}
	})
	t.Run("bounded by ctx", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, func(s *fakeSource) { s.blockRevoke = true })
		f.start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		began := time.Now()
		err := f.b.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 5*time.Second {
			t.Errorf("Stop = %v after %s", err, time.Since(began))
		}
		if r := f.rec.last(); r.Credential.Status != audit.CredentialRevokeFailed {
			t.Errorf("record = %+v", r.Credential)
		}
	})
	t.Run("before Start", func(t *testing.T) {
		t.Parallel()
		f := setup(t, time.Hour, 5*time.Minute, nil)
		if err := f.b.Stop(context.Background()); err != nil || len(f.rec.statuses()) != 0 {
			t.Errorf("Stop = %v, records %q", err, f.rec.statuses())
		}
		if err := f.b.Start(context.Background()); err == nil {
			t.Error("Start after Stop: no error")
		}
	})
}

func TestBrokerStartFailure(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 5*time.Minute, nil)
	s3 := &fakeSource{clock: f.clock, obtainErr: errFake}
	f.b.Add("s3", s3, "fake-s3", 0)
	err := f.b.Start(context.Background())
	if !errors.Is(err, errFake) || err.Error() != "obtain s3 credential (fake-s3): vault is unreachable" {
		t.Fatalf("Start = %v", err)
	}
	f.rec.mu.Lock()
	var failed *audit.Record
	for i, r := range f.rec.records {
		if r.Credential.Status == audit.CredentialFailed {
			failed = &f.rec.records[i]
		}
	}
	f.rec.mu.Unlock()
	if failed == nil || failed.Credential.Upstream != "s3" || failed.Credential.Source != "fake-s3" || failed.Detail != err.Error() {
		t.Errorf("failed record = %+v", failed)
	}
	if err := f.b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The credential that was obtained is revoked.
	if got := f.src.revokedIDs(); !slices.Equal(got, []string{"fake-1"}) {
		t.Errorf("revoked %q", got)
	}
	want := []string{"issued fake-1", "failed ", "revoked fake-1"}
	if got := f.rec.statuses(); !sameSet(got, want) {
		t.Errorf("records = %q, want %q", got, want)
	}
}

func TestBrokerStartNeedsItsRecord(t *testing.T) {
	t.Parallel()
	f := setup(t, time.Hour, 0, nil)
	f.rec.err = errors.New("disk full")
	if err := f.b.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Start with a failing audit log = %v; want an error", err)
	}
}

func TestBrokerStaticSource(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	logs := &syncBuffer{}
	b := credentials.NewBroker(credentials.BrokerOptions{Recorder: rec, Log: zerolog.New(logs), Now: clock.Now, After: clock.After, Deadline: t0.Add(time.Hour)})
	dir := t.TempDir()
	pwFile := dir + "/pw"
	writeFile(t, pwFile, "static-canary-pw\n")
	static, err := credentials.NewStaticPostgres("etl", pwFile, "")
	if err != nil {
		t.Fatal(err)
	}
	b.Add("postgres", static, credentials.SourceStatic, 5*time.Minute)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.AdvanceTo(t0.Add(100 * 365 * 24 * time.Hour))
	c, err := b.Current("postgres")
	if err != nil || c.User != "etl" || c.Password.Reveal() != "static-canary-pw" || !c.Expiry.IsZero() {
		t.Fatalf("Current = %+v, %v", c, err)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Errorf("Stop = %v", err)
	}
	// Issued, then released, never revoked: the login outlives Airlock,
	// and the record and the log say so.
	if got := rec.statuses(); !slices.Equal(got, []string{"issued etl", "released etl"}) {
		t.Errorf("records = %q", got)
	}
	if !strings.Contains(logs.String(), "cannot be revoked") {
		t.Errorf("log does not warn that the static login stays valid:\n%s", logs)
	}
}

// TestBrokerCanary runs a broker through every state, writing a real audit
// log and a diagnostic log, and looks for the secret values everywhere
// they must not be.
func TestBrokerCanary(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	const canary = "CANARY-7f3a9c"
	src := &fakeSource{clock: clock, canary: canary, maxTTL: 30 * time.Minute, renewErr: errFake}
	var auditBuf, logBuf syncBuffer
	alog := audit.New(&auditBuf, audit.Options{Task: "job-1", Now: clock.Now})
	b := credentials.NewBroker(credentials.BrokerOptions{
		Recorder: alog, Log: zerolog.New(&logBuf).Level(zerolog.DebugLevel),
		Now: clock.Now, After: clock.After, Deadline: t0.Add(time.Hour),
	})
	b.Add("postgres", src, "fake", 5*time.Minute)
	var errs []error
	errs = append(errs, b.Start(context.Background()))
	c, err := b.Current("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if held := strings.Join(b.Secrets(), " "); !strings.Contains(held, canary) {
		t.Fatalf("test is broken: the held secrets %q hold no canary", held)
	}
	seen := []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Password), fmt.Sprintf("%+v", b.List())}
	src.set(func(s *fakeSource) { s.obtainErr = errors.New("vault is sealed") })
	for {
		at := clock.Sleeper(t)
		clock.AdvanceTo(at)
		if _, err := b.Current("postgres"); err != nil {
			errs = append(errs, err)
			break
		}
	}
	clock.Sleeper(t)
	src.set(func(s *fakeSource) { s.revokeErr = errFake })
	errs = append(errs, b.Stop(context.Background()))
	if err := alog.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
		}
	}

	for name, text := range map[string]string{
		"audit log": auditBuf.String(), "diagnostic log": logBuf.String(), "errors, List, formatted credential": strings.Join(seen, "\n"),
	} {
		if strings.Contains(text, canary) {
			t.Errorf("%s holds a secret value:\n%s", name, text)
		}
	}
	for _, status := range []string{"issued", "failed", "expired", "revoke-failed"} {
		if !strings.Contains(auditBuf.String(), `"status":"`+status+`"`) {
			t.Errorf("audit log has no %s record:\n%s", status, auditBuf.String())
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
