package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LoadCA uses a configured certificate authority instead of an ephemeral one.
// certPEM holds the CA certificate (the first CERTIFICATE block is used);
// keyPEM holds its unencrypted private key: ECDSA, RSA or Ed25519 as PKCS #8
// ("PRIVATE KEY"), an EC key as SEC 1 ("EC PRIVATE KEY"), or an RSA key as
// PKCS #1 ("RSA PRIVATE KEY").
//
// LoadCA fails if the certificate is not a CA, may not sign certificates,
// does not match the key, or is outside its validity period at opts.Now.
// Error messages say what is wrong and how to fix it; they never contain key
// bytes.
func LoadCA(certPEM, keyPEM []byte, opts CAOptions) (*CA, error) {
	cert, err := parseCACert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA private key: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("load CA: the private key does not match the certificate's public key; pass the key the certificate was issued for")
	}
	now := opts.clock()
	t := now()
	if t.After(cert.NotAfter) {
		return nil, fmt.Errorf("load CA: certificate %q expired at %s; issue a new CA certificate or use the ephemeral CA",
			cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if t.Before(cert.NotBefore) {
		return nil, fmt.Errorf("load CA: certificate %q is not valid until %s; check the system clock",
			cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return newCA(cert, key, now), nil
}

func parseCACert(data []byte) (*x509.Certificate, error) {
	block := firstBlock(data, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" })
	if block == nil {
		if firstBlock(data, isKeyBlock) != nil {
			return nil, errors.New("no CERTIFICATE PEM block, but a private key was found; are the certificate and key swapped?")
		}
		return nil, errors.New("no CERTIFICATE PEM block found; pass the CA certificate in PEM form")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%q is not a CA (basic constraints CA:TRUE missing); use a certificate issued as a CA, or the ephemeral CA",
			cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%q may not sign certificates (key usage lacks keyCertSign); reissue it with keyCertSign",
			cert.Subject.CommonName)
	}
	return cert, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	block := firstBlock(data, isKeyBlock)
	if block == nil {
		if firstBlock(data, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" }) != nil {
			return nil, errors.New("no private key PEM block, but a certificate was found; are the certificate and key swapped?")
		}
		return nil, errors.New("no private key PEM block found; pass an unencrypted PEM key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("the private key is encrypted; decrypt it first (e.g. openssl pkey -in key.pem -out plain.pem)")
	}

	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block type %q is not supported; use PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		// x509 parse errors describe the structure, never the key bytes.
		return nil, fmt.Errorf("parse %s block: %w", block.Type, err)
	}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("key type %T cannot sign certificates; use an ECDSA, RSA or Ed25519 key", parsed)
	}
}

func isKeyBlock(b *pem.Block) bool {
	return strings.HasSuffix(b.Type, "PRIVATE KEY")
}

// firstBlock returns the first PEM block in data for which match is true.
func firstBlock(data []byte, match func(*pem.Block) bool) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if match(block) {
			return block
		}
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
