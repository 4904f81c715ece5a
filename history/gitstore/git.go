package gitstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// gitDir is a private, temporary git directory whose work tree is the
// caller's dir.
type gitDir struct {
	r      Remote
	dir    string   // the git directory
	work   string   // the work tree
	author []string // GIT_AUTHOR_* and GIT_COMMITTER_* for commit-tree
}

// newGitDir makes an empty repository in a new temporary directory, with
// no template (so no sample hooks), for the work tree work.
func (r Remote) newGitDir(ctx context.Context, work string) (*gitDir, error) {
	d, err := os.MkdirTemp("", "gitstore-")
	if err != nil {
		return nil, fmt.Errorf("make a git directory: %w", err)
	}
	g := &gitDir{r: r, dir: d, work: work}
	if _, err := g.run(ctx, false, "init", "--quiet", "--bare", "--template=", d); err != nil {
		g.remove()
		return nil, err
	}
	return g, nil
}

func (g *gitDir) remove() { os.RemoveAll(g.dir) }

// checkout fetches the branch's tip with depth 1 and writes its files into
// the work tree, which must be empty. It returns the tip's commit and
// tree, or "" for both when the branch does not exist.
func (g *gitDir) checkout(ctx context.Context) (commit, tree string, err error) {
	_, err = g.run(ctx, true, "fetch", "--quiet", "--depth=1", "--no-tags",
		"--", g.r.URL, "refs/heads/"+g.r.Branch)
	var ge *gitError
	if errors.As(err, &ge) && strings.Contains(ge.output, "couldn't find remote ref") {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	out, err := g.run(ctx, false, "rev-parse", "FETCH_HEAD^{commit}", "FETCH_HEAD^{tree}")
	if err != nil {
		return "", "", err
	}
	commit, tree, ok := strings.Cut(out, "\n")
	if !ok {
		return "", "", fmt.Errorf("git rev-parse: unexpected output %q", out)
	}
	if _, err := g.run(ctx, false, "read-tree", "--reset", "-u", commit); err != nil {
		return "", "", err
	}
	return commit, tree, nil
}

// config is git configuration given to every command, through the
// environment, on top of none from the system or the user.
var config = [][2]string{
	{"credential.helper", ""},          // no stored credential, ever
	{"core.askPass", ""},               // no password prompt program
	{"http.followRedirects", "false"},  // the token goes to no other host
	{"core.symlinks", "false"},         // links checked out as plain files
	{"core.hooksPath", os.DevNull},     // no hooks (there are none anyway)
	{"core.fsmonitor", "false"},        // no monitor program
	{"gc.auto", "0"},                   // no gc in a directory about to be removed,
	{"maintenance.auto", "false"},      // nor the maintenance fetch would start
	{"commit.gpgSign", "false"},        // no signing program
	{"protocol.ext.allow", "never"},    // no ext:: URL runs a command
	{"init.defaultBranch", "gitstore"}, // quiet: no hint about the default branch
}

// env is the environment of a git command: the process's own without any
// GIT_ variable (GIT_DIR, GIT_CONFIG_PARAMETERS and the like would change
// what git does or reads) but the CA certificates a GHES host may need,
// and with config above. remote adds the token's header, for the one
// command that talks to the remote.
func (g *gitDir) env(remote bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") && k != "GIT_SSL_CAINFO" && k != "GIT_SSL_CAPATH" || k == "SSH_ASKPASS" || k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"LC_ALL=C") // English messages, which checkout and classify read
	cfg := config
	if remote && g.r.Token != "" {
		cfg = append(cfg[:len(cfg):len(cfg)], [2]string{"http.extraHeader", g.r.authHeader()})
	}
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return append(env, g.author...)
}

// gitError is a git command that failed, with its output.
type gitError struct {
	op     string // the subcommand
	err    error
	output string // standard error and, for push, standard output; redacted
	kind   error  // ErrDenied, errRace, errTransient or nil
}

func (e *gitError) Error() string {
	msg := fmt.Sprintf("git %s: %v", e.op, e.err)
	if e.kind != nil {
		msg = fmt.Sprintf("git %s: %v (%v)", e.op, e.kind, e.err)
	}
	if e.output != "" {
		msg += ": " + e.output
	}
	return msg
}

func (e *gitError) Unwrap() []error {
	if e.kind != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.err}
}

// maxOutput bounds the output kept for an error message.
const maxOutput = 2000

// run runs git in the git directory and returns its trimmed standard
// output. remote marks the one command that talks to the remote, which
// alone is given the token.
func (g *gitDir) run(ctx context.Context, remote bool, args ...string) (string, error) {
	bin := g.r.Git
	if bin == "" {
		bin = "git"
	}
	full := append([]string{"--git-dir=" + g.dir, "--work-tree=" + g.work}, args...)
	if args[0] == "init" {
		full = args
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = g.dir
	cmd.Env = g.env(remote)
	// git's helpers (git-remote-https, upload-pack) may outlive a killed
	// git and hold its pipes: do not wait for them.
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err == nil {
		return strings.TrimSpace(out.String()), nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
	}
	text := errb.String()
	if args[0] == "push" {
		text = out.String() + "\n" + text // --porcelain reports each ref on stdout
	}
	text = g.r.redact(text)
	e := &gitError{op: args[0], err: err, output: tidy(text), kind: classify(text)}
	return "", e
}

// tidy keeps the lines of git's output worth showing, on one line,
// without control characters and bounded, as a warning needs them.
func tidy(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "hint:") || line == "Done" || strings.HasPrefix(line, "To ") {
			continue
		}
		keep = append(keep, line)
	}
	s = strings.Join(keep, "; ")
	if len(s) > maxOutput {
		s = strings.ToValidUTF8(s[:maxOutput], "") + "…"
	}
	return s
}

// classify tells, from git's output (LC_ALL=C), a refusal for permission
// from a lost race and from a failure worth another try. The texts are git's own and GitHub's.
func classify(out string) error {
	low := strings.ToLower(out)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(low, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("returned error: 401", "returned error: 403", "could not read username",
		"could not read password", "authentication failed", "permission denied",
		"permission to ", "write access to repository not granted", "access denied"):
		return ErrDenied
	case has("[remote rejected]") && has("cannot lock ref", "failed to update ref",
		"incorrect old value", "reference already exists", "failed to lock"):
		return errRace
	case has("[remote rejected]"):
		// A hook declined it: a protected branch, a ruleset, a
		// pre-receive hook. Trying again would not help.
		return ErrDenied
	case has("[rejected]") && has("fetch first", "non-fast-forward", "stale info", "already exists"):
		return errRace
	case has("returned error: 5", "the remote end hung up unexpectedly", "rpc failed", "early eof",
		"connection reset", "operation timed out"):
		return errTransient
	}
	return nil
}
