package app

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// goEnvTimeout bounds `go env`. It is normally instant; the slow case is
// GOTOOLCHAIN=auto fetching the toolchain the module asks for, which the
// build that follows would fetch anyway.
const goEnvTimeout = 2 * time.Minute

// containerHome is the HOME the runner gives a container action: it
// mounts the runner's $RUNNER_TEMP/_github_home there, which is why a
// workflow step before the action can restore caches into it.
const containerHome = "/github/home"

// goCachePaths asks the go command in dir, with env (nil: this process's
// environment), where its build cache and module cache are.
func goCachePaths(ctx context.Context, dir string, env []string) (gocache, gomodcache string, err error) {
	ctx, cancel := context.WithTimeout(ctx, goEnvTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "env", "GOCACHE", "GOMODCACHE")
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if msg != "" {
			return "", "", fmt.Errorf("reading the Go cache paths (go env GOCACHE GOMODCACHE): %w: %s", err, msg)
		}
		return "", "", fmt.Errorf("reading the Go cache paths (go env GOCACHE GOMODCACHE): %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2 || lines[0] == "" || lines[1] == "" {
		return "", "", fmt.Errorf("reading the Go cache paths: go env printed %q, want two lines", out)
	}
	return lines[0], lines[1], nil
}

// runnerCachePath is where the workflow sees a path of the container's
// HOME: the path under ${{ runner.temp }}/_github_home that actions/cache
// must name. ok is false for a path outside the mounted HOME, which does
// not outlive the container.
func runnerCachePath(p string) (string, bool) {
	rest, found := strings.CutPrefix(p, containerHome+"/")
	if !found {
		return "", false
	}
	return "${{ runner.temp }}/_github_home/" + rest, true
}

// logGoCachePaths prints, in a group of its own, where the go command
// keeps its caches, and for each the path an actions/cache step before
// the action must name to keep it warm across runs. Not finding them is
// a warning: the benchmarks do not need the answer. It returns the paths
// that a workflow can keep (those in the container's HOME; "" for the
// others), which the isolated benchmarks then use as theirs.
func logGoCachePaths(ctx context.Context, a *githubactions.Action, dir string, env []string) (gocache, gomodcache string) {
	a.Group("Go caches")
	defer a.EndGroup()
	gocache, gomodcache, err := goCachePaths(ctx, dir, env)
	if err != nil {
		a.Warningf("%v", err)
		return "", ""
	}
	kept := func(name, path string) string {
		if host, ok := runnerCachePath(path); ok {
			a.Infof("%s=%s (actions/cache path: %s)", name, path, host)
			return path
		}
		a.Infof("%s=%s (outside %s: not kept across runs)", name, path, containerHome)
		return ""
	}
	return kept("GOCACHE", gocache), kept("GOMODCACHE", gomodcache)
}
