package app

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
)

func TestHistoryListsChangePoints(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 9, 1, 3, 0, 0, 0, time.UTC)
	// Thirty daily runs; Grow gets 30% slower from the twentieth on.
	for i := range 30 {
		ns := 100
		if i >= 20 {
			ns = 130
		}
		var head strings.Builder
		for k := range 6 {
			fmt.Fprintf(&head, "BenchmarkGrow-2 1000 %d ns/op\nBenchmarkFlat-2 1000 %d ns/op\n", ns+k%3, 500+k)
		}
		r, err := compare.Compute(compare.Input{Head: []byte(head.String()), HeadRef: compare.Ref{Ref: "main", SHA: fakeSHA(i)},
			Created: start.AddDate(0, 0, i)})
		if err != nil {
			t.Fatal(err)
		}
		writeReportFile(t, filepath.Join(dir, fmt.Sprintf("run-%02d", i), "report.json"), r)
	}
	var stdout, stderr bytes.Buffer
	pagePath := filepath.Join(t.TempDir(), "index.html")
	if err := Run(t.Context(), []string{"history", "-dir", dir, "-plain", "-html", pagePath}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("history -dir: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	// The trend page marks it.
	pg, err := os.ReadFile(pagePath)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\+29\.[0-9]% \(regression, p=0\.005\)`).Match([]byte(html.UnescapeString(string(pg)))) {
		t.Error("the trend page does not mark the change point")
	}
	before, after := fakeSHA(19), fakeSHA(20)
	for _, want := range []string{
		"1 change point, worst first",
		"1. Grow-2 sec/op: +",
		"-baseline " + before + " -bench '^BenchmarkGrow$'",
		"gh workflow run benchmarks.yml -f baseline=" + before + " -f head=" + after,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("history does not say %q:\n%s", want, out)
		}
	}
	// A higher threshold leaves it out.
	stdout.Reset()
	if err := Run(t.Context(), []string{"history", "-dir", dir, "-plain", "-threshold", "50"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "No change point in the history.") {
		t.Errorf("threshold 50:\n%s", stdout.String())
	}
	if err := Run(t.Context(), []string{"history", "-dir", dir, "-threshold", "-1"}, func(string) string { return "" }, &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "-threshold") {
		t.Errorf("threshold -1: %v", err)
	}
}

func fakeSHA(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte{byte(i)})) }

func TestSplitRemote(t *testing.T) {
	for _, tc := range []struct{ url, server, repo string }{
		{"https://github.com/octo/fixture.git", "https://github.com", "octo/fixture"},
		{"https://github.com/octo/fixture", "https://github.com", "octo/fixture"},
		{"git@github.com:octo/fix.ture.git", "https://github.com", "octo/fix.ture"},
		{"https://ghes.example.com:8443/octo/x.git", "https://ghes.example.com:8443", "octo/x"},
		{"https://user:secret@github.com/octo/x.git", "", ""},
		{"/srv/git/x.git", "", ""},
		{"https://github.com/octo/x/y", "", ""},
	} {
		if s, r := splitRemote(tc.url); s != tc.server || r != tc.repo {
			t.Errorf("splitRemote(%q) = %q, %q; want %q, %q", tc.url, s, r, tc.server, tc.repo)
		}
	}
}

func TestChangeSummaryNewSinceThePreviousRun(t *testing.T) {
	start := time.Date(2026, 9, 1, 3, 0, 0, 0, time.UTC)
	h := &history.History{}
	for i := range 14 {
		b := 10240.0
		if i >= 8 {
			b = 12288
		}
		h.Records = append(h.Records, history.Record{Schema: history.Schema, ID: fmt.Sprintf("r%d", i), SHA: fmt.Sprintf("%040x", 0xbeef00+i),
			RunTime: start.AddDate(0, 0, i), Side: history.SideHead, Env: history.Env{CPU: "c", GOMAXPROCS: 2},
			Rows: []history.Row{{Package: "example.com/m", Name: "Work-2", Unit: "B/op", N: 6, Center: b, Low: b, High: b}}})
	}
	env := ghEnv{&githubactions.GitHubContext{ServerURL: "https://github.com", Repository: "octo/fixture", Workflow: "bench"}}
	opt := changeOptions(Config{Compare: compare.Options{Threshold: 5}, WorkingDirectory: "."}, env)
	var listed []int
	for n := 2; n <= len(h.Records); n++ {
		cur := &history.History{Records: h.Records[:n]}
		s, err := changeSummary(withoutRecord(cur, cur.Records[n-1].ID), cur, opt)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s, "› Work-2 | B/op |") {
			listed = append(listed, n)
			if !strings.Contains(s, "https://github.com/octo/fixture/compare/"+h.Records[7].SHA+"..."+h.Records[8].SHA) ||
				!strings.Contains(s, "gh workflow run bench --repo octo/fixture") {
				t.Errorf("summary:\n%s", s)
			}
		} else if !strings.Contains(s, "No new change point") {
			t.Errorf("record %d: summary:\n%s", n, s)
		}
	}
	if len(listed) != 1 || listed[0] != 13 {
		t.Errorf("listed by the runs that made %v records, want 13 only", listed)
	}
}

func TestCheckedOut(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		env, head string
		want      bool
	}{
		{sha, sha, true}, {sha, sha[:12], true}, {"", sha, true}, {sha, "", true},
		{sha, "fedcba9876543210fedcba9876543210fedcba98", false},
	} {
		env := ghEnv{&githubactions.GitHubContext{SHA: tc.env}}
		r := &compare.Report{Head: compare.Ref{SHA: tc.head}}
		if got := checkedOut(env, r); got != tc.want {
			t.Errorf("checkedOut(GITHUB_SHA %q, head %q) = %v, want %v", tc.env, tc.head, got, tc.want)
		}
	}
}
