//go:build !unix

package pgtest

import (
	"os"
	"os/exec"
)

// owner is who runs the cluster's processes; off unix it is always the
// current user.
type owner struct {
	name     string
	uid, gid int
}

func clusterOwner() (*owner, error)  { return nil, nil }
func (o *owner) chown(string) error  { return nil }
func (o *owner) apply(cmd *exec.Cmd) {}

func ownedByMe(os.FileInfo) bool { return true }
