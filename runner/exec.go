package runner

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"time"
)

// procResult is the outcome of one child process.
type procResult struct {
	out      []byte // standard output and error, interleaved as written
	err      error  // non-nil if it did not exit with status 0
	timedOut bool   // it ran past its timeout and was stopped
}

// quitGrace is how long a process asked to quit may take to dump its
// goroutines before it is killed.
const quitGrace = 10 * time.Second

// runProcess runs name in dir with env and a timeout. Cancelling ctx kills
// the process and its group at once; the timeout first asks it to quit so
// that its goroutine dump shows where it was stuck.
func runProcess(ctx context.Context, dir string, env []string, timeout time.Duration, name string, args ...string) procResult {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var buf bytes.Buffer
	// One writer for both streams: exec then writes from one goroutine,
	// and a panic message stays next to the benchmark that caused it.
	cmd.Stdout, cmd.Stderr = &buf, &buf
	isolate(cmd)
	cmd.Cancel = func() error {
		if ctx.Err() != nil {
			return killGroup(cmd)
		}
		return quit(cmd)
	}
	cmd.WaitDelay = quitGrace
	err := cmd.Run()
	// Children the benchmark left behind must not outlive it.
	_ = killGroup(cmd)
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// The binary passed; only a child it left kept the output open.
		err = nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) && runCtx.Err() == nil {
		// It did not even start.
		buf.WriteString(err.Error())
	}
	return procResult{
		out:      buf.Bytes(),
		err:      err,
		timedOut: errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil,
	}
}
