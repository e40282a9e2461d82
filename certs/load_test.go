package certs_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

func TestLoadCA(t *testing.T) {
	now := time.Now()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    crypto.Signer
		format string
	}{
		{"ECDSA PKCS#8", ecKey(t), "pkcs8"},
		{"ECDSA SEC 1", ecKey(t), "ec"},
		{"RSA PKCS#1", rsaKey(t), "pkcs1"},
		{"RSA PKCS#8", rsaKey(t), "pkcs8"},
		{"Ed25519 PKCS#8", edKey, "pkcs8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTestCert(t, caTemplate("Corp Root "+tt.name, now.Add(-time.Hour), now.Add(time.Hour)), tt.key, nil)
			// A bundle with a second certificate after the CA: the first is used.
			other := newTestCert(t, caTemplate("Other", now.Add(-time.Hour), now.Add(time.Hour)), ecKey(t), nil)
			certPEM := append(root.certPEM(), other.certPEM()...)

			ca, err := certs.LoadCA(certPEM, root.keyPEM(t, tt.format), certs.CAOptions{})
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			if !ca.Certificate().Equal(root.cert) {
				t.Fatal("loaded CA is not the first certificate")
			}
			leaf, err := ca.Issue([]string{"localhost"}, 2*time.Hour)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost"}); err != nil {
				t.Errorf("leaf does not verify: %v", err)
			}
			if !leaf.Leaf.NotAfter.Equal(root.cert.NotAfter) {
				t.Errorf("leaf NotAfter = %v, want the CA's %v", leaf.Leaf.NotAfter, root.cert.NotAfter)
			}
		})
	}
}

func TestLoadCAErrors(t *testing.T) {
	now := time.Now()
	key := ecKey(t)
	good := newTestCert(t, caTemplate("Corp Root", now.Add(-time.Hour), now.Add(time.Hour)), key, nil)
	goodKey := good.keyPEM(t, "pkcs8")
	otherKey := testCert{key: ecKey(t)}.keyPEM(t, "pkcs8")
	leaf := newTestCert(t, leafTemplate("db.internal", x509.ExtKeyUsageServerAuth, "db.internal"), key, &good)
	expired := newTestCert(t, caTemplate("Old Root", now.Add(-48*time.Hour), now.Add(-24*time.Hour)), key, nil)
	future := newTestCert(t, caTemplate("Future Root", now.Add(24*time.Hour), now.Add(48*time.Hour)), key, nil)
	noSignTmpl := caTemplate("Signless Root", now.Add(-time.Hour), now.Add(time.Hour))
	noSignTmpl.KeyUsage = x509.KeyUsageDigitalSignature
	noSign := newTestCert(t, noSignTmpl, key, nil)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")})
	corruptKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("definitely not DER")})

	tests := []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		want    []string
	}{
		{"not a CA", leaf.certPEM(), goodKey, []string{`"db.internal" is not a CA`, "CA:TRUE"}},
		{"may not sign", noSign.certPEM(), goodKey, []string{"may not sign certificates", "keyCertSign"}},
		{"mismatched key", good.certPEM(), otherKey, []string{"does not match", "the key the certificate was issued for"}},
		{"expired", expired.certPEM(), goodKey, []string{`"Old Root" expired at`}},
		{"not yet valid", future.certPEM(), goodKey, []string{"not valid until", "clock"}},
		{"garbage certificate PEM", []byte("hello"), goodKey, []string{"load CA certificate", "no CERTIFICATE PEM block"}},
		{"garbage key PEM", good.certPEM(), []byte("hello"), []string{"load CA private key", "no private key PEM block"}},
		{"swapped", goodKey, good.certPEM(), []string{"swapped"}},
		{"encrypted key", good.certPEM(), encrypted, []string{"encrypted", "decrypt"}},
		{"corrupt key DER", good.certPEM(), corruptKey, []string{"parse PRIVATE KEY block"}},
		{"empty inputs", nil, nil, []string{"no CERTIFICATE PEM block"}},
	}
	// A line from the middle of the real key's PEM: it must never be echoed.
	keyLines := strings.Split(string(goodKey), "\n")
	secret := keyLines[1]
	raw, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.LoadCA(tt.certPEM, tt.keyPEM, certs.CAOptions{})
			if err == nil {
				t.Fatal("LoadCA succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) || bytes.Contains([]byte(err.Error()), raw) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
}

// TestLoadCAUsesClock checks expiry against the injected clock, not the
// wall clock.
func TestLoadCAUsesClock(t *testing.T) {
	now := time.Now()
	key := ecKey(t)
	root := newTestCert(t, caTemplate("Corp Root", now.Add(-time.Hour), now.Add(time.Hour)), key, nil)
	later := func() time.Time { return now.Add(2 * time.Hour) }
	_, err := certs.LoadCA(root.certPEM(), root.keyPEM(t, "ec"), certs.CAOptions{Now: later})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("LoadCA with a clock past NotAfter: error = %v, want expired", err)
	}
}
