package comment_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/natsbench/natsbench-action/comment"
)

func TestFitBody(t *testing.T) {
	table := "| name | delta |\n|---|---|\n" + strings.Repeat("| BenchmarkX | +1.0% |\n", 3000)
	tests := []struct {
		name    string
		body    string
		limit   int
		same    bool     // returned unchanged
		wantCut bool     // carries the note
		wantIn  []string // substrings that must survive
	}{
		{name: "short is unchanged", body: "# ok\n", limit: 100, same: true},
		{name: "exactly the limit is unchanged", body: strings.Repeat("a", 100), limit: 100, same: true},
		{name: "no limit", body: table, limit: 0, same: true},
		{name: "cut at a line boundary", body: "verdict: 2 regressions\n\n" + table, limit: 5000, wantCut: true, wantIn: []string{"verdict: 2 regressions\n"}},
		{name: "open code fence is closed", body: "head\n```\n" + strings.Repeat("go test output line\n", 2000), limit: 4000, wantCut: true},
		{name: "tilde fence is closed", body: "head\n~~~~text\n" + strings.Repeat("line\n", 2000), limit: 4000, wantCut: true},
		{name: "open details are closed", body: "head\n<details><summary>all</summary>\n\n<details>\n\n" + table, limit: 6000, wantCut: true},
		{name: "closed details stay closed", body: "<details>\nx\n</details>\n" + table, limit: 6000, wantCut: true},
		{name: "multibyte text stays valid UTF-8", body: strings.Repeat("é漢🙂", 5000), limit: 1001, wantCut: true},
		{name: "one huge line", body: "start\n" + strings.Repeat("x", 10000), limit: 3000, wantCut: true, wantIn: []string{"start\nxxx"}},
		{name: "tiny limit: plain cut", body: strings.Repeat("ab\n", 100), limit: 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := comment.FitBody(tc.body, tc.limit)
			if tc.same {
				if got != tc.body {
					t.Fatalf("changed a body that fits")
				}
				return
			}
			if len(got) > tc.limit {
				t.Errorf("len = %d, over the limit %d", len(got), tc.limit)
			}
			if !utf8.ValidString(got) {
				t.Error("result is not valid UTF-8")
			}
			if cut := strings.Contains(got, "cut to fit"); cut != tc.wantCut {
				t.Errorf("note present = %v, want %v", cut, tc.wantCut)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(got, s) {
					t.Errorf("lost %q", s)
				}
			}
			if !tc.wantCut {
				return
			}
			if n := fences(got); n%2 != 0 {
				t.Errorf("%d fence lines: one left open\n%s", n, tail(got))
			}
			lower := strings.ToLower(got)
			if o, c := strings.Count(lower, "<details"), strings.Count(lower, "</details>"); o != c {
				t.Errorf("%d <details> opened, %d closed\n%s", o, c, tail(got))
			}
			if !strings.HasSuffix(got, "\n") {
				t.Error("does not end with a newline")
			}
		})
	}
}

// fences counts the lines that open or close a code fence.
func fences(md string) int {
	n := 0
	for line := range strings.Lines(md) {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			n++
		}
	}
	return n
}

func tail(s string) string {
	if len(s) > 300 {
		return "…" + s[len(s)-300:]
	}
	return s
}
