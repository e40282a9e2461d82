package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Upstream TLS modes, named as in libpq's sslmode.
const (
	// ModeDisable connects without TLS.
	ModeDisable = "disable"
	// ModeRequire encrypts but does not verify the server's certificate.
	ModeRequire = "require"
	// ModeVerifyCA verifies the server's certificate chain but not its name.
	ModeVerifyCA = "verify-ca"
	// ModeVerifyFull verifies the chain and that the certificate is for the
	// server's name. It is the default.
	ModeVerifyFull = "verify-full"
)

var modes = []string{ModeDisable, ModeRequire, ModeVerifyCA, ModeVerifyFull}

// UpstreamTLS is how Airlock secures its connection to an upstream service
// (PostgreSQL, S3). The zero value verifies the server against the system
// roots and the host name, with no client certificate.
type UpstreamTLS struct {
	// Mode is one of "disable" (plain text), "require" (encrypted, server
	// not verified), "verify-ca" (chain verified, name not checked) or
	// "verify-full" (chain and name verified). Empty means "verify-full".
	Mode string `yaml:"mode"`

	// CAFile is a PEM file of certificates trusted to sign the server's
	// certificate in verify-ca and verify-full modes. Empty means the
	// system roots.
	CAFile string `yaml:"ca_file"`

	// CertFile is a PEM client certificate (optionally followed by its
	// intermediates) presented to the server. Requires KeyFile.
	CertFile string `yaml:"cert_file"`

	// KeyFile is the PEM private key for CertFile. Requires CertFile.
	KeyFile string `yaml:"key_file"`

	// ServerName, when set, replaces the upstream host as the name sent in
	// SNI and checked against the certificate in verify-full mode; use it
	// when connecting by IP address or through a tunnel.
	ServerName string `yaml:"server_name"`
}

// mode returns the effective mode.
func (u UpstreamTLS) mode() string {
	if u.Mode == "" {
		return ModeVerifyFull
	}
	return u.Mode
}

// Validate checks the configuration and that the files it names can be read
// and parsed. Each error names the field at fault.
func (u UpstreamTLS) Validate() error {
	_, _, err := u.load()
	return err
}

// load validates u and returns the parsed CA pool (nil for the system roots)
// and client certificate (nil when none).
func (u UpstreamTLS) load() (*x509.CertPool, *tls.Certificate, error) {
	mode := u.mode()
	switch mode {
	case ModeDisable, ModeRequire, ModeVerifyCA, ModeVerifyFull:
	default:
		return nil, nil, fmt.Errorf("mode: %q is not one of %s", u.Mode, strings.Join(modes, ", "))
	}
	if mode == ModeDisable {
		for _, f := range []struct{ name, value string }{
			{"ca_file", u.CAFile}, {"cert_file", u.CertFile}, {"key_file", u.KeyFile}, {"server_name", u.ServerName},
		} {
			if f.value != "" {
				return nil, nil, fmt.Errorf("%s: has no effect when mode is %q; remove it or choose another mode", f.name, ModeDisable)
			}
		}
		return nil, nil, nil
	}
	if u.CAFile != "" && mode == ModeRequire {
		return nil, nil, fmt.Errorf("ca_file: is not used when mode is %q (no verification); set mode to %q or %q to verify against it",
			ModeRequire, ModeVerifyCA, ModeVerifyFull)
	}
	if u.CertFile != "" && u.KeyFile == "" {
		return nil, nil, errors.New("key_file: is required when cert_file is set")
	}
	if u.KeyFile != "" && u.CertFile == "" {
		return nil, nil, errors.New("cert_file: is required when key_file is set")
	}

	var pool *x509.CertPool
	if u.CAFile != "" {
		data, err := os.ReadFile(u.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, nil, fmt.Errorf("ca_file: no PEM certificates found in %s", u.CAFile)
		}
	}
	var client *tls.Certificate
	if u.CertFile != "" {
		certPEM, err := os.ReadFile(u.CertFile)
		if err != nil {
			return nil, nil, fmt.Errorf("cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(u.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("key_file: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("cert_file, key_file: load client certificate: %w", err)
		}
		client = &pair
	}
	return pool, client, nil
}
