//go:build linux

package chaos

import "syscall"

// childAttr puts a child in its own process group, so a terminal's Ctrl-C
// reaches only the harness, which stops the children itself, and has the
// kernel kill it should the harness die first.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
