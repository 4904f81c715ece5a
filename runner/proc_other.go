//go:build !unix

package runner

import "os/exec"

func isolate(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

func quit(cmd *exec.Cmd) error { return cmd.Process.Kill() }
