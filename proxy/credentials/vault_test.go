package credentials_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/credentials"
)

// vaultEnv is a fake Vault on a fake clock, with a log buffer and a
// directory for token and login files.
type vaultEnv struct {
	clock  *fakeClock
	fv     *fakeVault
	logs   *syncBuffer
	dir    string
	canary string
}

func newVaultEnv(t *testing.T, tls bool) *vaultEnv {
	t.Helper()
	clock := newFakeClock()
	canary := "CANARY-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return &vaultEnv{clock: clock, fv: newFakeVault(t, clock.Now, canary, tls), logs: &syncBuffer{}, dir: t.TempDir(), canary: canary}
}

// source makes a Vault source talking to the fake, logging at debug level.
func (e *vaultEnv) source(t *testing.T, opts credentials.VaultOptions) *credentials.Vault {
	t.Helper()
	if opts.Address == "" {
		opts.Address = e.fv.URL()
	}
	if opts.Role == "" {
		opts.Role = "etl"
	}
	opts.Log = zerolog.New(e.logs).Level(zerolog.DebugLevel)
	opts.Now = e.clock.Now
	v, err := credentials.NewVault(opts)
	if err != nil {
		t.Fatalf("NewVault: %v", err)
	}
	return v
}

// file writes content to a new file in the env's directory.
func (e *vaultEnv) file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	writeFile(t, path, content)
	return path
}

// tokenSource is a source with a token file holding a token the fake accepts.
func (e *vaultEnv) tokenSource(t *testing.T) (*credentials.Vault, string) {
	t.Helper()
	token := "hvs.CAES-" + e.canary
	e.fv.addToken(token, 0)
	return e.source(t, credentials.VaultOptions{TokenFile: e.file(t, "token", token+"\n")}), token
}

func (e *vaultEnv) k8sAuth(t *testing.T) *credentials.VaultAuthOptions {
	return &credentials.VaultAuthOptions{Method: "kubernetes", Role: "etl-job", JWTFile: e.file(t, "jwt", e.fv.k8sJWT)}
}

func (e *vaultEnv) at(d time.Duration) { e.clock.AdvanceTo(t0.Add(d)) }

var bg = context.Background()

func TestNewVaultOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	writeFile(t, notPEM, "not a certificate")
	tests := []struct {
		name string
		opts func(o *credentials.VaultOptions)
		want string // error text; empty: no error
	}{
		{"token file", func(o *credentials.VaultOptions) {}, ""},
		{"kubernetes", func(o *credentials.VaultOptions) {
			o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{Method: "kubernetes", Role: "r"}
		}, ""},
		{"approle", func(o *credentials.VaultOptions) {
			o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{Method: "approle", RoleIDFile: "r", SecretIDFile: "s"}
		}, ""},
		{"address with a path prefix", func(o *credentials.VaultOptions) { o.Address = "https://gw.example/vault/" }, ""},
		{"no address", func(o *credentials.VaultOptions) { o.Address = "" }, "vault: address is required"},
		{"not http", func(o *credentials.VaultOptions) { o.Address = "ftp://vault:8200" }, `vault: address "ftp://vault:8200" is not an http(s)://host[:port] URL`},
		{"no host", func(o *credentials.VaultOptions) { o.Address = "vault:8200" }, "is not an http(s)://host[:port] URL"},
		{"user info", func(o *credentials.VaultOptions) { o.Address = "https://u:p@vault" }, "is not an http(s)://host[:port] URL"},
		{"no role", func(o *credentials.VaultOptions) { o.Role = "" }, "vault: role is required"},
		{"no token", func(o *credentials.VaultOptions) { o.TokenFile = "" }, "vault: token_file or auth is required"},
		{"token and auth", func(o *credentials.VaultOptions) {
			o.Auth = &credentials.VaultAuthOptions{Method: "approle", RoleIDFile: "r", SecretIDFile: "s"}
		}, "vault: set token_file or auth, not both"},
		{"no method", func(o *credentials.VaultOptions) { o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{} }, "vault: auth.method is required"},
		{"unknown method", func(o *credentials.VaultOptions) {
			o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{Method: "ldap"}
		}, `vault: auth.method "ldap" is not kubernetes or approle`},
		{"kubernetes without role", func(o *credentials.VaultOptions) {
			o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{Method: "kubernetes"}
		}, "vault: auth.role is required for kubernetes"},
		{"approle without files", func(o *credentials.VaultOptions) {
			o.TokenFile, o.Auth = "", &credentials.VaultAuthOptions{Method: "approle", RoleIDFile: "r"}
		}, "vault: auth.role_id_file and auth.secret_id_file are required for approle"},
		{"CA file and client", func(o *credentials.VaultOptions) { o.CAFile, o.HTTPClient = notPEM, http.DefaultClient }, "vault: set ca_file or an HTTP client, not both"},
		{"CA file missing", func(o *credentials.VaultOptions) { o.CAFile = filepath.Join(dir, "nope.pem") }, "vault: read ca_file: open "},
		{"CA file not PEM", func(o *credentials.VaultOptions) { o.CAFile = notPEM }, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := credentials.VaultOptions{Address: "https://vault.example:8200", Role: "etl", TokenFile: "/run/vault/token"}
			tt.opts(&opts)
			v, err := credentials.NewVault(opts)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("NewVault: %v", err)
			case tt.want == "" && v == nil:
				t.Fatal("NewVault returned nil")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("NewVault = %v; want an error with %q", err, tt.want)
			}
		})
	}
}

func TestVaultTokenFile(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	v, token := e.tokenSource(t)

	c, err := v.Obtain(bg, 65*time.Minute)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	want := credentials.Credential{ID: "database/creds/etl/lease0001", Source: "vault", Upstream: "postgres",
		Expiry: t0.Add(30 * time.Minute), User: "v-token-etl-0001"} // the role's default_ttl, under the 65m asked
	if got := *c; got.ID != want.ID || got.Source != want.Source || got.Upstream != want.Upstream ||
		!got.Expiry.Equal(want.Expiry) || got.User != want.User || got.Password.Reveal() != e.canary+"-password-1" {
		t.Errorf("Obtain = %+v, want %+v with the generated password", got, want)
	}

	e.at(20 * time.Minute)
	nc, err := v.Renew(bg, c, 45*time.Minute)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if nc.ID != c.ID || nc.User != c.User || !nc.Password.Equal(c.Password) || !nc.Expiry.Equal(t0.Add(65*time.Minute)) {
		t.Errorf("Renew = %+v; want the same login until %s", nc, t0.Add(65*time.Minute))
	}
	if err := v.Revoke(bg, nc); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := e.fv.Leases(); len(got) != 0 {
		t.Errorf("leases left on Vault: %q", got)
	}

	wantCalls := []string{"GET /v1/database/creds/etl", "PUT /v1/sys/leases/renew", "PUT /v1/sys/leases/revoke"}
	if got := e.fv.Calls(); !slices.Equal(got, wantCalls) {
		t.Errorf("calls = %q, want %q", got, wantCalls)
	}
	wantBodies := []string{"", `{"increment":2700,"lease_id":"database/creds/etl/lease0001"}`, `{"lease_id":"database/creds/etl/lease0001","sync":true}`}
	if got := e.fv.Bodies(); !slices.Equal(got, wantBodies) {
		t.Errorf("bodies = %q, want %q", got, wantBodies)
	}
	if got := v.Secrets(); !slices.Contains(got, token) || !slices.Contains(got, c.Password.Reveal()) {
		t.Errorf("Secrets = %d values, want the token and the password", len(got))
	}
	// A token file is not the source's to revoke.
	if err := v.Close(bg); err != nil || !e.fv.TokenLive(token) || len(e.fv.Calls()) != 3 {
		t.Errorf("Close = %v; the token file's token must stay, uncalled", err)
	}
}

func TestVaultTokenFileRewritten(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	old, fresh := "hvs.old-"+e.canary, "hvs.new-"+e.canary
	e.fv.addToken(old, 20*time.Minute)
	e.fv.addToken(fresh, 0)
	path := e.file(t, "token", old)
	v := e.source(t, credentials.VaultOptions{TokenFile: path})
	c, err := v.Obtain(bg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// The agent writes a new token; the old one expires, and Vault ends
	// its lease with it.
	writeFile(t, path, fresh)
	e.at(25 * time.Minute)
	_, err = v.Renew(bg, c, time.Hour)
	if !errors.Is(err, credentials.ErrNoRenew) || !strings.Contains(err.Error(), "400 Bad Request: lease not found") {
		t.Fatalf("Renew after the token's end = %v; want ErrNoRenew, the lease being gone", err)
	}
	if strings.Contains(err.Error(), e.canary) {
		t.Errorf("error holds a token: %v", err)
	}
	c2, err := v.Obtain(bg, time.Hour)
	if err != nil {
		t.Fatalf("Obtain with the new token: %v", err)
	}
	if c2.ID == c.ID {
		t.Error("Obtain returned the old lease")
	}
	want := []string{"GET /v1/database/creds/etl", "PUT /v1/sys/leases/renew", "PUT /v1/sys/leases/renew", "GET /v1/database/creds/etl"}
	if got := e.fv.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q (403, the file read again, once more)", got, want)
	}
}

func TestVaultWrongToken(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	token := "hvs.unknown-" + e.canary
	v := e.source(t, credentials.VaultOptions{TokenFile: e.file(t, "token", token)})
	_, err := v.Obtain(bg, time.Hour)
	var ve *credentials.VaultError
	if !errors.As(err, &ve) || ve.StatusCode != http.StatusForbidden || ve.Path != "/v1/database/creds/etl" {
		t.Fatalf("Obtain = %v; want a VaultError 403 on the creds path", err)
	}
	const want = "vault GET /v1/database/creds/etl: 403 Forbidden: permission denied"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if strings.Contains(fmt.Sprintf("%v %+v", err, err), token) || strings.Contains(e.logs.String(), token) {
		t.Errorf("the token leaked: %v\n%s", err, e.logs)
	}
	if got := e.fv.Calls(); len(got) != 1 {
		t.Errorf("calls = %q; the file holds the same token, so no second try", got)
	}
}

func TestVaultKubernetes(t *testing.T) {
	t.Parallel()
	for _, mount := range []string{"", "k8s/prod"} {
		t.Run("mount="+mount, func(t *testing.T) {
			t.Parallel()
			e := newVaultEnv(t, false)
			if mount != "" {
				e.fv.set(func(f *fakeVault) { f.k8sMount = mount })
			}
			auth := e.k8sAuth(t)
			auth.Mount = mount
			v := e.source(t, credentials.VaultOptions{Auth: auth})
			c, err := v.Obtain(bg, 30*time.Minute)
			if err != nil {
				t.Fatalf("Obtain: %v", err)
			}
			wantMount := cmp.Or(mount, "kubernetes")
			want := []string{"POST /v1/auth/" + wantMount + "/login", "GET /v1/database/creds/etl"}
			if got := e.fv.Calls(); !slices.Equal(got, want) {
				t.Fatalf("calls = %q, want %q", got, want)
			}
			if got, want := e.fv.Bodies()[0], `{"jwt":"`+e.fv.k8sJWT+`","role":"etl-job"}`; got != want {
				t.Errorf("login body = %s, want %s", got, want)
			}
			if !c.Expiry.Equal(t0.Add(30 * time.Minute)) {
				t.Errorf("expiry = %s, want the lease's 30m (the token lasts 1h)", c.Expiry.Sub(t0))
			}

			// Close revokes the login token, and Vault the lease with it.
			if err := v.Close(bg); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := e.fv.Calls(); got[len(got)-1] != "POST /v1/auth/token/revoke-self" {
				t.Errorf("calls = %q; want revoke-self last", got)
			}
			if got := e.fv.Leases(); len(got) != 0 {
				t.Errorf("leases left after Close: %q", got)
			}
			for _, s := range v.Secrets() {
				if strings.HasPrefix(s, "hvs.") && e.fv.TokenLive(s) {
					t.Error("the login token is still live after Close")
				}
			}
			if err := v.Close(bg); err != nil || e.fv.Calls()[len(e.fv.Calls())-1] != "POST /v1/auth/token/revoke-self" ||
				len(e.fv.Calls()) != 3 {
				t.Errorf("second Close = %v, calls %q; want nothing more", err, e.fv.Calls())
			}
		})
	}
}

func TestVaultAppRole(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	auth := &credentials.VaultAuthOptions{Method: "approle",
		RoleIDFile: e.file(t, "role-id", e.fv.roleID+"\n"), SecretIDFile: e.file(t, "secret-id", e.fv.secretID+"\n")}
	v := e.source(t, credentials.VaultOptions{Auth: auth, Mount: "/database/"})
	if _, err := v.Obtain(bg, 30*time.Minute); err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	want := []string{"POST /v1/auth/approle/login", "GET /v1/database/creds/etl"}
	if got := e.fv.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if got, want := e.fv.Bodies()[0], `{"role_id":"`+e.fv.roleID+`","secret_id":"`+e.fv.secretID+`"}`; got != want {
		t.Errorf("login body = %s, want %s", got, want)
	}

	// A wrong secret id: Vault's message, not the secret id.
	auth.SecretIDFile = e.file(t, "secret-id-2", "wrong-"+e.canary)
	v2 := e.source(t, credentials.VaultOptions{Auth: auth})
	_, err := v2.Obtain(bg, time.Hour)
	const wantErr = "log in to vault (approle): vault POST /v1/auth/approle/login: 400 Bad Request: invalid role or secret ID"
	if err == nil || err.Error() != wantErr {
		t.Errorf("Obtain = %v, want %q", err, wantErr)
	}
}

// A login token ends sooner than the lease asked for: the source renews
// the token, caps the credential at the token's end, reports ErrNoRenew
// once the token reaches its max TTL, and logs in afresh for the next.
func TestVaultLoginTokenBoundsLease(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	e.fv.set(func(f *fakeVault) { f.tokenTTL, f.tokenMaxTTL = 10*time.Minute, 15*time.Minute })
	v := e.source(t, credentials.VaultOptions{Auth: e.k8sAuth(t)})

	c, err := v.Obtain(bg, 65*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expiry.Equal(t0.Add(15 * time.Minute)) {
		t.Errorf("expiry = %s, want the token's max 15m", c.Expiry.Sub(t0))
	}
	want := []string{"POST /v1/auth/kubernetes/login", "POST /v1/auth/token/renew-self", "GET /v1/database/creds/etl"}
	if got := e.fv.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if got := e.fv.Bodies()[1]; got != `{"increment":3900}` {
		t.Errorf("renew-self body = %s", got)
	}

	e.at(10 * time.Minute)
	if _, err := v.Renew(bg, c, 55*time.Minute); !errors.Is(err, credentials.ErrNoRenew) {
		t.Fatalf("Renew past the token's max TTL = %v; want ErrNoRenew", err)
	}
	c2, err := v.Obtain(bg, 55*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Expiry.Equal(t0.Add(25 * time.Minute)) {
		t.Errorf("fresh credential's expiry = %s, want the new token's max, 25m", c2.Expiry.Sub(t0))
	}
	want = append(want,
		"POST /v1/auth/token/renew-self", // Renew: the token gains nothing, so no lease renewal
		"POST /v1/auth/token/renew-self", // Obtain: still nothing
		"POST /v1/auth/kubernetes/login", // so a new token
		"POST /v1/auth/token/renew-self",
		"GET /v1/database/creds/etl")
	if got := e.fv.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if err := v.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := e.fv.Calls()[len(want):]; !slices.Equal(got, []string{"POST /v1/auth/token/revoke-self", "POST /v1/auth/token/revoke-self"}) {
		t.Errorf("Close made %q; want both tokens revoked", got)
	}
	if got := e.fv.Leases(); len(got) != 0 {
		t.Errorf("leases left: %q", got)
	}
}

func TestVaultNoRenew(t *testing.T) {
	t.Parallel()
	t.Run("not renewable", func(t *testing.T) {
		t.Parallel()
		e := newVaultEnv(t, false)
		e.fv.set(func(f *fakeVault) { f.renewable = false })
		v, _ := e.tokenSource(t)
		c, err := v.Obtain(bg, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Renew(bg, c, time.Hour); !errors.Is(err, credentials.ErrNoRenew) {
			t.Errorf("Renew = %v; want ErrNoRenew", err)
		}
		if got := e.fv.Calls(); len(got) != 1 {
			t.Errorf("calls = %q; the lease said renewable false, so no renewal call", got)
		}
	})
	t.Run("Vault refuses", func(t *testing.T) {
		t.Parallel()
		e := newVaultEnv(t, false)
		v, _ := e.tokenSource(t)
		c, err := v.Obtain(bg, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.fv.set(func(f *fakeVault) { f.leases[c.ID].renewable = false })
		_, err = v.Renew(bg, c, time.Hour)
		if !errors.Is(err, credentials.ErrNoRenew) || !strings.Contains(err.Error(), "lease is not renewable") {
			t.Errorf("Renew = %v; want ErrNoRenew with Vault's message", err)
		}
	})
	t.Run("max TTL", func(t *testing.T) {
		t.Parallel()
		e := newVaultEnv(t, false)
		e.fv.set(func(f *fakeVault) { f.credsMaxTTL = 40 * time.Minute })
		v, _ := e.tokenSource(t)
		c, err := v.Obtain(bg, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.at(20 * time.Minute)
		if c, err = v.Renew(bg, c, time.Hour); err != nil || !c.Expiry.Equal(t0.Add(40*time.Minute)) {
			t.Fatalf("Renew = %v, %v; want it capped at max_ttl, 40m", c, err)
		}
		e.at(35 * time.Minute)
		if _, err := v.Renew(bg, c, time.Hour); !errors.Is(err, credentials.ErrNoRenew) {
			t.Errorf("Renew at max_ttl = %v; want ErrNoRenew", err)
		}
	})
}

func TestVaultRevokeUnknownLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int // fakeVault.revokeUnknown
		ok     bool
	}{
		{"204, as Vault answers", 0, true},
		{"400 invalid lease", http.StatusBadRequest, true},
		{"500", http.StatusInternalServerError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newVaultEnv(t, false)
			e.fv.set(func(f *fakeVault) { f.revokeUnknown = tt.status })
			v, _ := e.tokenSource(t)
			err := v.Revoke(bg, &credentials.Credential{ID: "database/creds/etl/gone"})
			if (err == nil) != tt.ok {
				t.Errorf("Revoke = %v, want success %v", err, tt.ok)
			}
			if got := e.fv.Calls(); !slices.Equal(got, []string{"PUT /v1/sys/leases/revoke"}) {
				t.Errorf("calls = %q", got)
			}
		})
	}
}

// TestVaultBroker drives the source from a real Broker on the fake clock:
// obtained at Start, renewed at two thirds of the lease, revoked at Stop.
func TestVaultBroker(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	v, _ := e.tokenSource(t)
	rec := &recorder{}
	b := credentials.NewBroker(credentials.BrokerOptions{Recorder: rec, Log: zerolog.New(e.logs),
		Now: e.clock.Now, After: e.clock.After, Jitter: noJitter, Deadline: t0.Add(time.Hour)})
	b.Add(credentials.UpstreamPostgres, v, credentials.SourceVault, 5*time.Minute)
	t.Cleanup(func() { _ = b.Stop(bg) })
	if err := b.Start(bg); err != nil {
		t.Fatal(err)
	}
	c, err := b.Current("postgres")
	if err != nil || !c.Expiry.Equal(t0.Add(30*time.Minute)) || c.Source != "vault" {
		t.Fatalf("Current = %+v, %v", c, err)
	}

	at, next := e.clock.Wake(t)
	if !at.Equal(t0.Add(20 * time.Minute)) {
		t.Fatalf("renewed at %s, want 20m", at.Sub(t0))
	}
	// Asked for the deadline plus margin, 45m: granted to 65m.
	if c, err := b.Current("postgres"); err != nil || !c.Expiry.Equal(t0.Add(65*time.Minute)) {
		t.Fatalf("after renewal Current = %+v, %v", c, err)
	}
	if !next.Equal(t0.Add(50 * time.Minute)) {
		t.Errorf("next wake at %s, want 50m", next.Sub(t0))
	}
	// Then it lasts to the deadline plus margin: no call, sleep to the expiry.
	if at, next := e.clock.Wake(t); !at.Equal(t0.Add(50*time.Minute)) || !next.Equal(t0.Add(65*time.Minute)) {
		t.Errorf("woke at %s, sleeps to %s; want 50m, 65m", at.Sub(t0), next.Sub(t0))
	}
	if err := b.Stop(bg); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v1/database/creds/etl", "PUT /v1/sys/leases/renew", "PUT /v1/sys/leases/revoke"}
	if got := e.fv.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if got := e.fv.Leases(); len(got) != 0 {
		t.Errorf("leases left after Stop: %q", got)
	}
	id := "database/creds/etl/lease0001"
	if got := rec.statuses(); !slices.Equal(got, []string{"issued " + id, "renewed " + id, "revoked " + id}) {
		t.Errorf("records = %q", got)
	}
	if r := rec.last(); r.Credential.Status != audit.CredentialRevoked || r.Credential.Source != "vault" {
		t.Errorf("last record = %+v", r.Credential)
	}
}

// TestVaultCanary runs the source through success and every kind of
// failure with recognisable secrets, and looks for them in errors and logs.
func TestVaultCanary(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, false)
	var errs []error
	note := func(_ any, err error) {
		if err == nil {
			t.Helper()
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}

	v, token := e.tokenSource(t)
	c, err := v.Obtain(bg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	seen := []string{fmt.Sprintf("%v %+v %#v", c, c, *c)}
	e.fv.set(func(f *fakeVault) { f.credsStatus = http.StatusInternalServerError }) // quotes the token
	note(v.Obtain(bg, time.Hour))
	if !strings.Contains(errs[0].Error(), "plugin failed for request with token [REDACTED]") {
		t.Errorf("error = %v; want Vault's message with the token redacted", errs[0])
	}
	e.fv.set(func(f *fakeVault) { f.credsStatus = 0; f.leases[c.ID].renewable = false })
	note(v.Renew(bg, c, time.Hour))

	wrong := e.source(t, credentials.VaultOptions{TokenFile: e.file(t, "wrong", "hvs.wrong-"+e.canary)})
	note(wrong.Obtain(bg, time.Hour))
	note(nil, wrong.Revoke(bg, c))

	badJWT := e.k8sAuth(t)
	badJWT.JWTFile = e.file(t, "jwt-bad", "eyJ.bad-"+e.canary+".sig")
	note(e.source(t, credentials.VaultOptions{Auth: badJWT}).Obtain(bg, time.Hour))
	badSecret := &credentials.VaultAuthOptions{Method: "approle",
		RoleIDFile: e.file(t, "role-id", e.fv.roleID), SecretIDFile: e.file(t, "secret-id", "bad-"+e.canary)}
	note(e.source(t, credentials.VaultOptions{Auth: badSecret}).Obtain(bg, time.Hour))

	k8s := e.source(t, credentials.VaultOptions{Auth: e.k8sAuth(t)})
	kc, err := k8s.Obtain(bg, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.fv.srv.Close() // Vault goes away
	note(k8s.Renew(bg, kc, 2*time.Hour))
	note(nil, k8s.Revoke(bg, kc))
	note(nil, k8s.Close(bg))
	note(nil, v.Revoke(bg, c))

	held := append(v.Secrets(), k8s.Secrets()...)
	jwt := e.fv.k8sJWT
	if !slices.Contains(held, token) || !slices.Contains(held, c.Password.Reveal()) || !slices.Contains(held, jwt) || len(held) != 5 {
		t.Fatalf("test is broken: Secrets = %d values; want both tokens, both passwords and the kubernetes JWT", len(held))
	}
	for _, err := range errs {
		seen = append(seen, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	}
	for name, text := range map[string]string{"errors": strings.Join(seen, "\n"), "log": e.logs.String()} {
		if strings.Contains(text, e.canary) {
			t.Errorf("%s hold a secret:\n%s", name, text)
		}
	}
}

func TestVaultBadResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       string
		revoked    bool // the lease named is revoked
	}{
		{"not JSON", "<html>Service Unavailable</html>", "vault GET /v1/database/creds/etl: 200 response: not JSON (at byte 1)", false},
		{"wrong type", `{"lease_id":"x","lease_duration":"1h"}`, "200 response: field lease_duration has the wrong type (want int64)", false},
		{"password not a string", `{"lease_id":"x","lease_duration":60,"data":{"username":"u","password":12345}}`,
			"200 response: not the expected JSON", false},
		{"no lease", `{"data":{"username":"u","password":"p"},"lease_duration":60}`, "the response has no lease_id", false},
		{"no password", `{"lease_id":"database/creds/etl/x","lease_duration":60,"data":{"username":"u"}}`,
			"the response has no data.username and data.password", true},
		{"no lease duration", `{"lease_id":"database/creds/etl/x","data":{"username":"u","password":"p"}}`,
			"lease_duration 0 is not a lease", true},
		{"huge lease duration", `{"lease_id":"database/creds/etl/x","lease_duration":9223372036854775807,"data":{"username":"u","password":"p"}}`,
			"lease_duration 9223372036854775807 is not a lease", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newVaultEnv(t, false)
			e.fv.set(func(f *fakeVault) { f.credsBody = tt.body })
			v, _ := e.tokenSource(t)
			_, err := v.Obtain(bg, time.Hour)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Obtain = %v; want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "12345") {
				t.Errorf("error quotes the response: %v", err)
			}
			revoked := slices.Contains(e.fv.Calls(), "PUT /v1/sys/leases/revoke")
			if revoked != tt.revoked {
				t.Errorf("calls = %q; want the lease revoked: %v", e.fv.Calls(), tt.revoked)
			}
		})
	}
}

func TestVaultResponseLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, io.LimitReader(neverEnding('x'), 4<<20))
	}))
	t.Cleanup(srv.Close)
	e := newVaultEnv(t, false)
	v := e.source(t, credentials.VaultOptions{Address: srv.URL, TokenFile: e.file(t, "token", "hvs.t")})
	_, err := v.Obtain(bg, time.Hour)
	if err == nil || err.Error() != "vault GET /v1/database/creds/etl: 200 response larger than 1048576 bytes" {
		t.Errorf("Obtain = %v", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestVaultTLS(t *testing.T) {
	t.Parallel()
	e := newVaultEnv(t, true)
	token := "hvs.tls-" + e.canary
	e.fv.addToken(token, 0)
	tokenFile := e.file(t, "token", token)
	ca := e.file(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.fv.srv.Certificate().Raw})))

	v := e.source(t, credentials.VaultOptions{TokenFile: tokenFile, CAFile: ca})
	if _, err := v.Obtain(bg, time.Hour); err != nil {
		t.Fatalf("Obtain with ca_file: %v", err)
	}
	v = e.source(t, credentials.VaultOptions{TokenFile: tokenFile})
	if _, err := v.Obtain(bg, time.Hour); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Obtain without ca_file = %v; want a certificate error", err)
	}
	if strings.Contains(e.logs.String(), "plain http") {
		t.Errorf("warned of plain http for https:\n%s", e.logs)
	}
}

func TestVaultContextBoundsCalls(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	e := newVaultEnv(t, false)
	v := e.source(t, credentials.VaultOptions{Address: srv.URL, TokenFile: e.file(t, "token", "hvs.t")})
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := v.Obtain(ctx, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 5*time.Second {
		t.Errorf("Obtain = %v after %s; want the context's deadline", err, time.Since(began))
	}
}

// vaultTransport answers in memory: canned responses, except fuzzed for
// the endpoint chosen.
type vaultTransport struct {
	fuzzPath string
	status   int
	body     []byte
	canned   map[string]string
}

func (tr *vaultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	status, body := http.StatusOK, []byte(tr.canned[r.URL.Path])
	switch {
	case r.URL.Path == tr.fuzzPath:
		status, body = tr.status, tr.body
	case len(body) == 0:
		status = http.StatusNoContent
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body)), Header: http.Header{}, Request: r}, nil
}

// FuzzVaultResponse feeds one endpoint's answer from the fuzzer and drives
// a kubernetes-login source through Obtain, Renew, Revoke and Close. No
// input may panic, yield a credential that is unusable, or put a secret
// the source holds into an error.
func FuzzVaultResponse(f *testing.F) {
	const (
		token    = "hvs.FUZZTOKEN-canary-0001"
		jwt      = "eyJ.FUZZJWT-canary.sig"
		password = "FUZZPASSWORD-canary"
	)
	paths := []string{"/v1/auth/kubernetes/login", "/v1/auth/token/renew-self", "/v1/database/creds/etl",
		"/v1/sys/leases/renew", "/v1/sys/leases/revoke", "/v1/auth/token/revoke-self"}
	canned := map[string]string{
		paths[0]: `{"auth":{"client_token":"` + token + `","lease_duration":3600,"renewable":true}}`,
		paths[1]: `{"auth":{"client_token":"` + token + `","lease_duration":7200,"renewable":true}}`,
		paths[2]: `{"lease_id":"database/creds/etl/1","lease_duration":1800,"renewable":true,"data":{"username":"u","password":"` + password + `"}}`,
		paths[3]: `{"lease_id":"database/creds/etl/1","lease_duration":3600,"renewable":true}`,
	}
	jwtFile := filepath.Join(f.TempDir(), "jwt")
	if err := os.WriteFile(jwtFile, []byte(jwt), 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, status int, body []byte) {
		tr := &vaultTransport{fuzzPath: paths[int(which)%len(paths)], status: 200 + (status%400+400)%400, body: body, canned: canned}
		clock := func() time.Time { return t0 }
		v, err := credentials.NewVault(credentials.VaultOptions{Address: "https://vault.test", Role: "etl",
			Auth:       &credentials.VaultAuthOptions{Method: "kubernetes", Role: "etl-job", JWTFile: jwtFile},
			HTTPClient: &http.Client{Transport: tr}, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		var errs []error
		c, err := v.Obtain(bg, 2*time.Hour)
		errs = append(errs, err)
		if err == nil {
			if c.ID == "" || c.User == "" || c.Password.IsZero() || !c.Expiry.After(t0) {
				t.Fatalf("Obtain gave an unusable credential: %+v", c)
			}
			nc, err := v.Renew(bg, c, 2*time.Hour)
			errs = append(errs, err)
			if err == nil && (nc.ID != c.ID || !nc.Expiry.After(c.Expiry)) {
				t.Fatalf("Renew gave %+v from %+v", nc, c)
			}
			errs = append(errs, v.Revoke(bg, c))
		}
		errs = append(errs, v.Close(bg))
		// What the source held (a token or password only once a response
		// gave it one; a fuzzed error may quote what it never got), and
		// the JWT it read. Short fuzzed values match by chance: skipped.
		held := append(v.Secrets(), jwt)
		for _, err := range errs {
			if err == nil {
				continue
			}
			for _, s := range held {
				if len(s) >= 8 && strings.Contains(err.Error(), s) {
					t.Fatalf("error holds a secret: %v", err)
				}
			}
		}
	})
}
