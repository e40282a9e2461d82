package proxy

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// nogroupGID is the group of a numeric exec.user that has no account.
const nogroupGID = 65534

// execIdentity is who the task runs as in exec mode.
type execIdentity struct {
	// Switch says the task runs as UID:GID rather than as Airlock.
	Switch   bool
	UID, GID uint32
	// Env sets HOME, USER and LOGNAME when the account is known.
	Env []string
}

// ValidateExec checks the exec section for this process (its effective
// uid): that exec.user and exec.group resolve, that changing user is
// possible, and that a task with Airlock's own uid is not handed held
// credentials unless exec.allow_same_uid says so. It returns a
// *ConfigError naming the field and the fix.
func (c *Config) ValidateExec() error {
	_, err := c.execIdentity(os.Geteuid())
	return err
}

// holdsSecrets says whether the config makes Airlock hold upstream
// credentials (every postgres and s3 source holds or reads one).
func (c *Config) holdsSecrets() bool { return c.Postgres != nil || c.S3 != nil }

// execIdentity resolves exec.user and exec.group for a process whose
// effective uid is euid, and applies the same-uid rule.
func (c *Config) execIdentity(euid int) (*execIdentity, error) {
	fail := func(field, msg string) error { return &ConfigError{Problems: []string{field + ": " + msg}} }
	e := c.Exec
	id := &execIdentity{}
	if e.User != "" {
		var err error
		if id, err = lookupExecUser(e.User, e.Group); err != nil {
			field := "exec.user"
			if errors.Is(err, errGroup) {
				field = "exec.group"
			}
			return nil, fail(field, err.Error())
		}
		if int(id.UID) == euid {
			id.Switch = false // already that user: nothing to change
		} else if euid != 0 {
			return nil, fail("exec.user", fmt.Sprintf("%q is uid %d, but Airlock runs as uid %d and only root can run the task as another user; run Airlock as root, or remove exec.user", e.User, id.UID, euid))
		}
	}
	if !id.Switch && c.holdsSecrets() && !e.AllowSameUID {
		if euid == 0 {
			return nil, fail("exec.user", "Airlock runs as root and the task would too, able to read the upstream secrets Airlock holds (its secret files, its parent's environment); set exec.user to an unprivileged user (e.g. exec: {user: nobody}), or set exec.allow_same_uid: true to accept this")
		}
		return nil, fail("exec.allow_same_uid", fmt.Sprintf("the task would run as uid %d, like Airlock, and could read the upstream secrets Airlock holds (its secret files, ~/.aws, ~/.pgpass, its parent's environment); run Airlock as root with exec.user set to an unprivileged user, or set exec.allow_same_uid: true to accept this", euid))
	}
	return id, nil
}

var errGroup = errors.New("group")

// lookupExecUser resolves "user", "uid", "user:group" or "uid:gid", with
// group (a name or gid) when the spec has none.
func lookupExecUser(spec, group string) (*execIdentity, error) {
	name, g, hasGroup := strings.Cut(spec, ":")
	if hasGroup {
		if group != "" && group != g {
			return nil, fmt.Errorf("%w: exec.user %q names group %q and exec.group says %q; keep one", errGroup, spec, g, group)
		}
		group = g
	}
	id := &execIdentity{Switch: true}
	u, err := user.Lookup(name)
	if err != nil {
		u, err = user.LookupId(name)
	}
	switch {
	case err == nil:
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		id.UID, id.GID = uint32(uid), uint32(gid)
		id.Env = []string{"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
	default:
		uid, perr := strconv.ParseUint(name, 10, 32)
		if perr != nil {
			return nil, fmt.Errorf("no user %q on this machine; name an existing user or a numeric uid", name)
		}
		id.UID, id.GID = uint32(uid), nogroupGID
	}
	if id.UID == 0 {
		return nil, fmt.Errorf("%q is root; name an unprivileged user (e.g. nobody)", spec)
	}
	if group != "" {
		gid, err := lookupGroup(group)
		if err != nil {
			return nil, err
		}
		id.GID = gid
	}
	if id.GID == 0 {
		return nil, fmt.Errorf("%w %q: the task would run in group root; name an unprivileged group (e.g. nogroup)", errGroup, group)
	}
	return id, nil
}

func lookupGroup(group string) (uint32, error) {
	if g, err := user.LookupGroup(group); err == nil {
		gid, _ := strconv.ParseUint(g.Gid, 10, 32)
		return uint32(gid), nil
	}
	gid, err := strconv.ParseUint(group, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w %q: no such group on this machine; name an existing group or a numeric gid", errGroup, group)
	}
	return uint32(gid), nil
}
