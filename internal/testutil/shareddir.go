package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns a new directory that every user may read, as a
// checkout in GitHub's workspace is. t.TempDir's are private to their
// owner, and the action, run as root, runs the benchmarked code as an
// unprivileged user that must read the checkout.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	d := tb.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}
