package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// DefaultCAValidity is the lifetime of an ephemeral CA when
// CAOptions.Validity is zero.
const DefaultCAValidity = 24 * time.Hour

// DefaultLeafValidity is the lifetime of a leaf when a zero validity is
// passed to NewServerCerts, and of every leaf issued by IssueFor. A leaf never
// outlives its CA.
const DefaultLeafValidity = 12 * time.Hour

// backdate is how far NotBefore is moved into the past, so that a peer whose
// clock runs slightly behind still accepts a certificate issued just now.
const backdate = time.Minute

// CAOptions configures NewCA and LoadCA. The zero value is ready to use.
type CAOptions struct {
	// Validity is how long an ephemeral CA is valid, counted from now.
	// Zero means DefaultCAValidity. LoadCA ignores it: a loaded CA keeps the
	// dates of its certificate.
	Validity time.Duration

	// Now is the clock used for validity periods, expiry checks and leaf
	// renewal. Nil means time.Now.
	Now func() time.Time
}

func (o CAOptions) clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// CA is a certificate authority whose private key stays in memory. Create
// one with NewCA or LoadCA; the zero value is not usable. It is safe for
// concurrent use.
//
// There is no way to get the key out of a CA: no method returns or writes it,
// it has no exported fields, and it formats as String() in every fmt verb.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	pool    *x509.CertPool
	key     crypto.Signer
	now     func() time.Time
	mitm    *leafCache
}

func newCA(cert *x509.Certificate, key crypto.Signer, now func() time.Time) *CA {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		pool:    pool,
		key:     key,
		now:     now,
		mitm:    newLeafCache(mitmCacheSize),
	}
}

// CertPEM returns the CA certificate, PEM-encoded. The slice is a copy.
func (c *CA) CertPEM() []byte {
	return append([]byte(nil), c.certPEM...)
}

// Certificate returns a freshly parsed copy of the CA certificate, so the
// caller may keep or modify it.
func (c *CA) Certificate() *x509.Certificate {
	cert, err := x509.ParseCertificate(c.cert.Raw)
	if err != nil {
		// The bytes were parsed once already; a failure here is a bug.
		panic(fmt.Sprintf("certs: re-parse CA certificate: %v", err))
	}
	return cert
}

// Pool returns a new certificate pool holding only the CA certificate, for
// clients that should trust this CA and nothing else.
func (c *CA) Pool() *x509.CertPool {
	return c.pool.Clone()
}

// NotAfter returns the end of the CA's validity; no leaf outlives it.
func (c *CA) NotAfter() time.Time {
	return c.cert.NotAfter
}

// String names the CA by its subject and expiry. It never includes key
// material.
func (c *CA) String() string {
	if c == nil || c.cert == nil {
		return "certs.CA(nil)"
	}
	return fmt.Sprintf("certs.CA(%q, expires %s)", c.cert.Subject.CommonName,
		c.cert.NotAfter.UTC().Format(time.RFC3339))
}

// Format writes String() for every verb, so that %v, %+v, %#v, %x and the
// rest cannot walk into the private key by reflection.
func (c *CA) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(c.String()))
}
