package credentials

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// sessionPoll is how often dropRole looks whether terminated sessions are gone.
const sessionPoll = 50 * time.Millisecond

// closeTimeout bounds the goodbye to the admin session.
const closeTimeout = 5 * time.Second

// connectAdmin reads the admin connection string from path and connects.
// The string is a secret: no error carries any of it.
func connectAdmin(ctx context.Context, path string) (*pgx.Conn, error) {
	cfg, _, err := readAdminDSN(path)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "airlock"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		// pgx names user, database and address, never the password.
		return nil, fmt.Errorf("connect as admin: %w", err)
	}
	return conn, nil
}

// readAdminDSN reads and parses the admin connection string in path. It
// also returns the secret values it holds: the string itself and the
// password (from the string, or from the password file libpq would use).
func readAdminDSN(path string) (*pgx.ConnConfig, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read admin DSN file: %w", err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return nil, nil, fmt.Errorf("admin DSN file %s is empty", path)
	}
	secrets := []string{dsn}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: pgx's message quotes the string, password redaction
		// being best effort.
		return nil, secrets, fmt.Errorf("parse admin DSN in %s: not a valid connection string (details withheld: they may quote it)", path)
	}
	if cfg.Password != "" {
		secrets = append(secrets, cfg.Password)
	}
	return cfg, secrets, nil
}

// AdminSecrets returns the secret values in the admin DSN file at path
// (the connection string and its password), for keeping them out of a
// child's environment. A file that cannot be read or parsed yields what
// could be read.
func AdminSecrets(path string) []string {
	_, s, _ := readAdminDSN(path)
	return s
}

// closeConn ends an admin session, bounded.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx) // the session is done with either way
}

// dropRole ends role: no new logins, its sessions terminated (waiting up to
// wait for them to go), what it owns in this database reassigned to
// reassignTo (empty: the admin), its remaining privileges dropped, and the
// role dropped. A role that does not exist is already done.
func dropRole(ctx context.Context, conn *pgx.Conn, role, reassignTo string, wait time.Duration, log zerolog.Logger) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if !exists {
		return nil
	}
	ident := pgx.Identifier{role}.Sanitize()
	// First close the door, so that no session starts between the
	// termination and the drop.
	if _, err := conn.Exec(ctx, "ALTER ROLE "+ident+" NOLOGIN"); err != nil {
		if isUndefinedObject(err) {
			return nil // dropped by someone else meanwhile
		}
		return fmt.Errorf("disable login of role %s: %w", role, err)
	}
	termErr := terminateSessions(ctx, conn, role, wait, log)

	target := "CURRENT_USER"
	if reassignTo != "" {
		target = pgx.Identifier{reassignTo}.Sanitize()
	}
	steps := []struct{ what, sql string }{
		{"reassign objects of role", "REASSIGN OWNED BY " + ident + " TO " + target},
		{"drop privileges of role", "DROP OWNED BY " + ident},
		{"drop role", "DROP ROLE " + ident},
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s.sql); err != nil {
				return fmt.Errorf("%s %s: %w", s.what, role, err)
			}
		}
		return nil
	})
	if isUndefinedObject(err) {
		err = nil // dropped by someone else meanwhile
	}
	if err == nil {
		log.Info().Str("role", role).Msg("ephemeral role dropped")
	}
	return errors.Join(termErr, err)
}

// terminateSessions ends role's sessions and waits, up to wait, until
// pg_stat_activity shows none. Sessions that outlast the wait are logged,
// not an error: the role is dropped regardless.
func terminateSessions(ctx context.Context, conn *pgx.Conn, role string, wait time.Duration, log zerolog.Logger) error {
	var n int
	err := conn.QueryRow(ctx,
		"SELECT coalesce(sum(pg_terminate_backend(pid)::int), 0) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
		role).Scan(&n)
	if err != nil {
		return fmt.Errorf("terminate sessions of role %s: %w", role, err)
	}
	if n == 0 {
		return nil
	}
	log.Info().Str("role", role).Int("sessions", n).Msg("terminated sessions of ephemeral role")
	deadline := time.Now().Add(wait)
	for {
		var left int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()", role).Scan(&left)
		if err != nil {
			return fmt.Errorf("count sessions of role %s: %w", role, err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			log.Warn().Str("role", role).Int("sessions", left).Dur("waited", wait).Msg("sessions of ephemeral role still present; dropping the role anyway")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for sessions of role %s to end: %w", role, ctx.Err())
		case <-time.After(sessionPoll):
		}
	}
}

// isUndefinedObject reports PostgreSQL's undefined_object (42704), which
// "role … does not exist" is.
func isUndefinedObject(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42704"
}

// RevokeStale drops every role named airlock_… whose VALID UNTIL is
// before now: roles left by an Airlock that was killed before it could
// revoke them. For each it terminates the sessions, reassigns what the
// role owns in the admin DSN's database to reassignTo (empty: the admin),
// drops its privileges and the role. Roles without VALID UNTIL and other
// roles are left alone. It goes on past a role it cannot drop, and
// returns the roles dropped with the failures joined.
func RevokeStale(ctx context.Context, adminDSNFile, reassignTo string, now time.Time, log zerolog.Logger) (dropped []string, err error) {
	conn, err := connectAdmin(ctx, adminDSNFile)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	rows, err := conn.Query(ctx,
		`SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1 AND rolvaliduntil < $2 ORDER BY rolname`,
		likePrefix(RolePrefix), now)
	if err != nil {
		return nil, fmt.Errorf("list stale roles: %w", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list stale roles: %w", err)
	}
	return dropRoles(ctx, conn, stale, reassignTo, log)
}

// RevokeTask drops every role EphemeralRole made for task, whether or not
// its VALID UNTIL has passed: for cleaning up after a run whose revocation
// failed, once the run is over. Roles are matched by name (RoleName with
// any suffix of the same length), so two task ids that RoleName makes
// alike ("Load-1", "load_1") share their roles. Like RevokeStale it goes on
// past a role it cannot drop.
func RevokeTask(ctx context.Context, adminDSNFile, reassignTo, task string, log zerolog.Logger) (dropped []string, err error) {
	if task == "" {
		return nil, errors.New("revoke task roles: no task id")
	}
	name := RoleName(task, strings.Repeat("x", suffixLen))
	prefix := name[:len(name)-suffixLen]
	conn, err := connectAdmin(ctx, adminDSNFile)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	rows, err := conn.Query(ctx,
		`SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1 AND length(rolname) = $2 ORDER BY rolname`,
		likePrefix(prefix), len(name))
	if err != nil {
		return nil, fmt.Errorf("list the task's roles: %w", err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the task's roles: %w", err)
	}
	return dropRoles(ctx, conn, roles, reassignTo, log)
}

// dropRoles drops each role in turn, going on past failures.
func dropRoles(ctx context.Context, conn *pgx.Conn, roles []string, reassignTo string, log zerolog.Logger) (dropped []string, err error) {
	var errs []error
	for _, role := range roles {
		if err := dropRole(ctx, conn, role, reassignTo, DefaultTerminateWait, log); err != nil {
			errs = append(errs, err)
			continue
		}
		dropped = append(dropped, role)
	}
	if len(roles) > 0 {
		log.Info().Strs("dropped", dropped).Int("failed", len(errs)).Msg("ephemeral roles revoked")
	}
	return dropped, errors.Join(errs...)
}

// likePrefix is a LIKE pattern matching strings that begin with p.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}
