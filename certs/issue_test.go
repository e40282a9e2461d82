package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

func TestIssue(t *testing.T) {
	tests := []struct {
		name     string
		hosts    []string
		wantDNS  []string
		wantIPs  []string
		verifyAs []string // names that must verify against the CA pool
	}{
		{
			name:     "default hosts",
			hosts:    certs.DefaultHosts,
			wantDNS:  []string{"localhost", "*.localhost"},
			wantIPs:  []string{"127.0.0.1", "::1"},
			verifyAs: []string{"127.0.0.1", "::1", "localhost", "bucket.localhost"},
		},
		{
			name:     "normalised and deduplicated",
			hosts:    []string{"DB.Internal.", "db.internal", "10.0.0.1", "::ffff:10.0.0.1"},
			wantDNS:  []string{"db.internal"},
			wantIPs:  []string{"10.0.0.1"},
			verifyAs: []string{"db.internal", "10.0.0.1"},
		},
		{
			name:     "single IP",
			hosts:    []string{"192.0.2.7"},
			wantIPs:  []string{"192.0.2.7"},
			verifyAs: []string{"192.0.2.7"},
		},
		{
			name:     "underscore and wildcard",
			hosts:    []string{"my_host.corp", "*.s3.eu-west-1.amazonaws.com"},
			wantDNS:  []string{"my_host.corp", "*.s3.eu-west-1.amazonaws.com"},
			verifyAs: []string{"lake.s3.eu-west-1.amazonaws.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			ca, err := certs.NewCA(certs.CAOptions{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			tc, err := ca.Issue(tt.hosts, time.Hour)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			leaf := tc.Leaf
			if leaf == nil {
				t.Fatal("Leaf is nil")
			}
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPAddresses = %q, want %q", ips, tt.wantIPs)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("ExtKeyUsage = %v, want [ServerAuth]", leaf.ExtKeyUsage)
			}
			if leaf.IsCA {
				t.Error("leaf is a CA")
			}
			if n := leaf.SerialNumber; n.Sign() <= 0 || n.BitLen() > 128 {
				t.Errorf("serial %v is not a positive 128-bit number", n)
			}
			if len(tc.Certificate) != 2 || !bytes.Equal(tc.Certificate[0], leaf.Raw) ||
				!bytes.Equal(tc.Certificate[1], ca.Certificate().Raw) {
				t.Error("chain is not [leaf, CA]")
			}
			key, ok := tc.PrivateKey.(*ecdsa.PrivateKey)
			if !ok || key.Curve != elliptic.P256() || !key.PublicKey.Equal(leaf.PublicKey) {
				t.Errorf("private key %T is not the leaf's ECDSA P-256 key", tc.PrivateKey)
			}
			now := clock.Now()
			if want := now.Add(-time.Minute).Truncate(time.Second); !leaf.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", leaf.NotBefore, want)
			}
			if want := now.Add(time.Hour).Truncate(time.Second); !leaf.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", leaf.NotAfter, want)
			}
			for _, name := range tt.verifyAs {
				_, err := leaf.Verify(x509.VerifyOptions{
					Roots:       ca.Pool(),
					DNSName:     name,
					CurrentTime: now,
				})
				if err != nil {
					t.Errorf("verify as %q: %v", name, err)
				}
			}
		})
	}
}

func TestIssueRejects(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hosts    []string
		validity time.Duration
		want     string
	}{
		{"no hosts", nil, time.Hour, "no hosts"},
		{"empty host", []string{""}, time.Hour, "empty host name"},
		{"zero validity", []string{"localhost"}, 0, "must be positive"},
		{"negative validity", []string{"localhost"}, -time.Hour, "must be positive"},
		{"port", []string{"localhost:5432"}, time.Hour, "remove any port"},
		{"bracketed IPv6", []string{"[::1]"}, time.Hour, "remove any port"},
		{"zone", []string{"fe80::1%eth0"}, time.Hour, "zone"},
		{"empty label", []string{"a..b"}, time.Hour, "empty label"},
		{"bare wildcard", []string{"*"}, time.Hour, "wildcard"},
		{"inner wildcard", []string{"a.*.b"}, time.Hour, "wildcard"},
		{"partial wildcard", []string{"a*.b"}, time.Hour, "wildcard"},
		{"double wildcard", []string{"*.*.b"}, time.Hour, "wildcard"},
		{"space", []string{"my host"}, time.Hour, "not allowed"},
		{"hyphen edge", []string{"-a.b"}, time.Hour, "hyphen"},
		{"long label", []string{strings.Repeat("a", 64) + ".b"}, time.Hour, "63"},
		{"long name", []string{strings.Repeat("a.", 127) + "bc"}, time.Hour, "253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.Issue(tt.hosts, tt.validity)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Issue(%q, %s) error = %v, want it to contain %q", tt.hosts, tt.validity, err, tt.want)
			}
		})
	}
}

// TestIssueNeverOutlivesCA checks NotAfter = min(now+validity, CA NotAfter).
func TestIssueNeverOutlivesCA(t *testing.T) {
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Validity: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	caEnd := ca.NotAfter()
	tests := []struct {
		name     string
		advance  time.Duration // applied before this step, cumulative
		validity time.Duration
		wantErr  string
	}{
		{"shorter than CA", 0, 10 * time.Minute, ""},
		{"longer than CA", 0, 10 * time.Hour, ""},
		{"near CA end", 55 * time.Minute, 30 * time.Minute, ""},
		{"after CA end", 10 * time.Minute, time.Minute, "expired"},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		tc, err := ca.Issue([]string{"localhost"}, tt.validity)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Issue: %v", tt.name, err)
		}
		if tc.Leaf.NotAfter.After(caEnd) {
			t.Errorf("%s: leaf NotAfter %v is after CA NotAfter %v", tt.name, tc.Leaf.NotAfter, caEnd)
		}
		want := clock.Now().Add(tt.validity).Truncate(time.Second)
		if want.After(caEnd) {
			want = caEnd
		}
		if !tc.Leaf.NotAfter.Equal(want) {
			t.Errorf("%s: leaf NotAfter = %v, want %v", tt.name, tc.Leaf.NotAfter, want)
		}
	}
}

func TestIssueSerialsAreUnique(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for range 100 {
		tc, err := ca.Issue([]string{"localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s := tc.Leaf.SerialNumber.String()
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
	}
}

// TestIssueIPv4Form checks that IPv4 SANs are stored in 4-byte form, which
// is what clients compare against.
func TestIssueIPv4Form(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := ca.Issue([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := tc.Leaf.IPAddresses; len(got) != 1 || len(got[0]) != net.IPv4len || !got[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IPAddresses = %#v, want [127.0.0.1] in 4-byte form", got)
	}
}
