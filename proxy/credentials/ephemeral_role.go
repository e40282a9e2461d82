package credentials

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/proxy/secret"
)

// SourceEphemeralRole names the ephemeral PostgreSQL role source.
const SourceEphemeralRole = "ephemeral-role"

// RolePrefix begins the name of every role EphemeralRole creates;
// RevokeStale drops expired roles by it.
const RolePrefix = "airlock_"

// DefaultTerminateWait bounds the wait for a dropped role's sessions to end
// when EphemeralRoleOptions.TerminateWait is zero.
const DefaultTerminateWait = 10 * time.Second

const (
	maxIdentifier = 63 // bytes in a PostgreSQL name (NAMEDATALEN-1)
	suffixLen     = 8
)

// EphemeralRoleOptions configures an EphemeralRole.
type EphemeralRoleOptions struct {
	// AdminDSNFile holds a connection string for the admin role, read at
	// each use. It must name the upstream database: REASSIGN OWNED and
	// DROP OWNED act only on the database connected to, so objects the
	// task made elsewhere would keep the role from being dropped. The
	// admin role needs CREATEROLE, ADMIN OPTION on the Grant roles
	// (PostgreSQL 16 and later), the privileges of pg_signal_backend, and
	// membership in ReassignTo.
	AdminDSNFile string
	// TaskID goes into role names: airlock_<task>_<random>.
	TaskID string
	// Grant lists the group roles the new role joins (with INHERIT, so
	// their privileges apply).
	Grant []string
	// ReassignTo receives what the role owns when it is dropped; empty
	// means the admin role.
	ReassignTo string
	// ConnectionLimit caps the role's sessions; zero or negative: no limit.
	ConnectionLimit int
	// Log is the diagnostic log.
	Log zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TerminateWait bounds the wait for the role's sessions to end at
	// Revoke; zero means DefaultTerminateWait.
	TerminateWait time.Duration
}

// EphemeralRole is a Source that creates a PostgreSQL login role for the
// task, valid until the credential's expiry, and at the end terminates its
// sessions, hands what it owns to ReassignTo and drops it.
//
// The random password never appears in SQL: the role is created with a
// SCRAM-SHA-256 verifier computed here, so statement logs on the server
// show only the verifier. The admin connection string appears in no error
// and no log.
type EphemeralRole struct {
	opts EphemeralRoleOptions
}

var _ Source = (*EphemeralRole)(nil)

// NewEphemeralRole returns the source; it connects only when used.
func NewEphemeralRole(opts EphemeralRoleOptions) *EphemeralRole {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TerminateWait <= 0 {
		opts.TerminateWait = DefaultTerminateWait
	}
	opts.Grant = append([]string(nil), opts.Grant...)
	return &EphemeralRole{opts: opts}
}

// Obtain creates a role valid for validity, rounded down to the second.
func (r *EphemeralRole) Obtain(ctx context.Context, validity time.Duration) (*Credential, error) {
	name := RoleName(r.opts.TaskID, randomSuffix(suffixLen))
	expiry := r.expiry(validity)
	password := randomPassword()
	verifier, err := scramVerifier(password)
	if err != nil {
		return nil, fmt.Errorf("password verifier: %w", err)
	}

	var sql strings.Builder
	sql.WriteString("CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN INHERIT")
	sql.WriteString(" PASSWORD " + quoteLiteral(verifier))
	sql.WriteString(" VALID UNTIL " + quoteLiteral(expiry.Format(time.RFC3339)))
	if r.opts.ConnectionLimit > 0 {
		sql.WriteString(" CONNECTION LIMIT " + strconv.Itoa(r.opts.ConnectionLimit))
	}
	if len(r.opts.Grant) > 0 {
		groups := make([]string, len(r.opts.Grant))
		for i, g := range r.opts.Grant {
			groups[i] = pgx.Identifier{g}.Sanitize()
		}
		sql.WriteString(" IN ROLE " + strings.Join(groups, ", "))
	}

	conn, err := connectAdmin(ctx, r.opts.AdminDSNFile)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, sql.String()); err != nil {
		return nil, fmt.Errorf("create role %s: %w", name, err)
	}
	r.opts.Log.Info().Str("role", name).Time("valid_until", expiry).Strs("grant", r.opts.Grant).Msg("ephemeral role created")
	return &Credential{
		ID:       name,
		Source:   SourceEphemeralRole,
		Upstream: UpstreamPostgres,
		Expiry:   expiry,
		User:     name,
		Password: secret.New(password),
	}, nil
}

// Renew moves the role's VALID UNTIL to validity from now; the password
// stays.
func (r *EphemeralRole) Renew(ctx context.Context, c *Credential, validity time.Duration) (*Credential, error) {
	expiry := r.expiry(validity)
	conn, err := connectAdmin(ctx, r.opts.AdminDSNFile)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	sql := "ALTER ROLE " + pgx.Identifier{c.ID}.Sanitize() + " VALID UNTIL " + quoteLiteral(expiry.Format(time.RFC3339))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return nil, fmt.Errorf("extend role %s: %w", c.ID, err)
	}
	nc := *c
	nc.Expiry = expiry
	return &nc, nil
}

// Revoke terminates the role's sessions, hands what it owns in the admin
// DSN's database to ReassignTo, and drops it. A role already gone is not
// an error.
func (r *EphemeralRole) Revoke(ctx context.Context, c *Credential) error {
	conn, err := connectAdmin(ctx, r.opts.AdminDSNFile)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return dropRole(ctx, conn, c.ID, r.opts.ReassignTo, r.opts.TerminateWait, r.opts.Log)
}

// Secrets lists the secret values of the admin DSN file (the connection
// string and its password), read now, for keeping them out of the child's
// environment.
func (r *EphemeralRole) Secrets() []string { return AdminSecrets(r.opts.AdminDSNFile) }

// expiry is now plus validity, in UTC, rounded down to the second so that
// what PostgreSQL stores is exactly Credential.Expiry.
func (r *EphemeralRole) expiry(validity time.Duration) time.Time {
	return r.opts.Now().Add(validity).UTC().Truncate(time.Second)
}

// RoleName is the role EphemeralRole makes for task with the random
// suffix: RolePrefix, the task id lower-cased with every character
// outside [a-z0-9_] made '_' and cut to fit, '_', suffix; at most 63 bytes.
func RoleName(task, suffix string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(task) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	t := b.String()
	if room := maxIdentifier - len(RolePrefix) - 1 - len(suffix); len(t) > room {
		t = t[:max(room, 0)]
	}
	return RolePrefix + t + "_" + suffix
}

// quoteLiteral makes s an SQL string literal (standard_conforming_strings
// on, PostgreSQL's default since 9.1). The literals here are verifiers and
// timestamps: no backslashes.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
