package credentials

import (
	"context"
	"errors"
	"time"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// ErrNoRenew is returned by [Source.Renew] when the source cannot extend a
// credential; the broker then obtains a fresh one instead.
var ErrNoRenew = errors.New("credential source cannot renew")

// A Source obtains, renews and revokes one upstream's credential. Its
// errors must not carry secret values.
type Source interface {
	// Obtain gets a new credential valid for about validity (the source
	// may cap it).
	Obtain(ctx context.Context, validity time.Duration) (*Credential, error)
	// Renew extends c, or replaces it, for about validity. A source that
	// cannot renew returns ErrNoRenew.
	Renew(ctx context.Context, c *Credential, validity time.Duration) (*Credential, error)
	// Revoke ends c. Revoking a credential that is already gone succeeds.
	Revoke(ctx context.Context, c *Credential) error
}

// Upstream names.
const (
	UpstreamPostgres = "postgres"
	UpstreamS3       = "s3"
)

// Credential is one upstream credential. Only ID, Source, Upstream and
// Expiry may be shown; the rest is for the dialer or signer. A Credential
// handed out by a [Broker] is shared and must not be modified.
type Credential struct {
	// ID is a non-secret name for it: role name, lease id, access key id.
	ID string
	// Source is the source's name: static, ephemeral-role…
	Source string
	// Upstream is postgres or s3.
	Upstream string
	// Expiry is when it stops working; zero when it does not expire.
	Expiry time.Time

	// User and Password are a PostgreSQL login.
	User     string
	Password secret.Secret

	// AccessKeyID, SecretAccessKey and SessionToken are AWS credentials.
	AccessKeyID     string
	SecretAccessKey secret.Secret
	SessionToken    secret.Secret
}

// secrets lists c's non-empty secret values.
func (c *Credential) secrets() []string {
	var out []string
	for _, s := range []secret.Secret{c.Password, c.SecretAccessKey, c.SessionToken} {
		if !s.IsZero() {
			out = append(out, s.Reveal())
		}
	}
	return out
}

// Info describes a held credential without its secrets.
type Info struct {
	ID       string
	Upstream string
	Source   string
	Expiry   time.Time // zero when it does not expire
}
