// Package credentials obtains the upstream credentials Airlock holds for
// the task. Values live only in secret.Secret and in the dialer or signer
// that uses them.
//
// This first part has the static PostgreSQL source; the broker that renews
// and revokes short-lived credentials builds on it.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// StaticPostgres is a fixed user and password (development; not short-lived).
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
