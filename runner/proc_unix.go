//go:build unix

package runner

import (
	"os/exec"
	"syscall"
)

// isolate puts the process in its own process group, so that killing the
// group also ends whatever the benchmark started.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group of a started cmd.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// quit asks a Go process to dump its goroutines and exit, as go test does
// on a timeout, so that the report can show where it hung.
func quit(cmd *exec.Cmd) error {
	return cmd.Process.Signal(syscall.SIGQUIT)
}
