package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

func TestIssueFor(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		host     string
		sameAs   string // a spelling that must return the same cached leaf
		verifyAs string
	}{
		{"name", "lake.s3.eu-west-1.amazonaws.com", "lake.s3.eu-west-1.amazonaws.com:443", "lake.s3.eu-west-1.amazonaws.com"},
		{"case and trailing dot", "S3.Example.COM.", "s3.example.com", "s3.example.com"},
		{"IPv4 with port", "192.0.2.10:443", "192.0.2.10", "192.0.2.10"},
		{"IPv6 with brackets", "[2001:db8::1]:443", "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ca.IssueFor(tt.host)
			if err != nil {
				t.Fatalf("IssueFor(%q): %v", tt.host, err)
			}
			b, err := ca.IssueFor(tt.sameAs)
			if err != nil {
				t.Fatalf("IssueFor(%q): %v", tt.sameAs, err)
			}
			if a != b {
				t.Errorf("IssueFor(%q) and IssueFor(%q) issued two leaves, want one cached", tt.host, tt.sameAs)
			}
			if _, err := a.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: tt.verifyAs}); err != nil {
				t.Errorf("verify as %q: %v", tt.verifyAs, err)
			}
		})
	}

	for _, bad := range []string{"", "*.example.com", "bad host", "a..b:443"} {
		if _, err := ca.IssueFor(bad); err == nil {
			t.Errorf("IssueFor(%q) succeeded, want an error", bad)
		}
	}
}

func TestIssueForEvictsLeastRecentlyUsed(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host := func(i int) string { return fmt.Sprintf("h%d.example", i) }
	issue := func(h string) *tls.Certificate {
		t.Helper()
		c, err := ca.IssueFor(h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	first := make(map[string]*tls.Certificate)
	for i := range 256 {
		first[host(i)] = issue(host(i))
	}
	issue(host(0))   // h0 is now the most recently used
	issue(host(256)) // evicts h1, the least recently used

	// Checked in this order because a miss issues and evicts again.
	tests := []struct {
		host   string
		cached bool
	}{
		{host(0), true},
		{host(2), true},
		{host(255), true},
		{host(1), false},
	}
	for _, tt := range tests {
		got := issue(tt.host) == first[tt.host]
		if got != tt.cached {
			t.Errorf("%s cached = %v, want %v", tt.host, got, tt.cached)
		}
	}
}

func TestIssueForRenews(t *testing.T) {
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Validity: 48 * time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.IssueFor("s3.example.com")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(certs.DefaultLeafValidity*2/3 - time.Second)
	if b, _ := ca.IssueFor("s3.example.com"); b != a {
		t.Error("leaf replaced before two thirds of its life")
	}
	clock.Advance(2 * time.Second)
	c, err := ca.IssueFor("s3.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("leaf not replaced after two thirds of its life")
	}
}

// TestIssueForServesMITM plays the egress proxy: a TLS server picks its leaf
// by SNI, and a client trusting only the CA accepts it for any host.
func TestIssueForServesMITM(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, "tcp4", "127.0.0.1:0", &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.IssueFor(hello.ServerName)
		},
	})
	var wg sync.WaitGroup
	for _, name := range []string{"lake.s3.amazonaws.com", "sts.amazonaws.com", "lake.s3.amazonaws.com"} {
		wg.Go(func() {
			_, peer, err := talk(t, addr, &tls.Config{RootCAs: ca.Pool(), ServerName: name})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if !strings.EqualFold(peer.DNSNames[0], name) {
				t.Errorf("%s: served a leaf for %q", name, peer.DNSNames)
			}
		})
	}
	wg.Wait()
}
