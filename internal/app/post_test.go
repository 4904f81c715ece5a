package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/comment/githubtest"
	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// The tests in this file attack post mode as a fork can: the report.json
// artifact is the fork's to write, the workflow_run event is GitHub's.

// postResult is one post mode run.
type postResult struct {
	err             error
	stdout, summary string
}

// runPost posts the report.json with content js for the workflow_run
// event payload, against gh, with fail-on-regression set.
func runPost(t *testing.T, gh *githubtest.Server, payload, js string) postResult {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "dl", "report.json"), js)
	vars := ghVars(t, dir, gh.URL(), "workflow_run", payload)
	vars["INPUT_GITHUB-TOKEN"] = gh.Token()
	vars["INPUT_MODE"] = "post"
	vars["INPUT_REPORT"] = "dl"
	vars["INPUT_FAIL-ON-REGRESSION"] = "true"
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), nil, envFor(t, vars), &stdout, &stderr)
	sum, _ := os.ReadFile(filepath.Join(dir, "summary"))
	return postResult{err: err, stdout: stdout.String(), summary: string(sum)}
}

func reportJSON(t *testing.T, r *compare.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := compare.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestPostIgnoresTheArtifactsPRNumber: a report claiming PR 999 is posted
// on the PR whose head GitHub says the run measured, and 999 is not
// touched, not even read.
func TestPostIgnoresTheArtifactsPRNumber(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddPull(githubtest.Pull{Owner: "octo", Repo: "repo", Number: 7, HeadSHA: forkSHA, HeadRepo: "alice/repo", HeadBranch: "feature"})
	gh.AddPull(githubtest.Pull{Owner: "octo", Repo: "repo", Number: 999, HeadSHA: strings.Repeat("b", 40), HeadRepo: "octo/repo", HeadBranch: "release"})
	gh.AddComment("octo", "repo", 999, githubtest.DefaultLogin, "<!-- natsbench-action:key=bench/go -->\nthe release PR's report")
	r := smallReport(t)
	r.Extra = map[string]string{"pr_number": "999"}
	r.RunURL = "https://evil.example/run"
	res := runPost(t, gh, forkRun(forkSHA), reportJSON(t, r))
	if !errors.Is(res.err, ErrGate) {
		t.Fatalf("Run = %v, want the gate's error (the report regressed)", res.err)
	}
	if cs := gh.CommentsOn("octo", "repo", 999); len(cs) != 1 || !strings.Contains(cs[0].Body, "the release PR's report") {
		t.Errorf("PR 999 was written to: %+v", cs)
	}
	cs := gh.CommentsOn("octo", "repo", 7)
	if len(cs) != 1 {
		t.Fatalf("%d comments on PR 7, want 1\n%s", len(cs), res.stdout)
	}
	if strings.Contains(cs[0].Body, "evil.example") || !strings.Contains(cs[0].Body, "https://github.com/octo/repo/actions/runs/5") {
		t.Errorf("the comment links the artifact's run, not the event's:\n%s", cs[0].Body)
	}

	t.Run("no pull request has the head: no comment", func(t *testing.T) {
		gh.ResetCalls()
		res := runPost(t, gh, forkRun(strings.Repeat("c", 40)), reportJSON(t, r))
		if !errors.Is(res.err, ErrGate) || !strings.Contains(res.stdout, "::warning::no comment") {
			t.Errorf("Run = %v; want the gate's error and a warning:\n%s", res.err, res.stdout)
		}
		if n := gh.Calls("POST") + gh.Calls("PATCH"); n != 0 {
			t.Errorf("%d writes with no pull request", n)
		}
	})
}

// TestPostRefusesMalformedReports: a forged verdict, a null side and a
// 100 MB report each fail the step with an error naming the input, post
// nothing and put nothing of theirs in the job summary.
func TestPostRefusesMalformedReports(t *testing.T) {
	sum := `{"n": 6, "center": 100, "low": 95, "high": 105}`
	row := func(verdict, base, head string) string {
		return fmt.Sprintf(`{"schema": "natsbench/report/v1", "config": {"threshold": 5, "alpha": 0.05}, "benchmarks": [
			{"package": "p", "name": "X", "unit": "sec/op", "base": %s, "head": %s, "delta_pct": 9, "verdict": %q},
			{"package": "p", "name": "Y", "unit": "sec/op", "head": %s, "verdict": "measured"}]}`, base, head, verdict, sum)
	}
	forged := "unchanged\n\n## ✅ Reviewed and approved by @org/maintainers\n<img src=https://evil.example/x.png>"
	huge := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, `{"schema": "natsbench/report/v1", "warnings": ["`)
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range 100 {
		f.Write(chunk)
	}
	fmt.Fprint(f, `"]}`)
	f.Close()
	hugeJS, err := os.ReadFile(huge)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, js, want string }{
		{"markdown verdict", row(forged, sum, sum), "unknown verdict"},
		{"null side", row("regression", sum, "null"), "needs both base and head"},
		{"100 MB report", string(hugeJS), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gh := githubtest.New(t)
			gh.AddPull(githubtest.Pull{Owner: "octo", Repo: "repo", Number: 7, HeadSHA: forkSHA, HeadRepo: "alice/repo", HeadBranch: "feature"})
			res := runPost(t, gh, forkRun(forkSHA), tc.js)
			if res.err == nil || !strings.Contains(res.err.Error(), `input "report"`) || !strings.Contains(res.err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error about input \"report\" with %q", res.err, tc.want)
			}
			if !strings.Contains(res.stdout, "::error::") {
				t.Error("no ::error:: annotation")
			}
			if n := len(gh.Comments()); n != 0 {
				t.Errorf("%d comments posted", n)
			}
			for _, bad := range []string{"Reviewed and approved", "evil.example"} {
				if strings.Contains(res.summary, bad) || strings.Contains(res.stdout, bad) {
					t.Errorf("%q reached the job summary or the log", bad)
				}
			}
		})
	}
}

// TestGateFailsOnPanickingHead: under fail-on-regression a head whose
// benchmark panics fails the step, as does a report that could not be
// made; without it both stay informational.
func TestGateFailsOnPanickingHead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a fixture module")
	}
	// Run as root, the action runs the head's code as an unprivileged
	// user, who must read the checkout.
	dir := testutil.SharedDir(t)
	bench := func(body string) map[string]string {
		return map[string]string{
			"go.mod":       "module example.com/gate\n\ngo 1.26\n",
			"g/g_test.go":  "package g\n\nimport \"testing\"\n\nfunc BenchmarkG(b *testing.B) {\n\t" + body + "\n\tfor b.Loop() {\n\t}\n}\n",
			"g/g.go":       "package g\n",
			"other/o.go":   "package other\n",
			"other/o_test": "",
		}
	}
	files := bench("")
	delete(files, "other/o_test")
	base := gittest.MustCommit(t, dir, files, "base")
	files = bench(`panic("head broke it")`)
	delete(files, "other/o_test")
	gittest.MustCommit(t, dir, files, "head panics")

	for _, tc := range []struct {
		name, failOn string
		wantGate     bool
	}{
		{"fail-on-regression", "true", true},
		{"informational", "false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := ghVars(t, dir, "http://127.0.0.1:1/", "push", `{"before": "`+base+`"}`)
			vars["INPUT_COMMENT"] = "false"
			vars["INPUT_COUNT"] = "1"
			vars["INPUT_BENCHTIME"] = "1x"
			vars["INPUT_NATS"] = "false"
			out := t.TempDir()
			vars["INPUT_OUTPUT-DIR"] = out
			vars["INPUT_FAIL-ON-REGRESSION"] = tc.failOn
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), nil, envFor(t, vars), &stdout, &stderr)
			if got := errors.Is(err, ErrGate); got != tc.wantGate {
				t.Fatalf("Run = %v, want the gate to fail: %v\n%s", err, tc.wantGate, stdout.String())
			}
			// The runner records the panic as a failure; under load it has
			// been seen to keep a result line of the panicking benchmark
			// without its time, which leaves the time row removed: the
			// gate fails either way.
			if tc.wantGate && !strings.Contains(err.Error(), "1 benchmark failed on head") && !strings.Contains(err.Error(), "removed") {
				md, _ := os.ReadFile(filepath.Join(out, "report.md"))
				head, _ := os.ReadFile(filepath.Join(out, "head.txt"))
				t.Errorf("error %q does not say why; report:\n%s\nhead.txt:\n%s", err, md, head)
			}
			if !tc.wantGate && err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		})
	}

	t.Run("no report at all", func(t *testing.T) {
		vars := ghVars(t, t.TempDir(), "http://127.0.0.1:1/", "push", `{}`)
		vars["INPUT_COMMENT"] = "false"
		vars["INPUT_FAIL-ON-REGRESSION"] = "true"
		var stdout, stderr bytes.Buffer
		err := Run(t.Context(), nil, envFor(t, vars), &stdout, &stderr)
		if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "no benchmark report") {
			t.Errorf("Run outside a git checkout = %v, want the gate to fail with no report", err)
		}
	})
}
