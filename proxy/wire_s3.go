package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/internal/rawconn"
	"github.com/airlockproxy/airlock/protocols/s3"
)

// s3Endpoint parses the configured S3 upstream endpoint (Validate has
// checked it).
func s3Endpoint(c *S3) (*url.URL, error) {
	u, err := url.Parse(c.Upstream.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3 upstream endpoint: %w", err)
	}
	return u, nil
}

func s3Handler(env *Env) (*s3.Handler, error) {
	c := env.Config.S3
	endpoint, err := s3Endpoint(c)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // the configured endpoint, never a proxy from Airlock's environment
	transport.DialContext = rawconn.Dial(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
	transport.MaxIdleConnsPerHost = 64
	transport.ExpectContinueTimeout = time.Second
	// Bodies stream through in fewer system calls; kept modest, as every
	// idle upstream connection (up to 64) holds both buffers.
	transport.ReadBufferSize, transport.WriteBufferSize = 64<<10, 64<<10
	// HTTP/1.1 only, as S3 itself speaks: a TLS upstream such as MinIO
	// would otherwise negotiate HTTP/2, with every body crossing 16 KiB
	// DATA frames, flow-control windows and a per-connection reader.
	transport.ForceAttemptHTTP2 = false
	transport.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if endpoint.Scheme == "https" {
		tc, err := certs.UpstreamTLS{Mode: certs.ModeVerifyFull, CAFile: c.Upstream.CAFile}.Config(endpoint.Hostname())
		if err != nil {
			return nil, fmt.Errorf("upstream TLS: %w", err)
		}
		transport.TLSClientConfig = tc
	}
	suffixes := []string{"localhost"}
	if env.Config.Egress != nil {
		// Intercepted by the egress proxy: bucket.<upstream host> is
		// virtual-hosted style.
		suffixes = append(suffixes, endpoint.Hostname())
	}
	return s3.New(s3.Config{
		Check:        env.Gate.Check,
		Verifier:     &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: env.Local.S3KeyID, Secret: env.Local.S3Secret}}, HostSuffixes: suffixes},
		Endpoint:     &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host},
		Region:       c.Upstream.Region,
		Credentials:  env.S3Credentials.Retrieve,
		Transport:    transport,
		HostSuffixes: suffixes,
		Log:          env.Log.With().Str("protocol", "s3").Logger(),
	})
}
