package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/policy"
)

// Bounds of the proxy.
const (
	// MaxHeaderBytes caps a request's line and headers, on the proxy and
	// inside intercepted connections.
	MaxHeaderBytes = 64 << 10
	// DefaultIdleTimeout closes a tunnel or an intercepted connection that
	// carried no byte either way for this long.
	DefaultIdleTimeout = 5 * time.Minute
	// DialTimeout bounds connecting to a CONNECT target or an upstream.
	DialTimeout = 10 * time.Second
	// HandshakeTimeout bounds the TLS handshake of an intercepted connection.
	HandshakeTimeout = 10 * time.Second
	// RequestIDHeader carries the request id on every answer the proxy
	// writes itself.
	RequestIDHeader = "X-Airlock-Request-Id"
)

// Config is what a Handler needs.
type Config struct {
	// Check decides one request and records the decision (the proxy's gate).
	Check func(*policy.Request) policy.Decision
	// S3 serves the requests to intercepted S3 hosts (the S3 endpoint's
	// handler); nil intercepts nothing.
	S3 http.Handler
	// S3Hosts are the S3 upstream's host:port; a target equal to one, or a
	// subdomain of one on the same port (bucket.host), is intercepted.
	S3Hosts []string
	// CA issues the leaf certificates of intercepted hosts; required with S3.
	CA *certs.CA
	// Transport forwards allowed absolute-form requests; nil: one that
	// dials with DialTimeout and ignores proxy variables.
	Transport http.RoundTripper
	// Dial connects allowed CONNECT tunnels; nil: a net.Dialer with
	// DialTimeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// IdleTimeout closes a tunnel or an intercepted connection that carried
	// nothing for this long; 0: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Log is the diagnostic log.
	Log zerolog.Logger
}

// Handler is the forward proxy. Serve it on a loopback listener whose
// http.Server BaseContext ends when Airlock stops: tunnels and intercepted
// connections end with that context.
type Handler struct {
	cfg       Config
	s3Hosts   []Target
	transport http.RoundTripper
	proxy     *goproxy.ProxyHttpServer
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Check == nil {
		return nil, errors.New("egress: Check is required")
	}
	if cfg.S3 != nil && cfg.CA == nil {
		return nil, errors.New("egress: intercepting S3 needs the CA")
	}
	h := &Handler{cfg: cfg, transport: cfg.Transport}
	if cfg.S3 != nil {
		for _, s := range cfg.S3Hosts {
			t, err := ParseTarget(s, 0)
			if err != nil {
				return nil, fmt.Errorf("egress: S3 host: %w", err)
			}
			h.s3Hosts = append(h.s3Hosts, t)
		}
	}
	if h.cfg.IdleTimeout <= 0 {
		h.cfg.IdleTimeout = DefaultIdleTimeout
	}
	if h.cfg.Dial == nil {
		h.cfg.Dial = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	if h.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // Airlock's own proxy variables are not the task's way out
		t.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.DisableCompression = true // the client's Accept-Encoding, and its bytes, pass as they are
		t.MaxResponseHeaderBytes = 1 << 20
		h.transport = t
	}
	h.proxy = h.newGoproxy()
	return h, nil
}

// newGoproxy configures goproxy to forward what ServeHTTP has allowed. It
// can never dial on its own: CONNECTs are always hijacked here, and its
// transport refuses.
func (h *Handler) newGoproxy() *goproxy.ProxyHttpServer {
	p := goproxy.NewProxyHttpServer()
	p.Logger = printfLog{h.cfg.Log}
	p.KeepAcceptEncoding = true
	p.Tr = &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, errNoDial }}
	p.ConnectDial = func(string, string) (net.Conn, error) { return nil, errNoDial }
	p.OnRequest().DoFunc(h.prepare)
	p.OnResponse().DoFunc(func(resp *http.Response, _ *goproxy.ProxyCtx) *http.Response {
		if resp != nil {
			stripHopByHop(resp.Header)
		}
		return resp
	})
	p.OnRequest().HandleConnectFunc(h.connectAction)
	return p
}

var errNoDial = errors.New("egress: goproxy does not dial by itself")

// ServeHTTP checks one proxy request and hands what is allowed to goproxy
// (forwarding, tunnels) or to the S3 handler (intercepted hosts).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := headerBytes(r); n > MaxHeaderBytes {
		id := h.guard(r, Target{}, fmt.Sprintf("request headers of %d bytes (limit %d)", n, MaxHeaderBytes))
		deny(w, http.StatusRequestHeaderFieldsTooLarge, "request headers too large", id)
		return
	}
	if r.Method == http.MethodConnect {
		h.serveConnect(w, r)
		return
	}
	if !r.URL.IsAbs() {
		id := h.guard(r, Target{}, "not a proxy request (the request target is not an absolute URL)")
		deny(w, http.StatusBadRequest, "this is Airlock's forward proxy: send absolute-form requests or CONNECT", id)
		return
	}
	t, err := urlTarget(r)
	if err != nil {
		id := h.guard(r, Target{}, "bad request target: "+err.Error())
		deny(w, http.StatusBadRequest, "bad request target: "+err.Error(), id)
		return
	}
	if h.intercepts(t) {
		h.cfg.S3.ServeHTTP(w, r)
		return
	}
	req := h.request(r, t, r.Method, escapedPath(r))
	if dotSegment(req.HTTP.Path) {
		req.Guard = "path with a . or .. segment (servers resolve it, rules would not)"
	}
	if d := h.cfg.Check(&req); !d.Allow {
		deny(w, http.StatusForbidden, deniedText(t, d.Reason), req.ID)
		return
	}
	r.URL.Host = t.String() // dial what was checked (the Host header stays as sent)
	h.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), allowedKey{}, req.ID)))
}

// allowedKey marks, in a request's context, the request id of the check
// that allowed it.
type allowedKey struct{}

// prepare is goproxy's request hook: it drops what must not travel on and
// sends the request with the handler's transport.
func (h *Handler) prepare(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	id, _ := r.Context().Value(allowedKey{}).(string)
	if id == "" { // not through ServeHTTP: never forwarded
		return r, denial(r, http.StatusForbidden, "not checked", "")
	}
	stripHopByHop(r.Header)
	r.URL.User = nil
	ctx.RoundTripper = goproxy.RoundTripperFunc(func(out *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
		resp, err := h.transport.RoundTrip(out)
		if err != nil {
			h.cfg.Log.Warn().Err(err).Str("request_id", id).Str("target", out.URL.Host).Msg("egress request failed")
			return denial(out, http.StatusBadGateway, "could not reach "+out.URL.Host+"; see Airlock's log", id), nil
		}
		return resp, nil
	})
	return r, nil
}

// request is the policy request for one proxy request.
func (h *Handler) request(r *http.Request, t Target, method, path string) policy.Request {
	return policy.Request{
		Protocol: policy.ProtocolHTTP,
		Conn:     policy.Conn{Protocol: policy.ProtocolHTTP, Client: r.RemoteAddr},
		HTTP:     policy.HTTP{Method: method, Host: t.Host, Port: t.Port, Path: path},
	}
}

// guard records a denial no rule decides and returns its request id.
func (h *Handler) guard(r *http.Request, t Target, reason string) string {
	req := h.request(r, t, r.Method, "")
	req.Guard = reason
	h.cfg.Check(&req)
	return req.ID
}

// intercepts reports whether t is an S3 host served by the S3 handler.
func (h *Handler) intercepts(t Target) bool {
	for _, s := range h.s3Hosts {
		if t.under(s) {
			return true
		}
	}
	return false
}

// urlTarget is the target of an absolute-form request: the URL's host and
// port (the scheme's default port when it names none).
func urlTarget(r *http.Request) (Target, error) {
	def := 0
	switch strings.ToLower(r.URL.Scheme) {
	case "http":
		def = 80
	case "https":
		def = 443
	default:
		return Target{}, fmt.Errorf("scheme %q is not http or https", clip(r.URL.Scheme))
	}
	return ParseTarget(r.URL.Host, def)
}

func escapedPath(r *http.Request) string {
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// dotSegment reports whether an escaped path has a "." or ".." segment,
// literally or percent-encoded.
func dotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		seg = strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// headerBytes approximates the size of the request line and headers.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 8
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: they end here.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func stripHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// deny answers a request the proxy refuses, naming the reason and the
// request id.
func deny(w http.ResponseWriter, status int, reason, id string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if id != "" {
		w.Header().Set(RequestIDHeader, id)
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, denialText(reason, id))
}

// denial is deny as a response value, for goproxy and hijacked connections.
func denial(r *http.Request, status int, reason, id string) *http.Response {
	body := denialText(reason, id)
	resp := &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r, Close: true,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(strings.NewReader(body)),
	}
	if id != "" {
		resp.Header.Set(RequestIDHeader, id)
	}
	return resp
}

// deniedText is the message of a policy denial.
func deniedText(t Target, reason string) string {
	return "egress to " + t.String() + " denied: " + reason
}

func denialText(reason, id string) string {
	if id == "" {
		return "airlock: " + reason + "\n"
	}
	return "airlock: " + reason + " (request id " + id + ")\n"
}

// printfLog puts goproxy's and net/http's messages in the diagnostic log.
type printfLog struct{ log zerolog.Logger }

func (l printfLog) Printf(format string, v ...any) {
	l.log.Debug().Str("component", "egress").Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l printfLog) Write(p []byte) (int, error) {
	l.log.Debug().Str("component", "egress").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
