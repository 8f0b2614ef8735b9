//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// setPeerProcAttr puts the peer's processes (npm, node) in a process group
// of their own, which stopping them signals as a whole.
func setPeerProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
