package certs_test

import (
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

// BenchmarkIssue measures signing one leaf for DefaultHosts: key generation
// plus an ECDSA signature.
func BenchmarkIssue(b *testing.B) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ca.Issue(certs.DefaultHosts, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetCertificate measures the per-handshake cost of serving the
// current leaf (no renewal).
func BenchmarkGetCertificate(b *testing.B) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := ca.NewServerCerts(nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sc.GetCertificate(nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIssueForCached measures a MITM leaf lookup that hits the cache.
func BenchmarkIssueForCached(b *testing.B) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ca.IssueFor("lake.s3.amazonaws.com"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ca.IssueFor("lake.s3.amazonaws.com:443"); err != nil {
			b.Fatal(err)
		}
	}
}
