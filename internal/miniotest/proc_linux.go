package miniotest

import "syscall"

// sysProcAttr has the kernel kill MinIO when the test process dies, so a
// test binary killed on timeout leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
