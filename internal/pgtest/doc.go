// Package pgtest starts throwaway PostgreSQL clusters for tests.
//
// Start makes a cluster in a fresh temporary directory, starts the server on a
// free loopback port with a unix socket beside it, and registers its stop and
// removal with t.Cleanup. Each call is a separate cluster: tests do not share
// state and may run in parallel.
//
// The superuser "postgres" has a random password. Over TCP the server asks
// for it (SCRAM-SHA-256; TLS is offered when Options.SSL is set); over the unix
// socket it trusts the local user, which is how Psql and CreateDB connect.
//
// PostgreSQL refuses to run as root. When the test runs as root, the server
// runs as the unprivileged system user "airlocktest", which scripts/deps.sh
// creates. The server binaries are found on PATH, through pg_config --bindir,
// or in Debian's /usr/lib/postgresql/<version>/bin; PGTEST_BINDIR overrides.
//
// Most of initdb's second is saved by copying a template cluster that
// initdb made once per machine, user and PostgreSQL build, kept in
// /tmp/airlock-pgtest-<uid>; each server still gets its own password.
// PGTEST_NOCACHE=1 runs initdb for every cluster instead.
//
// The package does not speak the PostgreSQL protocol and brings no driver:
// tests connect with their own client, using DSN, or run SQL through psql.
package pgtest
