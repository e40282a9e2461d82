package egress

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/elazarl/goproxy"
)

// connectPlan is what ServeHTTP decided for an allowed CONNECT, carried to
// goproxy's CONNECT hook in the request's context.
type connectPlan struct {
	target    Target
	intercept bool   // serve with the S3 handler instead of tunnelling
	id        string // the allowing check's request id (tunnels)
}

// serveConnect checks a CONNECT. Intercepted S3 hosts are not checked here:
// every request inside is checked by the S3 handler.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request) {
	t, err := ParseTarget(r.RequestURI, 0)
	if err != nil {
		id := h.guard(r, Target{}, "bad CONNECT target: "+err.Error())
		deny(w, http.StatusBadRequest, "bad CONNECT target: "+err.Error(), id)
		return
	}
	plan := connectPlan{target: t, intercept: h.intercepts(t)}
	if !plan.intercept {
		req := h.request(r, t, http.MethodConnect, "")
		if d := h.cfg.Check(&req); !d.Allow {
			deny(w, http.StatusForbidden, deniedText(t, d.Reason), req.ID)
			return
		}
		plan.id = req.ID
	}
	h.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), connectKey{}, plan)))
}

type connectKey struct{}

// connectAction is goproxy's CONNECT hook: it always hijacks, so goproxy
// neither dials nor intercepts by itself.
func (h *Handler) connectAction(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	plan, ok := ctx.Req.Context().Value(connectKey{}).(connectPlan)
	return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(r *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
		defer client.Close()
		switch {
		case !ok: // not through ServeHTTP: never tunnelled
			_ = denial(r, http.StatusForbidden, "not checked", "").Write(client)
		case plan.intercept:
			h.intercept(r.Context(), client, plan.target)
		default:
			h.tunnel(r, client, plan)
		}
	}}, host
}

// tunnel connects an allowed CONNECT to its target and relays bytes.
func (h *Handler) tunnel(r *http.Request, client net.Conn, plan connectPlan) {
	ctx := r.Context()
	dctx, cancel := context.WithTimeout(ctx, DialTimeout)
	up, err := h.cfg.Dial(dctx, "tcp", plan.target.String())
	cancel()
	if err != nil {
		h.cfg.Log.Warn().Err(err).Str("request_id", plan.id).Str("target", plan.target.String()).Msg("egress tunnel could not connect")
		_ = denial(r, http.StatusBadGateway, "could not connect to "+plan.target.String()+"; see Airlock's log", plan.id).Write(client)
		return
	}
	defer up.Close()
	if !established(client, DialTimeout) {
		return
	}
	if err := pipe(ctx, client, up, h.cfg.IdleTimeout); err != nil {
		h.cfg.Log.Debug().Err(err).Str("request_id", plan.id).Str("target", plan.target.String()).Msg("egress tunnel ended")
	}
}

// established answers a CONNECT with 200, within timeout; false means the
// client is gone.
func established(client net.Conn, timeout time.Duration) bool {
	_ = client.SetWriteDeadline(time.Now().Add(timeout))
	_, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
	return err == nil
}

// intercept terminates TLS for an S3 host with a leaf from the local CA
// and serves the requests inside with the S3 handler, pinned to the
// CONNECT target.
func (h *Handler) intercept(ctx context.Context, client net.Conn, t Target) {
	leaf, err := h.cfg.CA.IssueFor(t.Host)
	if err != nil {
		h.cfg.Log.Error().Err(err).Str("target", t.String()).Msg("egress: no certificate for an intercepted host")
		_ = denial(nil, http.StatusBadGateway, "no certificate for "+t.String()+"; see Airlock's log", "").Write(client)
		return
	}
	if !established(client, HandshakeTimeout) {
		return
	}
	tc := tls.Server(client, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return leaf, nil
		},
	})
	_ = client.SetDeadline(time.Now().Add(HandshakeTimeout))
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		h.cfg.Log.Debug().Err(err).Str("target", t.String()).Msg("egress: TLS handshake with the task failed")
		return
	}
	_ = client.SetDeadline(time.Time{})
	srv := &http.Server{
		Handler:           h.pinned(t),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       h.cfg.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(printfLog{h.cfg.Log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	_ = srv.Serve(newConnListener(tc))
}

// pinned serves an intercepted connection's requests with the S3 handler,
// refusing any whose Host is not the CONNECT target: the connection was
// opened, and its certificate issued, for that host only.
func (h *Handler) pinned(t Target) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got, err := ParseTarget(r.Host, 443); err != nil || got != t {
			reason := fmt.Sprintf("Host %q is not the CONNECT target %s", clip(r.Host), t)
			id := h.guard(r, t, reason)
			deny(w, http.StatusMisdirectedRequest, reason, id)
			return
		}
		h.cfg.S3.ServeHTTP(w, r)
	})
}
