package proxy

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/airlockproxy/airlock/protocols/egress"
)

// egressHandler builds the forward proxy. With the S3 path configured, it
// intercepts the S3 upstream's host (and bucket.<host>) and serves those
// connections with s3h, the S3 endpoint's own handler.
func egressHandler(env *Env, s3h http.Handler) (*egress.Handler, error) {
	cfg := egress.Config{
		Check:       env.Gate.Check,
		CA:          env.CA,
		IdleTimeout: env.Config.Egress.IdleTimeout.D(),
		Log:         env.Log.With().Str("protocol", "http").Logger(),
	}
	if s3h != nil && env.Config.S3 != nil {
		endpoint, err := s3Endpoint(env.Config.S3)
		if err != nil {
			return nil, err
		}
		cfg.S3, cfg.S3Hosts = s3h, []string{s3UpstreamHost(endpoint)}
	}
	return egress.New(cfg)
}

// s3UpstreamHost is the S3 endpoint's host:port, with the scheme's default
// port when it names none.
func s3UpstreamHost(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := 443
	if u.Scheme == "http" {
		port = 80
	}
	return u.Host + ":" + strconv.Itoa(port)
}
