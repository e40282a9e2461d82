package postgres

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/airlockproxy/airlock/internal/rawconn"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// Upstream addresses the real server.
type Upstream struct {
	Host     string // host name, address, or unix socket directory
	Port     int
	Database string
	TLS      *tls.Config // nil: no TLS
	// Session holds the pinned session parameters, set at connection start.
	Session map[string]string
	// Login returns the user and password to log in with, fresh for each
	// connection (tokens such as RDS IAM's are per login).
	Login func(ctx context.Context) (user string, password secret.Secret, err error)
}

// CredentialError is a Dialer's failure to get a login: the held
// credential expired unrenewed, or its source failed. Nothing was dialled.
type CredentialError struct{ Err error }

func (e *CredentialError) Error() string { return "upstream credential: " + e.Err.Error() }
func (e *CredentialError) Unwrap() error { return e.Err }

// Dialer returns a Config.Connect for up. Nothing from Airlock's own
// environment (PG* variables, ~/.pgpass, service files) reaches the
// upstream connection: every field is set here.
func Dialer(up Upstream) func(ctx context.Context, params map[string]string) (*pgconn.PgConn, error) {
	return func(ctx context.Context, params map[string]string) (*pgconn.PgConn, error) {
		user, pw, err := up.Login(ctx)
		if err != nil {
			return nil, &CredentialError{Err: err}
		}
		cfg, err := pgconn.ParseConfig("sslmode=disable")
		if err != nil {
			return nil, fmt.Errorf("upstream config: %w", err)
		}
		cfg.Host, cfg.Port, cfg.Database = up.Host, uint16(up.Port), up.Database
		cfg.User, cfg.Password = user, pw.Reveal()
		cfg.TLSConfig = up.TLS
		if up.TLS != nil && up.TLS.ServerName == "" && !strings.HasPrefix(up.Host, "/") {
			cfg.TLSConfig = up.TLS.Clone()
			cfg.TLSConfig.ServerName = up.Host
		}
		// As pgconn's default (keepalive every 5 minutes), with the
		// socket wrapped for the relay's reads and writes (see rawconn).
		cfg.DialFunc = rawconn.Dial(&net.Dialer{KeepAlive: 5 * time.Minute})
		cfg.Fallbacks = nil
		cfg.ValidateConnect = nil
		cfg.AfterConnect = nil
		cfg.RuntimeParams = map[string]string{}
		for k, v := range params {
			cfg.RuntimeParams[k] = v
		}
		for k, v := range up.Session {
			cfg.RuntimeParams[k] = v
		}
		cfg.RuntimeParams["client_encoding"] = "UTF8"
		// The classifier lexes strings as standard_conforming_strings=on
		// does; a role or database default of off would make the server
		// read a backslash-quoted string differently (see Handler.pinned).
		cfg.RuntimeParams["standard_conforming_strings"] = "on"
		c, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, scrub(err, pw.Reveal())
		}
		return c, nil
	}
}

// scrub keeps the password out of an error's text.
func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), password, "[REDACTED]"))
}
