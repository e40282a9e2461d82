package credentials_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault speaks the part of Vault's HTTP API the vault source uses, as
// documented at developer.hashicorp.com/vault/api-docs and as Vault's
// expiration manager behaves:
//
//	GET  /v1/<mount>/creds/<role>        secret/databases#generate-credentials
//	PUT  /v1/sys/leases/renew            system/leases#renew-lease
//	PUT  /v1/sys/leases/revoke           system/leases#revoke-lease (204, also for an unknown lease)
//	POST /v1/auth/<mount>/login          auth/kubernetes#login, auth/approle#login-with-approle
//	POST /v1/auth/token/renew-self       auth/token#renew-a-token-self
//	POST /v1/auth/token/revoke-self      auth/token#revoke-a-token-self
//
// Every call but a login needs a live token in X-Vault-Token (403
// "permission denied" otherwise). A lease ends with the token that made it,
// as in Vault. Time is the injected clock's. Calls are recorded.
type fakeVault struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	mu sync.Mutex
	// Behaviour; change with set.
	mount, role           string        // the database engine's mount and its one role
	credsTTL, credsMaxTTL time.Duration // the role's default_ttl and max_ttl
	renewable             bool          // leases are renewable
	tokenTTL, tokenMaxTTL time.Duration // login tokens'; a zero TTL: no expiry
	k8sMount, k8sRole     string
	k8sJWT                string
	appRoleMount          string
	roleID, secretID      string
	credsStatus           int    // non-zero: creds fails with it, quoting the request's token (a careless backend)
	revokeUnknown         int    // non-zero: the status for revoking an unknown lease instead of 204
	credsBody             string // non-empty: creds answers 200 with this body

	// State.
	tokens map[string]*fakeVaultToken
	leases map[string]*fakeVaultLease
	calls  []string // "METHOD /path"
	bodies []string // request bodies, in call order
	n      int
	canary string
}

type fakeVaultToken struct {
	expiry, maxExpiry time.Time // zero: none
	renewable         bool
}

type fakeVaultLease struct {
	token          string
	issued, expiry time.Time
	renewable      bool
}

// newFakeVault starts a fake Vault; secrets it makes up hold canary.
func newFakeVault(t *testing.T, now func() time.Time, canary string, tls bool) *fakeVault {
	t.Helper()
	f := &fakeVault{
		t: t, now: now, canary: canary,
		mount: "database", role: "etl",
		credsTTL: 30 * time.Minute, credsMaxTTL: 2 * time.Hour, renewable: true,
		tokenTTL: time.Hour, tokenMaxTTL: 4 * time.Hour,
		k8sMount: "kubernetes", k8sRole: "etl-job", k8sJWT: "eyJhbGciOiJSUzI1NiJ9.jwt-" + canary + ".sig",
		appRoleMount: "approle", roleID: "role-id-" + canary, secretID: "secret-id-" + canary,
		tokens: map[string]*fakeVaultToken{},
		leases: map[string]*fakeVaultLease{},
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshakes refused on purpose
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVault) URL() string { return f.srv.URL }

func (f *fakeVault) set(fn func(f *fakeVault)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// addToken makes a token Vault accepts, lasting ttl (zero: for ever).
func (f *fakeVault) addToken(value string, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := &fakeVaultToken{}
	if ttl > 0 {
		tok.expiry = f.now().Add(ttl)
		tok.maxExpiry = tok.expiry
	}
	f.tokens[value] = tok
}

func (f *fakeVault) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeVault) Bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bodies)
}

// Leases lists the live leases' ids, sorted.
func (f *fakeVault) Leases() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reap()
	var ids []string
	for id := range f.leases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TokenLive reports whether Vault accepts value.
func (f *fakeVault) TokenLive(value string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reap()
	_, ok := f.tokens[value]
	return ok
}

// reap drops expired tokens, and leases that expired or whose token did.
func (f *fakeVault) reap() {
	now := f.now()
	for v, tok := range f.tokens {
		if !tok.expiry.IsZero() && !now.Before(tok.expiry) {
			delete(f.tokens, v)
		}
	}
	for id, l := range f.leases {
		if _, ok := f.tokens[l.token]; !ok || !now.Before(l.expiry) {
			delete(f.leases, id)
		}
	}
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reap()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	var body json.RawMessage
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
			f.bodies = append(f.bodies, "")
			writeVault(w, http.StatusBadRequest, nil, "failed to parse JSON input")
			return
		}
	}
	f.bodies = append(f.bodies, string(body))
	p := r.URL.Path
	login := strings.HasPrefix(p, "/v1/auth/") && strings.HasSuffix(p, "/login")
	token := r.Header.Get("X-Vault-Token")
	if !login {
		if _, ok := f.tokens[token]; !ok {
			writeVault(w, http.StatusForbidden, nil, "permission denied")
			return
		}
	}
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case p == "/v1/"+f.mount+"/creds/"+f.role && r.Method == http.MethodGet:
		f.creds(w, token)
	case p == "/v1/sys/leases/renew" && write:
		f.renewLease(w, body)
	case p == "/v1/sys/leases/revoke" && write:
		f.revokeLease(w, body)
	case p == "/v1/auth/token/renew-self" && write:
		f.renewSelf(w, token, body)
	case p == "/v1/auth/token/revoke-self" && write:
		f.revokeToken(token)
		w.WriteHeader(http.StatusNoContent)
	case p == "/v1/auth/"+f.k8sMount+"/login" && write:
		var in struct{ Role, JWT string }
		switch {
		case !decodeStrict(body, &in, "role", "jwt"):
			writeVault(w, http.StatusBadRequest, nil, "missing role or jwt")
		case in.Role != f.k8sRole:
			writeVault(w, http.StatusBadRequest, nil, fmt.Sprintf("invalid role name %q", in.Role))
		case in.JWT != f.k8sJWT:
			writeVault(w, http.StatusForbidden, nil, "permission denied")
		default:
			f.login(w, map[string]any{"role": in.Role, "service_account_name": "etl"})
		}
	case p == "/v1/auth/"+f.appRoleMount+"/login" && write:
		var in struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		}
		if !decodeStrict(body, &in, "role_id", "secret_id") || in.RoleID != f.roleID || in.SecretID != f.secretID {
			writeVault(w, http.StatusBadRequest, nil, "invalid role or secret ID")
			return
		}
		f.login(w, map[string]any{"role_name": "etl"})
	default:
		writeVault(w, http.StatusNotFound, nil, "no handler for route \""+strings.TrimPrefix(p, "/v1/")+"\". route entry not found.")
	}
}

func (f *fakeVault) creds(w http.ResponseWriter, token string) {
	if f.credsStatus != 0 {
		writeVault(w, f.credsStatus, nil, "1 error occurred:\n\t* plugin failed for request with token "+token)
		return
	}
	if f.credsBody != "" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, f.credsBody)
		return
	}
	f.n++
	id := fmt.Sprintf("%s/creds/%s/lease%04d", f.mount, f.role, f.n)
	now := f.now()
	f.leases[id] = &fakeVaultLease{token: token, issued: now, expiry: now.Add(f.credsTTL), renewable: f.renewable}
	writeVault(w, http.StatusOK, map[string]any{
		"request_id":     fmt.Sprintf("req-%d", f.n),
		"lease_id":       id,
		"renewable":      f.renewable,
		"lease_duration": int(f.credsTTL / time.Second),
		"data": map[string]any{
			"username": fmt.Sprintf("v-token-%s-%04d", f.role, f.n),
			"password": fmt.Sprintf("%s-password-%d", f.canary, f.n),
		},
		"wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

// renewLease extends a lease by the increment (or default_ttl), capped at
// max_ttl from its issue, as the database backend's renew does.
func (f *fakeVault) renewLease(w http.ResponseWriter, body json.RawMessage) {
	var in struct {
		LeaseID   string `json:"lease_id"`
		Increment int64  `json:"increment"`
	}
	if !decodeStrict(body, &in, "lease_id", "increment") || in.LeaseID == "" {
		writeVault(w, http.StatusBadRequest, nil, "lease_id must be specified")
		return
	}
	l := f.leases[in.LeaseID]
	switch {
	case l == nil:
		writeVault(w, http.StatusBadRequest, nil, "lease not found")
		return
	case !l.renewable:
		writeVault(w, http.StatusBadRequest, nil, "lease is not renewable")
		return
	}
	now := f.now()
	ttl := time.Duration(in.Increment) * time.Second
	if ttl == 0 {
		ttl = f.credsTTL
	}
	var warnings []string
	if maxEnd := l.issued.Add(f.credsMaxTTL); now.Add(ttl).After(maxEnd) {
		ttl = maxEnd.Sub(now)
		warnings = append(warnings, "TTL exceeded the effective max_ttl; TTL value is capped accordingly")
	}
	l.expiry = now.Add(ttl)
	writeVault(w, http.StatusOK, map[string]any{
		"request_id": "renew", "lease_id": in.LeaseID, "renewable": true,
		"lease_duration": int(ttl / time.Second), "data": nil, "wrap_info": nil, "warnings": warnings, "auth": nil,
	})
}

func (f *fakeVault) revokeLease(w http.ResponseWriter, body json.RawMessage) {
	var in struct {
		LeaseID string `json:"lease_id"`
		Sync    *bool  `json:"sync"`
	}
	if !decodeStrict(body, &in, "lease_id", "sync") || in.LeaseID == "" {
		writeVault(w, http.StatusBadRequest, nil, "lease_id must be specified")
		return
	}
	if _, ok := f.leases[in.LeaseID]; !ok && f.revokeUnknown != 0 {
		writeVault(w, f.revokeUnknown, nil, "invalid lease ID")
		return
	}
	delete(f.leases, in.LeaseID)
	if in.Sync != nil && !*in.Sync {
		w.WriteHeader(http.StatusAccepted) // queued
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeVault) login(w http.ResponseWriter, metadata map[string]any) {
	f.n++
	value := fmt.Sprintf("hvs.%s-login-%d", f.canary, f.n)
	now := f.now()
	tok := &fakeVaultToken{renewable: true}
	if f.tokenTTL > 0 {
		tok.expiry, tok.maxExpiry = now.Add(f.tokenTTL), now.Add(f.tokenMaxTTL)
	}
	f.tokens[value] = tok
	writeVault(w, http.StatusOK, map[string]any{
		"request_id": "login", "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil,
		"auth": f.auth(value, tok, metadata),
	})
}

func (f *fakeVault) auth(value string, tok *fakeVaultToken, metadata map[string]any) map[string]any {
	ttl := 0
	if !tok.expiry.IsZero() {
		ttl = int(tok.expiry.Sub(f.now()) / time.Second)
	}
	return map[string]any{
		"client_token": value, "accessor": "accessor-" + value[len(value)-3:],
		"policies": []string{"default", "etl"}, "token_policies": []string{"default", "etl"},
		"metadata": metadata, "lease_duration": ttl, "renewable": tok.renewable,
		"entity_id": "", "token_type": "service", "orphan": true,
	}
}

func (f *fakeVault) renewSelf(w http.ResponseWriter, token string, body json.RawMessage) {
	var in struct {
		Increment int64 `json:"increment"`
	}
	if len(body) > 0 && !decodeStrict(body, &in, "increment") {
		writeVault(w, http.StatusBadRequest, nil, "bad increment")
		return
	}
	tok := f.tokens[token]
	if !tok.renewable || tok.expiry.IsZero() {
		writeVault(w, http.StatusBadRequest, nil, "lease is not renewable")
		return
	}
	ttl := time.Duration(in.Increment) * time.Second
	if ttl == 0 {
		ttl = f.tokenTTL
	}
	tok.expiry = f.now().Add(ttl)
	if tok.expiry.After(tok.maxExpiry) {
		tok.expiry = tok.maxExpiry
	}
	writeVault(w, http.StatusOK, map[string]any{"request_id": "renew-self", "auth": f.auth(token, tok, nil)})
}

// revokeToken ends a token and, as Vault does, every lease it created.
func (f *fakeVault) revokeToken(token string) {
	delete(f.tokens, token)
	f.reap()
}

// decodeStrict decodes body into v, refusing fields other than allowed.
func decodeStrict(body json.RawMessage, v any, allowed ...string) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return false
	}
	for k := range fields {
		if !slices.Contains(allowed, k) {
			return false
		}
	}
	return json.Unmarshal(body, v) == nil
}

// writeVault writes v, or Vault's {"errors": [...]} when v is nil.
func writeVault(w http.ResponseWriter, status int, v any, errs ...string) {
	if v == nil {
		v = map[string]any{"errors": errs}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
