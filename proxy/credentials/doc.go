// Package credentials obtains, renews and revokes the upstream credentials
// Airlock holds for the task. Values live only in secret.Secret and in the
// dialer or signer that uses them; they never reach a log, an error, an
// audit record or [Broker.List].
//
// A [Source] speaks to one credential backend: [StaticPostgres] (a fixed
// login, for development) and [EphemeralRole] (a PostgreSQL login role
// created for the task and dropped at its end). The [Broker] drives the
// sources: it obtains every credential before Airlock reports ready,
// renews each at two thirds of its lifetime, fails closed when one expires
// unrenewed, revokes them all at the end, and writes a credential audit
// record for each change of state.
//
// The package does not dial upstreams, sign requests or decide what the
// task may do; it hands out the current credential and nothing else.
package credentials
