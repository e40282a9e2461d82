package proxy

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/egress"
)

// Defaults.
const (
	DefaultTTL           = time.Hour
	DefaultAdmin         = "127.0.0.1:9901"
	DefaultPostgres      = "127.0.0.1:5432"
	DefaultS3            = "127.0.0.1:9000"
	DefaultHTTPProxy     = "127.0.0.1:3128"
	DefaultDrain         = 10 * time.Second
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMargin        = 5 * time.Minute
	DefaultLocalDir      = "/var/run/airlock"
)

func (c *Config) applyDefaults() {
	setDefault(&c.Mode, "enforce")
	if c.Task.TTL == 0 {
		c.Task.TTL = Duration(DefaultTTL)
	}
	setDefault(&c.Listen.Admin, DefaultAdmin)
	if c.Postgres != nil {
		setDefault(&c.Listen.Postgres, DefaultPostgres)
		setDefault(&c.Postgres.ClientAuth, "scram")
		setDefault(&c.Postgres.Upstream.SSLMode, "verify-full")
		if c.Postgres.Upstream.Port == 0 {
			c.Postgres.Upstream.Port = 5432
		}
		if c.Postgres.Credentials.Margin == 0 {
			c.Postgres.Credentials.Margin = Duration(DefaultMargin)
		}
		if c.Postgres.Credentials.Source == "vault" {
			setDefault(&c.Postgres.Credentials.Mount, "database")
		}
	}
	if c.S3 != nil {
		setDefault(&c.Listen.S3, DefaultS3)
		setDefault(&c.S3.Upstream.Region, "us-east-1")
		if c.S3.Credentials.Margin == 0 {
			c.S3.Credentials.Margin = Duration(DefaultMargin)
		}
	}
	if c.Egress != nil {
		setDefault(&c.Listen.HTTPProxy, DefaultHTTPProxy)
		if c.Egress.IdleTimeout == 0 {
			c.Egress.IdleTimeout = Duration(egress.DefaultIdleTimeout)
		}
	}
	if c.TLS.LeafValidity == 0 {
		c.TLS.LeafValidity = Duration(time.Hour)
	}
	setDefault(&c.Audit.Sync, "write")
	if c.Audit.FlushInterval == 0 {
		c.Audit.FlushInterval = Duration(DefaultFlushInterval)
	}
	if c.Shutdown.Drain == 0 {
		c.Shutdown.Drain = Duration(DefaultDrain)
	}
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "json")
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// Validate checks the whole configuration and returns a *ConfigError naming
// every bad field and how to fix it. It compiles the policy. Run it before
// anything listens.
func (c *Config) Validate() error {
	v := &validator{}
	v.task(c.Task)
	v.oneOf("mode", c.Mode, "enforce", "observe")
	v.listen("listen.admin", c.Listen.Admin, true)
	v.listen("listen.postgres", c.Listen.Postgres, c.Postgres != nil)
	v.listen("listen.s3", c.Listen.S3, c.S3 != nil)
	if c.Listen.PostgresSocket != "" {
		if c.Postgres == nil {
			v.add("listen.postgres_socket", "set, but its section (postgres) is absent")
		} else if st, err := os.Stat(c.Listen.PostgresSocket); err != nil || !st.IsDir() {
			v.add("listen.postgres_socket", fmt.Sprintf("%s is not a directory", c.Listen.PostgresSocket))
		}
	}
	v.listen("listen.http_proxy", c.Listen.HTTPProxy, c.Egress != nil)
	if (c.TLS.CACertFile == "") != (c.TLS.CAKeyFile == "") {
		v.add("tls", "set both ca_cert_file and ca_key_file, or neither (Airlock then generates an ephemeral CA)")
	}
	v.file("tls.ca_cert_file", c.TLS.CACertFile)
	v.file("tls.ca_key_file", c.TLS.CAKeyFile)
	v.positive("tls.leaf_validity", c.TLS.LeafValidity)
	if c.Postgres != nil {
		v.postgres(c.Postgres)
	}
	if c.S3 != nil {
		v.s3(c.S3)
	}
	if c.Egress != nil && c.Egress.IdleTimeout < 0 {
		v.add("egress.idle_timeout", "must not be negative")
	}
	for i, r := range c.Policy.Rules {
		if strings.HasPrefix(r.Name, "preset.") {
			v.add(fmt.Sprintf("policy.rules[%d].name", i), fmt.Sprintf("%q: the prefix \"preset.\" is kept for policy.include", r.Name))
		}
	}
	if _, err := policy.PresetRules(c.Policy.Include); err != nil {
		v.problems = append(v.problems, "policy."+err.Error())
	} else if _, err := c.CompilePolicy(); err != nil {
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				v.problems = append(v.problems, p.String())
			}
		} else {
			v.add("policy", err.Error())
		}
	}
	v.file("audit.key_file", c.Audit.KeyFile)
	if c.Audit.Path != "stdout" && c.Audit.Path != "stderr" && c.Audit.Path != "" {
		if st, err := os.Stat(c.Audit.Path); err == nil && st.IsDir() {
			v.add("audit.path", fmt.Sprintf("%s is a directory; name a file", c.Audit.Path))
		}
	}
	v.positive("audit.flush_interval", c.Audit.FlushInterval)
	v.oneOf("audit.sync", c.Audit.Sync, "write", "fsync")
	for _, name := range slices.Sorted(maps.Keys(c.Listen.MaxConnections)) {
		n := c.Listen.MaxConnections[name]
		switch {
		case name != "postgres" && name != "s3" && name != "http_proxy":
			v.add("listen.max_connections."+name, "is not a protocol listener; use postgres, s3 or http_proxy")
		case n < 0:
			v.add("listen.max_connections."+name, "must not be negative (0: no cap)")
		}
	}
	if c.Shutdown.Drain < 0 {
		v.add("shutdown.drain", "must not be negative")
	}
	if c.Shutdown.SigtermExitCode < 0 || c.Shutdown.SigtermExitCode > 255 {
		v.add("shutdown.sigterm_exit_code", fmt.Sprintf("%d is not an exit code (0-255)", c.Shutdown.SigtermExitCode))
	}
	if c.Exec.User == "" && c.Exec.Group != "" {
		v.add("exec.group", "set, but exec.user is not; name the user too (e.g. exec: {user: nobody, group: nogroup})")
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "console")
	if len(v.problems) > 0 {
		return &ConfigError{Problems: v.problems}
	}
	return nil
}

// CompilePolicy compiles the rules Airlock decides with, in the configured
// mode: policy.rules, then the policy.include presets, then each egress.allow expression as an allow rule
// named egress.allow[i] for http requests (policy.Options.Egress).
func (c *Config) CompilePolicy() (*policy.Engine, error) {
	return c.compilePolicy(c.Mode == "observe")
}

// CompileEnforcing is CompilePolicy in enforce mode whatever the configured
// mode, for judging verdicts (policy test cases, replays).
func (c *Config) CompileEnforcing() (*policy.Engine, error) { return c.compilePolicy(false) }

func (c *Config) compilePolicy(observe bool) (*policy.Engine, error) {
	rules, err := c.rules()
	if err != nil {
		return nil, err
	}
	return policy.Compile(rules, c.policyOptions(observe))
}

func (c *Config) policyOptions(observe bool) policy.Options {
	opts := policy.Options{Observe: observe, CostLimit: c.Policy.CostLimit}
	if c.Egress != nil {
		opts.Egress = c.Egress.Allow
	}
	return opts
}

// rules is policy.rules followed by the rules of the policy.include presets.
func (c *Config) rules() ([]policy.Rule, error) {
	rules := c.Policy.Rules
	if len(c.Policy.Include) > 0 {
		presets, err := policy.PresetRules(c.Policy.Include)
		if err != nil {
			return nil, fmt.Errorf("policy.%w", err)
		}
		rules = append(slices.Clip(rules), presets...)
	}
	return rules, nil
}

// PolicyDigest is the digest (policy.Engine.Digest) of the rule set
// CompilePolicy compiles, for the start record.
func (c *Config) PolicyDigest() (string, error) {
	rules, err := c.rules()
	if err != nil {
		return "", err
	}
	return policy.PolicyDigest(rules, c.policyOptions(c.Mode == "observe"))
}

type validator struct{ problems []string }

func (v *validator) add(path, msg string) { v.problems = append(v.problems, path+": "+msg) }

func (v *validator) oneOf(path, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.add(path, fmt.Sprintf("%q is not one of %s", val, strings.Join(allowed, ", ")))
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, fmt.Sprintf("%s: must be positive", time.Duration(d)))
	}
}

func (v *validator) required(path, val, hint string) {
	if val == "" {
		v.add(path, "required; "+hint)
	}
}

// file checks that a named file exists and is readable, without reading it.
func (v *validator) file(path, name string) {
	if name == "" {
		return
	}
	f, err := os.Open(name)
	if err != nil {
		v.add(path, fmt.Sprintf("cannot open %s: %v", name, errors.Unwrap(err)))
		return
	}
	st, err := f.Stat()
	f.Close()
	if err == nil && st.IsDir() {
		v.add(path, fmt.Sprintf("%s is a directory; name a file", name))
	}
}

func (v *validator) task(t Task) {
	if len(t.ID) > 128 {
		v.add("task.id", fmt.Sprintf("%d characters; at most 128", len(t.ID)))
	}
	if strings.IndexFunc(t.ID, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		v.add("task.id", fmt.Sprintf("%q contains spaces or control characters", t.ID))
	}
	if t.TTL <= 0 {
		v.add("task.ttl", fmt.Sprintf("%s: must be positive (e.g. 2h)", time.Duration(t.TTL)))
	}
	if len(t.Labels) > policy.MaxLabels {
		v.add("task.labels", fmt.Sprintf("%d labels; at most %d", len(t.Labels), policy.MaxLabels))
	}
}

// listen checks a listener address: loopback only, a port (0 picks a free one).
func (v *validator) listen(path, addr string, needed bool) {
	if !needed {
		if addr != "" && path != "listen.admin" {
			v.add(path, "set, but its section ("+strings.TrimPrefix(strings.ReplaceAll(path, "http_proxy", "egress"), "listen.")+") is absent")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, fmt.Sprintf("%q is not host:port (e.g. 127.0.0.1:5432)", addr))
		return
	}
	if host != "localhost" {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			v.add(path, fmt.Sprintf("%s is not a loopback address; Airlock serves only the task beside it (use 127.0.0.1 or ::1)", host))
		}
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		v.add(path, fmt.Sprintf("%q is not a port", port))
	}
}

func (v *validator) postgres(p *Postgres) {
	u := p.Upstream
	v.required("postgres.upstream.host", u.Host, "the upstream server's host name, address or socket directory")
	v.required("postgres.upstream.database", u.Database, "the upstream database name")
	if u.Port < 1 || u.Port > 65535 {
		v.add("postgres.upstream.port", fmt.Sprintf("%d is not a port", u.Port))
	}
	v.oneOf("postgres.upstream.sslmode", u.SSLMode, "disable", "require", "verify-ca", "verify-full")
	if (u.SSLCert == "") != (u.SSLKey == "") {
		v.add("postgres.upstream", "set both sslcert and sslkey, or neither")
	}
	v.file("postgres.upstream.sslrootcert", u.SSLRootCert)
	v.file("postgres.upstream.sslcert", u.SSLCert)
	v.file("postgres.upstream.sslkey", u.SSLKey)
	v.oneOf("postgres.client_auth", p.ClientAuth, "scram", "password", "trust")
	for k := range p.Session {
		if k == "" || strings.ContainsAny(k, " ;'\"=") {
			v.add("postgres.session", fmt.Sprintf("%q is not a parameter name", k))
		}
	}
	c := p.Credentials
	const path = "postgres.credentials"
	if !v.sourceFields(path, c.Source, c, postgresSourceFields) {
		return
	}
	switch c.Source {
	case "static":
		v.required(path+".user", c.User, "the upstream login")
		v.exactlyOne(path, "password_file", c.PasswordFile, "password_env", c.PasswordEnv)
		v.file(path+".password_file", c.PasswordFile)
	case "ephemeral-role":
		v.required(path+".admin_dsn_file", c.AdminDSNFile, "a file holding a connection string of a role with CREATEROLE")
		v.file(path+".admin_dsn_file", c.AdminDSNFile)
		v.required(path+".reassign_to", c.ReassignTo, "the role that receives what the task created")
		if c.ConnectionLimit < 0 {
			v.add(path+".connection_limit", "must not be negative")
		}
	case "vault":
		v.required(path+".address", c.Address, "Vault's URL")
		v.required(path+".role", c.Role, "the Vault database role")
		if (c.TokenFile == "") == (c.Auth == nil) {
			v.add(path, "set exactly one of token_file and auth")
		}
		v.file(path+".token_file", c.TokenFile)
		v.file(path+".ca_file", c.CAFile)
		if c.Auth != nil {
			v.oneOf(path+".auth.method", c.Auth.Method, "kubernetes", "approle")
			switch c.Auth.Method {
			case "kubernetes":
				v.required(path+".auth.role", c.Auth.Role, "the Vault role to log in as")
			case "approle":
				v.required(path+".auth.role_id_file", c.Auth.RoleIDFile, "the AppRole role id file")
				v.required(path+".auth.secret_id_file", c.Auth.SecretIDFile, "the AppRole secret id file")
				v.file(path+".auth.role_id_file", c.Auth.RoleIDFile)
				v.file(path+".auth.secret_id_file", c.Auth.SecretIDFile)
			}
		}
	case "rds-iam":
		v.required(path+".user", c.User, "the database user enabled for IAM authentication")
		v.required(path+".region", c.Region, "the RDS instance's AWS region")
		if p.Upstream.SSLMode == "disable" {
			v.add("postgres.upstream.sslmode", "rds-iam logins need TLS: use require, verify-ca or verify-full")
		}
	}
	if c.Margin < 0 {
		v.add(path+".margin", "must not be negative")
	}
}

func (v *validator) s3(s *S3) {
	e := s.Upstream.Endpoint
	v.required("s3.upstream.endpoint", e, "the S3 service URL, e.g. https://s3.eu-west-1.amazonaws.com")
	if e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			v.add("s3.upstream.endpoint", fmt.Sprintf("%q is not an http(s)://host[:port] URL", e))
		}
	}
	v.file("s3.upstream.ca_file", s.Upstream.CAFile)
	v.s3Credentials("s3.credentials", s.Credentials, true)
}

func (v *validator) s3Credentials(path string, c S3Credentials, top bool) {
	if !v.sourceFields(path, c.Source, c, s3SourceFields) {
		return
	}
	switch c.Source {
	case "static":
		v.required(path+".access_key_id", c.AccessKeyID, "the upstream access key id")
		v.exactlyOne(path, "secret_access_key_file", c.SecretAccessKeyFile, "secret_access_key_env", c.SecretAccessKeyEnv)
		v.file(path+".secret_access_key_file", c.SecretAccessKeyFile)
	case "assume-role", "web-identity":
		if !top {
			v.add(path+".source", fmt.Sprintf("%q cannot be a base identity; use static or default", c.Source))
		}
		v.required(path+".role_arn", c.RoleARN, "the role to assume")
		if c.Duration != 0 && c.Duration.D() < 15*time.Minute {
			v.add(path+".duration", fmt.Sprintf("%s is below STS's minimum of 15m", c.Duration.D()))
		}
		if c.STSEndpoint != "" {
			if u, err := url.Parse(c.STSEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(path+".sts_endpoint", fmt.Sprintf("%q is not an http(s) URL", c.STSEndpoint))
			}
		}
		v.file(path+".session_policy_file", c.SessionPolicyFile)
		if c.SessionPolicyFile != "" && c.ScopeDown {
			v.add(path+".scope_down", "set either session_policy_file or scope_down, not both")
		}
		if c.Source == "web-identity" {
			v.required(path+".token_file", c.TokenFile, "the web identity token file (e.g. AWS_WEB_IDENTITY_TOKEN_FILE)")
			v.file(path+".token_file", c.TokenFile)
		}
		if c.Base != nil {
			v.s3Credentials(path+".base", *c.Base, false)
		}
	}
	if c.Margin < 0 {
		v.add(path+".margin", "must not be negative")
	}
}

func (v *validator) exactlyOne(path, a, av, b, bv string) {
	if (av == "") == (bv == "") {
		v.add(path, fmt.Sprintf("set exactly one of %s and %s", a, b))
	}
}

// The fields each credential source takes (margin is common to all).
var (
	postgresSourceFields = map[string][]string{
		"static":         {"user", "password_file", "password_env"},
		"ephemeral-role": {"admin_dsn_file", "grant", "reassign_to", "connection_limit"},
		"vault":          {"address", "mount", "role", "token_file", "auth", "ca_file"},
		"rds-iam":        {"user", "region"},
	}
	s3SourceFields = map[string][]string{
		"static":       {"access_key_id", "secret_access_key_file", "secret_access_key_env"},
		"default":      {},
		"assume-role":  {"role_arn", "duration", "sts_endpoint", "session_policy_file", "scope_down", "source_identity", "base"},
		"web-identity": {"role_arn", "token_file", "duration", "sts_endpoint"},
	}
)

// sourceFields checks the source name and that only its own fields are set.
func (v *validator) sourceFields(path, source string, creds any, table map[string][]string) bool {
	names := make([]string, 0, len(table))
	for k := range table {
		names = append(names, k)
	}
	slices.Sort(names)
	own, ok := table[source]
	if !ok {
		if source == "" {
			v.add(path+".source", "required; one of "+strings.Join(names, ", "))
		} else {
			v.add(path+".source", fmt.Sprintf("%q is not one of %s", source, strings.Join(names, ", ")))
		}
		return false
	}
	rv := reflect.ValueOf(creds)
	rt := rv.Type()
	good := true
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		if name == "source" || name == "margin" || rv.Field(i).IsZero() || slices.Contains(own, name) {
			continue
		}
		takes := "no fields"
		if len(own) > 0 {
			takes = strings.Join(own, ", ")
		}
		v.add(path+"."+name, fmt.Sprintf("not a field of source %q (it takes %s)", source, takes))
		good = false
	}
	return good
}
