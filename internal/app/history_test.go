package app

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/runner"
)

// TestPlanHistory pins the trust rule: only the repository's own code on
// its default branch, run by push, schedule or workflow_dispatch, writes.
func TestPlanHistory(t *testing.T) {
	onMain := ghEnv{&githubactions.GitHubContext{Ref: "refs/heads/main"}}
	onFeature := ghEnv{&githubactions.GitHubContext{Ref: "refs/heads/feature"}}
	auto := Config{Mode: ModeRun, History: HistoryAuto}
	for _, tc := range []struct {
		name        string
		cfg         Config
		env         ghEnv
		ev          event
		read, write bool
		why         string
	}{
		{"push to main", auto, onMain, event{Name: "push", DefaultBranch: "main"}, true, true, ""},
		{"schedule", auto, onMain, event{Name: "schedule", DefaultBranch: "main"}, true, true, ""},
		{"dispatch", auto, onMain, event{Name: "workflow_dispatch", DefaultBranch: "main"}, true, true, ""},
		{"merge mode on push", Config{Mode: ModeMerge, History: HistoryAuto}, onMain, event{Name: "push", DefaultBranch: "main"}, true, true, ""},
		{"push to a feature branch", auto, onFeature, event{Name: "push", DefaultBranch: "main"}, true, false, `ref "refs/heads/feature" is not the default branch "main"`},
		{"dispatch on a feature branch", auto, onFeature, event{Name: "workflow_dispatch", DefaultBranch: "main"}, true, false, "not the default branch"},
		{"pull request", auto, onMain, event{Name: "pull_request", PR: 1}, true, false, `event "pull_request" is not push`},
		{"pull_request_target", auto, onMain, event{Name: "pull_request_target", PR: 1, DefaultBranch: "main"}, true, false, `event "pull_request_target"`},
		{"workflow_run post of a fork", Config{Mode: ModePost, History: HistoryAuto}, onMain, event{Name: "workflow_run", DefaultBranch: "main"}, true, false, `event "workflow_run"`},
		{"a payload without the default branch", auto, onMain, event{Name: "push"}, true, false, "does not name"},
		{"a shard of several", Config{Mode: ModeRun, History: HistoryAuto, Run: runner.Config{Shard: runner.Shard{Index: 1, Count: 2}}}, onMain, event{Name: "push", DefaultBranch: "main"}, true, false, "the merge writes"},
		{"read", Config{Mode: ModeRun, History: HistoryRead}, onMain, event{Name: "push", DefaultBranch: "main"}, true, false, `input "history" is "read"`},
		{"off", Config{Mode: ModeRun, History: HistoryOff}, onMain, event{Name: "push", DefaultBranch: "main"}, false, false, `"off"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := planHistory(tc.cfg, tc.env, tc.ev)
			if u.read != tc.read || u.write != tc.write || !strings.Contains(u.why, tc.why) {
				t.Errorf("read %v, write %v (%s); want read %v, write %v (%s)", u.read, u.write, u.why, tc.read, tc.write, tc.why)
			}
		})
	}
}

func TestRecordID(t *testing.T) {
	env := ghEnv{&githubactions.GitHubContext{RunID: 4242, RunAttempt: 2}}
	a := recordID(env, "bench/go", "head", time.Time{})
	if !strings.HasPrefix(a, "4242-2-head-") || a != recordID(env, "bench/go", "head", time.Time{}) {
		t.Errorf("id %q: want run-attempt-side-hash, the same each time", a)
	}
	if b := recordID(env, `bench/go {"os":"windows"}`, "head", time.Time{}); b == a {
		t.Error("two matrix legs of one run share an id")
	}
}

func TestRunnerImage(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := runnerImage(get(map[string]string{"ImageOS": "ubuntu24", "ImageVersion": "20261124.1"})); got != "ubuntu24/20261124.1" {
		t.Errorf("image %q", got)
	}
	if got := runnerImage(get(nil)); got != "" {
		t.Errorf("self-hosted image %q", got)
	}
}

// TestHistoryFromReports: `history -dir` orders downloaded reports by the
// time they measured, not by their paths, and skips a bad one with a
// warning.
func TestHistoryFromReports(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	// Directory names sort against the run order.
	for i, ns := range []int{100, 150, 200} {
		var head strings.Builder
		for k := range 6 {
			fmt.Fprintf(&head, "BenchmarkGrow-2 1000 %d ns/op\nBenchmarkFlat-2 1000 %d ns/op\n", ns+k, 500+k)
		}
		r, err := compare.Compute(compare.Input{Head: []byte(head.String()), HeadRef: compare.Ref{Ref: "main", SHA: fmt.Sprintf("%040x", i+1)},
			Created: start.AddDate(0, 0, 7*i)})
		if err != nil {
			t.Fatal(err)
		}
		writeReportFile(t, filepath.Join(dir, fmt.Sprintf("run-%d", 9-i), "report.json"), r)
	}
	writeFile(t, filepath.Join(dir, "broken", "report.json"), `{"schema": "natsbench/report/v1", "benchmarks": 7}`)
	var stdout, stderr bytes.Buffer
	html := filepath.Join(t.TempDir(), "trends.html")
	if err := Run(t.Context(), []string{"history", "-dir", dir, "-html", html}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("history -dir: %v\n%s", err, stderr.String())
	}
	if page, err := os.ReadFile(html); err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "Grow-2") {
		t.Errorf("-html wrote no trend page with charts: %v", err)
	}
	out := stdout.String()
	if !strings.Contains(out, "| Grow-2 | sec/op | 102.5ns | 202.5ns | +97.6% | 3 | 2026-11-01 |") ||
		strings.Index(out, "Grow-2") > strings.Index(out, "Flat-2") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "broken") || !strings.Contains(stderr.String(), "3 records") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if err := Run(t.Context(), []string{"history", "-dir", dir, "-branch", "x"}, func(string) string { return "" }, &stdout, &stderr); err == nil {
		t.Error("-dir and -branch together were accepted")
	}
}

func writeReportFile(t *testing.T, path string, r *compare.Report) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := compare.WriteJSON(f, r); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryFromBranch: `history` in a checkout reads the local
// natsbench-history branch through the git store.
func TestHistoryFromBranch(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	gittest.MustCommit(t, repoDir, map[string]string{"README": "x\n"}, "main")
	gittest.Must(t, repoDir, "checkout", "-q", "--orphan", "natsbench-history")
	gittest.Must(t, repoDir, "rm", "-q", "-rf", ".")
	store := t.TempDir()
	now := time.Now()
	for i, v := range []float64{100e-9, 110e-9, 150e-9} {
		rec := history.Record{Schema: history.Schema, ID: fmt.Sprintf("%d-1-head-x", i+1), SHA: fmt.Sprintf("%040x", i+1),
			RunTime: now.Add(time.Duration(i-3) * time.Hour), Side: history.SideHead, Env: history.Env{CPU: "cpu"},
			Rows: []history.Row{{Package: "example.com/m", Name: "BenchmarkX-2", Unit: "sec/op", N: 6, Center: v, Low: v, High: v}}}
		if _, err := history.Append(store, rec, 0, now); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{}
	filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(store, p)
			files[filepath.ToSlash(rel)] = string(data)
		}
		return err
	})
	gittest.MustCommit(t, repoDir, files, "history")
	gittest.Must(t, repoDir, "checkout", "-q", "main")
	t.Chdir(repoDir)
	var stdout, stderr bytes.Buffer
	if err := Run(t.Context(), []string{"history", "-plain"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("history: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "example.com/m BenchmarkX-2  sec/op  100.0ns  150.0ns  +50.0%        3") {
		t.Errorf("table:\n%s", stdout.String())
	}
	if err := Run(t.Context(), []string{"history", "-branch", "nope"}, func(string) string { return "" }, &stdout, &stderr); err == nil {
		t.Error("a missing branch (no local branch, no origin) was not an error")
	}
}
