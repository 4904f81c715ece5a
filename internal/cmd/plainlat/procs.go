package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// stopTimeout bounds how long a child has to exit after SIGTERM before it
// is killed: botdb drains its events within it.
const stopTimeout = 10 * time.Second

// proc is a child process this program started and must stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // its stdout and stderr
	done chan struct{} // closed once it has exited
	err  error         // Wait's result, set before done is closed
}

// startProc starts bin with args, its output going to NAME.log in dir.
func startProc(name, dir, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer f.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited returns an error naming p when it is no longer running.
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); its log ends:\n%s", p.name, p.err, p.tail())
	default:
		return nil
	}
}

// stop asks p to exit with SIGTERM and kills it after stopTimeout.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscallTerm)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines of p's log, for an error message.
func (p *proc) tail() string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// procs holds the children in start order; stopAll stops them in reverse,
// so that botdb drains while its server still runs.
type procs []*proc

func (ps *procs) stopAll() {
	for i := len(*ps) - 1; i >= 0; i-- {
		(*ps)[i].stop()
	}
	*ps = nil
}

// goBuild builds pkg into dir/name with the go command, from the current
// directory (which must be inside this module).
func goBuild(ctx context.Context, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s (run plainlat from inside the natsbench-action module, or pass the binary's path): %w: %s",
			pkg, err, strings.TrimSpace(buf.String()))
	}
	return out, nil
}

// freePort returns a loopback TCP port nothing listened on a moment ago.
// nats-server needs a number on its command line; another process taking
// the port in between makes the server fail to start, which is reported.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor calls check every 20ms until it returns nil, p exits, ctx ends
// or total has passed, and returns the last reason.
func waitFor(ctx context.Context, p *proc, total time.Duration, check func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if perr := p.exited(); perr != nil {
			return perr
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s not ready after %v: %w; its log ends:\n%s", p.name, total, err, p.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// loadAvg returns the 1-minute load average, or "n/a" where there is no
// /proc/loadavg.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "n/a"
	}
	if _, err := strconv.ParseFloat(f[0], 64); err != nil {
		return "n/a"
	}
	return f[0]
}
