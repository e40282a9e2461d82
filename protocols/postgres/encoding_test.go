package postgres_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/airlockproxy/airlock/protocols/postgres"
)

// TestClientEncodingSpellings sends the same raw startup packet, with one
// spelling of client_encoding, to PostgreSQL itself and to Airlock. Airlock
// must accept every spelling PostgreSQL reads as UTF8 (it keeps only ASCII
// letters and digits, lower-cased, and knows UTF8 as utf8 and unicode) and
// refuse everything else, including the other encodings PostgreSQL accepts.
// want is what PostgreSQL does, written down so that a server that changed
// its reading fails the test too.
func TestClientEncodingSpellings(t *testing.T) {
	r := startRig(t, func(c *postgres.Config) { c.ClientAuth = postgres.AuthTrust })
	pgSocket := filepath.Join(r.pg.SocketDir, fmt.Sprintf(".s.PGSQL.%d", r.pg.Port))
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"UTF8", true},
		{"utf8", true},
		{"'utf-8'", true}, // asyncpg
		{"utf-8", true},
		{"UTF_8", true},
		{"Utf 8", true},
		{"u.t.f.8", true},
		{`"utf8"`, true},
		{"UNICODE", true},
		{"unicode", true},
		{"'Uni-Code'", true},
		{strings.Repeat("-", 59) + "utf8", true},  // 63 bytes
		{strings.Repeat("-", 60) + "utf8", false}, // 64 bytes: too long for PostgreSQL
		{"", false},
		{"-", false},
		{"LATIN1", false},
		{"latin-1", false},
		{"ISO-8859-1", false},
		{"SQL_ASCII", false},
		{"WIN1252", false},
		{"utf16", false},
		{"utf-8x", false},
		{"utf88", false},
		{"utf", false},
		{"unicod", false},
		{"auto", false},
	} {
		ready, pgMsg := startupOutcome(t, "unix", pgSocket, r.pg.Superuser, tc.value)
		gotPG := ready && (pgMsg == "UTF8" || pgMsg == "UNICODE")
		gotAirlock, alMsg := startupOutcome(t, "tcp", r.addr, "tester", tc.value)
		if gotPG != tc.want {
			t.Errorf("%q: PostgreSQL reads it as UTF8: %v (%s), want %v", tc.value, gotPG, pgMsg, tc.want)
		}
		if gotAirlock != gotPG {
			t.Errorf("%q: Airlock accepted=%v (%s), PostgreSQL reads it as UTF8: %v (%s)", tc.value, gotAirlock, alMsg, gotPG, pgMsg)
		}
		if gotAirlock && alMsg != "UTF8" {
			t.Errorf("%q: Airlock reports client_encoding %q, want UTF8", tc.value, alMsg)
		}
		if !gotAirlock && !strings.Contains(alMsg, "client_encoding") {
			t.Errorf("%q: Airlock's refusal does not name client_encoding: %s", tc.value, alMsg)
		}
	}
}

// startupOutcome opens a session with a raw startup packet and reports
// whether it reached ReadyForQuery and the client_encoding the server
// reported, or the error it got instead.
func startupOutcome(t *testing.T, network, addr, user, encoding string) (bool, string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(startupPacket("user", user, "database", "app", "client_encoding", encoding)); err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(c, c)
	reported := "(client_encoding not reported)"
	for range 100 {
		msg, err := fe.Receive()
		if err != nil {
			return false, "receive: " + err.Error()
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			return true, reported
		case *pgproto3.ErrorResponse:
			return false, m.Code + " " + m.Message
		case *pgproto3.ParameterStatus:
			if m.Name == "client_encoding" {
				reported = m.Value
			}
		case *pgproto3.AuthenticationOk, *pgproto3.BackendKeyData, *pgproto3.NoticeResponse:
		default:
			return false, fmt.Sprintf("unexpected %T", msg)
		}
	}
	return false, "no ReadyForQuery after 100 messages"
}
