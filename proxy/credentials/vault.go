package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// SourceVault names the Vault database secrets engine source.
const SourceVault = "vault"

// Vault defaults and auth methods.
const (
	// DefaultVaultMount is the database secrets engine's usual mount path.
	DefaultVaultMount = "database"
	// DefaultVaultJWTFile is where Kubernetes mounts a pod's service
	// account token.
	DefaultVaultJWTFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

	VaultAuthKubernetes = "kubernetes"
	VaultAuthAppRole    = "approle"
)

const (
	// vaultMaxResponse bounds a Vault response body.
	vaultMaxResponse = 1 << 20
	// vaultMaxLease bounds a lease or token duration taken from Vault, so
	// that a wild value cannot overflow a time.Duration.
	vaultMaxLease = 10 * 365 * 24 * time.Hour
	// vaultMinTokenLife is the least life left for a held token to be used
	// for another call; one closer to its end is replaced first.
	vaultMinTokenLife = 30 * time.Second
	// vaultMinRenewGain is the least a renewal must add to a credential's
	// life; less means a max TTL was reached, and the broker had better
	// obtain a fresh credential (ErrNoRenew) than wait for this one to end.
	vaultMinRenewGain = 5 * time.Second
	// vaultMaxMessage bounds the Vault error text carried in an error.
	vaultMaxMessage   = 512
	vaultMaxRedirects = 5
)

// VaultOptions configures a Vault source. Exactly one of TokenFile and
// Auth is set.
type VaultOptions struct {
	// Address is Vault's URL, http(s)://host[:port], optionally with a
	// path prefix.
	Address string
	// Mount is the database secrets engine's mount path; empty means
	// DefaultVaultMount.
	Mount string
	// Role is the database role whose credentials are generated.
	Role string
	// TokenFile holds a Vault token (one a Vault Agent keeps fresh, say).
	// It is read at the first call and read again when Vault refuses the
	// token held, so a rewritten file takes effect.
	TokenFile string
	// Auth logs in to Vault instead.
	Auth *VaultAuthOptions
	// CAFile is a PEM bundle to verify Vault's certificate with; empty
	// means the system roots. Not with HTTPClient.
	CAFile string
	// HTTPClient makes the requests; nil means a client of Airlock's own
	// that honours CAFile and never follows a redirect from https to http.
	// Timeouts come from the contexts passed in.
	HTTPClient *http.Client
	// Log is the diagnostic log.
	Log zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// VaultAuthOptions logs in to Vault with an auth method.
type VaultAuthOptions struct {
	// Method is VaultAuthKubernetes or VaultAuthAppRole.
	Method string
	// Mount is the auth method's mount path; empty means the method's name.
	Mount string
	// Role is the Vault role to log in as (kubernetes).
	Role string
	// JWTFile holds the service account token (kubernetes); empty means
	// DefaultVaultJWTFile. Read at each login.
	JWTFile string
	// RoleIDFile and SecretIDFile hold the AppRole credentials (approle).
	// Read at each login.
	RoleIDFile   string
	SecretIDFile string
}

// Vault is a Source backed by Vault's database secrets engine: each
// credential is a lease on a generated login, renewed through
// sys/leases/renew and revoked through sys/leases/revoke. It speaks
// Vault's HTTP API directly.
//
// Vault ends a lease when the token that created it ends. With Auth, the
// source therefore keeps its own token alive (auth/token/renew-self) for
// as long as its credentials are asked to last, caps each credential's
// expiry at its token's, and logs in again when a token reaches its
// maximum TTL; a credential that can no longer be extended is reported
// with ErrNoRenew so that the broker obtains a fresh one in time. A
// TokenFile token's lifetime is not known here: whoever writes the file
// must keep it valid for the task's lifetime.
//
// The Vault policy needs read on <mount>/creds/<role> and update on
// sys/leases/revoke; renewing leases and the token's own renew-self and
// revoke-self are in Vault's default policy.
//
// Tokens, passwords, JWTs and secret ids appear in no error and no log:
// Vault's error messages are carried with every value the source holds
// replaced by [REDACTED].
type Vault struct {
	base      string // Address without a trailing slash
	credsPath string // /v1/<mount>/creds/<role>, escaped
	loginPath string // /v1/auth/<mount>/login, escaped; empty with TokenFile
	tokenFile string
	auth      VaultAuthOptions
	client    *http.Client
	log       zerolog.Logger
	now       func() time.Time

	loginMu sync.Mutex // one token acquisition at a time

	mu        sync.Mutex
	token     *vaultToken            // current; nil until the first call
	tokens    []*vaultToken          // every token held, for Secrets and Close
	leases    map[string]*vaultLease // by lease id
	passwords []secret.Secret
}

// vaultToken is a Vault token and what is known of its lifetime.
type vaultToken struct {
	value  secret.Secret
	login  bool      // from Auth: renewed and revoked here
	issued time.Time // when it was obtained
	// Guarded by Vault.mu.
	expiry    time.Time // zero: none known
	renewable bool
	revoked   bool
}

// vaultLease is what Renew needs to know of a lease.
type vaultLease struct {
	token     *vaultToken // the token that created it; the lease ends with it
	renewable bool
}

var _ Source = (*Vault)(nil)

// NewVault checks opts and returns the source. It reads no file and
// calls nothing until used, except CAFile.
func NewVault(opts VaultOptions) (*Vault, error) {
	base, err := vaultBaseURL(opts.Address)
	if err != nil {
		return nil, err
	}
	mount := strings.Trim(opts.Mount, "/")
	if mount == "" {
		mount = DefaultVaultMount
	}
	if opts.Role == "" {
		return nil, errors.New("vault: role is required")
	}
	v := &Vault{
		base:      base,
		credsPath: "/v1/" + vaultEscapePath(mount) + "/creds/" + url.PathEscape(opts.Role),
		tokenFile: opts.TokenFile,
		client:    opts.HTTPClient,
		log:       opts.Log,
		now:       opts.Now,
		leases:    map[string]*vaultLease{},
	}
	switch {
	case opts.TokenFile != "" && opts.Auth != nil:
		return nil, errors.New("vault: set token_file or auth, not both")
	case opts.TokenFile == "" && opts.Auth == nil:
		return nil, errors.New("vault: token_file or auth is required")
	case opts.Auth != nil:
		if err := v.setAuth(*opts.Auth); err != nil {
			return nil, err
		}
	}
	switch {
	case v.client != nil && opts.CAFile != "":
		return nil, errors.New("vault: set ca_file or an HTTP client, not both")
	case v.client == nil:
		if v.client, err = vaultHTTPClient(opts.CAFile); err != nil {
			return nil, err
		}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if strings.HasPrefix(base, "http://") {
		v.log.Warn().Str("vault_address", base).Msg("vault address is plain http: the token and credentials cross the network unencrypted")
	}
	return v, nil
}

// setAuth checks and completes the auth options.
func (v *Vault) setAuth(a VaultAuthOptions) error {
	switch a.Method {
	case VaultAuthKubernetes:
		if a.Role == "" {
			return errors.New("vault: auth.role is required for kubernetes")
		}
		if a.JWTFile == "" {
			a.JWTFile = DefaultVaultJWTFile
		}
	case VaultAuthAppRole:
		if a.RoleIDFile == "" || a.SecretIDFile == "" {
			return errors.New("vault: auth.role_id_file and auth.secret_id_file are required for approle")
		}
	case "":
		return errors.New("vault: auth.method is required (kubernetes or approle)")
	default:
		return fmt.Errorf("vault: auth.method %q is not kubernetes or approle", a.Method)
	}
	mount := strings.Trim(a.Mount, "/")
	if mount == "" {
		mount = a.Method
	}
	a.Mount = mount
	v.auth = a
	v.loginPath = "/v1/auth/" + vaultEscapePath(mount) + "/login"
	return nil
}

// Obtain generates a login: GET <mount>/creds/<role>. Its expiry is the
// lease's, capped at the token's with Auth; Vault may grant less than
// validity (the role's default_ttl).
func (v *Vault) Obtain(ctx context.Context, validity time.Duration) (*Credential, error) {
	tok, err := v.tokenFor(ctx, validity)
	if err != nil {
		return nil, err
	}
	var resp vaultResponse
	tok, err = v.authed(ctx, tok, vaultCall{method: http.MethodGet, path: v.credsPath, out: &resp})
	if err != nil {
		return nil, err
	}
	d := resp.Data
	ttl, err := vaultDuration(resp.LeaseDuration)
	switch {
	case resp.LeaseID == "":
		return nil, fmt.Errorf("vault GET %s: the response has no lease_id", v.credsPath)
	case d == nil || d.Username == "" || d.Password.IsZero():
		err = fmt.Errorf("vault GET %s: the response has no data.username and data.password", v.credsPath)
	case err != nil || ttl == 0:
		err = fmt.Errorf("vault GET %s: lease_duration %d is not a lease", v.credsPath, resp.LeaseDuration)
	}
	if err != nil {
		// Vault made a login all the same: end it.
		_, rerr := v.authed(ctx, tok, vaultRevokeCall(resp.LeaseID))
		return nil, errors.Join(err, rerr)
	}
	now := v.now()
	expiry, capped := v.capByToken(tok, now.Add(ttl))

	v.mu.Lock()
	v.leases[resp.LeaseID] = &vaultLease{token: tok, renewable: resp.Renewable}
	v.passwords = append(v.passwords, d.Password.Secret)
	v.mu.Unlock()
	log := v.log.Debug().Str("lease_id", resp.LeaseID).Dur("lease_duration", ttl).Bool("renewable", resp.Renewable)
	if capped {
		log = log.Time("token_expiry", expiry)
	}
	log.Msg("vault lease issued")
	return &Credential{
		ID:       resp.LeaseID,
		Source:   SourceVault,
		Upstream: UpstreamPostgres,
		Expiry:   expiry,
		User:     d.Username,
		Password: d.Password.Secret,
	}, nil
}

// Renew extends c's lease by validity (PUT sys/leases/renew), first
// extending the token that created it if that ends sooner. It returns
// ErrNoRenew, wrapped, when the lease is not renewable, is gone, or can
// gain no more time (its max_ttl, or its token's, is reached).
func (v *Vault) Renew(ctx context.Context, c *Credential, validity time.Duration) (*Credential, error) {
	v.mu.Lock()
	l := v.leases[c.ID]
	renewable := l != nil && l.renewable
	v.mu.Unlock()
	switch {
	case l == nil:
		return nil, fmt.Errorf("vault lease %s was not issued by this source: %w", c.ID, ErrNoRenew)
	case !renewable:
		return nil, fmt.Errorf("vault lease %s is not renewable: %w", c.ID, ErrNoRenew)
	}

	tok := l.token
	if tok.login {
		if !v.covers(tok, validity) {
			if err := v.extendToken(ctx, tok, validity); err != nil {
				return nil, err
			}
		}
		if end := v.tokenExpiry(tok); !end.IsZero() && end.Before(c.Expiry.Add(vaultMinRenewGain)) {
			return nil, fmt.Errorf("vault lease %s cannot outlive its token, which ends at %s: %w",
				c.ID, end.UTC().Format(time.RFC3339), ErrNoRenew)
		}
	} else {
		var err error
		if tok, err = v.currentToken(ctx); err != nil {
			return nil, err
		}
	}

	var resp vaultResponse
	body := map[string]any{"lease_id": c.ID, "increment": vaultSeconds(validity)}
	_, err := v.authed(ctx, tok, vaultCall{method: http.MethodPut, path: "/v1/sys/leases/renew", in: body, out: &resp})
	if vaultLeaseGone(err) {
		return nil, fmt.Errorf("%w: %w", err, ErrNoRenew)
	}
	if err != nil {
		return nil, err
	}
	ttl, err := vaultDuration(resp.LeaseDuration)
	if err != nil {
		return nil, fmt.Errorf("vault PUT /v1/sys/leases/renew: %w", err)
	}
	expiry, _ := v.capByToken(l.token, v.now().Add(ttl))
	v.mu.Lock()
	l.renewable = resp.Renewable
	v.mu.Unlock()
	if expiry.Before(c.Expiry.Add(vaultMinRenewGain)) {
		return nil, fmt.Errorf("vault lease %s gains no time (max_ttl reached): %w", c.ID, ErrNoRenew)
	}
	nc := *c
	nc.Expiry = expiry
	return &nc, nil
}

// Revoke ends c's lease: PUT sys/leases/revoke, synchronously, so that a
// failure to drop the login is an error here and not a retry queued in
// Vault. Vault answers 204 for a lease it does not know (already revoked,
// or expired); a 400 saying the lease is invalid or not found is taken as
// already revoked too.
func (v *Vault) Revoke(ctx context.Context, c *Credential) error {
	tok, err := v.currentToken(ctx)
	if err != nil {
		return err
	}
	_, err = v.authed(ctx, tok, vaultRevokeCall(c.ID))
	if vaultLeaseGone(err) {
		v.log.Debug().Str("lease_id", c.ID).Err(err).Msg("vault lease already gone")
		err = nil
	}
	if err != nil {
		return err
	}
	v.mu.Lock()
	delete(v.leases, c.ID)
	v.mu.Unlock()
	return nil
}

func vaultRevokeCall(leaseID string) vaultCall {
	return vaultCall{method: http.MethodPut, path: "/v1/sys/leases/revoke", in: map[string]any{"lease_id": leaseID, "sync": true}}
}

// Close revokes the tokens the source logged in for (POST
// auth/token/revoke-self), which also ends every lease they created: call
// it after Broker.Stop. A token from TokenFile is not the source's to
// revoke and is left alone. A token Vault no longer accepts (403) counts
// as revoked. A call after Close logs in again.
func (v *Vault) Close(ctx context.Context) error {
	v.loginMu.Lock()
	defer v.loginMu.Unlock()
	v.mu.Lock()
	now := v.now()
	var live []*vaultToken
	for _, t := range v.tokens {
		if t.login && !t.revoked && (t.expiry.IsZero() || now.Before(t.expiry)) {
			live = append(live, t)
		}
	}
	v.mu.Unlock()

	var errs []error
	for _, t := range live {
		err := v.do(ctx, vaultCall{method: http.MethodPost, path: "/v1/auth/token/revoke-self", token: t.value})
		var ve *VaultError
		if errors.As(err, &ve) && ve.StatusCode == http.StatusForbidden {
			err = nil // expired or revoked already
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("revoke vault token: %w", err))
			continue
		}
		v.mu.Lock()
		t.revoked = true
		if v.token == t {
			v.token = nil
		}
		v.mu.Unlock()
	}
	if len(live) > 0 {
		v.log.Info().Int("tokens", len(live)-len(errs)).Msg("vault tokens revoked")
	}
	return errors.Join(errs...)
}

// Secrets lists every token, password and login secret (JWT, AppRole role
// and secret id) the source has held, for keeping them out of the child's
// environment.
func (v *Vault) Secrets() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, t := range v.tokens {
		out = append(out, t.value.Reveal())
	}
	for _, p := range v.passwords {
		out = append(out, p.Reveal())
	}
	return out
}

// tokenFor returns a token to create a lease meant to last validity: the
// current one, extended if it ends sooner, or with Auth a fresh login when
// it cannot be extended enough.
func (v *Vault) tokenFor(ctx context.Context, validity time.Duration) (*vaultToken, error) {
	tok, err := v.currentToken(ctx)
	if err != nil || !tok.login || v.covers(tok, validity) {
		return tok, err
	}
	if err := v.extendToken(ctx, tok, validity); err != nil {
		v.log.Warn().Err(err).Msg("vault token not renewed")
	}
	if v.covers(tok, validity) || v.now().Sub(tok.issued) < time.Minute {
		return tok, nil // as good as it gets: a login just now gave this one
	}
	fresh, err := v.replaceToken(ctx, tok)
	if err != nil {
		v.log.Warn().Err(err).Msg("vault login for a longer-lived token failed; using the current token")
		return tok, nil
	}
	if !v.covers(fresh, validity) {
		if err := v.extendToken(ctx, fresh, validity); err != nil {
			v.log.Warn().Err(err).Msg("vault token not renewed")
		}
	}
	return fresh, nil
}

// covers reports whether tok lasts validity from now.
func (v *Vault) covers(tok *vaultToken, validity time.Duration) bool {
	end := v.tokenExpiry(tok)
	return end.IsZero() || !end.Before(v.now().Add(validity))
}

func (v *Vault) tokenExpiry(tok *vaultToken) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return tok.expiry
}

// capByToken is t, or tok's expiry if that is sooner; capped reports which.
func (v *Vault) capByToken(tok *vaultToken, t time.Time) (time.Time, bool) {
	if end := v.tokenExpiry(tok); tok.login && !end.IsZero() && end.Before(t) {
		return end, true
	}
	return t, false
}

// extendToken renews a renewable login token for about validity: POST
// auth/token/renew-self. Vault caps it at the token's max TTL.
func (v *Vault) extendToken(ctx context.Context, tok *vaultToken, validity time.Duration) error {
	v.mu.Lock()
	renewable := tok.renewable && !tok.expiry.IsZero() && !tok.revoked
	v.mu.Unlock()
	if !renewable {
		return nil
	}
	var resp vaultResponse
	err := v.do(ctx, vaultCall{method: http.MethodPost, path: "/v1/auth/token/renew-self", token: tok.value,
		in: map[string]int64{"increment": vaultSeconds(validity)}, out: &resp})
	if err != nil {
		return fmt.Errorf("renew vault token: %w", err)
	}
	if resp.Auth == nil {
		return errors.New("renew vault token: the response has no auth")
	}
	ttl, err := vaultDuration(resp.Auth.LeaseDuration)
	if err != nil {
		return fmt.Errorf("renew vault token: %w", err)
	}
	v.mu.Lock()
	if ttl > 0 {
		tok.expiry = v.now().Add(ttl)
	}
	tok.renewable = resp.Auth.Renewable
	end := tok.expiry
	v.mu.Unlock()
	v.log.Debug().Time("token_expiry", end).Msg("vault token renewed")
	return nil
}

// currentToken returns the token held, getting one first if there is none
// or it is about to end.
func (v *Vault) currentToken(ctx context.Context) (*vaultToken, error) {
	v.loginMu.Lock()
	defer v.loginMu.Unlock()
	v.mu.Lock()
	tok := v.token
	usable := tok != nil && (tok.expiry.IsZero() || v.now().Add(vaultMinTokenLife).Before(tok.expiry))
	v.mu.Unlock()
	if usable {
		return tok, nil
	}
	return v.login(ctx)
}

// replaceToken gets a token other than old, unless another call has
// already done so. From TokenFile that is the file's content again, which
// may well be old.
func (v *Vault) replaceToken(ctx context.Context, old *vaultToken) (*vaultToken, error) {
	v.loginMu.Lock()
	defer v.loginMu.Unlock()
	v.mu.Lock()
	tok := v.token
	v.mu.Unlock()
	if tok != nil && tok != old {
		return tok, nil
	}
	return v.login(ctx)
}

// login reads TokenFile or logs in with Auth and makes the token current.
// Called with loginMu held.
func (v *Vault) login(ctx context.Context) (*vaultToken, error) {
	if v.tokenFile != "" {
		value, err := vaultReadFile(v.tokenFile, "token_file")
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.token != nil && v.token.value.Reveal() == value {
			return v.token, nil
		}
		tok := &vaultToken{value: secret.New(value), issued: v.now()}
		v.token, v.tokens = tok, append(v.tokens, tok)
		return tok, nil
	}

	a := v.auth
	var body map[string]string
	switch a.Method {
	case VaultAuthKubernetes:
		jwt, err := vaultReadFile(a.JWTFile, "auth.jwt_file")
		if err != nil {
			return nil, err
		}
		body = map[string]string{"role": a.Role, "jwt": jwt}
	case VaultAuthAppRole:
		roleID, err := vaultReadFile(a.RoleIDFile, "auth.role_id_file")
		if err != nil {
			return nil, err
		}
		secretID, err := vaultReadFile(a.SecretIDFile, "auth.secret_id_file")
		if err != nil {
			return nil, err
		}
		body = map[string]string{"role_id": roleID, "secret_id": secretID}
	}
	var hidden []string
	for k, val := range body {
		if k != "role" {
			hidden = append(hidden, val)
		}
	}
	v.mu.Lock()
	for _, h := range hidden { // login material: kept out of the child's environment too
		if !slices.ContainsFunc(v.passwords, func(p secret.Secret) bool { return p.Reveal() == h }) {
			v.passwords = append(v.passwords, secret.New(h))
		}
	}
	v.mu.Unlock()
	var resp vaultResponse
	if err := v.do(ctx, vaultCall{method: http.MethodPost, path: v.loginPath, in: body, out: &resp, hidden: hidden}); err != nil {
		return nil, fmt.Errorf("log in to vault (%s): %w", a.Method, err)
	}
	if resp.Auth == nil || resp.Auth.ClientToken.IsZero() {
		return nil, fmt.Errorf("log in to vault (%s): POST %s: the response has no auth.client_token", a.Method, v.loginPath)
	}
	ttl, err := vaultDuration(resp.Auth.LeaseDuration)
	if err != nil {
		return nil, fmt.Errorf("log in to vault (%s): POST %s: %w", a.Method, v.loginPath, err)
	}
	now := v.now()
	tok := &vaultToken{value: resp.Auth.ClientToken.Secret, login: true, issued: now, renewable: resp.Auth.Renewable}
	if ttl > 0 {
		tok.expiry = now.Add(ttl)
	}
	v.mu.Lock()
	v.token, v.tokens = tok, append(v.tokens, tok)
	v.mu.Unlock()
	v.log.Info().Str("method", a.Method).Str("mount", a.Mount).Dur("token_ttl", ttl).Bool("renewable", resp.Auth.Renewable).
		Msg("logged in to vault")
	return tok, nil
}
