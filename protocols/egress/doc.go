// Package egress is Airlock's HTTP(S) forward proxy, the task's
// HTTPS_PROXY and HTTP_PROXY. It turns each proxy request into a
// policy.Request with an http part (method, host, port, path) and has it
// checked before anything is dialled:
//
//   - an absolute-form request (GET http://host/path) is checked and, when
//     allowed, forwarded to the host it names (never to a Host header),
//     without hop-by-hop headers or Proxy-Authorization;
//   - CONNECT host:port is checked with method "CONNECT" and an empty path
//     and, when allowed, becomes a blind TCP tunnel that closes when either
//     side ends, after an idle timeout, or when the server's context ends;
//   - CONNECT to an intercepted S3 host (the S3 upstream's host:port, or a
//     virtual-hosted bucket.<host> on the same port) is not checked itself:
//     Airlock terminates TLS with a leaf from its local CA and serves every
//     request inside with the S3 handler, which verifies the task's local
//     signature, checks each object against the S3 rules and re-signs to
//     the configured endpoint. Plain-HTTP requests to such a host go to the
//     S3 handler too.
//
// Every denial, including a malformed request, carries the request id of
// its audit record. Forwarding uses github.com/elazarl/goproxy; tunnels and
// interception are Airlock's own, on the connection goproxy hijacks, so
// goproxy itself never dials.
//
// What it does not do: listeners, the CA's lifetime, policies, audit
// records and credentials belong to the caller, which hands the handler a
// Check function (decide and record) and the S3 handler. It does not
// authenticate the task (the listener is loopback only), does not resolve
// names itself (rules see the name the task asked for), and does not
// inspect the bytes of a blind tunnel.
package egress
