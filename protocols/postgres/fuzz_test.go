package postgres_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// fakeUpstream speaks just enough server protocol for pgconn to connect,
// then reads and discards whatever the proxy relays.
func fakeUpstream(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return
	}
	// The proxy first reads the pinned parameters: one row of values.
	m, err := be.Receive()
	if err != nil {
		return
	}
	if q, ok := m.(*pgproto3.Query); ok {
		n := strings.Count(q.String, "current_setting(")
		row := &pgproto3.DataRow{}
		desc := &pgproto3.RowDescription{}
		for i := 0; i < n; i++ {
			row.Values = append(row.Values, []byte("x"))
			desc.Fields = append(desc.Fields, pgproto3.FieldDescription{Name: []byte("c"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1})
		}
		be.Send(desc)
		be.Send(row)
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		if err := be.Flush(); err != nil {
			return
		}
	}
	_, _ = io.Copy(io.Discard, c)
}

func fuzzHandler(tb testing.TB) *postgres.Handler {
	engine, err := policy.Compile([]policy.Rule{{Name: "sel", Allow: `sql.kind == "select" && sql.writes.size() == 0`}}, policy.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := postgres.New(postgres.Config{
		Check: engine.Decide,
		Connect: func(ctx context.Context, params map[string]string) (*pgconn.PgConn, error) {
			cfg, err := pgconn.ParseConfig("host=fake user=u dbname=app sslmode=disable")
			if err != nil {
				return nil, err
			}
			cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
				a, b := net.Pipe()
				go fakeUpstream(b)
				return a, nil
			}
			return pgconn.ConnectConfig(ctx, cfg)
		},
		Classifier:     postgres.NewClassifier([]string{"public"}, "app"),
		ClientAuth:     postgres.AuthPassword,
		Token:          secret.New("tok"),
		Database:       "app",
		StartupTimeout: 2 * time.Second,
		Log:            zerolog.Nop(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// serve feeds data to a session as the client's bytes and waits (bounded)
// for the session to end.
func serve(t *testing.T, h *postgres.Handler, data []byte) {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.ServeConn(context.Background(), server)
		server.Close()
	}()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = client.Write(data)
	client.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end after the client closed")
	}
}

func startupPacket(params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, pgproto3.ProtocolVersion30)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

func frame(typ byte, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{typ}, uint32(len(body)+4)), body...)
}

// FuzzStartup: any bytes as the opening of a connection end the session
// without a panic or a hang.
func FuzzStartup(f *testing.F) {
	f.Add(startupPacket("user", "u", "database", "app"))
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})                          // SSLRequest (TLS off: 'N')
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30})                          // GSSENCRequest
	f.Add([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 1, 2, 3, 4}) // CancelRequest
	f.Add([]byte{0x16, 3, 1, 0, 5})                                            // direct TLS (off)
	f.Add(startupPacket("user", "u", "options", "-c x=y"))
	f.Add([]byte{0, 0, 0, 3})
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, data []byte) { serve(t, h, data) })
}

// FuzzSession: after a valid startup and password, any client message
// stream is relayed or refused without a panic or a hang.
func FuzzSession(f *testing.F) {
	login := append(startupPacket("user", "u", "database", "app"), frame('p', []byte("tok\x00"))...)
	for _, s := range [][]byte{
		frame('Q', []byte("SELECT 1\x00")),
		frame('Q', []byte("DELETE FROM t\x00")),
		append(frame('P', []byte("s1\x00SELECT $1\x00\x00\x00")), frame('S', nil)...),
		append(frame('P', []byte("\x00DROP TABLE t\x00\x00\x00")), append(frame('B', []byte("\x00\x00\x00\x00\x00\x00\x00\x00")), frame('S', nil)...)...),
		frame('F', []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}),
		frame('P', []byte("no terminator")),
		frame('p', []byte("late password\x00")),
		frame('X', nil),
		// pipelined extended protocol: named and unnamed statements and
		// portals, Close and Describe of each, Execute with a row limit
		append(append(append(append(append(frame('P', []byte("p1\x00PREPARE q AS SELECT 1\x00\x00\x00")),
			frame('B', []byte("c1\x00p1\x00\x00\x00\x00\x00\x00\x00"))...),
			frame('E', []byte("c1\x00\x00\x00\x00\x01"))...),
			frame('C', []byte("Pc1\x00"))...),
			frame('D', []byte("Sp1\x00"))...),
			frame('S', nil)...),
		append(frame('C', []byte("S")), frame('E', nil)...), // names without terminators
		append(frame('Q', []byte("DECLARE c CURSOR WITH HOLD FOR SELECT 1; FETCH 1 FROM c; SAVEPOINT s; ROLLBACK TO s; EXECUTE q\x00")),
			append(frame('c', nil), frame('f', []byte("x\x00"))...)...),
	} {
		f.Add(append(append([]byte{}, login...), s...))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, data []byte) { serve(t, h, data) })
}
