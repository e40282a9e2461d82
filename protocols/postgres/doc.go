// Package postgres is Airlock's PostgreSQL v3 wire-protocol endpoint. The
// task connects to it as if it were PostgreSQL; it authenticates the task
// with the per-run local token, opens the upstream connection with the
// credential Airlock holds, and relays the session, checking every
// statement before the server sees it.
//
// What it does: startup (SSLRequest, GSSEncRequest, direct TLS, protocol 3.0
// and 3.2, CancelRequest), client authentication (SCRAM-SHA-256, cleartext,
// trust), the allow-list of client startup parameters, SQL classification
// with PostgreSQL's own parser, per-statement checks in the simple and
// extended protocols, denial as an upstream-raised SQLSTATE 42501 error (so
// pipelines and transaction state stay exactly as PostgreSQL keeps them), and
// cancel-key mapping. It keeps a model of each session (prepared statements,
// portals and cursors, savepoints) that moves only on the server's replies,
// so that EXECUTE is checked, and FETCH recorded, with what the server will
// run. After a statement that can run code the classifier cannot see into
// (DO, CALL, a function outside pg_catalog) it reads the pinned parameters
// back before forwarding anything more; a changed one, reported or read,
// ends the session. When either side ends, or the caller's ctx is done (the
// query in flight is cancelled upstream), both sockets close and the client
// is told why with a FATAL.
//
// What it does not do: it knows nothing of listeners, policies, audit logs
// or credential lifetimes. The caller hands it a Check function (decide and
// record) and a Connect function (an authenticated upstream connection).
package postgres
