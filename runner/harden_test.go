package runner

import (
	"path/filepath"
	"testing"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

// TestBaselineRefspecRejected: a baseline with ':' would be a refspec to
// git fetch ("HEAD:refs/heads/evil" writes a branch into the checkout).
func TestBaselineRefspecRejected(t *testing.T) {
	f := sharedFixture(t)
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gittest.Git(t.TempDir(), "clone", "-q", "--depth", "1", "file://"+f.dir, clone); err != nil {
		t.Fatal(err)
	}
	const evil = "main:refs/heads/evil"
	// The app's Validate refuses it (internal/app's config tests); below
	// it, resolveCommit, which hands it to git fetch, refuses it too.
	if _, err := resolveCommit(t.Context(), gittest.Env(), clone, evil); err == nil {
		t.Errorf("resolveCommit(%q) succeeded", evil)
	}
	if _, err := gittest.Git(clone, "rev-parse", "--verify", "-q", "refs/heads/evil"); err == nil {
		t.Errorf("the baseline %q created refs/heads/evil in the checkout", evil)
	}
}
