//go:build !unix

package runner

import (
	"errors"
	"os"
	"os/exec"
)

const markerVar = "NATSBENCH_PROC"

func newMarker() string { return "" }

type tracked struct{ cmd *exec.Cmd }

func startTracked(cmd *exec.Cmd, _ *sandbox, _ string) (*tracked, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &tracked{cmd: cmd}, nil
}

func (t *tracked) done() {}

func setProcAttr(*exec.Cmd, *sandbox) {}

func quit(cmd *exec.Cmd) error { return cmd.Process.Kill() }

// killTree kills the process only: there are no sessions to kill here.
func killTree(t *tracked) { _ = t.cmd.Process.Kill() }

// sandbox is unsupported outside Unix.
type sandbox struct {
	uid, gid     int
	bin, scratch string
}

func newSandbox(gocache, gomodcache string) (*sandbox, error) {
	return nil, errors.New("running the benchmarks as another user needs Linux")
}

func (s *sandbox) close()                               {}
func (s *sandbox) seal() error                          { return nil }
func (s *sandbox) env(env []string) []string            { return env }
func (s *sandbox) protect(string) error                 { return nil }
func (s *sandbox) canRead(string) error                 { return nil }
func (s *sandbox) openOwned(p string) (*os.File, error) { return os.Open(p) }
