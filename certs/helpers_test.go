package certs_test

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const ioTimeout = 5 * time.Second

// fakeClock is an injectable clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFakeClock starts at the real time, so that clients verifying with the
// real clock accept certificates issued before the first Advance.
func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startServer serves TLS on a loopback address until the test ends. Each
// connection is answered with one line: "ok", or "client <CN>" when the
// client presented a certificate.
func startServer(t *testing.T, network, addr string, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	tln := tls.NewListener(ln, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				answer(c.(*tls.Conn))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = tln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func answer(c *tls.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if err := c.Handshake(); err != nil {
		return
	}
	msg := "ok"
	if peers := c.ConnectionState().PeerCertificates; len(peers) > 0 {
		msg = "client " + peers[0].Subject.CommonName
	}
	_, _ = io.WriteString(c, msg+"\n")
}

// talk connects to addr with cfg, completes the handshake and returns the
// server's one-line answer and the certificate the server presented.
func talk(t *testing.T, addr string, cfg *tls.Config) (string, *x509.Certificate, error) {
	t.Helper()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: ioTimeout}, Config: cfg}
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return "", nil, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	tc := c.(*tls.Conn)
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSpace(line), tc.ConnectionState().PeerCertificates[0], nil
}

// testCert is a certificate made by the test itself, with its key, for the
// cases the package under test does not produce (client certificates,
// foreign CAs, self-signed servers).
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newTestCert signs tmpl for key with parent, or self-signs when parent is nil.
func newTestCert(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *testCert) testCert {
	t.Helper()
	if tmpl.SerialNumber == nil {
		serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	}
	parentCert, signer := tmpl, key
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatalf("create test certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse test certificate: %v", err)
	}
	return testCert{cert: cert, key: key}
}

func caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func leafTemplate(cn string, usage x509.ExtKeyUsage, dnsNames ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
	}
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (c testCert) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// keyPEM encodes the key as "pkcs8", "ec" (SEC 1) or "pkcs1".
func (c testCert) keyPEM(t testing.TB, format string) []byte {
	t.Helper()
	var (
		block pem.Block
		err   error
	)
	switch format {
	case "pkcs8":
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(c.key)
	case "ec":
		block.Type = "EC PRIVATE KEY"
		block.Bytes, err = x509.MarshalECPrivateKey(c.key.(*ecdsa.PrivateKey))
	case "pkcs1":
		block.Type = "RSA PRIVATE KEY"
		block.Bytes = x509.MarshalPKCS1PrivateKey(c.key.(*rsa.PrivateKey))
	default:
		t.Fatalf("unknown key format %q", format)
	}
	if err != nil {
		t.Fatalf("marshal %s key: %v", format, err)
	}
	return pem.EncodeToMemory(&block)
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
