package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Config returns the client TLS configuration for connecting to host (a name
// or IP address, without port), or nil when Mode is "disable". It validates
// u first and reads the files it names.
//
//   - require: encrypted, the server's certificate is not checked.
//   - verify-ca: the chain must lead to CAFile (or the system roots); the
//     name in the certificate is not checked.
//   - verify-full: the chain and the name (ServerName, else host) are checked.
//
// All modes require TLS 1.2 or later and present the client certificate when
// CertFile and KeyFile are set.
func (u UpstreamTLS) Config(host string) (*tls.Config, error) {
	pool, client, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	mode := u.mode()
	if mode == ModeDisable {
		return nil, nil
	}
	name := host
	if u.ServerName != "" {
		name = u.ServerName
	}
	if mode == ModeVerifyFull && name == "" {
		return nil, errors.New("upstream TLS: verify-full needs a host name to check; pass the host or set server_name")
	}

	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: name,
	}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	switch mode {
	case ModeRequire:
		cfg.InsecureSkipVerify = true
	case ModeVerifyCA:
		// crypto/tls cannot verify the chain without the name, so its own
		// check is turned off and the chain is verified here instead.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChain(pool)
	case ModeVerifyFull:
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// verifyChain returns a VerifyConnection callback that checks the server's
// chain against roots (nil: the system roots) and ignores its name.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("verify server chain: server sent no certificate")
		}
		intermediates := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: intermediates,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("verify server chain: %w", err)
		}
		return nil
	}
}
