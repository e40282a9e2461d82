package credentials

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// The Vault HTTP API layer: requests, errors, JSON shapes.

func vaultBaseURL(address string) (string, error) {
	if address == "" {
		return "", errors.New("vault: address is required")
	}
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("vault: address %q is not an http(s)://host[:port] URL", address)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// vaultEscapePath escapes each segment of a mount path.
func vaultEscapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// vaultHTTPClient is the default client: caFile's roots, if any, and no
// redirect that would carry the token from https to http.
func vaultHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("vault: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("vault: ca_file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, CheckRedirect: vaultCheckRedirect}, nil
}

// vaultCheckRedirect follows Vault's redirects (a standby to the active
// node) but not from https to http.
func vaultCheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= vaultMaxRedirects {
		return fmt.Errorf("stopped after %d redirects", vaultMaxRedirects)
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refused a redirect from https to http")
	}
	return nil
}

// vaultReadFile reads a one-line secret file, trimmed.
func vaultReadFile(path, field string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read vault %s: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("vault %s %s is empty", field, path)
	}
	return s, nil
}

// authed makes c with tok. When Vault answers 403 it gets a token again
// (TokenFile rewritten, a login token revoked behind its back) and, if
// that is another token, tries once more. It returns the token last used.
func (v *Vault) authed(ctx context.Context, tok *vaultToken, c vaultCall) (*vaultToken, error) {
	c.token = tok.value
	err := v.do(ctx, c)
	var ve *VaultError
	if !errors.As(err, &ve) || ve.StatusCode != http.StatusForbidden {
		return tok, err
	}
	fresh, ferr := v.replaceToken(ctx, tok)
	if ferr != nil {
		return tok, errors.Join(err, ferr)
	}
	if fresh.value.Equal(tok.value) {
		return tok, err
	}
	c.token = fresh.value
	return fresh, v.do(ctx, c)
}

// vaultCall is one request to Vault.
type vaultCall struct {
	method, path string
	token        secret.Secret // X-Vault-Token; zero: none
	in           any           // JSON body; nil: none
	out          any           // decodes a 2xx body; nil: ignored
	hidden       []string      // more values to keep out of errors
}

// VaultError is an answer from Vault other than 2xx.
type VaultError struct {
	Method     string
	Path       string // the request path, /v1/…
	StatusCode int
	// Message is Vault's errors joined by "; ", every secret value the
	// source holds replaced by [REDACTED], cut to 512 bytes.
	Message string
}

func (e *VaultError) Error() string {
	msg := "vault " + e.Method + " " + e.Path + ": " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// do sends c and decodes the answer, reading at most vaultMaxResponse bytes.
func (v *Vault) do(ctx context.Context, c vaultCall) error {
	var body io.Reader
	if c.in != nil {
		b, err := json.Marshal(c.in)
		if err != nil {
			return fmt.Errorf("vault %s %s: encode request: %w", c.method, c.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, v.base+c.path, body)
	if err != nil {
		return fmt.Errorf("vault %s %s: %w", c.method, c.path, err)
	}
	if !c.token.IsZero() {
		req.Header.Set("X-Vault-Token", c.token.Reveal())
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := v.client.Do(req)
	if err != nil {
		// A *url.Error: the URL and the cause; the token is in a header.
		return fmt.Errorf("vault %s %s: %w", c.method, c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, vaultMaxResponse+1))
	if err != nil {
		return fmt.Errorf("vault %s %s: read response: %w", c.method, c.path, err)
	}
	if len(data) > vaultMaxResponse {
		return fmt.Errorf("vault %s %s: %d response larger than %d bytes", c.method, c.path, resp.StatusCode, vaultMaxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &VaultError{Method: c.method, Path: c.path, StatusCode: resp.StatusCode, Message: v.message(data, c)}
	}
	if c.out == nil {
		return nil
	}
	if err := json.Unmarshal(data, c.out); err != nil {
		return fmt.Errorf("vault %s %s: %d response: %s", c.method, c.path, resp.StatusCode, vaultJSONProblem(err))
	}
	return nil
}

// vaultJSONProblem describes a decoding error without quoting the input,
// which may hold a secret.
func vaultJSONProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "not JSON (at byte " + strconv.FormatInt(syntax.Offset, 10) + ")"
	case errors.As(err, &typ) && typ.Field != "":
		return "field " + typ.Field + " has the wrong type (want " + typ.Type.String() + ")"
	}
	return "not the expected JSON"
}

// message is the error text of a non-2xx body, secrets redacted, cut to
// vaultMaxMessage bytes.
func (v *Vault) message(data []byte, c vaultCall) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	text := ""
	if json.Unmarshal(data, &e) == nil {
		text = strings.Join(e.Errors, "; ")
	} else {
		text = strings.TrimSpace(string(data)) // not Vault's JSON: a proxy's page, say
	}
	if text == "" {
		return ""
	}
	hidden := append(v.Secrets(), c.hidden...)
	if !c.token.IsZero() {
		hidden = append(hidden, c.token.Reveal())
	}
	text = redactValues(text, hidden...) // before cutting, which could leave a secret's prefix
	if len(text) > vaultMaxMessage {
		text = text[:vaultMaxMessage] + "…"
	}
	return strings.ToValidUTF8(text, "\ufffd")
}

// redactValues replaces each non-empty value in s with secret.Redacted.
func redactValues(s string, values ...string) string {
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, secret.Redacted)
		}
	}
	return s
}

// vaultLeaseGone reports a 400 saying that the lease does not exist (any
// more) or cannot be renewed.
func vaultLeaseGone(err error) bool {
	var ve *VaultError
	if !errors.As(err, &ve) || ve.StatusCode != http.StatusBadRequest {
		return false
	}
	msg := strings.ToLower(ve.Message)
	for _, s := range []string{"invalid lease", "lease not found", "lease expired", "not renewable", "past the max ttl"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// vaultResponse is the part of Vault's response envelope used here.
type vaultResponse struct {
	LeaseID       string `json:"lease_id"`
	LeaseDuration int64  `json:"lease_duration"`
	Renewable     bool   `json:"renewable"`
	Data          *struct {
		Username string     `json:"username"`
		Password jsonSecret `json:"password"`
	} `json:"data"`
	Auth *struct {
		ClientToken   jsonSecret `json:"client_token"`
		LeaseDuration int64      `json:"lease_duration"`
		Renewable     bool       `json:"renewable"`
	} `json:"auth"`
}

// jsonSecret decodes a JSON string straight into a secret.Secret.
type jsonSecret struct{ secret.Secret }

func (s *jsonSecret) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("want a string") // not err: it may quote b
	}
	s.Secret = secret.New(v)
	return nil
}

// vaultDuration is a lease_duration, in seconds, as a duration.
func vaultDuration(seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > int64(vaultMaxLease/time.Second) {
		return 0, fmt.Errorf("lease_duration %d is out of range", seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

// vaultSeconds is d in whole seconds, at least 1, for an increment.
func vaultSeconds(d time.Duration) int64 {
	return max(int64(d.Round(time.Second)/time.Second), 1)
}
