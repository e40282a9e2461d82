package certs

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"
)

// ServerCerts serves a leaf certificate for a fixed set of hosts and
// replaces it with a new one when less than a third of its life remains.
// It is safe for concurrent use.
type ServerCerts struct {
	ca       *CA
	hosts    []string
	validity time.Duration

	mu  sync.Mutex
	cur issued
}

// issued is a leaf and the clock time it was issued at; its usable life is
// from then until Leaf.NotAfter.
type issued struct {
	cert *tls.Certificate
	at   time.Time
}

// stale reports whether less than a third of the leaf's life remains at now.
func (i issued) stale(now time.Time) bool {
	if i.cert == nil {
		return true
	}
	notAfter := i.cert.Leaf.NotAfter
	life := notAfter.Sub(i.at)
	return notAfter.Sub(now) < life/3
}

// expired reports whether the leaf can no longer be served at now.
func (i issued) expired(now time.Time) bool {
	return i.cert == nil || !now.Before(i.cert.Leaf.NotAfter)
}

// NewServerCerts issues a first leaf for hosts (DefaultHosts when empty),
// valid for validity (DefaultLeafValidity when zero), and returns a
// ServerCerts that keeps it current.
func (c *CA) NewServerCerts(hosts []string, validity time.Duration) (*ServerCerts, error) {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	s := &ServerCerts{
		ca:       c,
		hosts:    append([]string(nil), hosts...),
		validity: validity,
	}
	if err := s.renew(c.now()); err != nil {
		return nil, fmt.Errorf("new server certificates: %w", err)
	}
	return s, nil
}

// GetCertificate returns the current leaf, issuing a new one first when less
// than a third of its life remains. If renewal fails while the current leaf
// is still valid, the current leaf is served and renewal is retried on the
// next handshake. It has the signature of tls.Config.GetCertificate.
func (s *ServerCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.ca.now()
	if !s.cur.stale(now) {
		return s.cur.cert, nil
	}
	err := s.renew(now)
	if err != nil && s.cur.expired(now) {
		return nil, fmt.Errorf("renew server certificate: %w", err)
	}
	return s.cur.cert, nil
}

// renew replaces the current leaf. The caller holds s.mu, or s is not yet
// shared.
func (s *ServerCerts) renew(now time.Time) error {
	cert, err := s.ca.Issue(s.hosts, s.validity)
	if err != nil {
		return err
	}
	s.cur = issued{cert: cert, at: now}
	return nil
}

// TLSConfig returns a new server configuration that serves the current leaf
// and requires TLS 1.2 or later. The caller may set NextProtos and other
// fields on it.
func (s *ServerCerts) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.GetCertificate,
	}
}
