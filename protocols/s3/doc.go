// Package s3 is Airlock's S3 endpoint. The task's S3 client signs each
// request with a local key pair; the handler verifies that SigV4 signature
// (headers, presigned queries, signed and unsigned streaming payloads),
// classifies the request into the S3 operation and every object it
// touches, has each checked, and re-signs the request with the credential
// Airlock holds, to the configured endpoint only. Bodies stream both ways.
//
// What it does not do: listeners, TLS certificates, policies, audit records
// and credential lifetimes belong to the caller, which hands the handler a
// Check function (decide and record) and a Credentials function.
package s3
