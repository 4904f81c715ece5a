// Package gittest runs git for tests (and the calibrate command) that make
// fixture repositories: with a fixed identity, none of the user's or the
// system's configuration and no prompt for a password, so that a fixture
// comes out the same on every machine and git never waits for input.
package gittest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env is the environment git runs with in tests.
func Env() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=fixture", "GIT_AUTHOR_EMAIL=fixture@example.com",
		"GIT_COMMITTER_NAME=fixture", "GIT_COMMITTER_EMAIL=fixture@example.com")
}

// Git runs git in dir and returns its trimmed standard output; an error
// carries git's standard error.
func Git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// Must is Git that fails the test on an error.
func Must(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Git(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Commit is the one fixture-repository builder: it writes files (slash
// paths relative to dir; an empty body deletes the file) into the
// repository in dir, making it with branch main if it does not exist, and
// commits them all with msg. It returns the new commit's hash.
func Commit(dir string, files map[string]string, msg string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if _, err := Git(dir, "init", "-q", "-b", "main"); err != nil {
			return "", err
		}
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if body == "" {
			if err := os.Remove(p); err != nil {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	if _, err := Git(dir, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := Git(dir, "commit", "-q", "--allow-empty", "-m", msg); err != nil {
		return "", err
	}
	return Git(dir, "rev-parse", "HEAD")
}

// MustCommit is Commit that fails the test on an error.
func MustCommit(t testing.TB, dir string, files map[string]string, msg string) string {
	t.Helper()
	sha, err := Commit(dir, files, msg)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}
