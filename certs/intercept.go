package certs

import (
	"container/list"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// mitmCacheSize bounds how many intercepted hosts keep a cached leaf.
const mitmCacheSize = 256

// IssueFor returns a leaf certificate for one host, for intercepting (MITM)
// a TLS connection to it. host is a name or IP address; a ":port" suffix or
// IPv6 brackets are ignored. Leaves are valid for DefaultLeafValidity (or
// until the CA expires) and are cached for the 256 most recently used hosts;
// a cached leaf is replaced when less than a third of its life remains.
//
// The returned certificate is shared between callers and must not be
// modified.
func (c *CA) IssueFor(host string) (*tls.Certificate, error) {
	name, err := interceptName(host)
	if err != nil {
		return nil, fmt.Errorf("issue leaf for %q: %w", host, err)
	}
	now := c.now()
	if cert, ok := c.mitm.get(name, now); ok {
		return cert, nil
	}
	// Sign outside the lock so one slow issue does not stall other hosts; a
	// concurrent issue for the same host is harmless, the last one is kept.
	cert, err := c.Issue([]string{name}, DefaultLeafValidity)
	if err != nil {
		return nil, fmt.Errorf("issue leaf for %q: %w", host, err)
	}
	c.mitm.put(name, issued{cert: cert, at: now})
	return cert, nil
}

// interceptName reduces a CONNECT-style target to the name the leaf is for.
func interceptName(host string) (string, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, _, err := parseHosts([]string{host}); err != nil {
		return "", err
	}
	if strings.HasPrefix(host, "*.") {
		return "", errors.New("a wildcard is not a host; pass the name the client asked for")
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")), nil
}

// leafCache is a fixed-size LRU of issued leaves keyed by host.
type leafCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is most recently used; values are *cacheEntry
	byKey map[string]*list.Element
}

type cacheEntry struct {
	host string
	leaf issued
}

func newLeafCache(max int) *leafCache {
	return &leafCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the cached leaf for host if it is still fresh at now.
func (l *leafCache) get(host string, now time.Time) (*tls.Certificate, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.byKey[host]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.leaf.stale(now) {
		return nil, false
	}
	l.order.MoveToFront(el)
	return e.leaf.cert, true
}

// put stores leaf for host, evicting the least recently used entry when full.
func (l *leafCache) put(host string, leaf issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[host]; ok {
		el.Value.(*cacheEntry).leaf = leaf
		l.order.MoveToFront(el)
		return
	}
	l.byKey[host] = l.order.PushFront(&cacheEntry{host: host, leaf: leaf})
	for l.order.Len() > l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.byKey, oldest.Value.(*cacheEntry).host)
	}
}
