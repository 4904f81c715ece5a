package compare

import (
	"flag"
	"github.com/natsbench/natsbench-action/internal/testutil"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/natsbench/natsbench-action/outcome"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, name, got, *update)
}

// pinEnv makes the report independent of the toolchain running the test.
func pinEnv(r *Report) *Report {
	r.Environment.GoVersion = "go1.26.0"
	return r
}

// prInput is a pull request with everything a report can hold.
func prInput() Input {
	return Input{
		BaseRef:  Ref{Ref: "main", SHA: "0123456789abcdef0123456789abcdef01234567"},
		HeadRef:  Ref{Ref: "feature/faster", SHA: "89abcdef0123456789abcdef0123456789abcdef"},
		Config:   Config{Packages: []string{"./..."}, Bench: ".", Count: 10, Benchtime: "100ms"},
		Failures: mixedFailures(),
		BuildErrors: []outcome.BuildError{{Side: "head", Package: "example.com/m/z",
			Output: "# example.com/m/z\n./z.go:3:2: undefined: Foo @octocat\n```\n<b>not html</b>"}},
		Hotspots: []outcome.Hotspot{
			{Side: "head", Package: pkgA, Function: "example.com/m/a.(*T).slow", Flat: 0.41, Cum: 0.52},
			{Side: "base", Package: pkgA, Function: "runtime.mallocgc", Flat: 0.12, Cum: 0.2},
			{Side: "head", Package: "example.com/m/b", Function: "b.notShown", Flat: 0.9, Cum: 0.9},
		},
		Command: "go run github.com/natsbench/natsbench-action@v1 -baseline 0123456 -count 10 -benchtime 100ms",
		RunURL:  "https://github.com/natsbench/demo/actions/runs/42",
	}
}

func TestMarkdownGolden(t *testing.T) {
	_, head := fixture(t, "mixed")
	tests := []struct {
		name string
		rep  func(t *testing.T) *Report
		opt  MarkdownOptions
	}{
		{"mixed", func(t *testing.T) *Report { return mustCompute(t, "mixed", prInput()) }, MarkdownOptions{}},
		{"unchanged", func(t *testing.T) *Report {
			return mustCompute(t, "aa", Input{BaseRef: Ref{Ref: "main"}, HeadRef: Ref{Ref: "pr"}, Config: Config{Count: 10}})
		}, MarkdownOptions{}},
		{"absolute", func(t *testing.T) *Report {
			r, err := Compute(Input{Head: head, HeadRef: Ref{Ref: "main", SHA: "89abcdef"}, Command: "go run . -count 10"})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, MarkdownOptions{}},
		{"cut", func(t *testing.T) *Report {
			in := prInput()
			in.Failures[0].Output = strings.Repeat("goroutine 1 [running]:\nexample.com/m/a.BenchmarkBroken(0xc000)\n", 40)
			return mustCompute(t, "mixed", in)
		}, MarkdownOptions{MaxBytes: 4000}},
		{"hostile", func(t *testing.T) *Report { return mustCompute(t, "hostile", Input{}) }, MarkdownOptions{}},
		{"trends", func(t *testing.T) *Report { return mustCompute(t, "mixed", prInput()) }, MarkdownOptions{Trends: mixedTrends(t)}},
		{"undecided", func(t *testing.T) *Report {
			// A noisy row and one with too few samples: both undecided.
			noisyBase, noisyHead := fixture(t, "noisy")
			fewBase, fewHead := fixture(t, "few")
			r, err := Compute(Input{Base: append(noisyBase, fewBase...), Head: append(noisyHead, fewHead...),
				BaseRef: Ref{Ref: "main"}, HeadRef: Ref{Ref: "pr"}, Config: Config{Count: 6, Benchtime: "20ms"}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, MarkdownOptions{}},
		{"undecided-sequential", func(t *testing.T) *Report {
			// The same rows under a sequential plan: the advice asks for
			// the rounds at the looks' levels, as the MDE is.
			noisyBase, noisyHead := fixture(t, "noisy")
			fewBase, fewHead := fixture(t, "few")
			r, err := Compute(Input{Base: append(noisyBase, fewBase...), Head: append(noisyHead, fewHead...),
				Options: Options{Plan: Plan{MinRounds: 3, MaxRounds: 6}},
				BaseRef: Ref{Ref: "main"}, HeadRef: Ref{Ref: "pr"}, Config: Config{Count: 6, MinCount: 3, Benchtime: "20ms"}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, MarkdownOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := Markdown(pinEnv(tt.rep(t)), tt.opt)
			golden(t, tt.name, md)
			checkMarkdown(t, md, tt.opt.MaxBytes)
		})
	}
}

// mixedTrends gives the significant rows of the mixed report trends of
// every kind: the base in the middle, at either end, absent, the only
// record, and a hostile sparkline that must not split its cell.
func mixedTrends(t *testing.T) map[TrendKey]Trend {
	t.Helper()
	cases := []Trend{
		{Spark: "▁▂▃▄▅▆▇█▇▆", N: 10, BaseAt: 9, BaseRank: 2},
		{Spark: "▄▄▄▄▄▄", N: 6, BaseAt: 6, BaseRank: 6},
		{Spark: "▁▂█", N: 3, BaseAt: 3, BaseRank: 1},
		{Spark: "▃▅▂▁", N: 4},
		{Spark: "▄", N: 1, BaseAt: 1, BaseRank: 1},
		{Spark: "|<b>`x`</b> @octocat\n| https://evil", N: 30, BaseAt: 17, BaseRank: 20},
	}
	out := map[TrendKey]Trend{}
	i := 0
	for _, r := range mustCompute(t, "mixed", prInput()).Benchmarks {
		if (r.Verdict == Regression || r.Verdict == Improvement) && i < len(cases) {
			out[TrendKey{r.Package, r.Name, r.Unit}] = cases[i]
			i++
		}
	}
	if i < len(cases) {
		t.Fatalf("the mixed report has %d significant rows, want %d", i, len(cases))
	}
	return out
}

func TestRankWord(t *testing.T) {
	for _, tc := range []struct {
		rank, n int
		want    string
	}{{1, 30, "highest"}, {2, 30, "2nd highest"}, {3, 30, "3rd highest"}, {11, 30, "11th highest"},
		{15, 30, "15th highest"}, {16, 30, "15th lowest"}, {28, 30, "3rd lowest"}, {30, 30, "lowest"}, {21, 41, "21st highest"}} {
		if got := rankWord(tc.rank, tc.n); got != tc.want {
			t.Errorf("rankWord(%d, %d) = %q, want %q", tc.rank, tc.n, got, tc.want)
		}
	}
}

// checkMarkdown asserts what every rendering must hold.
func checkMarkdown(t *testing.T, md string, maxBytes int) {
	t.Helper()
	if !strings.HasPrefix(md, Marker+"\n### ") {
		t.Errorf("markdown does not start with the marker and the verdict:\n%.200s", md)
	}
	if maxBytes > 0 && len(md) > maxBytes {
		t.Errorf("markdown is %d bytes, limit %d", len(md), maxBytes)
	}
	if !utf8.ValidString(md) {
		t.Error("markdown is not valid UTF-8")
	}
	// Every table row has as many cell separators as its header: no
	// untrusted text split a cell.
	cols := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("table row has %d separators, header %d: %s", n, cols, line)
		}
	}
	if strings.Count(md, Marker) != 1 {
		t.Errorf("marker appears %d times", strings.Count(md, Marker))
	}
}

func TestMarkdownHostile(t *testing.T) {
	md := Markdown(mustCompute(t, "hostile", Input{}), MarkdownOptions{})
	for _, bad := range []string{"<img", "@octocat", "](http", "http://"} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown contains %q:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, "🔴") {
		t.Errorf("the hostile benchmark's regression is not shown:\n%s", md)
	}
}

func TestMarkdownCut(t *testing.T) {
	in := prInput()
	r := mustCompute(t, "mixed", in)
	full := Markdown(r, MarkdownOptions{})
	for _, limit := range []int{len(full), 4000, 3000, 2000, 1200} {
		md := Markdown(r, MarkdownOptions{MaxBytes: limit})
		checkMarkdown(t, md, limit)
		if limit == len(full) && md != full {
			t.Errorf("limit = full size changed the output")
		}
		if !strings.Contains(md, "https://github.com/natsbench/demo/actions/runs/42") {
			t.Errorf("limit %d: run link lost", limit)
		}
		if !strings.Contains(md, "5 regressions, 3 improvements") {
			t.Errorf("limit %d: verdict lost", limit)
		}
		if limit < len(full) && !strings.Contains(md, "shortened") {
			t.Errorf("limit %d: no note that the report was shortened", limit)
		}
	}
	// The significant table goes last, worst rows kept.
	md := Markdown(r, MarkdownOptions{MaxBytes: 1200})
	if !strings.Contains(md, "more significant change") || !strings.Contains(md, "Allocs-2") {
		t.Errorf("at 1200 bytes want the worst rows and \"…and N more\":\n%s", md)
	}
	// Absolute mode cuts its table of figures the same way.
	_, head := fixture(t, "mixed")
	abs, err := Compute(Input{Head: head, RunURL: in.RunURL})
	if err != nil {
		t.Fatal(err)
	}
	md = Markdown(abs, MarkdownOptions{MaxBytes: 1000})
	checkMarkdown(t, md, 1000)
	if !strings.Contains(md, "more results") || !strings.Contains(md, "measured, no baseline") {
		t.Errorf("absolute at 1000 bytes:\n%s", md)
	}
	// An explicit RunURL wins over the report's, and unsafe URLs are dropped.
	if md := Markdown(r, MarkdownOptions{RunURL: "https://example.com/x"}); !strings.Contains(md, "(https://example.com/x)") {
		t.Errorf("RunURL option ignored")
	}
	r.RunURL = "javascript:alert(1)"
	if md := Markdown(r, MarkdownOptions{}); strings.Contains(md, "javascript") {
		t.Errorf("unsafe run URL rendered")
	}
}

// TestInconclusiveIsTheReason checks that the verdict line counts rows by
// their typed reason, whatever their note says, and that report.json
// brings the reason back.
func TestInconclusiveIsTheReason(t *testing.T) {
	sum := &Summary{N: 3, Center: 10, Low: 9, High: 11}
	rows := []Row{
		{Name: "Noisy", Unit: "sec/op", Base: sum, Head: sum, Verdict: Unchanged, Reason: Noisy, Note: "worded otherwise"},
		{Name: "Claims", Unit: "sec/op", Base: sum, Head: sum, Verdict: Unchanged, Note: "noisy: but no reason"},
	}
	r := &Report{Benchmarks: rows}
	if line := Markdown(r, MarkdownOptions{}); !strings.Contains(line, "1 inconclusive") {
		t.Errorf("want exactly the row with reason Noisy counted:\n%s", line)
	}

	noisy := mustCompute(t, "noisy", Input{})
	var b strings.Builder
	if err := WriteJSON(&b, noisy); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, row := range back.Benchmarks {
		if row.Reason != noisy.Benchmarks[i].Reason {
			t.Errorf("%s %s: reason %q after report.json, computed %q", row.Name, row.Unit, row.Reason, noisy.Benchmarks[i].Reason)
		}
		if row.Reason.Inconclusive() {
			n++
		}
	}
	if n == 0 {
		t.Error("the noisy fixture has no inconclusive row")
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want float64
		cell string
	}{
		{Summary{Center: 100, Low: 90, High: 104}, 10, "10%"},
		// A negative center keeps noisePct's arithmetic (the nearer bound),
		// so that verdicts stay as they were.
		{Summary{Center: -100, Low: -110, High: -95}, 5, "5%"},
		{Summary{Center: 0, Low: 0, High: 0}, 0, "0%"},
		{Summary{Center: 5, Low: math.Inf(-1), High: math.Inf(1)}, math.Inf(1), "∞"},
		{Summary{Center: 5, Low: -1, High: 6}, 120, "?"},
	} {
		if got := tc.s.Spread(); math.Abs(got-tc.want) > 1e-9 && !(math.IsInf(got, 1) && math.IsInf(tc.want, 1)) {
			t.Errorf("%+v.Spread() = %v, want %v", tc.s, got, tc.want)
		}
		if got := pctRange(&tc.s); got != tc.cell {
			t.Errorf("pctRange(%+v) = %q, want %q", tc.s, got, tc.cell)
		}
	}
}
