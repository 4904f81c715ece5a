package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// Golden compares got with testdata/NAME.golden. A mismatch writes
// NAME.got beside it, to diff; update (the package's -update flag)
// rewrites the golden file instead. Every package with golden files uses
// it, so that they all behave alike.
func Golden(tb testing.TB, name, got string, update bool) {
	tb.Helper()
	path := filepath.Join("testdata", name+".golden")
	gotPath := filepath.Join("testdata", name+".got")
	if update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		os.Remove(gotPath)
		return
	}
	want, err := os.ReadFile(path)
	if err == nil && string(want) == got {
		os.Remove(gotPath)
		return
	}
	if werr := os.WriteFile(gotPath, []byte(got), 0o644); werr != nil {
		tb.Fatal(werr)
	}
	if err != nil {
		tb.Fatalf("reading golden file: %v (output written to %s; run with -update)", err, gotPath)
	}
	tb.Errorf("output differs from %s; see %s (diff them, or run go test -update)", path, gotPath)
}
