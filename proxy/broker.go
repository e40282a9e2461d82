package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/airlockproxy/airlock/policy"

	"github.com/airlockproxy/airlock/proxy/credentials"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// startCredentials obtains every upstream credential the config names,
// before any protocol listener opens; renewal runs until Shutdown revokes.
func (s *Server) startCredentials(ctx context.Context) error {
	s.broker = credentials.NewBroker(credentials.BrokerOptions{
		Recorder: s.audit, Log: s.log, Now: s.now, Deadline: s.startedAt.Add(s.cfg.Task.TTL.D()),
	})
	s.held = append(s.held, s.broker.Secrets)
	n := 0
	if p := s.cfg.Postgres; p != nil {
		c := p.Credentials
		var src credentials.Source
		switch c.Source {
		case "static":
			st, err := credentials.NewStaticPostgres(c.User, c.PasswordFile, c.PasswordEnv)
			if err != nil {
				return fmt.Errorf("postgres.credentials: %w", err)
			}
			s.log.Warn().Msg("postgres: static credentials are not short-lived; use ephemeral-role or vault in production")
			src = st
		case "ephemeral-role":
			er := credentials.NewEphemeralRole(credentials.EphemeralRoleOptions{AdminDSNFile: c.AdminDSNFile, TaskID: s.cfg.Task.ID,
				Grant: c.Grant, ReassignTo: c.ReassignTo, ConnectionLimit: c.ConnectionLimit, Log: s.log, Now: s.now})
			s.held = append(s.held, er.Secrets) // the bootstrap admin DSN and its password
			src = er
		case "vault":
			opts := credentials.VaultOptions{Address: c.Address, Mount: c.Mount, Role: c.Role, TokenFile: c.TokenFile,
				CAFile: c.CAFile, Log: s.log, Now: s.now}
			if a := c.Auth; a != nil {
				opts.Auth = &credentials.VaultAuthOptions{Method: a.Method, Mount: a.Mount, Role: a.Role, JWTFile: a.JWTFile,
					RoleIDFile: a.RoleIDFile, SecretIDFile: a.SecretIDFile}
			}
			v, err := credentials.NewVault(opts)
			if err != nil {
				return fmt.Errorf("postgres.credentials: %w", err)
			}
			s.held = append(s.held, v.Secrets)
			s.closers = append(s.closers, v.Close) // after the broker's revokes: ends the login token and any lease left
			src = v
		case "rds-iam":
			u := p.Upstream
			r, err := credentials.NewRDSIAM(ctx, credentials.RDSIAMOptions{Endpoint: net.JoinHostPort(u.Host, strconv.Itoa(u.Port)),
				User: c.User, Region: c.Region, Now: s.now, Log: s.log})
			if err != nil {
				return fmt.Errorf("postgres.credentials: %w", err)
			}
			s.held = append(s.held, r.Secrets)
			s.pgLogin = r.Login // a fresh token for each upstream connection
			src = r
		default:
			return fmt.Errorf("postgres.credentials.source %q is unknown", c.Source)
		}
		s.broker.Add(credentials.UpstreamPostgres, src, c.Source, c.Margin.D())
		n++
	}
	if c := s.cfg.S3; c != nil {
		src, err := s.s3Source(ctx, c.Credentials, c.Upstream.Region)
		if err != nil {
			return fmt.Errorf("s3.credentials: %w", err)
		}
		s.broker.Add(credentials.UpstreamS3, src, c.Credentials.Source, c.Credentials.Margin.D())
		n++
	}
	if n == 0 {
		return nil
	}
	if err := s.broker.Start(ctx); err != nil {
		return fmt.Errorf("obtain credentials: %w", err)
	}
	s.step(fmt.Sprintf("%d upstream credentials held", n))
	return nil
}

// s3Source builds the configured S3 credential source.
func (s *Server) s3Source(ctx context.Context, c S3Credentials, region string) (credentials.Source, error) {
	if c.Source == credentials.SourceStatic {
		st, err := credentials.NewStaticS3(c.AccessKeyID, c.SecretAccessKeyFile, c.SecretAccessKeyEnv)
		if err != nil {
			return nil, err
		}
		s.log.Warn().Msg("s3: static credentials are not short-lived; use assume-role or web-identity in production")
		s.held = append(s.held, st.Secrets)
		return st, nil
	}
	opts := credentials.AWSOptions{Kind: c.Source, RoleARN: c.RoleARN, Duration: c.Duration.D(), STSEndpoint: c.STSEndpoint,
		Region: region, SourceIdentity: c.SourceIdentity, SessionName: "airlock-" + s.cfg.Task.ID, TokenFile: c.TokenFile,
		Now: s.now, Log: s.log}
	if b := c.Base; b != nil && b.Source == credentials.SourceStatic {
		st, err := credentials.NewStaticS3(b.AccessKeyID, b.SecretAccessKeyFile, b.SecretAccessKeyEnv)
		if err != nil {
			return nil, fmt.Errorf("base: %w", err)
		}
		s.held = append(s.held, st.Secrets)
		opts.Base = st
	}
	switch {
	case c.SessionPolicyFile != "":
		b, err := os.ReadFile(c.SessionPolicyFile)
		if err != nil {
			return nil, fmt.Errorf("read session_policy_file: %w", err)
		}
		opts.SessionPolicy = string(b)
	case c.ScopeDown:
		doc, notes, err := policy.ScopeDownPolicy(s.cfg.Policy.Rules, &policy.Task{ID: s.cfg.Task.ID, Labels: s.cfg.Task.Labels})
		if err != nil {
			return nil, fmt.Errorf("scope_down: %w", err)
		}
		for _, n := range notes {
			s.log.Info().Str("note", n).Msg("s3 scope-down: the session policy is wider than the rules here")
		}
		if s.cfg.Mode == "observe" {
			s.log.Warn().Msg("s3 scope-down in observe mode: S3 itself denies what the rules do not allow, although Airlock only records it")
		}
		s.log.Info().Int("bytes", len(doc)).Msg("s3 scope-down: session policy generated from the rules")
		opts.SessionPolicy = doc
	}
	src, err := credentials.NewAWSSource(ctx, opts)
	if err != nil {
		return nil, err
	}
	s.held = append(s.held, src.Secrets)
	return src, nil
}

// s3Credentials is the S3 signer's view of the broker.
func (s *Server) s3Credentials() aws.CredentialsProvider {
	return credentials.CredentialsProvider(func() (*credentials.Credential, error) {
		return s.broker.Current(credentials.UpstreamS3)
	})
}

// postgresLogin is the postgres dialer's view of the broker: the held
// login, or for rds-iam a token made for this connection (the broker's
// credential must still be current: it fails closed when it expired).
func (s *Server) postgresLogin(ctx context.Context) (string, secret.Secret, error) {
	c, err := s.broker.Current(credentials.UpstreamPostgres)
	if err == nil && s.pgLogin != nil {
		return s.pgLogin(ctx)
	}
	if err != nil {
		return "", secret.Secret{}, err
	}
	return c.User, c.Password, nil
}

// ExitRevokeFailed is the exit code when a credential could not be
// revoked (after retrying within shutdown.drain): it may still work
// upstream until it expires, and its revoke-failed audit record names it.
// It replaces the code the stop would otherwise have had.
const ExitRevokeFailed = 125

// minRevokeWindow is the least time revocation gets, whatever
// shutdown.drain says.
const minRevokeWindow = 5 * time.Second

// stopCredentials revokes what the broker holds, retrying failures with
// backoff within shutdown.drain (at least minRevokeWindow). It reports
// whether a credential stayed unrevoked.
func (s *Server) stopCredentials() (revokeFailed bool) {
	if s.broker == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.Shutdown.Drain.D(), minRevokeWindow))
	defer cancel()
	if err := s.broker.Stop(ctx); err != nil {
		revokeFailed = errors.Is(err, credentials.ErrRevokeFailed)
		s.log.Error().Err(err).Msg("revoking credentials failed; see the credential records in the audit log")
	}
	for _, c := range s.closers {
		if err := c(ctx); err != nil {
			s.log.Error().Err(err).Msg("closing a credential source failed")
		}
	}
	return revokeFailed
}

// credentialList is /credentials.
func (s *Server) credentialList() []CredentialInfo {
	if s.broker == nil {
		return nil
	}
	var out []CredentialInfo
	for _, i := range s.broker.List() {
		out = append(out, CredentialInfo{ID: i.ID, Upstream: i.Upstream, Source: i.Source, Expiry: i.Expiry})
	}
	return out
}
