package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultHosts are the names a loopback listener answers to: both loopback
// addresses, localhost, and every name under localhost (for S3
// virtual-host-style buckets such as bucket.localhost).
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost", "*.localhost"}

// Issue signs a new ECDSA P-256 server certificate for hosts. IP addresses
// become IP SANs; other entries become DNS SANs, where a leading "*." label
// is a wildcard. The leaf is valid from one minute ago until
// min(now+validity, CA expiry) and has a fresh 128-bit random serial.
//
// The returned certificate has Leaf set and the chain [leaf, CA].
func (c *CA) Issue(hosts []string, validity time.Duration) (*tls.Certificate, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("issue leaf: validity %s must be positive", validity)
	}
	dnsNames, ips, err := parseHosts(hosts)
	if err != nil {
		return nil, fmt.Errorf("issue leaf: %w", err)
	}
	now := c.now()
	if !now.Before(c.cert.NotAfter) {
		return nil, fmt.Errorf("issue leaf: CA %q expired at %s; restart with a new CA",
			c.cert.Subject.CommonName, c.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	notBefore := now.Add(-backdate)
	if notBefore.Before(c.cert.NotBefore) {
		notBefore = c.cert.NotBefore
	}
	notAfter := now.Add(validity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue leaf: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("issue leaf: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName(dnsNames, ips)},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, fmt.Errorf("issue leaf: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue leaf: parse: %w", err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, c.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// commonName picks a readable subject name; clients match on the SANs.
func commonName(dnsNames []string, ips []net.IP) string {
	if len(dnsNames) > 0 {
		return strings.TrimPrefix(dnsNames[0], "*.")
	}
	return ips[0].String()
}

// parseHosts splits hosts into DNS names and IP addresses, rejecting
// anything that is neither. Duplicates are dropped.
func parseHosts(hosts []string) ([]string, []net.IP, error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("no hosts given; pass at least one name or IP address (e.g. certs.DefaultHosts)")
	}
	var (
		dnsNames []string
		ips      []net.IP
		seen     = make(map[string]bool, len(hosts))
	)
	for _, h := range hosts {
		if addr, err := netip.ParseAddr(h); err == nil {
			if addr.Zone() != "" {
				return nil, nil, fmt.Errorf("host %q: IP address has a zone; drop the %%zone suffix", h)
			}
			addr = addr.Unmap()
			if !seen[addr.String()] {
				seen[addr.String()] = true
				ips = append(ips, net.IP(addr.AsSlice()))
			}
			continue
		}
		name, err := normalizeDNSName(h)
		if err != nil {
			return nil, nil, fmt.Errorf("host %q: %w", h, err)
		}
		if !seen[name] {
			seen[name] = true
			dnsNames = append(dnsNames, name)
		}
	}
	return dnsNames, ips, nil
}

// normalizeDNSName lowercases name, drops one trailing dot, and checks that
// it is a host name, optionally with a wildcard as its whole first label.
func normalizeDNSName(name string) (string, error) {
	if strings.Contains(name, ":") {
		return "", errors.New("not an IP address or host name; remove any port or brackets")
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return "", errors.New("empty host name")
	}
	if len(name) > 253 {
		return "", errors.New("host name longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	return name, nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("empty label in host name")
	case len(label) > 63:
		return errors.New("label longer than 63 characters")
	case strings.Contains(label, "*"):
		return errors.New(`a wildcard must be the whole first label, as in "*.localhost"`)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("character %q is not allowed in a host name", r)
		}
	}
	return nil
}
