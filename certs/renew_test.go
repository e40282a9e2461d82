package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

// TestServeLoopback runs a real TLS server with ServerCerts.TLSConfig on each
// loopback address and checks which clients accept it.
func TestServeLoopback(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(certs.DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v4 := startServer(t, "tcp4", "127.0.0.1:0", sc.TLSConfig())
	v6 := ""
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		_ = ln.Close()
		v6 = startServer(t, "tcp6", "[::1]:0", sc.TLSConfig())
	}

	tests := []struct {
		name       string
		addr       *string
		serverName string
		roots      *x509.CertPool // nil: the system roots
		wantErr    bool
	}{
		{"127.0.0.1 trusting the CA", &v4, "127.0.0.1", ca.Pool(), false},
		{"::1 trusting the CA", &v6, "::1", ca.Pool(), false},
		{"localhost trusting the CA", &v4, "localhost", ca.Pool(), false},
		{"bucket.localhost trusting the CA", &v4, "bucket.localhost", ca.Pool(), false},
		{"127.0.0.1 with system roots", &v4, "127.0.0.1", nil, true},
		{"localhost with system roots", &v4, "localhost", nil, true},
		{"::1 with system roots", &v6, "::1", nil, true},
		{"name not in certificate", &v4, "db.example.com", ca.Pool(), true},
		{"nested name under localhost", &v4, "a.b.localhost", ca.Pool(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if *tt.addr == "" {
				t.Skip("::1 is not available")
			}
			got, peer, err := talk(t, *tt.addr, &tls.Config{RootCAs: tt.roots, ServerName: tt.serverName})
			if tt.wantErr {
				if err == nil {
					t.Fatal("handshake succeeded, want a verification error")
				}
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("error = %v, want a certificate verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got != "ok" {
				t.Errorf("server said %q, want ok", got)
			}
			if err := peer.CheckSignatureFrom(ca.Certificate()); err != nil {
				t.Errorf("served certificate is not signed by the CA: %v", err)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sc.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.GetCertificate == nil || len(cfg.Certificates) != 0 || cfg.NextProtos != nil {
		t.Error("want GetCertificate set, no static Certificates, NextProtos left to the caller")
	}
	if sc.TLSConfig() == cfg {
		t.Error("TLSConfig returned the same *tls.Config twice; callers must be able to change their copy")
	}

	addr := startServer(t, "tcp4", "127.0.0.1:0", cfg)
	tests := []struct {
		name    string
		max     uint16
		wantErr bool
	}{
		{"TLS 1.3", tls.VersionTLS13, false},
		{"TLS 1.2", tls.VersionTLS12, false},
		{"TLS 1.1", tls.VersionTLS11, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := talk(t, addr, &tls.Config{
				RootCAs: ca.Pool(), ServerName: "localhost",
				MinVersion: tls.VersionTLS10, MaxVersion: tt.max,
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewServerCertsDefaults(t *testing.T) {
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := sc.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tc.Leaf.DNSNames, []string{"localhost", "*.localhost"}) || len(tc.Leaf.IPAddresses) != 2 {
		t.Errorf("SANs = %q %v, want DefaultHosts", tc.Leaf.DNSNames, tc.Leaf.IPAddresses)
	}
	if want := clock.Now().Add(certs.DefaultLeafValidity).Truncate(time.Second); !tc.Leaf.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", tc.Leaf.NotAfter, want)
	}
	if _, err := ca.NewServerCerts([]string{"bad host"}, 0); err == nil {
		t.Error("NewServerCerts accepted an invalid host")
	}
}

// TestRenewal advances an injected clock through a leaf's life and checks
// when GetCertificate starts serving a new serial number.
func TestRenewal(t *testing.T) {
	const validity = 90 * time.Minute // renew once less than 30 minutes remain
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(certs.DefaultHosts, validity)
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, "tcp4", "127.0.0.1:0", sc.TLSConfig())
	served := func() *x509.Certificate {
		t.Helper()
		// The client checks validity against the fake clock too.
		_, peer, err := talk(t, addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Time: clock.Now})
		if err != nil {
			t.Fatalf("handshake at %v: %v", clock.Now(), err)
		}
		return peer
	}

	steps := []struct {
		name    string
		advance time.Duration
		renewed bool
	}{
		{"just issued", 0, false},
		{"half way", 45 * time.Minute, false},
		{"one second before two thirds", 15*time.Minute - time.Second, false},
		{"one second past two thirds", 2 * time.Second, true},
		{"right after renewal", time.Second, false},
		{"just before second renewal", 60*time.Minute - 2*time.Second, false},
		{"past two thirds of the second leaf", 2 * time.Second, true},
	}
	prev := served()
	for _, st := range steps {
		clock.Advance(st.advance)
		cur := served()
		renewed := cur.SerialNumber.Cmp(prev.SerialNumber) != 0
		if renewed != st.renewed {
			t.Errorf("%s: renewed = %v, want %v (serial %v -> %v)", st.name, renewed, st.renewed, prev.SerialNumber, cur.SerialNumber)
		}
		if renewed && !cur.NotAfter.Equal(clock.Now().Add(validity).Truncate(time.Second)) {
			t.Errorf("%s: renewed leaf NotAfter = %v, want now+%s", st.name, cur.NotAfter, validity)
		}
		prev = cur
	}
}

// TestRenewalStopsWithCA checks that leaves are cut to the CA's life and that
// GetCertificate fails once both the leaf and the CA have expired.
func TestRenewalStopsWithCA(t *testing.T) {
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Validity: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(nil, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first, err := sc.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Leaf.NotAfter.Equal(ca.NotAfter()) {
		t.Errorf("leaf NotAfter = %v, want the CA's %v", first.Leaf.NotAfter, ca.NotAfter())
	}
	clock.Advance(50 * time.Minute)
	second, err := sc.GetCertificate(nil)
	if err != nil {
		t.Fatalf("renewal before CA expiry: %v", err)
	}
	if second == first || second.Leaf.NotAfter.After(ca.NotAfter()) {
		t.Error("want a renewed leaf that still ends with the CA")
	}
	clock.Advance(11 * time.Minute)
	if _, err := sc.GetCertificate(nil); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("GetCertificate after CA expiry: error = %v, want one saying the CA expired", err)
	}
}

// TestRenewalConcurrent hammers GetCertificate while the clock moves; run
// with -race.
func TestRenewalConcurrent(t *testing.T) {
	clock := newFakeClock()
	ca, err := certs.NewCA(certs.CAOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.NewServerCerts(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				tc, err := sc.GetCertificate(nil)
				if err != nil {
					t.Error(err)
					return
				}
				if !clock.Now().Before(tc.Leaf.NotAfter) {
					t.Error("served an expired leaf")
					return
				}
			}
		})
	}
	for range 20 {
		clock.Advance(5 * time.Minute)
		time.Sleep(100 * time.Microsecond)
	}
	wg.Wait()
}
