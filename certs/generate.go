package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
)

// NewCA generates an ephemeral, self-signed ECDSA P-256 certificate
// authority valid for opts.Validity (default DefaultCAValidity), backdated by
// one minute. It may sign leaves only (path length 0). The key exists only in
// this process's memory.
func NewCA(opts CAOptions) (*CA, error) {
	validity := opts.Validity
	if validity < 0 {
		return nil, fmt.Errorf("new CA: validity %s is negative; use a positive duration or 0 for the default %s", validity, DefaultCAValidity)
	}
	if validity == 0 {
		validity = DefaultCAValidity
	}
	now := opts.clock()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("new CA: random name: %w", err)
	}

	t := now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"Airlock"},
			CommonName:   "Airlock ephemeral CA " + hex.EncodeToString(id),
		},
		NotBefore:             t.Add(-backdate),
		NotAfter:              t.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: self-sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: parse own certificate: %w", err)
	}
	return newCA(cert, key, now), nil
}

// serialLimit is 2^128: serial numbers are 128 random bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// randomSerial returns a non-zero 128-bit random serial number.
func randomSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("random serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
