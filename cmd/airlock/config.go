package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/airlockproxy/airlock/proxy"
)

// override binds one config field to a flag and an AIRLOCK_* variable.
// Precedence: flag, then environment, then the file.
type override struct {
	flag, env, help string
	set             func(c *proxy.Config, v string) error
}

func setString(field func(*proxy.Config) *string) func(*proxy.Config, string) error {
	return func(c *proxy.Config, v string) error { *field(c) = v; return nil }
}

func setDuration(field func(*proxy.Config) *proxy.Duration) func(*proxy.Config, string) error {
	return func(c *proxy.Config, v string) error { return field(c).UnmarshalText([]byte(v)) }
}

var overrides = []override{
	{"task-id", "AIRLOCK_TASK_ID", "task.id", setString(func(c *proxy.Config) *string { return &c.Task.ID })},
	{"ttl", "AIRLOCK_TTL", "task.ttl (e.g. 2h)", setDuration(func(c *proxy.Config) *proxy.Duration { return &c.Task.TTL })},
	{"mode", "AIRLOCK_MODE", "mode: enforce or observe", setString(func(c *proxy.Config) *string { return &c.Mode })},
	{"admin", "AIRLOCK_ADMIN", "listen.admin address", setString(func(c *proxy.Config) *string { return &c.Listen.Admin })},
	{"listen-postgres", "AIRLOCK_LISTEN_POSTGRES", "listen.postgres address", setString(func(c *proxy.Config) *string { return &c.Listen.Postgres })},
	{"listen-s3", "AIRLOCK_LISTEN_S3", "listen.s3 address", setString(func(c *proxy.Config) *string { return &c.Listen.S3 })},
	{"audit", "AIRLOCK_AUDIT_PATH", "audit.path: stdout, stderr or a file", setString(func(c *proxy.Config) *string { return &c.Audit.Path })},
	{"audit-key-file", "AIRLOCK_AUDIT_KEY_FILE", "audit.key_file", setString(func(c *proxy.Config) *string { return &c.Audit.KeyFile })},
	{"local-dir", "AIRLOCK_LOCAL_DIR", "local.dir", setString(func(c *proxy.Config) *string { return &c.Local.Dir })},
	{"log-level", "AIRLOCK_LOG_LEVEL", "log.level: debug, info, warn or error", setString(func(c *proxy.Config) *string { return &c.Log.Level })},
	{"sigterm-exit-code", "AIRLOCK_SIGTERM_EXIT_CODE", "shutdown.sigterm_exit_code: run mode's exit code after SIGTERM", func(c *proxy.Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		c.Shutdown.SigtermExitCode = n
		return nil
	}},
}

// configFlags registers -c and, with withOverrides, the override flags.
type configFlags struct {
	path  *string
	given map[string]*string
}

func newConfigFlags(fs *flag.FlagSet, withOverrides bool) *configFlags {
	cf := &configFlags{given: map[string]*string{}}
	def := os.Getenv("AIRLOCK_CONFIG")
	cf.path = fs.String("c", def, "config file (env AIRLOCK_CONFIG)")
	fs.StringVar(cf.path, "config", def, "config file (same as -c)")
	if withOverrides {
		for _, o := range overrides {
			cf.given[o.flag] = fs.String(o.flag, "", fmt.Sprintf("%s (env %s)", o.help, o.env))
		}
	}
	return cf
}

// load reads the config file, applies environment and flag overrides, and
// validates when asked.
func (cf *configFlags) load(validate bool) (*proxy.Config, error) {
	if *cf.path == "" {
		return nil, usageError{errors.New("name a config file with -c airlock.yaml (or AIRLOCK_CONFIG)")}
	}
	c, err := proxy.LoadConfig(*cf.path)
	if err != nil {
		return nil, configErr(err)
	}
	for _, o := range overrides {
		v, src := os.Getenv(o.env), "$"+o.env
		if f := cf.given[o.flag]; f != nil && *f != "" {
			v, src = *f, "--"+o.flag
		}
		if v == "" {
			continue
		}
		if err := o.set(c, v); err != nil {
			return nil, configErr(fmt.Errorf("%s: %w", src, err))
		}
	}
	if validate {
		if err := c.Validate(); err != nil {
			return nil, configErr(fmt.Errorf("%s: %w", *cf.path, err))
		}
	} else if c.Mode != "" && c.Mode != "enforce" && c.Mode != "observe" {
		// The policy commands skip Validate (the files a config names need
		// not exist where rules are reviewed), but which mode the rules
		// run in is theirs to report.
		return nil, configErr(fmt.Errorf("%s: mode: %q is not one of enforce, observe", *cf.path, c.Mode))
	}
	return c, nil
}

// usageError is a bad command line or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == errUsage }

func configErr(err error) error { return usageError{err} }

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	return nil
}
