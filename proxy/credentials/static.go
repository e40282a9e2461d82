package credentials

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// SourceStatic names the fixed-credential source.
const SourceStatic = "static"

// StaticPostgres is a fixed user and password (development; not
// short-lived). As a [Source] it hands out the same login every time; it
// does not expire and cannot be revoked.
type StaticPostgres struct {
	User     string
	password secret.Secret
}

// NewStaticPostgres reads the password from a file or an environment
// variable, once.
func NewStaticPostgres(user, passwordFile, passwordEnv string) (*StaticPostgres, error) {
	pw, err := readSecret("password_file", passwordFile, "password_env", passwordEnv, func(b string) string { return strings.TrimRight(b, "\r\n") })
	if err != nil {
		return nil, err
	}
	return &StaticPostgres{User: user, password: secret.New(pw)}, nil
}

// readSecret reads a secret from the file, or else from the environment
// variable; the field names go into errors. trim cleans a file's content.
func readSecret(fileField, file, envField, env string, trim func(string) string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", fileField, err)
		}
		return trim(string(b)), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("%s: %s is not set", envField, env)
		}
		return v, nil
	}
	return "", fmt.Errorf("static source needs %s or %s", fileField, envField)
}

// Login returns the user and password.
func (s *StaticPostgres) Login(context.Context) (string, secret.Secret, error) {
	return s.User, s.password, nil
}

// Secrets lists the held secret values, for keeping them out of the child's environment.
func (s *StaticPostgres) Secrets() []string { return []string{s.password.Reveal()} }

var _ Source = (*StaticPostgres)(nil)

// Obtain returns the fixed login; it does not expire.
func (s *StaticPostgres) Obtain(context.Context, time.Duration) (*Credential, error) {
	return &Credential{ID: s.User, Source: SourceStatic, Upstream: UpstreamPostgres, User: s.User, Password: s.password}, nil
}

// Renew returns c unchanged: a static login has nothing to extend.
func (s *StaticPostgres) Renew(_ context.Context, c *Credential, _ time.Duration) (*Credential, error) {
	return c, nil
}

// Revoke returns ErrNoRevoke: Airlock did not create the login and cannot
// end it.
func (s *StaticPostgres) Revoke(context.Context, *Credential) error { return ErrNoRevoke }
