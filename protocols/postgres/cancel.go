package postgres

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// cancel maps a client's CancelRequest to its session's upstream key and
// sends it on. An unknown key does nothing but a log line.
func (h *Handler) cancel(ctx context.Context, cr *pgproto3.CancelRequest) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], cr.ProcessID)
	v, ok := h.cancels.Load(cancelKey(string(b[:]) + string(cr.SecretKey)))
	if !ok {
		h.cfg.Log.Warn().Uint32("pid", cr.ProcessID).Msg("cancel request with an unknown key ignored")
		return
	}
	k := v.(upstreamKey)
	ctx, done := context.WithTimeout(ctx, 10*time.Second)
	defer done()
	if err := sendCancel(ctx, k); err != nil {
		h.cfg.Log.Warn().Err(err).Msg("cancel request could not reach the upstream")
	}
}

// sendCancel opens a connection to the upstream the session used and sends
// its CancelRequest, over TLS when the session used TLS.
func sendCancel(ctx context.Context, k upstreamKey) error {
	if k.config == nil {
		return errors.New("no upstream config")
	}
	network, addr := "tcp", net.JoinHostPort(k.config.Host, strconv.Itoa(int(k.config.Port)))
	if strings.HasPrefix(k.config.Host, "/") {
		network, addr = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", k.config.Host, k.config.Port)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("dial upstream for cancel: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if k.config.TLSConfig != nil {
		if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil { // SSLRequest
			return err
		}
		var resp [1]byte
		if _, err := io.ReadFull(c, resp[:]); err != nil {
			return err
		}
		if resp[0] != 'S' {
			return errors.New("upstream refused TLS for the cancel request")
		}
		tc := tls.Client(c, k.config.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS for cancel: %w", err)
		}
		c = tc
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: k.pid, SecretKey: k.secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("send cancel: %w", err)
	}
	// The server closes the connection when it has the request.
	_, _ = c.Read(make([]byte, 1))
	return nil
}
