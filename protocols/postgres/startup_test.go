package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPlaintextAfterSSLRequest: bytes sent in plaintext after SSLRequest,
// before the TLS handshake, never reach the startup logic (CVE-2021-23214
// class): the handshake fails and the connection closes.
func TestPlaintextAfterSSLRequest(t *testing.T) {
	r := startRig(t, nil)
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := append([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, startupPacket("user", "u", "database", "app")...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	if len(rest) == 0 || rest[0] != 'S' {
		t.Fatalf("want 'S' first, got %q", rest)
	}
	if len(rest) > 1 && rest[1] == 'R' {
		t.Fatalf("the plaintext startup packet was processed: %q", rest)
	}
}

func TestProtocol32AndCancel(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, r.connString("max_protocol_version=3.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if n := len(pc.SecretKey()); n != 32 {
		t.Fatalf("protocol 3.2 cancel key is %d bytes, want 32", n)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = pc.CancelRequest(context.Background())
	}()
	start := time.Now()
	_, err = pc.Exec(ctx, "SELECT pg_sleep(20)").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || time.Since(start) > 10*time.Second {
		t.Fatalf("cancel over 3.2: %v after %s", err, time.Since(start))
	}
	// An unknown key is ignored (and logged): the session is untouched.
	bad, err := pgconn.Connect(ctx, r.connString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close(ctx)
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := (&pgproto3.CancelRequest{ProcessID: 12345, SecretKey: []byte{9, 9, 9, 9}}).Encode(nil)
	c.Write(msg)
	c.Close()
	if _, err := bad.Exec(ctx, "SELECT 1 FROM orders LIMIT 1").ReadAll(); err != nil {
		t.Fatalf("after an unknown cancel key: %v", err)
	}
}

// TestFunctionCallDenied: the fast-path FunctionCall message is a guard
// rail; the client gets 42501 and ReadyForQuery, and the session goes on.
func TestFunctionCallDenied(t *testing.T) {
	r := startRig(t, nil)
	ctx := context.Background()
	c := r.connect(t, "")
	pc := c.PgConn()
	fe := pc.Frontend()
	fe.Send(&pgproto3.FunctionCall{Function: 1598 /* random() */, ResultFormatCode: 0})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var gotErr *pgproto3.ErrorResponse
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			cp := *e
			gotErr = &cp
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if gotErr == nil || gotErr.Code != "42501" || !strings.Contains(gotErr.Message, "FunctionCall messages are never allowed") {
		t.Fatalf("got %+v", gotErr)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM orders", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 100 {
		t.Fatalf("after FunctionCall: %d %v", n, err)
	}
}
