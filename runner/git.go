package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// gitTimeout bounds one git command: a fetch of one commit, a checkout.
const gitTimeout = 10 * time.Minute

// maxGitOutput bounds what the runner reads of git's standard output.
const maxGitOutput = 1 << 20

// git runs git in dir and returns its trimmed standard output. It trusts
// the repository whoever owns it: in a container action the workspace
// belongs to another uid, and git would refuse it as "dubious ownership".
func git(ctx context.Context, env []string, dir string, args ...string) (string, error) {
	full := append([]string{"-c", "safe.directory=*"}, args...)
	stdout := &limitedBuffer{max: maxGitOutput}
	stderr := &tailBuffer{n: maxMessage}
	c := command{
		dir: dir,
		// A fetch must never wait for a password nobody will type.
		env:     append(append([]string(nil), env...), "GIT_TERMINAL_PROMPT=0"),
		timeout: gitTimeout,
		stdout:  stdout,
		out:     stderr,
	}
	if r := c.run(ctx, "git", full...); r.err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		switch {
		case r.timedOut:
			msg = fmt.Sprintf("timed out after %s: %s", gitTimeout, msg)
		case msg == "":
			msg = r.err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// credentialFiles returns the git configuration files of the checkout in
// dir that may hold a credential: its config, where actions/checkout
// persists the token, and the files that config includes, where newer
// versions of it put the token instead.
func credentialFiles(ctx context.Context, env []string, dir string) ([]string, error) {
	common, err := git(ctx, env, dir, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return nil, err
	}
	config := filepath.Join(common, "config")
	files := []string{config}
	// Exit status 1 is "no such key": no include.
	out, _ := git(ctx, env, dir, "config", "--file", config, "--get-regexp", `^include(if\..*)?\.path$`)
	for _, line := range strings.Split(out, "\n") {
		_, p, ok := strings.Cut(line, " ")
		if !ok || p == "" || strings.HasPrefix(p, "~") {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(common, p)
		}
		files = append(files, p)
	}
	return files, nil
}

// headCommit returns the commit and the branch name (or "HEAD" when
// detached) of the checkout in dir.
func headCommit(ctx context.Context, env []string, dir string) (sha, ref string, err error) {
	sha, err = git(ctx, env, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", "", err
	}
	ref, err = git(ctx, env, dir, "rev-parse", "--abbrev-ref", "HEAD")
	if err != nil {
		return "", "", err
	}
	return sha, ref, nil
}

var fullSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$`)

// resolveCommit turns a commit-ish into a full commit hash. A commit that
// is missing from a shallow or single-branch clone is fetched from origin
// (just that commit, depth 1), as CI checkouts usually lack the baseline.
func resolveCommit(ctx context.Context, env []string, dir, rev string) (string, error) {
	if strings.Contains(rev, ":") || strings.HasPrefix(rev, "-") {
		// git fetch would read "a:b" as a refspec that writes ref b, and
		// "-x" as an option.
		return "", fmt.Errorf("commit %q must not contain ':' or start with '-'", rev)
	}
	try := func(r string) (string, bool) {
		sha, err := git(ctx, env, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", r+"^{commit}")
		return sha, err == nil && sha != ""
	}
	if sha, ok := try(rev); ok {
		return sha, nil
	}
	if sha, ok := try("refs/remotes/origin/" + rev); ok {
		return sha, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	_, ferr := git(ctx, env, dir, "fetch", "--quiet", "--depth=1", "--no-tags", "--end-of-options", "origin", rev)
	if ferr != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("commit %q is not in the clone, and fetching it failed: %w", rev, ferr)
	}
	if fullSHA.MatchString(rev) {
		if sha, ok := try(rev); ok {
			return sha, nil
		}
	}
	// A branch or tag name fetched by name lands in FETCH_HEAD.
	if sha, ok := try("FETCH_HEAD"); ok {
		return sha, nil
	}
	return "", fmt.Errorf("commit %q not found even after fetching it from origin", rev)
}

// addWorktree checks sha out, detached, in a new temporary worktree of
// the repository in dir. remove deletes it; it works after ctx is done.
func addWorktree(ctx context.Context, env []string, dir, sha string) (path string, remove func(), err error) {
	tmp, err := os.MkdirTemp("", "natsbench-base-")
	if err != nil {
		return "", nil, fmt.Errorf("making worktree directory: %w", err)
	}
	path = filepath.Join(tmp, "tree")
	remove = func() {
		// Cleanup must run even when ctx was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, rmErr := git(cctx, env, dir, "worktree", "remove", "--force", path)
		_ = os.RemoveAll(tmp)
		if rmErr != nil {
			// The directory is gone already; drop git's record of it.
			_, _ = git(cctx, env, dir, "worktree", "prune")
		}
	}
	if _, err := git(ctx, env, dir, "worktree", "add", "--quiet", "--detach", path, sha); err != nil {
		remove()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("checking out the baseline: %w", err)
	}
	return path, remove, nil
}
