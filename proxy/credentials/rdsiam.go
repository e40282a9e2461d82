package credentials

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// SourceRDSIAM names the RDS IAM authentication source.
const SourceRDSIAM = "rds-iam"

// rdsRegionRE matches AWS region names: eu-west-1, us-gov-east-1…
var rdsRegionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// RDSIAMOptions configures an RDSIAM source.
type RDSIAMOptions struct {
	// Endpoint is the database's host:port as RDS names it (the instance,
	// cluster or RDS Proxy endpoint, not an IP address or an alias): the
	// token is signed for it.
	Endpoint string
	// User is the database user, one granted rds_iam.
	User string
	// Region is the database's AWS region.
	Region string
	// Credentials signs the tokens; it is wrapped in an
	// aws.CredentialsCache unless it is one. Nil means the SDK's default
	// chain (environment, web identity, shared files, ECS, EC2 instance
	// role) through config.LoadDefaultConfig.
	Credentials aws.CredentialsProvider
	// Now is the clock; nil means time.Now. Tokens carry the system time
	// whatever it says: the SDK signs with time.Now.
	Now func() time.Time
	// Log is the diagnostic log.
	Log zerolog.Logger
}

// RDSIAM logs in to an RDS or Aurora PostgreSQL database with IAM
// authentication: the password is a SigV4-signed token, built from the
// AWS credentials, that the database checks only at login and that is
// good for 15 minutes. The proxy's dialer must therefore call Login for
// each new upstream connection, not reuse the credential the broker
// holds, which carries no password. RDS takes IAM logins over TLS only:
// the upstream's sslmode must be require or stricter.
//
// As a Source it stands for the AWS credentials behind the tokens: Obtain
// checks that a token can be built, so that bad AWS credentials stop
// Airlock before it is ready; the credential expires with the AWS
// credentials (never, for long-term keys) and Renew fetches fresh ones.
// There is nothing to revoke: tokens expire on their own.
type RDSIAM struct {
	endpoint, user, region string
	id                     string // user@endpoint
	creds                  aws.CredentialsProvider
	now                    func() time.Time
	log                    zerolog.Logger

	mu   sync.Mutex
	last aws.Credentials // the last retrieved
}

var _ Source = (*RDSIAM)(nil)

// NewRDSIAM checks opts and, without Credentials, loads the SDK's default
// configuration; it retrieves no credentials.
func NewRDSIAM(ctx context.Context, opts RDSIAMOptions) (*RDSIAM, error) {
	host, port, err := net.SplitHostPort(opts.Endpoint)
	switch {
	case opts.Endpoint == "":
		return nil, errors.New("rds-iam: endpoint is required")
	case err != nil || host == "":
		return nil, fmt.Errorf("rds-iam: endpoint %q is not host:port", opts.Endpoint)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("rds-iam: endpoint %q: port %q is not a number from 1 to 65535", opts.Endpoint, port)
	}
	if opts.User == "" {
		return nil, errors.New("rds-iam: user is required")
	}
	switch {
	case opts.Region == "":
		return nil, errors.New("rds-iam: region is required")
	case !rdsRegionRE.MatchString(opts.Region):
		return nil, fmt.Errorf("rds-iam: region %q is not an AWS region name such as eu-west-1", opts.Region)
	}
	r := &RDSIAM{endpoint: opts.Endpoint, user: opts.User, region: opts.Region, id: opts.User + "@" + opts.Endpoint,
		creds: opts.Credentials, now: opts.Now, log: opts.Log}
	if r.now == nil {
		r.now = time.Now
	}
	switch r.creds.(type) {
	case nil:
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(opts.Region))
		if err != nil {
			return nil, fmt.Errorf("rds-iam: load AWS configuration: %w", err)
		}
		if r.creds = cfg.Credentials; r.creds == nil {
			return nil, errors.New("rds-iam: the AWS default chain has no credentials provider")
		}
	case *aws.CredentialsCache:
	default:
		r.creds = aws.NewCredentialsCache(r.creds)
	}
	return r, nil
}

// Login builds a fresh token for one upstream login: the user, and the
// token as the password. Should the AWS credentials fail to refresh, it
// signs with the last ones while they last.
func (r *RDSIAM) Login(ctx context.Context) (user string, password secret.Secret, err error) {
	creds, err := r.retrieve(ctx, true)
	if err != nil {
		return "", secret.Secret{}, err
	}
	token, err := auth.BuildAuthToken(ctx, r.endpoint, r.region, r.user,
		aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	if err != nil {
		return "", secret.Secret{}, wrapRedacted("build RDS auth token", err, creds.SecretAccessKey, creds.SessionToken)
	}
	return r.user, secret.New(token), nil
}

// Obtain checks that a token can be built and returns the credential
// standing for the AWS credentials; it carries no password.
func (r *RDSIAM) Obtain(ctx context.Context, _ time.Duration) (*Credential, error) {
	if _, _, err := r.Login(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	creds := r.last
	r.mu.Unlock()
	return r.credential(creds), nil
}

// Renew retrieves the AWS credentials again. When the cache hands back
// ones that end no later than c, it is invalidated and asked once more,
// so that the credential is extended before, not after, it ends.
func (r *RDSIAM) Renew(ctx context.Context, c *Credential, _ time.Duration) (*Credential, error) {
	creds, err := r.retrieve(ctx, false)
	if err != nil {
		return nil, err
	}
	if cache, ok := r.creds.(*aws.CredentialsCache); ok && creds.CanExpire && !creds.Expires.After(c.Expiry) {
		cache.Invalidate()
		if creds, err = r.retrieve(ctx, false); err != nil {
			return nil, err
		}
	}
	r.log.Debug().Str("access_key_id", creds.AccessKeyID).Time("expiry", creds.Expires).Msg("AWS credentials for RDS IAM retrieved")
	return r.credential(creds), nil
}

// Revoke returns ErrNoRevoke: a token cannot be withdrawn and expires on
// its own, 15 minutes after it was built; connections opened with one stay
// open.
func (r *RDSIAM) Revoke(context.Context, *Credential) error { return ErrNoRevoke }

// Secrets lists the secret parts of the last AWS credentials retrieved,
// for keeping them out of the child's environment.
func (r *RDSIAM) Secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range []string{r.last.SecretAccessKey, r.last.SessionToken} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *RDSIAM) credential(creds aws.Credentials) *Credential {
	c := &Credential{ID: r.id, Source: SourceRDSIAM, Upstream: UpstreamPostgres, User: r.user}
	if creds.CanExpire {
		c.Expiry = creds.Expires
	}
	return c
}

// retrieve gets the AWS credentials. With fallback, a failure is covered
// by the last credentials while they are valid.
func (r *RDSIAM) retrieve(ctx context.Context, fallback bool) (aws.Credentials, error) {
	creds, err := r.creds.Retrieve(ctx)
	switch {
	case err == nil && !creds.HasKeys():
		err = errors.New("no access key")
	case err == nil && creds.CanExpire && !r.now().Before(creds.Expires):
		err = fmt.Errorf("expired at %s", creds.Expires.UTC().Format(time.RFC3339))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.last = creds
		return creds, nil
	}
	last := r.last
	err = wrapRedacted("retrieve AWS credentials", err, last.SecretAccessKey, last.SessionToken, creds.SecretAccessKey, creds.SessionToken)
	if fallback && last.HasKeys() && (!last.CanExpire || r.now().Before(last.Expires)) {
		r.log.Warn().Err(err).Time("expiry", last.Expires).Msg("signing RDS IAM tokens with the previous AWS credentials")
		return last, nil
	}
	return aws.Credentials{}, err
}

// wrapRedacted wraps err after what, unless its text holds one of values:
// then it is flattened to text with them redacted.
func wrapRedacted(what string, err error, values ...string) error {
	msg := err.Error()
	if redacted := redactValues(msg, values...); redacted != msg {
		return errors.New(what + ": " + redacted)
	}
	return fmt.Errorf("%s: %w", what, err)
}
