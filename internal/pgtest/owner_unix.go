//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// serverUser is the unprivileged account the server runs as when the test
// runs as root. scripts/deps.sh creates it.
const serverUser = "airlocktest"

// owner is who owns the cluster's files and runs its processes; nil means
// the current user.
type owner struct {
	name     string
	uid, gid int
}

// clusterOwner returns nil unless the process runs as root, in which case
// it returns serverUser (PostgreSQL refuses to run as root).
func clusterOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: "+
			"the unprivileged user %q it would run as is missing (%w); run scripts/deps.sh to create it",
			serverUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("uid of %s: %w", serverUser, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("gid of %s: %w", serverUser, err)
	}
	return &owner{name: serverUser, uid: uid, gid: gid}, nil
}

// chown hands path to the owner; a no-op for the current user.
func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Chown(path, o.uid, o.gid)
}

// apply makes cmd run as the owner, with no supplementary groups.
func (o *owner) apply(cmd *exec.Cmd) {
	if o == nil {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid), Groups: []uint32{}},
	}
}

// ownedByMe reports whether the effective user owns the file.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
