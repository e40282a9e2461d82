package proxy

import (
	"fmt"
	"strings"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy/credentials"
)

// ProtocolHandlers builds the protocol endpoints the configuration asks for.
func ProtocolHandlers(env *Env) (Handlers, error) {
	var h Handlers
	if env.Config.Postgres != nil {
		pg, err := postgresHandler(env)
		if err != nil {
			return h, fmt.Errorf("postgres: %w", err)
		}
		h.Postgres = pg
	}
	if env.Config.S3 != nil {
		env.Log.Warn().Msg("s3: the S3 path is not in this build yet; its listener stays closed")
	}
	return h, nil
}

// DefaultSearchPath is pinned when postgres.session does not pin one:
// unqualified names must resolve the same way for Airlock's classifier
// and for the server.
const DefaultSearchPath = "public"

func postgresHandler(env *Env) (*postgres.Handler, error) {
	c := env.Config.Postgres
	session := map[string]string{}
	for k, v := range c.Session {
		session[strings.ToLower(k)] = v
	}
	if _, ok := session["search_path"]; !ok {
		session["search_path"] = DefaultSearchPath
	}
	var searchPath []string
	for _, s := range strings.Split(session["search_path"], ",") {
		if s = strings.Trim(strings.TrimSpace(s), `"`); s != "" {
			searchPath = append(searchPath, s)
		}
	}
	cr := c.Credentials
	if cr.Source != "static" {
		return nil, fmt.Errorf("credential source %q is not in this build yet (use static)", cr.Source)
	}
	if env.Config.Postgres.Credentials.Source == "static" {
		env.Log.Warn().Msg("postgres: static credentials are not short-lived; use ephemeral-role or vault in production")
	}
	login, err := credentials.NewStaticPostgres(cr.User, cr.PasswordFile, cr.PasswordEnv)
	if err != nil {
		return nil, err
	}
	env.HoldSecrets(login.Secrets)
	u := c.Upstream
	upTLS, err := certs.UpstreamTLS{Mode: u.SSLMode, CAFile: u.SSLRootCert, CertFile: u.SSLCert, KeyFile: u.SSLKey}.Config(u.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	listenerTLS := env.ServerTLS
	if c.PlainText {
		listenerTLS = nil
	}
	return postgres.New(postgres.Config{
		Check: env.Gate.Check,
		Connect: postgres.Dialer(postgres.Upstream{Host: u.Host, Port: u.Port, Database: u.Database,
			TLS: upTLS, Session: session, Login: login.Login}),
		Classifier: postgres.NewClassifier(searchPath, u.Database),
		ClientAuth: c.ClientAuth,
		Token:      env.Local.PGToken,
		TLS:        listenerTLS,
		Database:   u.Database,
		Pinned:     session,
		Log:        env.Log.With().Str("protocol", "postgres").Logger(),
	})
}
