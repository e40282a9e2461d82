package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy/secret"
)

func s3Handler(env *Env) (*s3.Handler, error) {
	c := env.Config.S3
	endpoint, err := url.Parse(c.Upstream.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("upstream endpoint: %w", err)
	}
	creds, err := s3Credentials(env, c.Credentials)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // the configured endpoint, never a proxy from Airlock's environment
	transport.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.MaxIdleConnsPerHost = 64
	transport.ExpectContinueTimeout = time.Second
	transport.ReadBufferSize, transport.WriteBufferSize = 256<<10, 256<<10 // bodies stream through in fewer system calls
	if endpoint.Scheme == "https" {
		tc, err := certs.UpstreamTLS{Mode: certs.ModeVerifyFull, CAFile: c.Upstream.CAFile}.Config(endpoint.Hostname())
		if err != nil {
			return nil, fmt.Errorf("upstream TLS: %w", err)
		}
		transport.TLSClientConfig = tc
	}
	return s3.New(s3.Config{
		Check:        env.Gate.Check,
		Verifier:     &s3.Verifier{Keys: []s3.LocalKey{{AccessKeyID: env.Local.S3KeyID, Secret: env.Local.S3Secret}}},
		Endpoint:     &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host},
		Region:       c.Upstream.Region,
		Credentials:  creds,
		Transport:    transport,
		HostSuffixes: []string{"localhost"},
		Log:          env.Log.With().Str("protocol", "s3").Logger(),
	})
}

// s3Credentials returns the held S3 credentials for the configured source.
func s3Credentials(env *Env, c S3Credentials) (func(context.Context) (aws.Credentials, error), error) {
	switch c.Source {
	case "static":
		var v string
		if c.SecretAccessKeyFile != "" {
			b, err := os.ReadFile(c.SecretAccessKeyFile)
			if err != nil {
				return nil, fmt.Errorf("read secret_access_key_file: %w", err)
			}
			v = strings.TrimSpace(string(b))
		} else {
			var ok bool
			if v, ok = os.LookupEnv(c.SecretAccessKeyEnv); !ok {
				return nil, fmt.Errorf("secret_access_key_env: %s is not set", c.SecretAccessKeyEnv)
			}
		}
		sk := secret.New(v)
		env.HoldSecrets(func() []string { return []string{sk.Reveal()} })
		env.Log.Warn().Msg("s3: static credentials are not short-lived; use assume-role or web-identity in production")
		return func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: sk.Reveal(), Source: "airlock-static"}, nil
		}, nil
	}
	return nil, fmt.Errorf("s3 credential source %q is not in this build yet (use static)", c.Source)
}
