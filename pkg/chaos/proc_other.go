//go:build !linux

package chaos

import "syscall"

// childAttr: outside Linux children keep the defaults (the harness needs
// /proc for memory figures and is meant for Linux).
func childAttr() *syscall.SysProcAttr { return nil }
