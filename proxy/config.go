// Package proxy is Airlock's core: configuration, the gate that decides and
// audits every request in one call, and the lifecycle (listeners, admin
// server, drain, task deadline, the child process in exec mode). Protocol
// packages speak their wire formats; this package accepts, counts, decides,
// records and stops them.
package proxy

import (
	"fmt"
	"time"

	"github.com/airlockproxy/airlock/policy"
)

// Config is the content of airlock.yaml (DESIGN §3). Every field is
// documented; the zero value of each optional field is safe. Values may
// refer to the environment as ${NAME} or ${NAME:-default}; $$ is a literal $.
type Config struct {
	// Task identifies the task Airlock serves and bounds its lifetime.
	Task Task `yaml:"task"`
	// Mode is "enforce" (default: deny what no rule allows) or "observe"
	// (allow everything, record what would have been denied).
	Mode string `yaml:"mode"`
	// Local says where run mode writes the task's local-only secrets.
	Local Local `yaml:"local"`
	// Listen holds the loopback addresses Airlock serves on.
	Listen Listen `yaml:"listen"`
	// TLS configures the local CA that signs the listeners' certificates.
	TLS LocalTLS `yaml:"tls"`
	// Postgres configures the PostgreSQL path; absent: no PostgreSQL listener.
	Postgres *Postgres `yaml:"postgres"`
	// S3 configures the S3 path; absent: no S3 listener.
	S3 *S3 `yaml:"s3"`
	// Egress configures the HTTP(S) forward proxy; absent: none.
	Egress *Egress `yaml:"egress"`
	// Policy holds the access rules.
	Policy Policy `yaml:"policy"`
	// Audit configures the tamper-evident audit log.
	Audit Audit `yaml:"audit"`
	// Shutdown tunes how Airlock stops.
	Shutdown Shutdown `yaml:"shutdown"`
	// Exec configures the task's process in exec mode (airlock exec).
	Exec Exec `yaml:"exec"`
	// Log configures the diagnostic log (not the audit log).
	Log Log `yaml:"log"`
}

// Task identifies the task and bounds its lifetime.
type Task struct {
	// ID is the job or run id; it appears in every audit record and in the
	// names of ephemeral credentials. Empty: a random "run-xxxxxxxx".
	ID string `yaml:"id"`
	// Labels are free key/value pairs, visible to rules as task.labels.
	Labels map[string]string `yaml:"labels"`
	// TTL is the hard deadline from start: then every request is denied,
	// connections close, credentials are revoked and Airlock exits (code 124).
	// Default 1h.
	TTL Duration `yaml:"ttl"`
}

// Local says where the task's local-only secrets go.
type Local struct {
	// Dir is where run mode writes pg-token, aws-credentials, ca.pem,
	// ca-bundle.pem and env (a sourceable file) for the task; exec mode passes them as environment
	// variables and writes only ca.pem, into a private temporary directory
	// when Dir is empty. Default for run mode: /var/run/airlock.
	Dir string `yaml:"dir"`
}

// Listen holds listener addresses. Each must be a loopback host:port.
type Listen struct {
	// Postgres is the PostgreSQL listener. Default 127.0.0.1:5432 when the
	// postgres section is present.
	Postgres string `yaml:"postgres"`
	// PostgresSocket is a directory for a unix socket listener too
	// (.s.PGSQL.<port of listen.postgres>), as libpq expects with host=DIR.
	PostgresSocket string `yaml:"postgres_socket"`
	// S3 is the S3 endpoint listener. Default 127.0.0.1:9000 when the s3
	// section is present.
	S3 string `yaml:"s3"`
	// HTTPProxy is the egress forward proxy. Default 127.0.0.1:3128 when the
	// egress section is present.
	HTTPProxy string `yaml:"http_proxy"`
	// Admin serves /startup /readyz /livez /metrics /credentials and
	// POST /quitquitquit. Default 127.0.0.1:9901.
	Admin string `yaml:"admin"`
	// MaxConnections caps the open client connections per protocol
	// (postgres, s3, http_proxy); one more is refused politely (PostgreSQL
	// error 53300 "too many connections", S3 503 SlowDown, HTTP 503).
	// Absent or 0: no cap.
	MaxConnections map[string]int `yaml:"max_connections"`
}

// LocalTLS configures the CA behind the listeners' certificates.
type LocalTLS struct {
	// CACertFile names a CA certificate to use instead of the ephemeral CA
	// Airlock generates at start (with ca_key_file; both or neither).
	CACertFile string `yaml:"ca_cert_file"`
	// CAKeyFile is the private key of ca_cert_file.
	CAKeyFile string `yaml:"ca_key_file"`
	// LeafValidity is how long a listener certificate lives before it is
	// renewed. Default 1h.
	LeafValidity Duration `yaml:"leaf_validity"`
}

// Postgres configures the PostgreSQL path.
type Postgres struct {
	// Upstream is the real server.
	Upstream PostgresUpstream `yaml:"upstream"`
	// ClientAuth is how the task authenticates to Airlock with its local
	// token: "scram" (default; SCRAM-SHA-256), "password" (cleartext, loopback
	// and unix socket only) or "trust" (no token; development only).
	ClientAuth string `yaml:"client_auth"`
	// Session pins upstream session parameters (e.g. search_path); the client
	// cannot change them. search_path is always pinned (default "public"),
	// so that unqualified names resolve the same for Airlock and the server.
	Session map[string]string `yaml:"session"`
	// PlainText serves the local listener without TLS (SSLRequest is
	// answered 'N'). Default: TLS offered with the local CA's certificate.
	PlainText bool `yaml:"plaintext"`
	// Credentials is where the upstream login comes from.
	Credentials PostgresCredentials `yaml:"credentials"`
}

// PostgresUpstream addresses the real PostgreSQL server.
type PostgresUpstream struct {
	// Host is a host name, an IP address, or a unix socket directory.
	Host string `yaml:"host"`
	// Port defaults to 5432.
	Port int `yaml:"port"`
	// Database is the upstream database; the client's choice is ignored.
	Database string `yaml:"database"`
	// SSLMode is disable, require, verify-ca or verify-full (default).
	SSLMode string `yaml:"sslmode"`
	// SSLRootCert is a CA bundle to verify the server with (default: system roots).
	SSLRootCert string `yaml:"sslrootcert"`
	// SSLCert is an optional client certificate for the upstream.
	SSLCert string `yaml:"sslcert"`
	// SSLKey is the private key of sslcert.
	SSLKey string `yaml:"sslkey"`
}

// PostgresCredentials selects and configures a PostgreSQL credential source.
// Each source takes only its own fields:
//
//	static:         user, password_file | password_env
//	ephemeral-role: admin_dsn_file, grant, reassign_to, connection_limit
//	vault:          address, mount, role, token_file | auth, ca_file
//	rds-iam:        user, region (sslmode must not be disable)
type PostgresCredentials struct {
	// Source is static, ephemeral-role, vault or rds-iam.
	Source string `yaml:"source"`
	// User is the upstream login (static, rds-iam).
	User string `yaml:"user"`
	// PasswordFile holds the password (static); surrounding whitespace is trimmed.
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv names an environment variable holding the password
	// (static). Airlock removes it from the child's environment.
	PasswordEnv string `yaml:"password_env"`
	// AdminDSNFile holds a libpq connection string for a role that may
	// create roles (ephemeral-role).
	AdminDSNFile string `yaml:"admin_dsn_file"`
	// Grant lists the group roles the ephemeral role joins (ephemeral-role).
	Grant []string `yaml:"grant"`
	// ReassignTo receives what the ephemeral role owns when it is dropped
	// (ephemeral-role).
	ReassignTo string `yaml:"reassign_to"`
	// ConnectionLimit caps the ephemeral role's connections; 0: no limit
	// (ephemeral-role).
	ConnectionLimit int `yaml:"connection_limit"`
	// Address is Vault's URL (vault).
	Address string `yaml:"address"`
	// Mount is the database secrets engine's mount path (vault; default "database").
	Mount string `yaml:"mount"`
	// Role is the Vault database role (vault).
	Role string `yaml:"role"`
	// TokenFile holds a Vault token (vault).
	TokenFile string `yaml:"token_file"`
	// Auth logs in to Vault instead of a token file (vault).
	Auth *VaultAuth `yaml:"auth"`
	// CAFile verifies Vault's certificate (vault; default: system roots).
	CAFile string `yaml:"ca_file"`
	// Region is the AWS region of the RDS instance (rds-iam).
	Region string `yaml:"region"`
	// Margin is added to the task's remaining lifetime when asking for a
	// credential's validity. Default 5m.
	Margin Duration `yaml:"margin"`
}

// VaultAuth logs in to Vault.
type VaultAuth struct {
	// Method is kubernetes or approle.
	Method string `yaml:"method"`
	// Mount is the auth method's mount path (default: the method's name).
	Mount string `yaml:"mount"`
	// Role is the Vault role to log in as (kubernetes).
	Role string `yaml:"role"`
	// JWTFile is the service account token (kubernetes; default
	// /var/run/secrets/kubernetes.io/serviceaccount/token).
	JWTFile string `yaml:"jwt_file"`
	// RoleIDFile holds the AppRole role id (approle).
	RoleIDFile string `yaml:"role_id_file"`
	// SecretIDFile holds the AppRole secret id (approle).
	SecretIDFile string `yaml:"secret_id_file"`
}

// S3 configures the S3 path.
type S3 struct {
	// Upstream is the real S3 endpoint; requests go nowhere else.
	Upstream S3Upstream `yaml:"upstream"`
	// PlainHTTP serves the local endpoint over HTTP instead of HTTPS.
	PlainHTTP bool `yaml:"plain_http"`
	// Credentials is where the upstream credentials come from.
	Credentials S3Credentials `yaml:"credentials"`
}

// S3Upstream addresses the real S3 service.
type S3Upstream struct {
	// Endpoint is the service URL, e.g. https://s3.eu-west-1.amazonaws.com.
	Endpoint string `yaml:"endpoint"`
	// Region signs requests (default us-east-1).
	Region string `yaml:"region"`
	// CAFile verifies the endpoint's certificate (default: system roots).
	CAFile string `yaml:"ca_file"`
}

// S3Credentials selects and configures an S3 credential source. Each source
// takes only its own fields:
//
//	static:       access_key_id, secret_access_key_file | secret_access_key_env
//	default:      none (the AWS SDK's default chain)
//	assume-role:  role_arn, duration, sts_endpoint, session_policy_file, scope_down, source_identity, base
//	web-identity: role_arn, token_file, duration, sts_endpoint
type S3Credentials struct {
	// Source is static, default, assume-role or web-identity.
	Source string `yaml:"source"`
	// AccessKeyID is the static key id (static).
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKeyFile holds the static secret key (static).
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	// SecretAccessKeyEnv names an environment variable holding the secret key
	// (static). Airlock removes it from the child's environment.
	SecretAccessKeyEnv string `yaml:"secret_access_key_env"`
	// RoleARN is the role to assume (assume-role, web-identity).
	RoleARN string `yaml:"role_arn"`
	// Duration is the session length to ask STS for (minimum 15m).
	Duration Duration `yaml:"duration"`
	// STSEndpoint overrides the STS endpoint.
	STSEndpoint string `yaml:"sts_endpoint"`
	// SessionPolicyFile holds a JSON session policy (assume-role).
	SessionPolicyFile string `yaml:"session_policy_file"`
	// ScopeDown attaches a session policy generated from the S3 rules (assume-role).
	ScopeDown bool `yaml:"scope_down"`
	// SourceIdentity is passed to STS (assume-role).
	SourceIdentity string `yaml:"source_identity"`
	// Base is the identity that calls STS: a static or default source
	// (assume-role; default: the SDK's default chain).
	Base *S3Credentials `yaml:"base"`
	// TokenFile holds the web identity token (web-identity).
	TokenFile string `yaml:"token_file"`
	// Margin is added to the task's remaining lifetime when asking for a
	// credential's validity. Default 5m.
	Margin Duration `yaml:"margin"`
}

// Egress configures the forward proxy (the task's HTTPS_PROXY and
// HTTP_PROXY). Connections to the S3 upstream's host, and to bucket.<host>,
// are always intercepted when the s3 section is present: each request
// inside is checked by the S3 rules, not by these.
type Egress struct {
	// Allow lists CEL expressions over http (method, host, port, path;
	// CONNECT has method "CONNECT" and an empty path). Each is an allow
	// rule named egress.allow[i], checked with policy.rules for http
	// requests only: a request matching one may leave unless a deny rule
	// matches; nothing matching denies.
	Allow []string `yaml:"allow"`
	// IdleTimeout closes a tunnel or an intercepted connection that carried
	// no byte either way for this long. Default 5m.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Policy holds the rules.
type Policy struct {
	// Rules are checked for every request: a matching deny wins, then a
	// matching allow; nothing matching denies.
	Rules []policy.Rule `yaml:"rules"`
	// Include adds named building blocks, each one allow rule named
	// "preset.<name>" (rule names cannot start with "preset."):
	// housekeeping (DEALLOCATE, FETCH/MOVE/CLOSE of cursors, UNLISTEN,
	// DISCARD, RESET ALL, transaction statements, SET TRANSACTION, and
	// pg_advisory_unlock_all(): what drivers and pools send on their own),
	// catalog-metadata (SELECTs of a fixed list of pg_catalog and
	// information_schema relations that describe schema objects, never
	// pg_stats, pg_statistic or pg_stat_activity, and SHOW of non-secret
	// settings: what drivers and ORMs read at connect) and
	// s3-bucket-probes (HeadBucket, GetBucketLocation). The lists are in
	// policy/presets.go.
	Include []string `yaml:"include"`
	// CostLimit bounds one rule's evaluation (CEL cost units; default 100000).
	CostLimit uint64 `yaml:"cost_limit"`
}

// Audit configures the audit log.
type Audit struct {
	// Path is "stdout", "stderr" or a file, appended to as JSON lines.
	// Default: stdout in run mode, stderr in exec mode (so records never mix
	// with the task's own output).
	Path string `yaml:"path"`
	// KeyFile holds the HMAC key of the record chain; keep it apart from this
	// config. Empty: an unkeyed SHA-256 chain (detects accidents, not forgers).
	KeyFile string `yaml:"key_file"`
	// FlushInterval is no longer used: every record is written to the sink
	// before its request proceeds. Accepted so that older files load.
	FlushInterval Duration `yaml:"flush_interval"`
	// Sync says what a record must reach before its request is forwarded:
	// "write" (default) hands it to the kernel, which keeps it if Airlock is
	// killed; "fsync" also waits for the disk, for machines that may lose
	// power (one fsync per batch of concurrent records, never per record).
	Sync string `yaml:"sync"`
}

// Shutdown tunes how Airlock stops.
type Shutdown struct {
	// Drain bounds how long open connections may finish after a stop is
	// asked for. It is also how long a failed revocation is retried (at
	// least 5s; then Airlock exits 125), and in exec mode how long the
	// task's process group has between SIGTERM and SIGKILL. Default 10s.
	Drain Duration `yaml:"drain"`
	// SigtermExitCode is the exit code of run mode after a graceful SIGTERM.
	// Default 0.
	SigtermExitCode int `yaml:"sigterm_exit_code"`
}

// Exec configures the task's process in exec mode. The task runs in its own
// process group, which Airlock signals as a whole and takes down with it
// (also when Airlock is killed). Airlock itself is never dumpable, so a
// process of another user, or of its own user without CAP_SYS_PTRACE,
// cannot read its memory or environment through /proc.
//
// A task running with Airlock's own uid can still read every file Airlock
// can (the secret files the config names, ~/.aws, ~/.pgpass) and the
// environment of Airlock's parent. So when the config holds upstream
// credentials (a postgres or s3 section), exec mode refuses to start a task
// with Airlock's uid unless allow_same_uid is true: run Airlock as root
// with user set, or say allow_same_uid: true to accept the risk.
type Exec struct {
	// User is who the task runs as when Airlock runs as root: a user name
	// ("nobody"), a numeric uid ("65534"), or "user:group". Supplementary
	// groups are dropped; HOME, USER and LOGNAME are set from the account
	// when it is known. When Airlock does not run as root, a user other
	// than Airlock's own is an error (changing user needs root). Default:
	// none, the task runs as Airlock does.
	User string `yaml:"user"`
	// Group is the task's group: a group name or a numeric gid. Default: the
	// user's primary group (65534 for a numeric uid that has no account).
	Group string `yaml:"group"`
	// AllowSameUID lets the task run with Airlock's own uid although Airlock
	// holds upstream credentials, which such a task can read from the files
	// they come from. Default false: exec mode refuses to start then.
	AllowSameUID bool `yaml:"allow_same_uid"`
}

// Log configures the diagnostic log.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or console.
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as "90s", "15m" or "2h".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. 90s, 15m or 2h)", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
