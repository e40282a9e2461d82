package postgres

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// Client authentication modes.
const (
	AuthSCRAM    = "scram"
	AuthPassword = "password"
	AuthTrust    = "trust"
)

var errAuthFailed = errors.New("wrong local token")

// newSCRAMServer derives SCRAM-SHA-256 stored credentials from the local
// token once; every client conversation checks against them.
func newSCRAMServer(token string) (*scram.Server, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	client, err := scram.SHA256.NewClientUnprepped("", token, "")
	if err != nil {
		return nil, err
	}
	creds := client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	// PostgreSQL's SCRAM ignores the SCRAM user name (it is in the startup
	// packet), so the lookup answers for any name.
	return scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
}

// authenticate runs the client authentication exchange. It returns
// errAuthFailed for a wrong token and other errors for protocol trouble.
func (s *session) authenticate() error {
	switch s.h.cfg.ClientAuth {
	case AuthTrust:
		return nil
	case AuthPassword:
		if err := s.sendClient(&pgproto3.AuthenticationCleartextPassword{}); err != nil {
			return err
		}
		body, err := s.expect('p')
		if err != nil {
			return err
		}
		var pm pgproto3.PasswordMessage
		if err := pm.Decode(body); err != nil {
			return fmt.Errorf("decode password: %w", err)
		}
		if !hmac.Equal([]byte(pm.Password), []byte(s.h.cfg.Token.Reveal())) {
			return errAuthFailed
		}
		return nil
	default:
		return s.scram()
	}
}

func (s *session) scram() error {
	if err := s.sendClient(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}}); err != nil {
		return err
	}
	body, err := s.expect('p')
	if err != nil {
		return err
	}
	var first pgproto3.SASLInitialResponse
	if err := first.Decode(body); err != nil {
		return fmt.Errorf("decode SASLInitialResponse: %w", err)
	}
	if first.AuthMechanism != "SCRAM-SHA-256" {
		return fmt.Errorf("SASL mechanism %q not offered", first.AuthMechanism)
	}
	conv := s.h.scram.NewConversation()
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return errAuthFailed
	}
	if err := s.sendClient(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}); err != nil {
		return err
	}
	body, err = s.expect('p')
	if err != nil {
		return err
	}
	var final pgproto3.SASLResponse
	if err := final.Decode(body); err != nil {
		return fmt.Errorf("decode SASLResponse: %w", err)
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() {
		return errAuthFailed
	}
	return s.sendClient(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
}

// expect reads one client frame of type typ during authentication.
func (s *session) expect(typ byte) ([]byte, error) {
	if err := s.cw.Flush(); err != nil {
		return nil, err
	}
	t, n, err := s.cr.next()
	if err != nil {
		return nil, fmt.Errorf("read authentication: %w", err)
	}
	if t != typ {
		return nil, fmt.Errorf("expected message %q during authentication, got %q", typ, t)
	}
	body, err := s.cr.body(nil, n, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("read authentication: %w", err)
	}
	return body, nil
}

func (s *session) sendClient(m pgproto3.BackendMessage) error {
	return encodeTo(s.cw, m)
}

func encodeTo(w *bufio.Writer, m interface{ Encode([]byte) ([]byte, error) }) error {
	b, err := m.Encode(nil)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
