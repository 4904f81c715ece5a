package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The baseline's worktree sits at one path per repository across runs
// when the runner is not sandboxed: the go command keys compiled packages
// on their directory, so a new directory every run rebuilds the base
// side's own packages from scratch. Only the path is kept; the worktree
// itself is removed at the end of every run.

// userCacheDir is os.UserCacheDir read from env, the runner's
// environment, rather than from this process's; "" when it has none.
func userCacheDir(env []string) string {
	get := func(key string) string {
		v := ""
		for _, kv := range env {
			if val, ok := strings.CutPrefix(kv, key+"="); ok {
				v = val // the last one wins, as in the commands' environment
			}
		}
		return v
	}
	switch runtime.GOOS {
	case "darwin", "ios":
		if h := get("HOME"); filepath.IsAbs(h) {
			return filepath.Join(h, "Library", "Caches")
		}
		return ""
	}
	if d := get("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return d
	}
	if h := get("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// baseDir returns the directory, in the user's cache directory, of the
// baseline of the repository at root: the tree and its lock go there.
func baseDir(env []string, root string) string {
	cache := userCacheDir(env)
	if cache == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(cache, "natsbench", "base", hex.EncodeToString(sum[:8]))
}

// addStableWorktree checks sha out, detached, at the stable path of the
// repository in dir, holding its lock until remove. It returns path ""
// and no error when that path cannot be had (no cache directory, another
// run holds it, git refuses it): the caller then takes a temporary
// directory, as two runs at once (shards run locally) must.
func addStableWorktree(ctx context.Context, env []string, dir, sha string) (path string, remove func(), err error) {
	bd := baseDir(env, dir)
	if bd == "" {
		return "", nil, nil
	}
	lock := lockDir(bd)
	if lock == nil {
		return "", nil, nil
	}
	path = filepath.Join(bd, "tree")
	clearTree := func(ctx context.Context) {
		// A crashed run's worktree, registered or not, or anything else.
		_, _ = git(ctx, env, dir, "worktree", "remove", "--force", "--force", path)
		_ = os.RemoveAll(path)
		_, _ = git(ctx, env, dir, "worktree", "prune")
	}
	remove = func() {
		// Cleanup must run even when ctx was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		clearTree(cctx)
		lock.release()
	}
	clearTree(ctx)
	if _, err := git(ctx, env, dir, "worktree", "add", "--quiet", "--detach", path, sha); err != nil {
		remove()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", nil, err
		}
		return "", nil, nil // the temporary directory's attempt reports it
	}
	return path, remove, nil
}
