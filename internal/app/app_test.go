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
)

// envFor returns a getenv backed by m that fails the test on a variable
// missing from m: the program must read no variable the test did not
// think of. Every action input is present, as GitHub passes them all.
func envFor(t *testing.T, m map[string]string) func(string) string {
	t.Helper()
	full := map[string]string{}
	for _, name := range actionInputs(t) {
		full["INPUT_"+strings.ToUpper(name)] = ""
	}
	// go-githubactions' Context reads these whether the action uses them
	// or not; GitHub sets them all.
	for _, k := range []string{"GITHUB_ACTION", "GITHUB_ACTION_PATH", "GITHUB_ACTION_REPOSITORY", "GITHUB_ACTOR",
		"GITHUB_ACTOR_ID", "GITHUB_BASE_REF", "GITHUB_ENV", "GITHUB_GRAPHQL_URL", "GITHUB_HEAD_REF", "GITHUB_PATH",
		"GITHUB_REF", "GITHUB_REF_NAME", "GITHUB_REF_PROTECTED", "GITHUB_REF_TYPE", "GITHUB_REPOSITORY_OWNER",
		"GITHUB_RETENTION_DAYS", "GITHUB_RUN_ATTEMPT", "GITHUB_RUN_NUMBER", "GITHUB_SHA", "ImageOS", "ImageVersion"} {
		full[k] = ""
	}
	// No test reaches github.com: the history is off unless a test
	// gives it a remote of its own.
	full["INPUT_HISTORY"] = "off"
	for k, v := range m {
		full[k] = v
	}
	return func(k string) string {
		v, ok := full[k]
		if !ok {
			t.Errorf("read unexpected environment variable %q", k)
		}
		return v
	}
}

// ghVars are the GITHUB_* variables of a run in dir.
func ghVars(t *testing.T, dir, apiURL, event, payload string) map[string]string {
	t.Helper()
	writeFile(t, filepath.Join(dir, "event.json"), payload)
	writeFile(t, filepath.Join(dir, "output"), "")
	writeFile(t, filepath.Join(dir, "summary"), "")
	return map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_WORKSPACE":    dir,
		"GITHUB_EVENT_NAME":   event,
		"GITHUB_EVENT_PATH":   filepath.Join(dir, "event.json"),
		"GITHUB_REPOSITORY":   "octo/repo",
		"GITHUB_API_URL":      apiURL,
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "77",
		"GITHUB_WORKFLOW":     "bench",
		"GITHUB_JOB":          "go",
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
}

func TestRunActionBadInputs(t *testing.T) {
	dir := t.TempDir()
	vars := ghVars(t, dir, "http://127.0.0.1:1/", "pull_request", `{}`)
	vars["INPUT_GITHUB-TOKEN"] = "ghs_secret123"
	vars["INPUT_ALPHA"] = "2"
	vars["INPUT_COUNT"] = "zero"
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), nil, envFor(t, vars), &stdout, &stderr)
	if err == nil {
		t.Fatal("Run succeeded with alpha 2 and count zero")
	}
	for _, want := range []string{`input "alpha" must be between 0 and 1, got 2`, `input "count" must be a positive integer, got "zero"`} {
		if !strings.Contains(err.Error(), want) || !strings.Contains(stdout.String(), want) {
			t.Errorf("error %q / stdout %q: want %q in both", err, stdout.String(), want)
		}
	}
	if !strings.HasPrefix(stdout.String(), "::add-mask::ghs_secret123\n") {
		t.Errorf("the token is not masked first:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "::error::") {
		t.Errorf("no ::error:: annotation:\n%s", stdout.String())
	}
}

// smallReport has one regression and one improvement.
func smallReport(t *testing.T) *compare.Report {
	t.Helper()
	var base, head strings.Builder
	for i := range 8 {
		fmt.Fprintf(&base, "BenchmarkUp-2 1000 %d ns/op\nBenchmarkDown-2 1000 %d ns/op\n", 100+i, 900+i)
		fmt.Fprintf(&head, "BenchmarkUp-2 1000 %d ns/op\nBenchmarkDown-2 1000 %d ns/op\n", 200+i, 300+i)
	}
	r, err := compare.Compute(compare.Input{Base: []byte(base.String()), Head: []byte(head.String())})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// forkSHA is the head of the fork's pull request in the post mode tests.
const forkSHA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// forkRun is a workflow_run event for a run of a fork's pull request, as
// GitHub sends it: no pull_requests, the head named by commit, repository
// and branch.
func forkRun(sha string) string {
	return `{"action": "completed", "workflow_run": {"html_url": "https://github.com/octo/repo/actions/runs/5", "pull_requests": [],
		"head_sha": "` + sha + `", "head_branch": "feature", "head_repository": {"full_name": "alice/repo"}}}`
}

func TestRunActionPost(t *testing.T) {
	gh := githubtest.New(t)
	dir := t.TempDir()
	r := smallReport(t)
	r.Extra = map[string]string{"pr_number": "12"}
	var b bytes.Buffer
	if err := compare.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "dl", "report.json"), b.String())

	gh.AddPull(githubtest.Pull{Owner: "octo", Repo: "repo", Number: 12, HeadSHA: forkSHA, HeadRepo: "alice/repo", HeadBranch: "feature"})
	vars := ghVars(t, dir, gh.URL(), "workflow_run", forkRun(forkSHA))
	vars["INPUT_GITHUB-TOKEN"] = gh.Token()
	vars["INPUT_MODE"] = "post"
	vars["INPUT_REPORT"] = "dl"
	vars["INPUT_FAIL-ON-REGRESSION"] = "true"
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), nil, envFor(t, vars), &stdout, &stderr)
	if !errors.Is(err, ErrGate) {
		t.Fatalf("Run = %v, want ErrGate (fail-on-regression)", err)
	}
	cs := gh.CommentsOn("octo", "repo", 12)
	if len(cs) != 1 {
		t.Fatalf("%d comments on #12, want 1\n%s", len(cs), stdout.String())
	}
	if !strings.Contains(cs[0].Body, "https://github.com/octo/repo/actions/runs/5") {
		t.Errorf("the comment does not link the measuring run:\n%s", cs[0].Body)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "output"))
	for _, want := range []string{"regressions<<", "\n1\n", "report-json<<", "dl/report.json", "report-markdown<<", "natsbench-results/report.md", cs[0].HTMLURL()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, out)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary"))
	if !strings.Contains(string(sum), compare.Marker) {
		t.Errorf("job summary:\n%s", sum)
	}
	if strings.Count(stdout.String(), gh.Token()) != 1 || strings.Contains(stderr.String(), gh.Token()) {
		t.Errorf("the token is printed beyond ::add-mask::")
	}
}

func TestRunCompare(t *testing.T) {
	dir := t.TempDir()
	old, new := filepath.Join(dir, "old.txt"), filepath.Join(dir, "new.txt")
	var a, b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&a, "BenchmarkX-2 100 %d ns/op\n", 100+i)
		fmt.Fprintf(&b, "BenchmarkX-2 100 %d ns/op\n", 150+i)
	}
	writeFile(t, old, a.String())
	writeFile(t, new, b.String())
	jsonPath := filepath.Join(dir, "r.json")
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { t.Errorf("compare read %q", k); return "" }
	if err := Run(context.Background(), []string{"compare", "-json", jsonPath, old, new}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("compare: %v\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), compare.Marker) || !strings.Contains(stdout.String(), "X") {
		t.Errorf("compare printed:\n%s", stdout.String())
	}
	r := readReport(t, jsonPath)
	if r.Summary[compare.Regression] != 1 {
		t.Errorf("summary %v, want one regression", r.Summary)
	}

	for _, args := range [][]string{{"compare"}, {"compare", old, new, new}, {"compare", "-alpha", "2", old, new}, {"compare", filepath.Join(dir, "missing"), new}} {
		stderr.Reset()
		if err := Run(context.Background(), args, getenv, &stdout, &stderr); err == nil {
			t.Errorf("Run(%q) succeeded, want an error", args)
		}
	}
}

func TestRunLocalFlags(t *testing.T) {
	getenv := func(k string) string {
		if k != "GITHUB_ACTIONS" {
			t.Errorf("local run read %q", k)
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"-count", "zero"}, getenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `flag -count must be a positive integer, got "zero"`) {
		t.Errorf("got %v, want an error naming flag -count", err)
	}
	if err := Run(context.Background(), []string{"-h"}, getenv, &stdout, &stderr); err != nil {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(stderr.String(), "-fail-on-regression") {
		t.Errorf("usage lacks the flags:\n%s", stderr.String())
	}
	if err := Run(context.Background(), []string{"extra"}, getenv, &stdout, &stderr); err == nil {
		t.Error("a stray argument was accepted")
	}
}

// TestCommandsParseFlags: each command's -h prints its usage and succeeds,
// and an unknown flag is an error that names the command.
func TestCommandsParseFlags(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{nil, "parsing flags: flag provided but not defined: -bogus"},
		{[]string{"compare"}, "compare: parsing flags: flag provided but not defined: -bogus"},
		{[]string{"merge"}, "merge: parsing flags: flag provided but not defined: -bogus"},
		{[]string{"history"}, "history: parsing flags: flag provided but not defined: -bogus"},
	} {
		t.Run(fmt.Sprint(tc.cmd), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := Run(t.Context(), append(tc.cmd, "-h"), getenv, &stdout, &stderr); err != nil {
				t.Errorf("-h: %v", err)
			}
			if !strings.Contains(stderr.String(), "Usage") && !strings.Contains(stderr.String(), "-output-dir") {
				t.Errorf("-h printed no usage:\n%s", stderr.String())
			}
			err := Run(t.Context(), append(tc.cmd, "-bogus"), getenv, &stdout, &stderr)
			if err == nil || err.Error() != tc.want {
				t.Errorf("-bogus: %v, want %q", err, tc.want)
			}
		})
	}
}
