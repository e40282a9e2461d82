package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Target is where a proxy request goes: a lower-case host name without a
// trailing dot, or an IP address in its canonical form (IPv6 without
// brackets, IPv4-mapped IPv6 as IPv4), and a port.
type Target struct {
	Host string
	Port int
}

// String returns host:port, with brackets around an IPv6 address.
func (t Target) String() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Errors ParseTarget returns, wrapped with the detail.
var (
	ErrBadHost = errors.New("not a host name or IP address")
	ErrBadPort = errors.New("not a port")
)

// Limits of a host name (RFC 1035).
const (
	maxHostLen  = 253
	maxLabelLen = 63
)

// ParseTarget parses an authority: host:port, [IPv6]:port, or a host alone
// when defaultPort is not 0 (a CONNECT target must name its port: pass 0).
// It accepts DNS names (letters, digits, '-' and '_'), IPv4 and IPv6
// addresses, and nothing else: no user info, zones, paths, or numeric
// names that some resolvers would read as addresses (0x7f.1, 127.1).
func ParseTarget(authority string, defaultPort int) (Target, error) {
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return Target{}, fmt.Errorf("%w: %q: missing ']'", ErrBadHost, clip(authority))
		}
		host, port = authority[1:end], authority[end+1:]
		if port != "" && port[0] != ':' {
			return Target{}, fmt.Errorf("%w: %q: text after ']'", ErrBadHost, clip(authority))
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return Target{}, fmt.Errorf("%w: %q in brackets is not an IPv6 address", ErrBadHost, clip(host))
		}
		host = ip.Unmap().String() // a rule about 169.254.169.254 must see it as such
	} else {
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i:]
		}
		var err error
		if host, err = hostName(host); err != nil {
			return Target{}, err
		}
	}
	n := defaultPort
	switch {
	case port == "" && defaultPort == 0:
		return Target{}, fmt.Errorf("%w: %q names no port", ErrBadPort, clip(authority))
	case port != "":
		var err error
		if n, err = parsePort(port[1:]); err != nil {
			return Target{}, err
		}
	}
	return Target{Host: host, Port: n}, nil
}

// hostName checks and normalises a host that is not in brackets.
func hostName(host string) (string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Is4() {
			return "", fmt.Errorf("%w: %q: write IPv6 addresses in brackets", ErrBadHost, clip(host))
		}
		return ip.String(), nil
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > maxHostLen {
		return "", fmt.Errorf("%w: %q", ErrBadHost, clip(host))
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return "", fmt.Errorf("%w: %q has an empty or over-long label", ErrBadHost, clip(host))
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("%w: %q holds %q", ErrBadHost, clip(host), c)
			}
		}
	}
	// A name whose last label is a number (127.1, 0x7f.1, 2130706433) is
	// an address to inet_aton and to URL parsers, a name to others.
	if last := strings.ToLower(labels[len(labels)-1]); strings.Trim(last, "0123456789") == "" ||
		strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return "", fmt.Errorf("%w: %q is numeric but not an IPv4 address", ErrBadHost, clip(host))
	}
	return strings.ToLower(host), nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q", ErrBadPort, clip(s))
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%w: %d is out of range", ErrBadPort, n)
	}
	return n, nil
}

// under reports whether t is base or a subdomain of it (bucket.base) on
// the same port.
func (t Target) under(base Target) bool {
	if t.Port != base.Port {
		return false
	}
	return t.Host == base.Host || strings.HasSuffix(t.Host, "."+base.Host)
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
