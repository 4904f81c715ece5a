package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// quitGrace is how long a process asked to quit may take to dump its
// goroutines before it is killed, and how long its output may take to
// drain once it and its descendants are gone.
const quitGrace = 10 * time.Second

// command is one external command: the go command, git, or a test binary.
// Every one runs in a session of its own, under a timeout, and leaves no
// process behind (see killTree).
type command struct {
	dir     string
	env     []string // nil: this process's environment
	timeout time.Duration
	// quit asks a process that runs past its timeout to dump its
	// goroutines (SIGQUIT, as go test does) before it is killed.
	quit bool
	// sandbox, when set, runs the command as the sandbox's user.
	sandbox *sandbox
	// out receives standard output and error, interleaved as written,
	// or only standard error when stdout is set. nil discards them.
	out    io.Writer
	stdout io.Writer
}

// procResult is the outcome of one command.
type procResult struct {
	err      error // non-nil if it did not exit with status 0, or its output was refused
	timedOut bool  // it ran past its timeout and was stopped
}

// run runs name with args. Cancelling ctx kills the process tree at once;
// the timeout first asks it to quit when c.quit is set. An error from a
// writer (output too large) kills the tree too and is the result's err.
func (c command) run(ctx context.Context, name string, args ...string) procResult {
	if err := ctx.Err(); err != nil {
		return procResult{err: err}
	}
	timeout := c.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	env := c.env
	if env == nil {
		env = os.Environ()
	}
	marker := newMarker()
	cmd.Env = append(env[:len(env):len(env)], markerVar+"="+marker)
	// The pipes are our own rather than exec's: Wait then returns when
	// the process exits, and the tree is killed before the output is
	// drained, so that a descendant holding the pipe cannot keep us.
	var pipes []*os.File
	var sinks []io.Writer
	outR, outW, err := os.Pipe()
	if err != nil {
		return procResult{err: fmt.Errorf("making a pipe: %w", err)}
	}
	pipes, sinks = append(pipes, outR), append(sinks, c.out)
	cmd.Stdout, cmd.Stderr = outW, outW
	var errW *os.File
	if c.stdout != nil {
		errR, w, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return procResult{err: fmt.Errorf("making a pipe: %w", err)}
		}
		errW = w
		cmd.Stderr = errW
		sinks[0] = c.stdout
		pipes, sinks = append(pipes, errR), append(sinks, c.out)
	}
	setProcAttr(cmd, c.sandbox)
	p, err := startTracked(cmd, c.sandbox, marker)
	outW.Close()
	if errW != nil {
		errW.Close()
	}
	if err != nil {
		for _, r := range pipes {
			r.Close()
		}
		return procResult{err: err}
	}

	// A sink that refuses more output ends the run.
	var refusedOnce sync.Once
	var refused error
	stop := make(chan struct{})
	var drained sync.WaitGroup
	for i, r := range pipes {
		drained.Add(1)
		go func() {
			defer drained.Done()
			w := sinks[i]
			if w == nil {
				w = io.Discard
			}
			if _, err := io.Copy(w, r); err != nil && !errors.Is(err, os.ErrClosed) {
				refusedOnce.Do(func() { refused = err; close(stop) })
				_, _ = io.Copy(io.Discard, r)
			}
		}()
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var res procResult
	select {
	case res.err = <-waited:
	case <-stop:
		killTree(p)
		res.err = <-waited
	case <-runCtx.Done():
		exited := false
		if ctx.Err() == nil {
			res.timedOut = true
			if c.quit {
				_ = quit(cmd)
				select {
				case res.err = <-waited:
					exited = true
				case <-time.After(quitGrace):
				}
			}
		}
		if !exited {
			killTree(p)
			res.err = <-waited
		}
	}
	p.done()
	// Children it left behind must not outlive it.
	killTree(p)

	drainDone := make(chan struct{})
	go func() { drained.Wait(); close(drainDone) }()
	select {
	case <-drainDone:
	case <-time.After(quitGrace):
		// Something we could not find holds the pipe: stop reading.
		for _, r := range pipes {
			r.Close()
		}
		<-drainDone
	}
	for _, r := range pipes {
		r.Close()
	}
	if refused != nil {
		res.err = refused
	}
	if ctx.Err() != nil {
		res.err = ctx.Err()
	}
	return res
}

// limitedBuffer keeps up to max bytes and refuses more: for output that
// is parsed whole (go list, git) and has no business being large.
type limitedBuffer struct {
	buf []byte
	max int
}

// errOutputTooLarge is the error of a command whose output passed its limit.
var errOutputTooLarge = errors.New("output too large")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > b.max {
		return 0, fmt.Errorf("%w: over %d bytes", errOutputTooLarge, b.max)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *limitedBuffer) String() string { return string(b.buf) }

// tailBuffer keeps about the last n bytes written to it.
type tailBuffer struct {
	buf []byte
	n   int
	cut bool // bytes were dropped from the front
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p[max(0, len(p)-t.n):]...)
	if len(p) > t.n || len(t.buf) > 2*t.n {
		t.cut = true
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

// String returns the tail, cut at a line start, "…" first when cut.
func (t *tailBuffer) String() string {
	s := tail(string(t.buf), t.n)
	if t.cut && !strings.HasPrefix(s, "…") {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "…\n" + s
	}
	return s
}
