package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCached: a fixture is made once per key and found again, each key
// has its own, and without a cache directory it is made in a temporary
// one each time.
func TestCached(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	builds := 0
	build := func(content string) func(string) error {
		return func(dir string) error {
			builds++
			return os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o600)
		}
	}
	read := func(dir string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a1 := Cached(t, "k-a", build("a"))
	a2 := Cached(t, "k-a", build("changed"))
	if a1 != a2 || read(a2) != "a" || builds != 1 {
		t.Errorf("second call: %s (%q), %d builds; want %s with a, 1 build", a2, read(a2), builds, a1)
	}
	if b := Cached(t, "k-b", build("b")); b == a1 || read(b) != "b" || builds != 2 {
		t.Errorf("another key: %s (%q), %d builds", b, read(b), builds)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(a1), "*.tmp-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}

	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	n := builds
	if d := Cached(t, "k-a", build("fresh")); read(d) != "fresh" || builds != n+1 {
		t.Errorf("without a cache directory: %q, %d builds", read(d), builds-n)
	}
}
