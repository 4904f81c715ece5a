package app

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/internal/gittest"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadEvent(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, payload string
		want          event
	}{
		{"pull_request", `{"number": 42, "pull_request": {"number": 42, "base": {"sha": "1111111111111111111111111111111111111111", "ref": "main"}}}`,
			event{Name: "pull_request", PR: 42, Baseline: "1111111111111111111111111111111111111111"}},
		{"pull_request_target", `{"pull_request": {"number": 7, "base": {"sha": "2222222222222222222222222222222222222222"}}}`,
			event{Name: "pull_request_target", PR: 7, Baseline: "2222222222222222222222222222222222222222"}},
		{"push", `{"before": "3333333333333333333333333333333333333333", "after": "4444444444444444444444444444444444444444"}`,
			event{Name: "push", Baseline: "3333333333333333333333333333333333333333"}},
		{"push", `{"before": "0000000000000000000000000000000000000000", "created": true}`,
			event{Name: "push"}},
		// The pull request of a workflow_run is left for GitHub to confirm.
		{"workflow_run", `{"workflow_run": {"html_url": "https://github.com/o/r/actions/runs/9", "pull_requests": [{"number": 5}],
			"head_sha": "5555555555555555555555555555555555555555", "head_branch": "b", "head_repository": {"full_name": "o/r"}}}`,
			event{Name: "workflow_run", RunURL: "https://github.com/o/r/actions/runs/9",
				Run: &comment.RunHead{SHA: "5555555555555555555555555555555555555555", Repo: "o/r", Branch: "b", PRs: []int{5}}}},
		{"workflow_run", `{"workflow_run": {"html_url": "https://github.com/o/r/actions/runs/9", "pull_requests": [],
			"head_sha": "6666666666666666666666666666666666666666", "head_branch": "f", "head_repository": {"full_name": "fork/r"}}}`,
			event{Name: "workflow_run", RunURL: "https://github.com/o/r/actions/runs/9",
				Run: &comment.RunHead{SHA: "6666666666666666666666666666666666666666", Repo: "fork/r", Branch: "f"}}},
		{"schedule", `{"schedule": "0 3 * * 0"}`, event{Name: "schedule"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "event.json")
			writeFile(t, path, tc.payload)
			got, err := readEvent(tc.name, path)
			if err != nil {
				t.Fatalf("readEvent: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("readEvent = %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("bad payload", func(t *testing.T) {
		path := filepath.Join(dir, "bad.json")
		writeFile(t, path, `{"number": "x"`)
		if _, err := readEvent("pull_request", path); err == nil || !strings.Contains(err.Error(), "decoding the pull_request event") {
			t.Errorf("got %v, want a decoding error", err)
		}
	})
}

// commit writes name=data and commits it, returning the commit.
func commit(t *testing.T, dir, name, data string) string {
	t.Helper()
	return gittest.MustCommit(t, dir, map[string]string{name: data}, "change "+name)
}

// newRepo is a directory for a repository that the first commit makes.
func newRepo(t *testing.T) string {
	t.Helper()
	return t.TempDir()
}

func TestLatestRelease(t *testing.T) {
	ctx := context.Background()
	dir := newRepo(t)
	commit(t, dir, "a", "1")
	if got := latestRelease(ctx, dir); got != "" {
		t.Errorf("no tags: latestRelease = %q, want none", got)
	}
	gittest.Must(t, dir, "tag", "v1.0.0")
	commit(t, dir, "a", "2")
	if got := latestRelease(ctx, dir); got != "v1.0.0" {
		t.Errorf("latestRelease = %q, want v1.0.0", got)
	}
	commit(t, dir, "a", "3")
	gittest.Must(t, dir, "tag", "v1.1.0")
	// The head is the release itself: compare with the one before.
	if got := latestRelease(ctx, dir); got != "v1.0.0" {
		t.Errorf("head tagged v1.1.0: latestRelease = %q, want v1.0.0", got)
	}
}

func TestLocalBaseline(t *testing.T) {
	ctx := context.Background()
	up := newRepo(t)
	first := commit(t, up, "a", "1")
	if got, err := localBaseline(ctx, up); err != nil || got != "" {
		t.Errorf("single commit: localBaseline = %q, %v; want none", got, err)
	}
	second := commit(t, up, "a", "2")
	if got, err := localBaseline(ctx, up); err != nil || got != first {
		t.Errorf("no remote, clean: localBaseline = %q, %v; want HEAD~1 %s", got, err, first)
	}
	writeFile(t, filepath.Join(up, "a"), "dirty")
	if got, err := localBaseline(ctx, up); err != nil || got != second {
		t.Errorf("no remote, dirty: localBaseline = %q, %v; want HEAD %s", got, err, second)
	}
	gittest.Must(t, up, "checkout", "-q", "--", "a")

	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Must(t, up, "clone", "-q", up, clone)
	gittest.Must(t, clone, "checkout", "-q", "-b", "feature")
	commit(t, clone, "b", "1")
	commit(t, clone, "b", "2")
	if got, err := localBaseline(ctx, clone); err != nil || got != second {
		t.Errorf("feature branch: localBaseline = %q, %v; want the merge-base %s", got, err, second)
	}

	if _, err := localBaseline(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "-baseline") {
		t.Errorf("not a repository: got %v, want an error suggesting -baseline", err)
	}
}

func TestActionBaseline(t *testing.T) {
	ctx := context.Background()
	dir := newRepo(t)
	commit(t, dir, "a", "1")
	gittest.Must(t, dir, "tag", "v0.1.0")
	commit(t, dir, "a", "2")
	const sha = "5555555555555555555555555555555555555555"
	for _, tc := range []struct {
		name  string
		input string
		ev    event
		want  string
	}{
		{"pull request base", "", event{Name: "pull_request", Baseline: sha, PR: 1}, sha},
		{"input overrides the event", "v9", event{Name: "pull_request", Baseline: sha, PR: 1}, "v9"},
		{"push before", "", event{Name: "push", Baseline: sha}, sha},
		{"push creating a branch", "", event{Name: "push"}, ""},
		{"schedule: latest release", "", event{Name: "schedule"}, "v0.1.0"},
		{"dispatch: input", "main~1", event{Name: "workflow_dispatch"}, "main~1"},
		{"dispatch: latest release", "", event{Name: "workflow_dispatch"}, "v0.1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := actionBaseline(ctx, Config{Baseline: tc.input}, tc.ev, dir); got != tc.want {
				t.Errorf("actionBaseline = %q, want %q", got, tc.want)
			}
		})
	}
	if got := actionBaseline(ctx, Config{}, event{Name: "schedule"}, t.TempDir()); got != "" {
		t.Errorf("no repository, no tags: actionBaseline = %q, want absolute mode", got)
	}
}
