// Package gitstore keeps files on one branch of a git repository: it reads
// the branch's tip and adds commits to it. It knows nothing of what the
// files hold.
//
// Rules it keeps, and why:
//   - Reads are cheap: a depth-1 fetch of the one branch, so that a long
//     history costs only the files at its tip over the wire.
//   - Writes never force-push. A push that loses a race with another
//     writer is retried on the new tip, with jittered backoff, so that
//     concurrent jobs all land and none overwrites another's record.
//   - The token goes only into the environment of the one git command that
//     talks to the remote (as an http.extraheader through GIT_CONFIG_COUNT):
//     never in argv, which other processes can read, never in a config
//     file, and never in an error. Redirects are not followed, so the header
//     goes to no other host.
//   - Git runs in a private temporary git directory with none of the
//     system's, the user's or the workspace's configuration, so that it
//     never uses a credential that actions/checkout persisted, never
//     prompts, and runs no hook or helper of anyone else's.
//   - Symbolic links on the branch are checked out as plain files, so that
//     a file read from the checkout never leads outside it.
package gitstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultAuthor is the commit identity used when Remote.Author is empty:
// the one GitHub shows as github-actions[bot].
const DefaultAuthor = "natsbench-action <41898282+github-actions[bot]@users.noreply.github.com>"

// ErrDenied is wrapped by the errors of a read or write that the remote
// refused for want of permission: HTTP 401 or 403, a protected branch, a
// hook that declined the push. A caller may report it as a warning.
var ErrDenied = errors.New("permission denied by the remote")

// ErrConflict is wrapped by the error of an Update whose every attempt lost
// the race to another writer.
var ErrConflict = errors.New("the branch kept moving")

// Remote is a branch of a remote repository.
type Remote struct {
	// URL is the repository, such as https://github.com/owner/repo.git, a
	// path to a bare repository, or a file:// URL.
	URL string
	// Branch is the branch's short name, such as natsbench-history.
	Branch string
	// Token, when not empty, is sent as HTTP basic authentication with the
	// user x-access-token, the way GitHub takes an installation token.
	Token string
	// Author is the commit identity as "Name <email>"; DefaultAuthor when
	// empty.
	Author string
	// Git is the git binary; "git" when empty.
	Git string
}

// UpdateOptions tunes Update's retries.
type UpdateOptions struct {
	// Attempts is how many times Update fetches, mutates and pushes before
	// it gives up with ErrConflict; 8 when zero.
	Attempts int
	// Backoff is the first retry's mean wait; each retry doubles it, up to
	// MaxBackoff, and the wait is drawn uniformly between zero and twice
	// the mean. 500ms when zero.
	Backoff time.Duration
	// MaxBackoff caps the mean wait; 16s when zero.
	MaxBackoff time.Duration
}

// Result says what an Update did.
type Result struct {
	// Commit is the branch's tip afterwards: the new commit, or the
	// fetched tip when nothing changed ("" when the branch does not exist
	// and nothing was written).
	Commit string
	// Changed is false when mutate left the files as they were, and so
	// nothing was pushed.
	Changed bool
	// Created is true when this update created the branch.
	Created bool
	// Attempts is how many fetch, mutate and push rounds it took.
	Attempts int
}

// Fetch makes dir, which must be empty or absent, a checkout of the
// branch's tip, fetched with depth 1. It returns found=false and leaves
// dir empty when the branch does not exist. Only the branch's files are
// written to dir; the git directory is a temporary one, removed on return.
// After an error dir may hold some of the files.
func (r Remote) Fetch(ctx context.Context, dir string) (found bool, err error) {
	if err := r.validate(); err != nil {
		return false, err
	}
	if err := emptyDir(dir); err != nil {
		return false, fmt.Errorf("fetch %s: %w", r.Branch, err)
	}
	g, err := r.newGitDir(ctx, dir)
	if err != nil {
		return false, fmt.Errorf("fetch %s: %w", r.Branch, err)
	}
	defer g.remove()
	tip, _, err := g.checkout(ctx)
	if err != nil {
		return false, fmt.Errorf("fetch %s: %w", r.Branch, err)
	}
	return tip != "", nil
}

// Update fetches the branch's tip into dir, which must be empty or absent,
// calls mutate(dir), commits whatever changed with msg and pushes without
// force. It creates the branch, as a commit with no parent, when it does
// not exist.
//
// When another writer pushed first (or the server failed with a 5xx or
// dropped the connection), Update empties dir, fetches the new
// tip and calls mutate again, after a jittered backoff, up to
// opt.Attempts times. mutate must therefore be idempotent: it adds its
// record only when the files do not hold it already. An error from mutate
// stops Update, with nothing pushed.
//
// A push the remote refused for permission returns an error wrapping
// ErrDenied, and nothing is written. On return dir holds the files as
// pushed (or as fetched, when nothing changed).
func (r Remote) Update(ctx context.Context, dir, msg string, mutate func(dir string) error, opt UpdateOptions) (Result, error) {
	if err := r.validate(); err != nil {
		return Result{}, err
	}
	name, email, err := r.identity()
	if err != nil {
		return Result{}, err
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 8
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 500 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 16 * time.Second
	}
	if err := emptyDir(dir); err != nil {
		return Result{}, fmt.Errorf("update %s: %w", r.Branch, err)
	}
	g, err := r.newGitDir(ctx, dir)
	if err != nil {
		return Result{}, fmt.Errorf("update %s: %w", r.Branch, err)
	}
	defer g.remove()
	g.author = []string{
		"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email,
	}

	var lastErr error
	for attempt := 1; attempt <= opt.Attempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, jitter(opt.Backoff, opt.MaxBackoff, attempt-1)); err != nil {
				return Result{Attempts: attempt - 1}, fmt.Errorf("update %s: %w", r.Branch, err)
			}
		}
		res, err := g.attempt(ctx, msg, mutate)
		res.Attempts = attempt
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, errRace) && !errors.Is(err, errTransient) {
			return res, fmt.Errorf("update %s: %w", r.Branch, err)
		}
		lastErr = err
	}
	if errors.Is(lastErr, errRace) {
		lastErr = fmt.Errorf("%w: %w", ErrConflict, lastErr)
	}
	return Result{Attempts: opt.Attempts}, fmt.Errorf("update %s: gave up after %d attempts: %w",
		r.Branch, opt.Attempts, lastErr)
}

// errRace marks a push that lost to another writer.
var errRace = errors.New("another writer pushed first")

// errTransient marks a failure of the server or the connection, worth
// another attempt. A push that failed so may have landed all the same;
// the next attempt's mutate then finds its record and changes nothing.
var errTransient = errors.New("transient failure")

// attempt is one round of Update: fetch into a clean tree, mutate, commit
// and push.
func (g *gitDir) attempt(ctx context.Context, msg string, mutate func(string) error) (Result, error) {
	if err := clearDir(g.work); err != nil {
		return Result{}, fmt.Errorf("clear %s: %w", g.work, err)
	}
	// Without an index, the checkout writes every file of the new tip.
	if err := os.Remove(filepath.Join(g.dir, "index")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("remove the index: %w", err)
	}
	tip, was, err := g.checkout(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := mutate(g.work); err != nil {
		return Result{Commit: tip}, fmt.Errorf("mutate: %w", err)
	}
	if _, err := g.run(ctx, false, "add", "--all"); err != nil {
		return Result{Commit: tip}, err
	}
	tree, err := g.run(ctx, false, "write-tree")
	if err != nil {
		return Result{Commit: tip}, err
	}
	if tip == "" {
		was = emptyTree
	}
	if tree == was {
		return Result{Commit: tip}, nil
	}
	args := []string{"commit-tree", "-m", msg}
	if tip != "" {
		args = append(args, "-p", tip)
	}
	commit, err := g.run(ctx, false, append(args, tree)...)
	if err != nil {
		return Result{Commit: tip}, err
	}
	if _, err := g.run(ctx, true, "push", "--porcelain", "--no-verify", "--", g.r.URL,
		commit+":refs/heads/"+g.r.Branch); err != nil {
		return Result{Commit: tip}, err
	}
	return Result{Commit: commit, Changed: true, Created: tip == ""}, nil
}

// emptyTree is git's (SHA-1) empty tree, the tree of a branch that does not
// exist yet.
const emptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

func (r Remote) validate() error {
	if r.URL == "" || strings.HasPrefix(r.URL, "-") {
		return fmt.Errorf("remote url %q: must be set and must not start with '-'", r.redact(r.URL))
	}
	b := r.Branch
	if b == "" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "refs/") || !validRef(b) {
		return fmt.Errorf("branch %q: not a valid branch name", b)
	}
	return nil
}

// validRef checks the rules of git check-ref-format that matter for a
// branch name we put on git's command line.
func validRef(b string) bool {
	if strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") || b == "@" {
		return false
	}
	for _, part := range strings.Split(b, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}

func (r Remote) identity() (name, email string, err error) {
	a := r.Author
	if a == "" {
		a = DefaultAuthor
	}
	// Not net/mail: GitHub's bot address has brackets in its local part.
	name, rest, ok := strings.Cut(a, "<")
	email, tail, ok2 := strings.Cut(rest, ">")
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	if !ok || !ok2 || strings.TrimSpace(tail) != "" || name == "" || email == "" || strings.ContainsAny(a[:len(a)-len(tail)-1], "\n\x00") || strings.ContainsAny(email, "<>") {
		return "", "", fmt.Errorf("commit author %q: want \"Name <email>\"", a)
	}
	return name, email, nil
}

// authHeader is the value of the http.extraheader that carries the token.
func (r Remote) authHeader() string {
	return "AUTHORIZATION: basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+r.Token))
}

// redact replaces the token, and each encoding of it that git could print,
// in s.
func (r Remote) redact(s string) string {
	if r.Token == "" {
		return s
	}
	for _, secret := range []string{
		base64.StdEncoding.EncodeToString([]byte("x-access-token:" + r.Token)),
		base64.StdEncoding.EncodeToString([]byte(r.Token)),
		r.Token,
	} {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// emptyDir makes dir if it does not exist, and fails if it holds anything:
// Update empties it between attempts, and must never empty a directory
// that held someone else's files.
func emptyDir(dir string) error {
	if dir == "" {
		return errors.New("no directory given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("directory %s is not empty", dir)
	}
	return nil
}

// clearDir removes everything in dir, keeping dir.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// jitter draws the wait before retry n (n >= 1): uniform in [0, 2m) where
// the mean m is base doubled n-1 times, capped at max. Writers that
// collided once thus rarely collide again.
func jitter(base, max time.Duration, n int) time.Duration {
	m := base
	for i := 1; i < n && m < max; i++ {
		m *= 2
	}
	m = min(m, max)
	return time.Duration(rand.Int64N(int64(2*m) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
