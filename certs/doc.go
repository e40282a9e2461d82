// Package certs holds Airlock's TLS material: an ephemeral certificate
// authority created at start, the leaf certificates it issues for the
// loopback listeners and for intercepted (MITM) egress hosts, and the client
// TLS configuration used to reach upstream services.
//
// What it does:
//   - NewCA generates an in-memory ECDSA P-256 CA; LoadCA uses a configured
//     one instead. Only the CA certificate can leave the process (CertPEM,
//     WriteCertFile, Pool); the private key has no accessor, no marshaller,
//     and prints as the certificate's name in every fmt verb.
//   - CA.Issue signs short-lived server leaves; ServerCerts keeps one current
//     and replaces it when less than a third of its life remains; CA.IssueFor
//     issues and caches leaves for arbitrary hosts on demand.
//   - UpstreamTLS turns the disable / require / verify-ca / verify-full modes
//     of the configuration into a *tls.Config.
//
// What it does not do: it does not listen, dial, proxy, or log; it does not
// revoke certificates or publish CRLs; it never writes a private key to disk.
// Deciding which hosts may be intercepted is the caller's job.
package certs
