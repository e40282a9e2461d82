package credentials

import (
	"context"
	"errors"
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
	var pw string
	switch {
	case passwordFile != "":
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("read password_file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	case passwordEnv != "":
		v, ok := os.LookupEnv(passwordEnv)
		if !ok {
			return nil, fmt.Errorf("password_env: %s is not set", passwordEnv)
		}
		pw = v
	default:
		return nil, errors.New("static source needs password_file or password_env")
	}
	return &StaticPostgres{User: user, password: secret.New(pw)}, nil
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
