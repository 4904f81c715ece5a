package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// cacheKey keeps a key a plain directory name.
var cacheKey = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// Cached returns a directory holding what build wrote into it, made once
// per machine and key and kept in the user's cache directory. It is for
// benchmark fixtures that take seconds to make: the action runs every
// benchmark in a new process each round, and each process would make
// the fixture again. key must change whenever the content would (a hash
// of what build writes, say), so that a changed generator, on either
// side of a comparison, gets its own. The directory must be read only.
// Without a usable cache directory, build writes into tb.TempDir().
func Cached(tb testing.TB, key string, build func(dir string) error) string {
	tb.Helper()
	if !cacheKey.MatchString(key) {
		tb.Fatalf("testutil.Cached: key %q is not a plain name", key)
	}
	fresh := func() string {
		d := tb.TempDir()
		if err := build(d); err != nil {
			tb.Fatal(err)
		}
		return d
	}
	root, err := os.UserCacheDir()
	if err != nil || !filepath.IsAbs(root) {
		return fresh()
	}
	parent := filepath.Join(root, "natsbench-testdata")
	dir := filepath.Join(parent, key)
	done := filepath.Join(dir, ".done")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fresh()
	}
	// Made aside and renamed into place: a process that finds dir finds
	// it whole, and two making it at once leave one.
	tmp, err := os.MkdirTemp(parent, key+".tmp-")
	if err != nil {
		return fresh()
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".done"), nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(done); statErr != nil {
			tb.Fatal(fmt.Errorf("testutil.Cached: %w", err))
		}
		// Another process made it first.
	}
	return dir
}
