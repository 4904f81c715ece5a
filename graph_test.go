package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageGraph keeps the stages apart: compare decides from data and
// never learns how benchmarks run, and the runner never learns how they
// are judged. They share only package outcome.
func TestPackageGraph(t *testing.T) {
	const mod = "github.com/natsbench/natsbench-action/"
	for _, tc := range []struct{ pkg, forbidden string }{
		{"./compare", mod + "runner"},
		{"./runner", mod + "compare"},
		{"./outcome", mod},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+strings.TrimPrefix(tc.pkg, "./") {
				continue
			}
			if dep == tc.forbidden || strings.HasPrefix(dep, tc.forbidden+"/") || (tc.forbidden == mod && strings.HasPrefix(dep, mod)) {
				t.Errorf("%s depends on %s", tc.pkg, dep)
			}
		}
	}
}
