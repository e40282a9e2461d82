// Package miniotest runs a real MinIO server for tests.
//
// Start launches the pinned MinIO binary that scripts/install-minio.sh puts
// in the repository's bin/, on free loopback ports with random root
// credentials and a fresh data directory, waits until it is ready, and
// stops it in t.Cleanup. Each call is a separate server.
//
// The package signs the few requests it makes itself (MakeBucket) with
// SigV4; tests talk S3 or STS to Server.Endpoint with their own client.
// It does not install MinIO: without bin/minio, Start skips the test, or
// fails it when the environment variable CI is set.
package miniotest
