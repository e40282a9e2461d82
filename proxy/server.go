package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/airlockproxy/airlock/certs"
	"github.com/airlockproxy/airlock/internal/rawconn"
	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/proxy/audit"
	"github.com/airlockproxy/airlock/proxy/credentials"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// ConnHandler serves one client connection of a byte-stream protocol
// (PostgreSQL). It returns when the connection is done or ctx ends.
type ConnHandler interface {
	ServeConn(ctx context.Context, c net.Conn) error
}

// Handlers are the protocol endpoints the server exposes; nil ones are not
// served even when configured.
type Handlers struct {
	Postgres ConnHandler
	S3       http.Handler
	Egress   http.Handler
}

// Env is what protocol handlers are built from, once the core is up.
type Env struct {
	Config    *Config
	Gate      *Gate
	Local     *LocalSecrets
	CA        *certs.CA
	ServerTLS *tls.Config // the loopback listeners' certificate
	Log       zerolog.Logger
	Metrics   *Metrics
	// PostgresLogin returns the held PostgreSQL login, fresh per connection.
	PostgresLogin func(ctx context.Context) (string, secret.Secret, error)
	// S3Credentials returns the held S3 credentials for the signer.
	S3Credentials aws.CredentialsProvider
	// HoldSecrets registers a source of held upstream secret values, which
	// exec mode keeps out of the child's environment.
	HoldSecrets func(func() []string)
}

// Options are the server's dependencies.
type Options struct {
	// Log is the diagnostic log.
	Log zerolog.Logger
	// Handlers builds the protocol handlers; nil serves only the admin endpoint.
	Handlers func(*Env) (Handlers, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Exec says the server runs a child (exec mode): audit.path defaults to
	// stderr so records never mix with the child's stdout.
	Exec bool
	// AuditWriter, when set, receives the audit log instead of audit.path
	// (for embedding, and for tests that make the sink fail).
	AuditWriter io.Writer
}

// CredentialInfo describes a held credential without its secret.
type CredentialInfo struct {
	ID       string    `json:"id"`
	Upstream string    `json:"upstream"`
	Source   string    `json:"source"`
	Expiry   time.Time `json:"expiry,omitzero"`
}

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1   // Airlock could not start or failed while running
	ExitUsage    = 2   // bad command line or configuration
	ExitDeadline = 124 // task.ttl passed
)

// StopReason says why the server stops.
type StopReason struct {
	Kind   string // signal, quit, deadline, child, error
	Detail string
	Code   int // the exit code it implies
}

type state int32

const (
	stateStarting state = iota
	stateReady
	stateDraining
	stateStopped
)

// Server is one Airlock process's core.
type Server struct {
	cfg     *Config
	opts    Options
	log     zerolog.Logger
	now     func() time.Time
	Metrics *Metrics

	audit       *audit.Log
	gate        *Gate
	ca          *certs.CA
	serverCerts *certs.ServerCerts
	local       *LocalSecrets
	localDir    string
	ownLocalDir bool
	caFile      string
	bundleFile  string
	taskEnv     []string
	held        []func() []string
	closers     []func(context.Context) error                        // credential sources' Close, after the broker's Stop
	pgLogin     func(context.Context) (string, secret.Secret, error) // rds-iam: per-connection login
	broker      *credentials.Broker

	adminLn  net.Listener
	admin    *http.Server
	listened map[string]net.Addr
	lns      []net.Listener
	https    []*http.Server
	conns    connSet
	limitsMu sync.Mutex
	limits   map[string]*httpLimit // open connections per HTTP listener

	state     atomic.Int32
	progress  progress
	stop      chan StopReason
	stopOnce  sync.Once
	deadline  *time.Timer
	startedAt time.Time
	cancel    context.CancelCauseFunc
	connCtx   context.Context // every connection's; cancelled with the cause at the deadline or drain bound
	deadlined atomic.Bool     // task.ttl passed
}

// ErrShuttingDown is the cause connections' contexts are cancelled with
// when the drain bound is reached: protocols may show it to clients.
var ErrShuttingDown = errors.New("Airlock is shutting down")

// ErrDeadline is (wrapped) the cause connections' contexts are cancelled
// with at task.ttl; its text names the ttl.
var ErrDeadline = errors.New("task deadline passed")

// deadlineCause is ErrDeadline naming ttl.
func deadlineCause(ttl time.Duration) error {
	return fmt.Errorf("%w (task.ttl %s)", ErrDeadline, shortDuration(ttl))
}

// shortDuration prints d without zero minor units: 2h, 1h30m, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// New returns a server for a validated config.
func New(cfg *Config, opts Options) *Server {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Log, now: now, Metrics: NewMetrics(),
		stop: make(chan StopReason, 1), listened: map[string]net.Addr{}}
	s.Metrics.Registry.MustRegister(credentialCollector{s})
	return s
}

// Addrs returns the listeners' actual addresses by name (postgres, s3,
// http_proxy, admin).
func (s *Server) Addrs() map[string]net.Addr { return s.listened }

// TaskEnv returns the task's connection variables (NAME=value): local-only
// secrets and addresses, nothing upstream.
func (s *Server) TaskEnv() []string { return s.taskEnv }

// Gate returns the server's gate (after Start).
func (s *Server) Gate() *Gate { return s.gate }

// Start brings the server up to ready: audit log, local CA and secrets,
// policy, admin endpoint, protocol listeners. On error, what was started is
// shut down again.
func (s *Server) Start(ctx context.Context) (err error) {
	s.startedAt = s.now()
	cfg := s.cfg
	if cfg.Task.ID == "" {
		id, _ := randomString(6)
		cfg.Task.ID = "run-" + strings.ToLower(strings.NewReplacer("-", "x", "_", "y").Replace(id))
	}
	s.connCtx, s.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			s.closeAll()
			s.stopCredentials() // whatever was obtained before the failure
			if s.audit != nil {
				_ = s.audit.Write(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseExit, Detail: "start failed: " + err.Error()})
				_ = s.audit.Close()
			}
			s.cleanLocal()
		}
	}()
	if err := s.openAudit(); err != nil {
		return err
	}
	s.step("audit log open")
	engine, err := cfg.CompilePolicy()
	if err != nil {
		return fmt.Errorf("compile policy: %w", err)
	}
	s.gate = NewGate(GateOptions{Engine: engine, Recorder: s.audit, Metrics: s.Metrics, Log: s.log, Now: s.now,
		Task: policy.Task{ID: cfg.Task.ID, Labels: cfg.Task.Labels}})
	s.step(fmt.Sprintf("policy compiled: %d rules", len(engine.Rules())))
	if err := s.setupTLS(); err != nil {
		return err
	}
	if s.local, err = NewLocalSecrets(); err != nil {
		return err
	}
	if err := s.listenAdmin(); err != nil {
		return err
	}
	s.step("admin endpoint on " + s.adminLn.Addr().String())
	if err := s.startCredentials(ctx); err != nil {
		return err
	}
	if err := s.listenProtocols(); err != nil {
		return err
	}
	adminURL := "http://" + s.adminLn.Addr().String()
	s.taskEnv = taskEnv(cfg, s.local, s.listened, s.caFile, s.bundleFile, adminURL)
	if !s.opts.Exec {
		if err := writeLocalFiles(s.localDir, s.local, s.taskEnv); err != nil {
			return err
		}
		s.step("local secrets written to " + s.localDir)
	}
	s.armDeadline()
	s.state.Store(int32(stateReady))
	s.step("ready")
	if err := s.audit.Write(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseReady, Detail: s.listenDetail()}); err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	s.log.Info().Str("task", cfg.Task.ID).Str("admin", adminURL).Str("listeners", s.listenDetail()).
		Dur("ttl", cfg.Task.TTL.D()).Str("mode", cfg.Mode).Msg("airlock ready")
	return nil
}

func (s *Server) openAudit() error {
	c := s.cfg.Audit
	key, err := ReadAuditKey(c.KeyFile)
	if err != nil {
		return err
	}
	if key == nil {
		s.log.Warn().Msg("audit.key_file is not set: the audit chain is unkeyed and detects accidents, not forgery")
	}
	path := c.Path
	if path == "" {
		path = "stdout"
		if s.opts.Exec {
			path = "stderr" // the child's stdout may be its data
		}
	}
	opts := audit.Options{Key: key, Task: s.cfg.Task.ID, Sync: c.Sync == "fsync", Now: s.now, OnHealth: s.auditHealth}
	var l *audit.Log
	if w := s.opts.AuditWriter; w != nil {
		l, path = audit.New(w, opts), "(Options.AuditWriter)"
	} else if l, err = audit.Open(path, opts); err != nil {
		return err
	}
	s.audit = l
	digest, err := s.cfg.PolicyDigest()
	if err != nil {
		return fmt.Errorf("policy digest: %w", err)
	}
	// The start record is the probe: it must reach the sink (a full disk,
	// /dev/full, a closed pipe fail here, before anything listens).
	if err := l.Write(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseStart, PolicySHA256: digest,
		Detail: fmt.Sprintf("mode=%s ttl=%s rules=%d", s.cfg.Mode, s.cfg.Task.TTL.D(), len(s.cfg.Policy.Rules))}); err != nil {
		return fmt.Errorf("audit sink %s does not take records: %w", path, err)
	}
	return nil
}

// auditHealth reports the audit sink failing (err) or working again (nil).
func (s *Server) auditHealth(err error) {
	if err != nil {
		s.Metrics.AuditHealthy.Set(0)
		s.log.Error().Err(err).Msg("audit sink failed: denying every request and failing /readyz until it takes records again")
		return
	}
	s.Metrics.AuditHealthy.Set(1)
	s.log.Info().Msg("audit sink works again; a resume record continues the chain")
}

// ReadAuditKey reads an audit chain key file (surrounding whitespace is
// trimmed); an empty path means no key.
func ReadAuditKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	key := []byte(strings.TrimSpace(string(b)))
	if len(key) < 16 {
		return nil, fmt.Errorf("audit key file %s holds %d bytes; use at least 32 random bytes (e.g. head -c 32 /dev/urandom | base64 > %s)", path, len(key), path)
	}
	return key, nil
}

// setupTLS creates (or loads) the local CA, the listener certificates, and
// the CA files the task trusts.
func (s *Server) setupTLS() error {
	t := s.cfg.TLS
	var err error
	if t.CACertFile != "" {
		certPEM, rerr := os.ReadFile(t.CACertFile)
		if rerr != nil {
			return fmt.Errorf("read tls.ca_cert_file: %w", rerr)
		}
		keyPEM, rerr := os.ReadFile(t.CAKeyFile)
		if rerr != nil {
			return fmt.Errorf("read tls.ca_key_file: %w", rerr)
		}
		s.ca, err = certs.LoadCA(certPEM, keyPEM, certs.CAOptions{Now: s.now})
	} else {
		validity := s.cfg.Task.TTL.D() + time.Hour
		s.ca, err = certs.NewCA(certs.CAOptions{Validity: validity, Now: s.now})
	}
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	if s.serverCerts, err = s.ca.NewServerCerts(certs.DefaultHosts, t.LeafValidity.D()); err != nil {
		return fmt.Errorf("listener certificate: %w", err)
	}
	s.localDir = s.cfg.Local.Dir
	if s.localDir == "" {
		if s.opts.Exec {
			if s.localDir, err = os.MkdirTemp("", "airlock-"); err != nil {
				return fmt.Errorf("create local dir: %w", err)
			}
			s.ownLocalDir = true
		} else {
			s.localDir = DefaultLocalDir
		}
	}
	if err := os.MkdirAll(s.localDir, 0o750); err != nil {
		return fmt.Errorf("create local dir: %w", err)
	}
	s.caFile = filepath.Join(s.localDir, "ca.pem")
	if err := s.ca.WriteCertFile(s.caFile); err != nil {
		return fmt.Errorf("write CA file: %w", err)
	}
	// A bundle of the system roots and the local CA, for variables such as
	// SSL_CERT_FILE that replace the roots rather than add to them.
	bundle := append([]byte{}, s.ca.CertPEM()...)
	for _, sys := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if b, err := os.ReadFile(sys); err == nil {
			bundle = append(append(bundle, '\n'), b...)
			break
		}
	}
	s.bundleFile = filepath.Join(s.localDir, "ca-bundle.pem")
	if err := writeFileAtomic(s.bundleFile, bundle, 0o644); err != nil {
		return err
	}
	s.step("local CA ready")
	return nil
}

func (s *Server) listenProtocols() error {
	if s.opts.Handlers == nil {
		return nil
	}
	h, err := s.opts.Handlers(&Env{Config: s.cfg, Gate: s.gate, Local: s.local, CA: s.ca,
		ServerTLS: s.serverCerts.TLSConfig(), Log: s.log, Metrics: s.Metrics, PostgresLogin: s.postgresLogin, S3Credentials: s.s3Credentials(),
		HoldSecrets: func(f func() []string) { s.held = append(s.held, f) }})
	if err != nil {
		return fmt.Errorf("set up protocols: %w", err)
	}
	if h.Postgres != nil && s.cfg.Postgres != nil {
		ln, err := s.listen("postgres", s.cfg.Listen.Postgres)
		if err != nil {
			return err
		}
		go s.acceptLoop("postgres", s.retrying(ln, "postgres"), h.Postgres)
		if dir := s.cfg.Listen.PostgresSocket; dir != "" {
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			path := filepath.Join(dir, ".s.PGSQL."+port)
			_ = os.Remove(path) // a stale socket from a killed run
			uln, err := net.Listen("unix", path)
			if err != nil {
				return fmt.Errorf("listen postgres on %s: %w", path, err)
			}
			if err := os.Chmod(path, 0o777); err != nil {
				uln.Close()
				return fmt.Errorf("listen postgres on %s: %w", path, err)
			}
			s.lns = append(s.lns, uln)
			s.listened["postgres_socket"] = uln.Addr()
			s.step("postgres listening on " + path)
			go s.acceptLoop("postgres", s.retrying(uln, "postgres"), h.Postgres)
		}
	}
	if h.S3 != nil && s.cfg.S3 != nil {
		ln, err := s.listen("s3", s.cfg.Listen.S3)
		if err != nil {
			return err
		}
		ln = rawconn.NewListener(s.retrying(ln, "s3")) // under TLS: the socket's reads and writes
		ln = countingListener{Listener: ln, m: s.Metrics, name: "s3"}
		if !s.cfg.S3.PlainHTTP {
			ln = tls.NewListener(ln, s.serverCerts.TLSConfig())
		}
		s.serveHTTP("s3", ln, s.limitHTTP("s3", h.S3))
	}
	if h.Egress != nil && s.cfg.Egress != nil {
		ln, err := s.listen("http_proxy", s.cfg.Listen.HTTPProxy)
		if err != nil {
			return err
		}
		ln = countingListener{Listener: s.retrying(ln, "http_proxy"), m: s.Metrics, name: "http_proxy"}
		s.serveHTTP("http_proxy", ln, s.limitHTTP("http_proxy", h.Egress))
	}
	return nil
}

func (s *Server) listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	s.lns = append(s.lns, ln)
	s.listened[name] = ln.Addr()
	s.step(fmt.Sprintf("%s listening on %s", name, ln.Addr()))
	return ln, nil
}

func (s *Server) serveHTTP(name string, ln net.Listener, h http.Handler) {
	// Requests, and the egress proxy's hijacked tunnels, end with connCtx
	// (after the drain), which http.Server's Shutdown does not reach.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: newStdLogger(s.log, name), BaseContext: func(net.Listener) context.Context { return s.connCtx },
		ConnContext: s.httpConnContext(name), ConnState: s.httpConnState(name)}
	s.https = append(s.https, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Stop(StopReason{Kind: "error", Detail: name + ": " + err.Error(), Code: ExitFailure})
		}
	}()
}

func (s *Server) listenDetail() string {
	var parts []string
	for _, n := range []string{"postgres", "s3", "http_proxy", "admin"} {
		if a, ok := s.listened[n]; ok {
			parts = append(parts, n+"="+a.String())
		}
	}
	return strings.Join(parts, " ")
}

func (s *Server) armDeadline() {
	ttl := s.cfg.Task.TTL.D()
	remaining := ttl - s.now().Sub(s.startedAt)
	s.deadline = time.AfterFunc(max(remaining, 0), func() {
		cause := deadlineCause(ttl)
		s.deadlined.Store(true)
		s.gate.Close(cause.Error(), CauseDeadline)
		s.cancel(cause) // queries and transfers in flight end now, naming the deadline
		s.Stop(StopReason{Kind: "deadline", Detail: "task.ttl " + ttl.String() + " passed", Code: ExitDeadline})
	})
}

// Stop asks the server to stop; the first reason wins.
func (s *Server) Stop(r StopReason) {
	s.stopOnce.Do(func() { s.stop <- r })
}

// Stopping returns the channel the stop reason arrives on.
func (s *Server) Stopping() <-chan StopReason { return s.stop }

// Shutdown drains and closes everything, writes the exit checkpoint, and
// flushes the audit log. It returns the exit code for reason.
func (s *Server) Shutdown(reason StopReason) int {
	s.state.Store(int32(stateDraining))
	if s.deadline != nil {
		s.deadline.Stop()
	}
	code := reason.Code
	_ = s.audit.Write(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseDrain, Detail: reason.Kind + ": " + reason.Detail})
	s.log.Info().Str("reason", reason.Kind).Str("detail", reason.Detail).Msg("draining")
	drain := s.cfg.Shutdown.Drain.D()
	if reason.Kind == "deadline" {
		drain = 0 // deny, close, exit
	}
	s.drain(drain)
	if s.stopCredentials() { // after connections close
		code = ExitRevokeFailed
	}
	s.state.Store(int32(stateStopped))
	err := s.audit.Write(&audit.Record{Event: audit.EventLifecycle, Phase: audit.PhaseExit,
		Detail: fmt.Sprintf("%s: %s (exit %d)", reason.Kind, reason.Detail, code)})
	if cerr := s.audit.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.log.Error().Err(err).Msg("audit log could not be completed")
		if code == ExitOK {
			code = ExitFailure
		}
	}
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.admin.Shutdown(ctx)
		cancel()
	}
	s.cleanLocal()
	s.log.Info().Int("exit_code", code).Msg("airlock stopped")
	return code
}

// drain stops accepting, lets open connections finish for up to d, then
// closes them.
func (s *Server) drain(d time.Duration) {
	for _, ln := range s.lns {
		ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for _, h := range s.https {
		wg.Add(1)
		go func() { defer wg.Done(); _ = h.Shutdown(ctx) }()
	}
	if !s.conns.wait(ctx) {
		s.log.Warn().Int("open", s.conns.count()).Dur("drain", d).Msg("drain bound reached; closing connections")
	}
	s.cancel(ErrShuttingDown) // no effect after the deadline's cause
	s.conns.closeAll()
	wg.Wait()
	for _, h := range s.https {
		h.Close()
	}
}

// closeAll releases listeners after a failed start.
func (s *Server) closeAll() {
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, h := range s.https {
		h.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cancel != nil {
		s.cancel(ErrShuttingDown)
	}
	if s.deadline != nil {
		s.deadline.Stop()
	}
}

func (s *Server) cleanLocal() {
	if s.ownLocalDir && s.localDir != "" {
		os.RemoveAll(s.localDir)
	}
}
