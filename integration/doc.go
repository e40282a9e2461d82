// Package integration holds end-to-end tests and benchmarks: the airlock
// binary, built once per test run, in front of real PostgreSQL (and later
// MinIO), driven by real clients (psql, pgbench, psycopg2, pgx).
package integration
