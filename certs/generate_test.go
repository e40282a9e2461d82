package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

func TestNewCA(t *testing.T) {
	tests := []struct {
		name     string
		validity time.Duration
		want     time.Duration
	}{
		{"default validity", 0, 24 * time.Hour},
		{"two hours", 2 * time.Hour, 2 * time.Hour},
		{"one minute", time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			now := clock.Now()
			ca, err := certs.NewCA(certs.CAOptions{Validity: tt.validity, Now: clock.Now})
			if err != nil {
				t.Fatalf("NewCA: %v", err)
			}
			cert := ca.Certificate()
			if !strings.HasPrefix(cert.Subject.CommonName, "Airlock ephemeral CA ") {
				t.Errorf("CommonName = %q, want prefix %q", cert.Subject.CommonName, "Airlock ephemeral CA ")
			}
			if !cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("IsCA = %v, BasicConstraintsValid = %v, want both true", cert.IsCA, cert.BasicConstraintsValid)
			}
			if cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
				t.Errorf("MaxPathLen = %d (zero %v), want 0 (zero true)", cert.MaxPathLen, cert.MaxPathLenZero)
			}
			if cert.KeyUsage != x509.KeyUsageCertSign {
				t.Errorf("KeyUsage = %v, want KeyUsageCertSign", cert.KeyUsage)
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key = %T, want ECDSA P-256", cert.PublicKey)
			}
			if err := cert.CheckSignatureFrom(cert); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if got, want := cert.NotBefore, now.Add(-time.Minute).Truncate(time.Second); !got.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", got, want)
			}
			if got, want := cert.NotAfter, now.Add(tt.want).Truncate(time.Second); !got.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", got, want)
			}
			if !ca.NotAfter().Equal(cert.NotAfter) {
				t.Errorf("NotAfter() = %v, want %v", ca.NotAfter(), cert.NotAfter)
			}
		})
	}
}

func TestNewCAIsUnique(t *testing.T) {
	a, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Certificate().Subject.CommonName == b.Certificate().Subject.CommonName {
		t.Errorf("two CAs share the name %q", a.Certificate().Subject.CommonName)
	}
	if a.Certificate().SerialNumber.Cmp(b.Certificate().SerialNumber) == 0 {
		t.Error("two CAs share a serial number")
	}
}

func TestNewCARejectsNegativeValidity(t *testing.T) {
	_, err := certs.NewCA(certs.CAOptions{Validity: -time.Hour})
	if err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("NewCA(-1h) error = %v, want one saying the validity is negative", err)
	}
}

// TestCAFormatsWithoutKey checks that no fmt verb or JSON encoding reaches
// the private key.
func TestCAFormatsWithoutKey(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := ca.String()
	if !strings.Contains(want, ca.Certificate().Subject.CommonName) {
		t.Errorf("String() = %q, want it to name the CA", want)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		if got := fmt.Sprintf(verb, ca); got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
	js, err := json.Marshal(ca)
	if err != nil {
		t.Fatal(err)
	}
	if string(js) != "{}" {
		t.Errorf("json.Marshal = %s, want {}", js)
	}
}

func TestCertificateIsACopy(t *testing.T) {
	ca, err := certs.NewCA(certs.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Certificate()
	c.Subject.CommonName = "changed"
	c.DNSNames = append(c.DNSNames, "evil.example")
	if got := ca.Certificate(); got.Subject.CommonName == "changed" || len(got.DNSNames) != 0 {
		t.Error("changing the returned certificate changed the CA")
	}
	p := ca.CertPEM()
	p[0] = 'X'
	if ca.CertPEM()[0] != '-' {
		t.Error("changing the returned PEM changed the CA")
	}
}
