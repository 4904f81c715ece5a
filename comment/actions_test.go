package comment_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/comment"
)

// newAction returns an Action whose environment is env; an unknown key
// fails the test, so the helpers read only what they should.
func newAction(t *testing.T, env map[string]string) (*githubactions.Action, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	getenv := func(k string) string {
		v, ok := env[k]
		if !ok {
			t.Errorf("unexpected getenv(%q)", k)
		}
		return v
	}
	return githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(&out)), &out
}

func TestSetOutputsAndSummary(t *testing.T) {
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	a, stdout := newAction(t, map[string]string{"GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": sumFile})

	if err := comment.WriteSummary(a, "## Benchmarks\n\n| a | b |\n"); err != nil {
		t.Fatal(err)
	}
	if err := comment.WriteSummary(a, "second part\n"); err != nil {
		t.Fatal(err)
	}
	o := comment.Outputs{
		ReportJSON: "natsbench-results/report.json", ReportMarkdown: "natsbench-results/report.md",
		Regressions: 2, Improvements: 1, CommentURL: "https://github.com/o/r/pull/1#issuecomment-9",
	}
	if err := comment.SetOutputs(a, o); err != nil {
		t.Fatal(err)
	}
	got := parseOutputs(t, outFile)
	want := map[string]string{
		"report-json": o.ReportJSON, "report-markdown": o.ReportMarkdown,
		"regressions": "2", "improvements": "1", "comment-url": o.CommentURL,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
	sum, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(sum); !strings.HasPrefix(s, "## Benchmarks\n") || !strings.Contains(s, "second part") {
		t.Errorf("summary = %q", s)
	}
	if stdout.Len() != 0 {
		t.Errorf("wrote to the log: %q (outputs must go to the file, not ::set-output)", stdout)
	}
}

func TestSummaryOverGitHubsLimitIsRefused(t *testing.T) {
	sumFile := filepath.Join(t.TempDir(), "summary")
	a, _ := newAction(t, map[string]string{"GITHUB_STEP_SUMMARY": sumFile})
	if err := comment.WriteSummary(a, strings.Repeat("x", comment.MaxSummary)); err == nil {
		t.Fatal("a summary of MaxSummary bytes was accepted")
	}
	if err := comment.WriteSummary(a, strings.Repeat("x", comment.MaxSummary-1)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > comment.MaxSummary {
		t.Errorf("summary is %d bytes, over %d", fi.Size(), comment.MaxSummary)
	}
}

func TestEnvFileErrors(t *testing.T) {
	t.Run("outside GitHub Actions", func(t *testing.T) {
		a, _ := newAction(t, map[string]string{"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""})
		if err := comment.WriteSummary(a, "x"); !errors.Is(err, comment.ErrNoEnvFile) {
			t.Errorf("WriteSummary err = %v, want ErrNoEnvFile", err)
		}
		if err := comment.SetOutputs(a, comment.Outputs{}); !errors.Is(err, comment.ErrNoEnvFile) {
			t.Errorf("SetOutputs err = %v, want ErrNoEnvFile", err)
		}
	})
	t.Run("unwritable file is an error, not a panic", func(t *testing.T) {
		dir := t.TempDir() // a directory can't be opened for append
		a, _ := newAction(t, map[string]string{"GITHUB_OUTPUT": dir, "GITHUB_STEP_SUMMARY": dir})
		if err := comment.WriteSummary(a, "x"); err == nil || errors.Is(err, comment.ErrNoEnvFile) {
			t.Errorf("WriteSummary err = %v, want a write error", err)
		}
		if err := comment.SetOutputs(a, comment.Outputs{}); err == nil || !strings.Contains(err.Error(), "report-json") {
			t.Errorf("SetOutputs err = %v, want a write error naming the output", err)
		}
	})
}

// parseOutputs reads a GITHUB_OUTPUT file as the runner does: name=value
// lines and name<<DELIM heredocs.
func parseOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("output %s: heredoc not closed", name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("bad output line %q", l)
		}
		out[name] = val
	}
	return out
}
