package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// S3 credential source names; SourceStatic is shared with PostgreSQL.
const (
	SourceDefault     = "default"
	SourceAssumeRole  = "assume-role"
	SourceWebIdentity = "web-identity"
)

// STS limits.
const (
	// MinSessionDuration is the shortest session STS grants; it is also
	// the default AWSOptions.Duration.
	MinSessionDuration = 15 * time.Minute
	// MaxSessionDuration is the longest session STS grants (the role's
	// own maximum, 1h unless raised, may be lower: STS then refuses).
	MaxSessionDuration = 12 * time.Hour
	// MaxSessionPolicy is the longest session policy STS takes, in
	// characters of its plain text.
	MaxSessionPolicy = 2048

	awsDefaultRegion = "us-east-1"
	opDefaultChain   = "default chain"
)

// AWSOptions configure an AWSSource. Each kind takes only its own fields.
type AWSOptions struct {
	// Kind is SourceDefault, SourceAssumeRole or SourceWebIdentity.
	Kind string
	// RoleARN is the role to assume (assume-role, web-identity).
	RoleARN string
	// Duration is the longest session asked of STS (assume-role,
	// web-identity): default and minimum 15m, at most 12h. Each session
	// is asked for the broker's validity, but never longer than Duration
	// nor shorter than 15m, so a session that outlives the task (STS
	// sessions cannot be ended early) does so by at most Duration.
	Duration time.Duration
	// STSEndpoint overrides the STS endpoint URL (assume-role,
	// web-identity); empty means the region's.
	STSEndpoint string
	// Region is the region STS calls are signed for; empty means the
	// default chain's, else us-east-1.
	Region string
	// SessionPolicy is a JSON IAM policy the session is held to, on top
	// of the role's own (assume-role, web-identity; optional).
	SessionPolicy string
	// SourceIdentity is passed to AssumeRole (assume-role; optional).
	SourceIdentity string
	// SessionName names each session, usually the task id; characters
	// STS does not take become '-', and it is cut to 64.
	SessionName string
	// TokenFile holds the web identity token, read at every call
	// (web-identity), so a rotated token is picked up.
	TokenFile string
	// Base is the identity that calls AssumeRole (assume-role); nil means
	// the SDK's default chain. A *StaticS3 is one.
	Base aws.CredentialsProvider
	// HTTPClient makes the calls; nil means the SDK's default.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log is the diagnostic log.
	Log zerolog.Logger
}

// AWSSource is a Source of S3 credentials from AWS: the SDK's default
// chain, an STS AssumeRole session, or an STS AssumeRoleWithWebIdentity
// session.
//
// The broker drives renewal: Obtain always fetches afresh (bypassing
// the SDK's credential cache) and Renew returns ErrNoRenew, because an
// STS session cannot be extended, so at two thirds of a session's life
// the broker obtains a new one and retires the old. Revoke returns
// ErrNoRevoke for a session that has not expired yet: STS cannot end a
// session early, so it stays valid until its expiry, and a session policy
// (see policy.ScopeDownPolicy) bounds what a leaked one can do.
//
// Errors name the STS operation, its error code and message, and carry
// no secret value: not the keys, the session token, the web identity
// token, nor the base identity's keys.
type AWSSource struct {
	opts        AWSOptions
	sessionName string
	chain       aws.CredentialsProvider // default: the SDK's chain
	sts         *sts.Client             // assume-role, web-identity

	mu   sync.Mutex
	held []string // secret values seen, for Secrets and scrubbing
}

var _ Source = (*AWSSource)(nil)

var stsNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// NewAWSSource checks opts and builds the source. It reads the default
// chain's configuration (default; assume-role without Base) and checks
// that TokenFile is readable (web-identity), but calls no service.
func NewAWSSource(ctx context.Context, opts AWSOptions) (*AWSSource, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &AWSSource{opts: opts, sessionName: stsSessionName(opts.SessionName)}
	if err := s.check(); err != nil {
		return nil, err
	}
	if opts.Kind == SourceDefault || (opts.Kind == SourceAssumeRole && opts.Base == nil) {
		var load []func(*config.LoadOptions) error
		if opts.Region != "" {
			load = append(load, config.WithRegion(opts.Region))
		}
		if opts.HTTPClient != nil {
			load = append(load, config.WithHTTPClient(opts.HTTPClient))
		}
		cfg, err := config.LoadDefaultConfig(ctx, load...)
		if err != nil {
			return nil, fmt.Errorf("load the AWS default configuration: %s", s.scrub(err.Error()))
		}
		if cfg.Credentials == nil {
			return nil, errors.New("the AWS default chain has no credential provider")
		}
		s.chain = cfg.Credentials
		if s.opts.Region == "" {
			s.opts.Region = cfg.Region
		}
	}
	if opts.Kind == SourceDefault {
		return s, nil
	}
	if s.opts.Region == "" {
		s.opts.Region = awsDefaultRegion
	}
	so := sts.Options{Region: s.opts.Region}
	if opts.HTTPClient != nil {
		so.HTTPClient = opts.HTTPClient
	}
	if opts.STSEndpoint != "" {
		so.BaseEndpoint = aws.String(opts.STSEndpoint)
	}
	if opts.Kind == SourceAssumeRole {
		base := opts.Base
		if base == nil {
			base = s.chain
		}
		so.Credentials = &awsBaseProvider{p: base, s: s}
	}
	s.sts = sts.New(so)
	if opts.Kind == SourceWebIdentity {
		if _, err := (awsTokenFile{path: opts.TokenFile, s: s}).GetIdentityToken(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// check validates the options for their kind.
func (s *AWSSource) check() error {
	o := &s.opts
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	usesSTS := o.Kind == SourceAssumeRole || o.Kind == SourceWebIdentity
	switch o.Kind {
	case SourceDefault, SourceAssumeRole, SourceWebIdentity:
	default:
		return fmt.Errorf("source %q: want %s, %s or %s", o.Kind, SourceDefault, SourceAssumeRole, SourceWebIdentity)
	}
	if usesSTS {
		if !strings.HasPrefix(o.RoleARN, "arn:") {
			bad("role_arn: %q is not an ARN (arn:aws:iam::<account>:role/<name>)", o.RoleARN)
		}
		switch {
		case o.Duration == 0:
			o.Duration = MinSessionDuration
		case o.Duration < MinSessionDuration:
			bad("duration: %s is shorter than STS's minimum session of %s", o.Duration, MinSessionDuration)
		case o.Duration > MaxSessionDuration:
			bad("duration: %s is longer than STS's maximum session of %s", o.Duration, MaxSessionDuration)
		}
		o.Duration = o.Duration.Truncate(time.Second)
		if o.STSEndpoint != "" {
			if u, err := url.Parse(o.STSEndpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("sts_endpoint: %q is not an http(s) URL", o.STSEndpoint)
			}
		}
		if o.SessionPolicy != "" {
			if !json.Valid([]byte(o.SessionPolicy)) {
				bad("session policy is not valid JSON")
			} else if n := len(o.SessionPolicy); n > MaxSessionPolicy {
				bad("session policy is %d characters; STS takes at most %d", n, MaxSessionPolicy)
			}
		}
	} else {
		for _, f := range []struct {
			name string
			set  bool
		}{{"role_arn", o.RoleARN != ""}, {"duration", o.Duration != 0}, {"sts_endpoint", o.STSEndpoint != ""}, {"session policy", o.SessionPolicy != ""}} {
			if f.set {
				bad("%s: not used by source %s", f.name, o.Kind)
			}
		}
	}
	if o.Kind == SourceWebIdentity {
		if o.TokenFile == "" {
			bad("token_file: source %s needs the web identity token's file", o.Kind)
		}
	} else if o.TokenFile != "" {
		bad("token_file: not used by source %s", o.Kind)
	}
	if o.Kind == SourceAssumeRole {
		if o.SourceIdentity != "" && !stsNameRE.MatchString(o.SourceIdentity) {
			bad("source_identity: %q: use 2 to 64 of letters, digits and _+=,.@-", o.SourceIdentity)
		}
	} else {
		if o.SourceIdentity != "" {
			bad("source_identity: not used by source %s", o.Kind)
		}
		if o.Base != nil {
			bad("base: not used by source %s", o.Kind)
		}
	}
	return errors.Join(errs...)
}

// stsSessionName makes name a valid STS session name, [\w+=,.@-]{2,64}:
// each other character becomes '-'.
func stsSessionName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := b.String()
	switch {
	case out == "":
		out = "airlock"
	case len(out) < 2:
		out = "airlock-" + out
	}
	return out[:min(len(out), 64)]
}

// sessionLength is the session to ask STS for: validity, within
// [15m, Duration].
func (s *AWSSource) sessionLength(validity time.Duration) time.Duration {
	return max(min(validity.Truncate(time.Second), s.opts.Duration), MinSessionDuration)
}

// Obtain gets a fresh credential: a new STS session (assume-role,
// web-identity) of validity within [15m, Duration], or what the default
// chain resolves to now.
func (s *AWSSource) Obtain(ctx context.Context, validity time.Duration) (*Credential, error) {
	var (
		c   aws.Credentials
		err error
		op  string
		d   time.Duration
	)
	switch s.opts.Kind {
	case SourceDefault:
		op = opDefaultChain
		if cache, ok := s.chain.(*aws.CredentialsCache); ok {
			cache.Invalidate() // the broker decides when to refresh
		}
		c, err = s.chain.Retrieve(ctx)
	case SourceAssumeRole:
		op, d = "AssumeRole", s.sessionLength(validity)
		p := stscreds.NewAssumeRoleProvider(s.sts, s.opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName, o.Duration = s.sessionName, d
			if s.opts.SessionPolicy != "" {
				o.Policy = aws.String(s.opts.SessionPolicy)
			}
			if s.opts.SourceIdentity != "" {
				o.SourceIdentity = aws.String(s.opts.SourceIdentity)
			}
		})
		c, err = p.Retrieve(ctx)
	case SourceWebIdentity:
		op, d = "AssumeRoleWithWebIdentity", s.sessionLength(validity)
		p := stscreds.NewWebIdentityRoleProvider(s.sts, s.opts.RoleARN, awsTokenFile{path: s.opts.TokenFile, s: s},
			func(o *stscreds.WebIdentityRoleOptions) {
				o.RoleSessionName, o.Duration = s.sessionName, d
				if s.opts.SessionPolicy != "" {
					o.Policy = aws.String(s.opts.SessionPolicy)
				}
			})
		c, err = p.Retrieve(ctx)
	}
	if err != nil {
		return nil, s.awsError(op, err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, fmt.Errorf("%s returned no access key", op)
	}
	s.hold(c.SecretAccessKey, c.SessionToken)
	var expiry time.Time
	if c.CanExpire {
		expiry = c.Expires
		if now := s.opts.Now(); !expiry.After(now) {
			return nil, fmt.Errorf("%s returned credential %s that expired at %s, before now (%s): is a clock wrong?",
				op, c.AccessKeyID, expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	s.opts.Log.Debug().Str("source", s.opts.Kind).Str("credential_id", c.AccessKeyID).Time("expiry", expiry).
		Dur("session_requested", d).Msg("aws credential obtained")
	return &Credential{
		ID: c.AccessKeyID, Source: s.opts.Kind, Upstream: UpstreamS3, Expiry: expiry,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: secret.New(c.SecretAccessKey), SessionToken: secret.New(c.SessionToken),
	}, nil
}

// Renew returns ErrNoRenew: an STS session cannot be extended, so the
// broker obtains a new one.
func (s *AWSSource) Renew(context.Context, *Credential, time.Duration) (*Credential, error) {
	return nil, ErrNoRenew
}

// Revoke returns ErrNoRevoke while c is unexpired (STS cannot end a
// session early: it lasts until its expiry) and nil once it has expired.
func (s *AWSSource) Revoke(_ context.Context, c *Credential) error {
	if !c.Expiry.IsZero() && !s.opts.Now().Before(c.Expiry) {
		return nil
	}
	return ErrNoRevoke
}

// Secrets lists every secret value the source has seen so far: the
// credentials it obtained, the web identity tokens it read and the base
// identity's keys (read at the first AssumeRole), for keeping them out of
// the child's environment. Call it after the broker has started.
func (s *AWSSource) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.held...)
}

func (s *AWSSource) hold(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" && !slices.Contains(s.held, v) {
			s.held = append(s.held, v)
		}
	}
}

// scrub replaces every secret value seen in msg.
func (s *AWSSource) scrub(msg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.held {
		msg = strings.ReplaceAll(msg, v, secret.Redacted)
	}
	return msg
}

// awsTokenFile reads the web identity token at each call and remembers it as
// a secret.
type awsTokenFile struct {
	path string
	s    *AWSSource
}

func (f awsTokenFile) GetIdentityToken() ([]byte, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("read token_file: %w", err) // an *fs.PathError: the path, not the content
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("token_file %s is empty", f.path)
	}
	f.s.hold(string(b))
	return b, nil
}

// awsBaseProvider remembers the base identity's secret values.
type awsBaseProvider struct {
	p aws.CredentialsProvider
	s *AWSSource
}

func (w *awsBaseProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := w.p.Retrieve(ctx)
	w.s.hold(c.SecretAccessKey, c.SessionToken)
	return c, err
}

// AWSError is a failed call for AWS credentials, without secret values.
// It answers errors.As for smithy.APIError, and errors.Is for the
// context's errors.
type AWSError struct {
	// Operation is AssumeRole, AssumeRoleWithWebIdentity or "default chain".
	Operation string
	// Code is the service's error code (AccessDenied,
	// InvalidIdentityToken, ExpiredToken…); empty when none came back.
	Code string
	// Message is the service's message, or what failed before an answer.
	Message string
	// StatusCode and RequestID describe the HTTP answer, when there was one.
	StatusCode int
	RequestID  string

	fault  smithy.ErrorFault
	ctxErr error
}

var _ smithy.APIError = (*AWSError)(nil)

func (e *AWSError) Error() string {
	var b strings.Builder
	if e.Operation == opDefaultChain {
		b.WriteString("aws default credential chain")
	} else {
		b.WriteString("sts " + e.Operation)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.RequestID != "" {
			b.WriteString(", request id " + e.RequestID)
		}
		b.WriteString(")")
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *AWSError) ErrorCode() string             { return e.Code }
func (e *AWSError) ErrorMessage() string          { return e.Message }
func (e *AWSError) ErrorFault() smithy.ErrorFault { return e.fault }
func (e *AWSError) Unwrap() error                 { return e.ctxErr }

// awsError turns an SDK error into an *AWSError, scrubbed of secret values.
func (s *AWSSource) awsError(op string, err error) error {
	e := &AWSError{Operation: op}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message, e.fault = api.ErrorCode(), api.ErrorMessage(), api.ErrorFault()
	} else {
		e.Message = err.Error()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.RequestID = re.ServiceRequestID()
		if re.Response != nil {
			e.StatusCode = re.Response.StatusCode
		}
	}
	e.Code, e.Message = s.scrub(e.Code), s.scrub(e.Message)
	for _, target := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			e.ctxErr = target
		}
	}
	return e
}

// CredentialsProvider adapts the broker's current S3 credential, as
// current returns it (e.g. func() (*Credential, error) { return
// b.Current(UpstreamS3) }), to the SDK's interface, for a signer that
// asks for it at every request. Do not wrap it in an
// aws.CredentialsCache: the cache would keep a credential the broker has
// replaced until it expires. (SDK clients wrap providers in one; they
// still work, on the credential current when they first asked.)
func CredentialsProvider(current func() (*Credential, error)) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c, err := current()
		if err != nil {
			return aws.Credentials{}, err
		}
		if c.AccessKeyID == "" || c.SecretAccessKey.IsZero() {
			return aws.Credentials{}, fmt.Errorf("credential %s is not an AWS access key", c.ID)
		}
		return aws.Credentials{
			AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey.Reveal(), SessionToken: c.SessionToken.Reveal(),
			Source: "airlock-" + c.Source, CanExpire: !c.Expiry.IsZero(), Expires: c.Expiry,
		}, nil
	})
}

// StaticS3 is a fixed access key (development; not short-lived). As a
// Source it hands out the same key every time; it does not expire and
// cannot be revoked. It is also an aws.CredentialsProvider, to serve as
// an assume-role source's base identity.
type StaticS3 struct {
	AccessKeyID string
	secretKey   secret.Secret
}

var (
	_ Source                  = (*StaticS3)(nil)
	_ aws.CredentialsProvider = (*StaticS3)(nil)
)

// NewStaticS3 reads the secret key from a file or an environment
// variable, once.
func NewStaticS3(accessKeyID, secretFile, secretEnv string) (*StaticS3, error) {
	if accessKeyID == "" {
		return nil, errors.New("static source needs access_key_id")
	}
	v, err := readSecret("secret_access_key_file", secretFile, "secret_access_key_env", secretEnv, strings.TrimSpace)
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, errors.New("static source: the secret access key is empty")
	}
	return &StaticS3{AccessKeyID: accessKeyID, secretKey: secret.New(v)}, nil
}

// Secrets lists the held secret values, for keeping them out of the child's environment.
func (s *StaticS3) Secrets() []string { return []string{s.secretKey.Reveal()} }

// Retrieve returns the key, for the SDK.
func (s *StaticS3) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.secretKey.Reveal(), Source: "airlock-static"}, nil
}

// Obtain returns the fixed key; it does not expire.
func (s *StaticS3) Obtain(context.Context, time.Duration) (*Credential, error) {
	return &Credential{ID: s.AccessKeyID, Source: SourceStatic, Upstream: UpstreamS3,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.secretKey}, nil
}

// Renew returns c unchanged: a static key has nothing to extend.
func (s *StaticS3) Renew(_ context.Context, c *Credential, _ time.Duration) (*Credential, error) {
	return c, nil
}

// Revoke returns ErrNoRevoke: Airlock did not create the key and cannot
// end it.
func (s *StaticS3) Revoke(context.Context, *Credential) error { return ErrNoRevoke }
