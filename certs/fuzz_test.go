package certs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

// FuzzIssueFor feeds arbitrary CONNECT-style targets to the host parser:
// it must not panic, and whatever it accepts must yield a leaf with exactly
// one SAN that is not a wildcard.
func FuzzIssueFor(f *testing.F) {
	for _, seed := range []string{
		"localhost", "bucket.localhost:443", "[::1]:443", "::1", "127.0.0.1",
		"*.localhost", "a..b", "fe80::1%eth0", "", "-x.y", "UPPER.Example.", "my_host",
	} {
		f.Add(seed)
	}
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		tc, err := ca.IssueFor(host)
		if err != nil {
			return
		}
		sans := len(tc.Leaf.DNSNames) + len(tc.Leaf.IPAddresses)
		if sans != 1 {
			t.Fatalf("IssueFor(%q): %d SANs, want 1", host, sans)
		}
		for _, n := range tc.Leaf.DNSNames {
			if strings.Contains(n, "*") {
				t.Fatalf("IssueFor(%q) issued a wildcard %q", host, n)
			}
		}
	})
}

// FuzzLoadCA feeds arbitrary PEM to LoadCA: it must not panic, and its
// errors must not echo the key input.
func FuzzLoadCA(f *testing.F) {
	now := time.Now()
	root := newTestCert(f, caTemplate("Fuzz Root", now.Add(-time.Hour), now.Add(time.Hour)), ecKey(f), nil)
	f.Add(root.certPEM(), root.keyPEM(f, "pkcs8"))
	f.Add(root.certPEM(), root.keyPEM(f, "ec"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		_, err := certs.LoadCA(certPEM, keyPEM, certs.CAOptions{})
		if err == nil {
			return
		}
		for _, line := range strings.Split(string(keyPEM), "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
				t.Fatalf("error %q echoes key input %q", err, line)
			}
		}
	})
}
