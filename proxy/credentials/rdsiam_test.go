package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/credentials"
)

const (
	rdsEndpoint = "etl.c1abcdefgh2k.eu-west-1.rds.amazonaws.com:5432"
	rdsRegion   = "eu-west-1"
	rdsUser     = "etl_iam"
	rdsKeyID    = "AKIAIOSFODNN7EXAMPLE"
	// rdsSecret is recognisable, and holds the characters URL encoding changes.
	rdsSecret = "CANARY/rds+secretKEY/wJalrXUtnFEMIK7MDENGbPxRfiCY"
)

func newRDSIAM(t *testing.T, opts credentials.RDSIAMOptions) *credentials.RDSIAM {
	t.Helper()
	if opts.Endpoint == "" {
		opts.Endpoint = rdsEndpoint
	}
	if opts.Region == "" {
		opts.Region = rdsRegion
	}
	if opts.User == "" {
		opts.User = rdsUser
	}
	r, err := credentials.NewRDSIAM(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewRDSIAM: %v", err)
	}
	return r
}

// rdsLogin calls Login and parses the token as the URL it is.
func rdsLogin(t *testing.T, r *credentials.RDSIAM) (token string, u *url.URL) {
	t.Helper()
	user, pw, err := r.Login(context.Background())
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if user != rdsUser {
		t.Errorf("user = %q", user)
	}
	token = pw.Reveal()
	u, err = url.Parse("https://" + token)
	if err != nil {
		t.Fatalf("token %q is not a URL: %v", token, err)
	}
	return token, u
}

// TestRDSIAMToken checks the token's form, and its signature by signing
// the same request again with the SDK's SigV4 signer at the time the
// token names: BuildAuthToken signs at time.Now and takes no clock, so the
// time is read from X-Amz-Date (SigV4 keeps whole seconds only).
func TestRDSIAMToken(t *testing.T) {
	t.Parallel()
	for _, session := range []string{"", "FwoGZXIvYXdzEBYaDCANARY-session"} {
		t.Run(fmt.Sprintf("session=%v", session != ""), func(t *testing.T) {
			t.Parallel()
			provider := awscreds.NewStaticCredentialsProvider(rdsKeyID, rdsSecret, session)
			r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: provider})
			token, u := rdsLogin(t, r)

			if !strings.HasPrefix(token, rdsEndpoint+"?Action=connect&DBUser="+rdsUser+"&X-Amz-Algorithm=AWS4-HMAC-SHA256&") {
				t.Errorf("token = %s", token)
			}
			if u.Host != rdsEndpoint || u.Path != "" {
				t.Errorf("token host %q, path %q", u.Host, u.Path)
			}
			q := u.Query()
			date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
			if err != nil || time.Since(date) > time.Minute || time.Until(date) > time.Second {
				t.Fatalf("X-Amz-Date = %q (%v); want about now", q.Get("X-Amz-Date"), err)
			}
			want := map[string]string{
				"Action":               "connect",
				"DBUser":               rdsUser,
				"X-Amz-Algorithm":      "AWS4-HMAC-SHA256",
				"X-Amz-Credential":     rdsKeyID + "/" + date.Format("20060102") + "/" + rdsRegion + "/rds-db/aws4_request",
				"X-Amz-Expires":        "900",
				"X-Amz-SignedHeaders":  "host",
				"X-Amz-Security-Token": session,
			}
			for k, v := range want {
				if got := q.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if sig := q.Get("X-Amz-Signature"); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sig) {
				t.Errorf("X-Amz-Signature = %q", sig)
			}

			// The same request, signed independently at the token's time.
			req, err := http.NewRequest(http.MethodGet, "https://"+rdsEndpoint+"?"+
				url.Values{"Action": {"connect"}, "DBUser": {rdsUser}, "X-Amz-Expires": {"900"}}.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			creds := aws.Credentials{AccessKeyID: rdsKeyID, SecretAccessKey: rdsSecret, SessionToken: session}
			const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "rds-db", rdsRegion, date)
			if err != nil {
				t.Fatal(err)
			}
			wantURL, _ := url.Parse(signed)
			if got, want := q.Get("X-Amz-Signature"), wantURL.Query().Get("X-Amz-Signature"); got != want {
				t.Errorf("signature %s, want %s", got, want)
			}
			if want := strings.TrimPrefix(signed, "https://"); token != want {
				t.Errorf("token\n%s\nwant\n%s", token, want)
			}

			if strings.Contains(token, rdsSecret) || strings.Contains(token, url.QueryEscape(rdsSecret)) ||
				strings.Contains(token, "CANARY/rds") {
				t.Error("the token holds the secret access key")
			}
			if session != "" && !slices.Contains(r.Secrets(), session) || !slices.Contains(r.Secrets(), rdsSecret) {
				t.Errorf("Secrets has %d values; want the secret key and session token", len(r.Secrets()))
			}
		})
	}
}

func TestRDSIAMFreshTokens(t *testing.T) {
	t.Parallel()
	r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: awscreds.NewStaticCredentialsProvider(rdsKeyID, rdsSecret, "")})
	tok1, u1 := rdsLogin(t, r)
	// Signatures have whole seconds: wait for the next one.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	tok2, u2 := rdsLogin(t, r)
	if tok1 == tok2 || u1.Query().Get("X-Amz-Date") == u2.Query().Get("X-Amz-Date") ||
		u1.Query().Get("X-Amz-Signature") == u2.Query().Get("X-Amz-Signature") {
		t.Errorf("two logins a second apart gave the same token date or signature:\n%s\n%s", tok1, tok2)
	}
}

func TestNewRDSIAMOptions(t *testing.T) {
	t.Parallel()
	static := awscreds.NewStaticCredentialsProvider(rdsKeyID, rdsSecret, "")
	tests := []struct {
		name string
		opts credentials.RDSIAMOptions
		want string
	}{
		{"no endpoint", credentials.RDSIAMOptions{User: "u", Region: rdsRegion}, "rds-iam: endpoint is required"},
		{"no port", credentials.RDSIAMOptions{Endpoint: "db.example", User: "u", Region: rdsRegion}, `rds-iam: endpoint "db.example" is not host:port`},
		{"no host", credentials.RDSIAMOptions{Endpoint: ":5432", User: "u", Region: rdsRegion}, `rds-iam: endpoint ":5432" is not host:port`},
		{"bad port", credentials.RDSIAMOptions{Endpoint: "db.example:pg", User: "u", Region: rdsRegion}, `port "pg" is not a number from 1 to 65535`},
		{"no user", credentials.RDSIAMOptions{Endpoint: rdsEndpoint, Region: rdsRegion}, "rds-iam: user is required"},
		{"no region", credentials.RDSIAMOptions{Endpoint: rdsEndpoint, User: "u"}, "rds-iam: region is required"},
		{"availability zone", credentials.RDSIAMOptions{Endpoint: rdsEndpoint, User: "u", Region: "eu-west-1a"},
			`rds-iam: region "eu-west-1a" is not an AWS region name such as eu-west-1`},
		{"not a region", credentials.RDSIAMOptions{Endpoint: rdsEndpoint, User: "u", Region: "EU_WEST"}, "is not an AWS region name"},
		{"IPv6", credentials.RDSIAMOptions{Endpoint: "[2001:db8::1]:5432", User: "u", Region: "us-gov-west-1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Credentials = static
			_, err := credentials.NewRDSIAM(context.Background(), tt.opts)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("NewRDSIAM = %v; want %q", err, tt.want)
			}
		})
	}
}

// rdsProvider hands out numbered expiring credentials, or fails.
type rdsProvider struct {
	mu    sync.Mutex
	n     int
	ttl   time.Duration
	err   error
	noKey bool
}

func (p *rdsProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	p.n++
	c := aws.Credentials{AccessKeyID: fmt.Sprintf("ASIA%016d", p.n), SecretAccessKey: rdsSecret, SessionToken: "session-CANARY",
		CanExpire: true, Expires: time.Now().Add(p.ttl + time.Duration(p.n)*time.Minute).Round(time.Second)}
	if p.noKey {
		c.AccessKeyID = ""
	}
	return c, nil
}

func (p *rdsProvider) set(f func(p *rdsProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *rdsProvider) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func TestRDSIAMSource(t *testing.T) {
	t.Parallel()
	t.Run("long-term keys", func(t *testing.T) {
		t.Parallel()
		r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: awscreds.NewStaticCredentialsProvider(rdsKeyID, rdsSecret, "")})
		c, err := r.Obtain(context.Background(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := credentials.Credential{ID: rdsUser + "@" + rdsEndpoint, Source: "rds-iam", Upstream: "postgres", User: rdsUser}
		if c.ID != want.ID || c.Source != want.Source || c.Upstream != want.Upstream || c.User != want.User ||
			!c.Expiry.IsZero() || !c.Password.IsZero() {
			t.Errorf("Obtain = %+v; want %+v, no expiry, no password", c, want)
		}
		if err := r.Revoke(context.Background(), c); !errors.Is(err, credentials.ErrNoRevoke) {
			t.Errorf("Revoke = %v; want ErrNoRevoke", err)
		}
	})
	t.Run("expiring credentials", func(t *testing.T) {
		t.Parallel()
		p := &rdsProvider{ttl: time.Hour}
		r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: p})
		c, err := r.Obtain(context.Background(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.Expiry.IsZero() || time.Until(c.Expiry) < 50*time.Minute {
			t.Fatalf("expiry = %s; want the credentials' own", c.Expiry)
		}
		// The cache still holds them: Renew makes it fetch new ones.
		nc, err := r.Renew(context.Background(), c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !nc.Expiry.After(c.Expiry) || nc.ID != c.ID || p.calls() != 2 {
			t.Errorf("Renew = %+v after %d retrievals; want a later expiry from the second", nc, p.calls())
		}

		// The provider fails: Renew says so, Login signs with the last
		// credentials while they last.
		p.set(func(p *rdsProvider) { p.err = errors.New("sts: service unavailable") })
		if _, err := r.Renew(context.Background(), nc, time.Hour); err == nil || !strings.Contains(err.Error(), "retrieve AWS credentials") {
			t.Errorf("Renew with a failing provider = %v", err)
		}
		_, u := rdsLogin(t, r)
		if !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), "ASIA0000000000000002/") {
			t.Errorf("Login signed with %s; want the last credentials", u.Query().Get("X-Amz-Credential"))
		}
	})
}

func TestRDSIAMBadCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    *rdsProvider
		want string
	}{
		{"provider fails", &rdsProvider{err: errors.New("no EC2 IMDS role found")}, "retrieve AWS credentials: "},
		{"no key", &rdsProvider{ttl: time.Hour, noKey: true}, "retrieve AWS credentials: no access key"},
		{"expired", &rdsProvider{ttl: -2 * time.Hour}, "retrieve AWS credentials: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: tt.p, Log: zerolog.New(logs)})
			var errs []error
			_, err := r.Obtain(context.Background(), time.Hour)
			errs = append(errs, err)
			_, _, err = r.Login(context.Background())
			errs = append(errs, err)
			for _, err := range errs {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v; want %q", err, tt.want)
				} else if strings.Contains(fmt.Sprintf("%v %+v", err, err), "CANARY") || strings.Contains(logs.String(), "CANARY") {
					t.Errorf("a secret leaked: %v\n%s", err, logs)
				}
			}
		})
	}
}

// The broker holds the credential for bookkeeping; Stop leaves it, with a
// warning, there being nothing to revoke.
func TestRDSIAMBroker(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec, logs := &recorder{}, &syncBuffer{}
	b := credentials.NewBroker(credentials.BrokerOptions{Recorder: rec, Log: zerolog.New(logs), Now: clock.Now, After: clock.After})
	r := newRDSIAM(t, credentials.RDSIAMOptions{Credentials: awscreds.NewStaticCredentialsProvider(rdsKeyID, rdsSecret, "")})
	b.Add(credentials.UpstreamPostgres, r, credentials.SourceRDSIAM, 5*time.Minute)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.statuses(); !slices.Equal(got, []string{"issued " + rdsUser + "@" + rdsEndpoint, "released " + rdsUser + "@" + rdsEndpoint}) {
		t.Errorf("records = %q", got)
	}
	if !strings.Contains(logs.String(), "cannot be revoked") || strings.Contains(logs.String(), "CANARY") {
		t.Errorf("log:\n%s", logs)
	}
}

// Each new upstream connection logs in with a fresh token: the dialer
// calls Login, and the token is the password.
func ExampleRDSIAM_Login() {
	r, err := credentials.NewRDSIAM(context.Background(), credentials.RDSIAMOptions{
		Endpoint:    "etl.c1abcdefgh2k.eu-west-1.rds.amazonaws.com:5432",
		User:        "etl_iam",
		Region:      "eu-west-1",
		Credentials: awscreds.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	if err != nil {
		panic(err)
	}
	user, password, err := r.Login(context.Background())
	if err != nil {
		panic(err)
	}
	token := password.Reveal()
	fmt.Println(user, password)
	fmt.Println(token[:strings.Index(token, "%2F")])
	// Output:
	// etl_iam [REDACTED]
	// etl.c1abcdefgh2k.eu-west-1.rds.amazonaws.com:5432?Action=connect&DBUser=etl_iam&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE
}
