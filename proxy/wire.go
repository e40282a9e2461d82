package proxy

import (
	"fmt"
	"strings"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/protocols/postgres"
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
		h3, err := s3Handler(env)
		if err != nil {
			return h, fmt.Errorf("s3: %w", err)
		}
		h.S3 = h3
	}
	if env.Config.Egress != nil {
		he, err := egressHandler(env, h.S3)
		if err != nil {
			return h, fmt.Errorf("egress: %w", err)
		}
		h.Egress = he
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
		Check:    env.Gate.Check,
		Refusing: env.Gate.Refusing,
		Connect: postgres.Dialer(postgres.Upstream{Host: u.Host, Port: u.Port, Database: u.Database,
			TLS: upTLS, Session: session, Login: env.PostgresLogin}),
		Classifier: postgres.NewClassifier(searchPath, u.Database),
		ClientAuth: c.ClientAuth,
		Token:      env.Local.PGToken,
		TLS:        listenerTLS,
		Database:   u.Database,
		Pinned:     session,
		Log:        env.Log.With().Str("protocol", "postgres").Logger(),
	})
}
