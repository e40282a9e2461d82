package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rs/zerolog"
	"github.com/xdg-go/scram"

	"github.com/airlockproxy/airlock/internal/rawconn"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// Config is what a Handler needs. Check, Connect and Classifier are required.
type Config struct {
	// Check decides one statement and records the decision (the proxy's gate).
	Check func(*policy.Request) policy.Decision
	// Refusing, when set, says why nothing may run now ("" when all is
	// well: the audit sink takes records, the deadline has not passed). A
	// Bind runs a statement decided and recorded at its Parse; while
	// Refusing gives a reason, a Bind ends the session instead.
	Refusing func() string
	// Connect opens an authenticated upstream connection with the held
	// credential, passing params (allowed client startup parameters) and the
	// pinned session parameters.
	Connect func(ctx context.Context, params map[string]string) (*pgconn.PgConn, error)
	// Classifier turns SQL text into statements.
	Classifier *Classifier
	// ClientAuth is AuthSCRAM (default), AuthPassword or AuthTrust.
	ClientAuth string
	// Token is the per-run local password.
	Token secret.Secret
	// TLS, when set, is offered to clients (SSLRequest and direct TLS).
	TLS *tls.Config
	// RequireTLS refuses clients that do not use TLS.
	RequireTLS bool
	// Database is the upstream database (sql.database; the only one served).
	Database string
	// Pinned are session parameters the client may not change (lower-case
	// names): SET of them is a guard rail, and a ParameterStatus showing one
	// changed ends the session.
	Pinned map[string]string
	// MaxMessage bounds a client message Airlock must read whole (Query,
	// Parse); default 1 MiB. Longer statements are denied. Other messages
	// stream through.
	MaxMessage int
	// StartupTimeout bounds startup, authentication and the upstream
	// connection; default 30s.
	StartupTimeout time.Duration
	// Log is the diagnostic log.
	Log zerolog.Logger
}

// Handler serves PostgreSQL client connections.
type Handler struct {
	cfg       Config
	scram     *scram.Server
	directTLS *tls.Config
	pinned    map[string]string
	cache     classCache
	cancels   sync.Map // cancelKey → upstreamKey
	connSeq   atomic.Uint64
	// pinnedList is the pinned parameters' names in order; verifySQL reads
	// them (see verify.go).
	pinnedList []string
	verifySQL  string
	// onSession, when set (tests), is called with each session once it
	// relays.
	onSession func(*session)
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Check == nil || cfg.Connect == nil || cfg.Classifier == nil {
		return nil, errors.New("postgres: Check, Connect and Classifier are required")
	}
	if cfg.ClientAuth == "" {
		cfg.ClientAuth = AuthSCRAM
	}
	if cfg.ClientAuth != AuthTrust && cfg.Token.IsZero() {
		return nil, errors.New("postgres: a local token is required unless client auth is trust")
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = 1 << 20
	}
	if cfg.StartupTimeout == 0 {
		cfg.StartupTimeout = 30 * time.Second
	}
	h := &Handler{cfg: cfg, pinned: map[string]string{}}
	for k, v := range cfg.Pinned {
		h.pinned[strings.ToLower(k)] = v
	}
	// Always pinned: who the session is, and how the server lexes what the
	// classifier parsed (the encoding; standard_conforming_strings, without
	// which 'a\'' ends at a different quote upstream than here).
	for _, k := range []string{"session_authorization", "is_superuser", "role", "client_encoding", "standard_conforming_strings"} {
		if _, ok := h.pinned[k]; !ok {
			h.pinned[k] = ""
		}
	}
	h.pinnedList = pinnedNames(h.pinned)
	h.verifySQL = verifyQuery(h.pinnedList)
	if cfg.ClientAuth == AuthSCRAM {
		s, err := newSCRAMServer(cfg.Token.Reveal())
		if err != nil {
			return nil, fmt.Errorf("postgres: SCRAM: %w", err)
		}
		h.scram = s
	}
	if cfg.TLS != nil {
		h.directTLS = cfg.TLS.Clone()
		h.directTLS.NextProtos = []string{"postgresql"}
	}
	return h, nil
}

// session is one client connection.
type session struct {
	h      *Handler
	ctx    context.Context
	client net.Conn
	cr     *frameReader
	cw     *bufio.Writer
	up     net.Conn
	ur     *frameReader
	uw     *bufio.Writer
	conn   policy.Conn
	// rep tracks the replies the server owes and the session model.
	rep      *replies
	upParams map[string]string
	upKey    *upstreamKey
	// pinVals are the pinned parameters' values at the start (pinnedList
	// order; nil for an unknown one).
	pinVals  [][]byte
	buf      []byte
	batching bool // upstream reads are batched (COPY OUT); fromUpstream's

	// fromClient's: the current extended-protocol span can run opaque
	// code; the pinned parameters must be checked before the next message.
	opaque, verifyDue bool
	checks            atomic.Int32 // pinned-parameter checks sent (read by tests)

	done       chan struct{} // closed when the session ends
	doneOnce   sync.Once
	clientGone atomic.Bool            // the client left or was told why: no FATAL
	stopMsg    atomic.Pointer[string] // why Airlock stops the session
	sawFatal   bool                   // fromUpstream's: the server sent FATAL
}

// ServeConn serves one client connection until it ends or ctx is done.
func (h *Handler) ServeConn(ctx context.Context, c net.Conn) error {
	c = rawconn.Wrap(c) // under TLS too: readStartup layers TLS on it
	_ = c.SetDeadline(time.Now().Add(h.cfg.StartupTimeout))
	c, st, err := h.readStartup(c)
	if err != nil && !errors.Is(err, errPlaintext) {
		return err
	}
	if st.cancel != nil {
		h.cancel(ctx, st.cancel)
		return nil
	}
	s := &session{h: h, ctx: ctx, client: c, rep: newReplies(), done: make(chan struct{}),
		cr: newFrameReader(c, 16<<10), cw: bufio.NewWriterSize(c, 64<<10)}
	s.conn = policy.Conn{ID: fmt.Sprintf("pg-%d", h.connSeq.Add(1)), Protocol: policy.ProtocolPostgres,
		Client: c.RemoteAddr().String()}
	if errors.Is(err, errPlaintext) {
		return s.fatal("28000", err.Error())
	}
	s.conn.User = st.params["user"]
	s.conn.ApplicationName = st.params["application_name"]
	params, refused := h.upstreamParams(st)
	if refused != "" {
		s.guard("startup refused: "+refused, "login")
		return s.fatal("08004", "airlock: "+refused)
	}
	if st.minor > 2 || len(st.opts) > 0 {
		if err := s.sendClient(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: min(st.minor, 2), UnrecognizedOptions: st.opts}); err != nil {
			return err
		}
	}
	if err := s.authenticate(); err != nil {
		if errors.Is(err, errAuthFailed) {
			s.guard("authentication failed: wrong local token", "login")
			return s.fatal("28P01", fmt.Sprintf("password authentication failed for user %q", s.conn.User))
		}
		return err
	}
	upCtx, cancel := context.WithTimeout(ctx, h.cfg.StartupTimeout)
	pc, err := h.cfg.Connect(upCtx, params)
	cancel()
	if err != nil {
		h.cfg.Log.Warn().Err(err).Str("conn", s.conn.ID).Msg("upstream connection failed")
		var ce *CredentialError
		if errors.As(err, &ce) { // fail closed: no credential, no connection
			return s.fatal("08004", "airlock: no valid upstream credential (it expired or could not be obtained); see Airlock's log")
		}
		return s.fatal("08006", "airlock: the upstream database refused the connection; see Airlock's log")
	}
	if h.verifySQL != "" {
		if s.pinVals, err = readPinned(ctx, pc, h); err != nil {
			pc.Close(ctx)
			h.cfg.Log.Warn().Err(err).Str("conn", s.conn.ID).Msg("reading the pinned parameters failed")
			return s.fatal("08006", "airlock: the upstream session could not be checked; see Airlock's log")
		}
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return fmt.Errorf("hijack upstream: %w", err)
	}
	s.up = hj.Conn
	defer s.up.Close()
	s.ur = newFrameReader(s.up, 64<<10) // rows arrive in bulk: fewer, larger reads and writes
	s.uw = bufio.NewWriterSize(s.up, 16<<10)
	s.upParams = hj.ParameterStatuses
	key := h.register(hj, st.minor)
	defer h.cancels.Delete(key)
	s.upKey = &upstreamKey{pid: hj.PID, secret: hj.SecretKey, config: hj.Config}
	if err := s.greet(hj, key); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	if h.onSession != nil {
		h.onSession(s)
	}
	return s.relay()
}

// readPinned reads the pinned parameters' values at the session's start.
func readPinned(ctx context.Context, pc *pgconn.PgConn, h *Handler) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StartupTimeout)
	defer cancel()
	res, err := pc.Exec(ctx, h.verifySQL).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read pinned parameters: %w", err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != len(h.pinnedList) {
		return nil, errors.New("read pinned parameters: unexpected result")
	}
	vals := make([][]byte, len(h.pinnedList))
	for i, v := range res[0].Rows[0] {
		if v != nil {
			vals[i] = append([]byte{}, v...)
		}
	}
	return vals, nil
}

// greet finishes the client's startup: AuthenticationOk, the upstream's
// parameters, Airlock's own cancel key, ReadyForQuery.
func (s *session) greet(hj *pgconn.HijackedConn, key cancelKey) error {
	if err := s.sendClient(&pgproto3.AuthenticationOk{}); err != nil {
		return err
	}
	for k, v := range hj.ParameterStatuses {
		if err := s.sendClient(&pgproto3.ParameterStatus{Name: k, Value: v}); err != nil {
			return err
		}
	}
	pid := binary.BigEndian.Uint32([]byte(key[:4]))
	if err := s.sendClient(&pgproto3.BackendKeyData{ProcessID: pid, SecretKey: []byte(key[4:])}); err != nil {
		return err
	}
	if err := s.sendClient(&pgproto3.ReadyForQuery{TxStatus: hj.TxStatus}); err != nil {
		return err
	}
	return s.cw.Flush()
}

// fatal sends a FATAL ErrorResponse and ends the session.
func (s *session) fatal(code, msg string) error {
	_ = s.sendClient(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	_ = s.cw.Flush()
	return fmt.Errorf("session refused: %s", msg)
}

// guard records a denial that no rule decides (a guard rail) and returns
// it with its request id.
func (s *session) guard(reason, action string) (policy.Decision, string) {
	return s.guardText(reason, action, "")
}

// guardText is guard for a statement Airlock could not classify: the
// record carries AuditText(text).
func (s *session) guardText(reason, action, text string) (policy.Decision, string) {
	req := policy.Request{Protocol: policy.ProtocolPostgres, Conn: s.conn, Guard: reason,
		SQL: policy.SQL{Kind: action, Database: s.h.cfg.Database}}
	if text != "" {
		req.SQL.Text = AuditText(text, AuditTextMax)
	}
	d := s.h.cfg.Check(&req)
	return d, req.ID
}

// cancelKey is Airlock's key data for one session: 4 bytes of process id
// and the secret, as the client will send them back.
type cancelKey string

type upstreamKey struct {
	pid    uint32
	secret []byte
	config *pgconn.Config
}

func (h *Handler) register(hj *pgconn.HijackedConn, minor uint32) cancelKey {
	n := 4 + 4 // protocol 3.0: a 4-byte secret
	if minor >= 2 {
		n = 4 + 32
	}
	for {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		k := cancelKey(b)
		if _, taken := h.cancels.LoadOrStore(k, upstreamKey{pid: hj.PID, secret: hj.SecretKey, config: hj.Config}); !taken {
			return k
		}
	}
}
