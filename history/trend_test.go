package history

import (
	"flag"
	"fmt"
	"github.com/natsbench/natsbench-action/internal/testutil"
	"regexp"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/compare"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, name, got, *update)
}

// hostileName tries to end a Mermaid string, start a directive, add a
// series, close the code fence and inject markdown and HTML.
const hostileName = "BenchmarkX\"]\n    line [1]\n%%{init: {}}%%\n```\n<img src=x onerror=alert(1)>|@octocat#quot;"

// trendHistory is 12 runs of three rows: Steady stays, Slower grows 1%
// a run, and Hostile has a hostile name and halves over the runs. The
// environment changes after run 3: the runs before are not in the trends.
func trendHistory(t *testing.T) *History {
	t.Helper()
	env0 := Env{CPU: "Old CPU", GOMAXPROCS: 2, GoVersion: "go1.25.0", GOOS: "linux", GOARCH: "amd64"}
	h := &History{}
	for i := range 12 {
		env := env1
		if i < 3 {
			env = env0
		}
		grow := 1 + 0.01*float64(i)
		half := 1 - 0.05*float64(i-3)
		row := func(name string, v float64) Row {
			return Row{Package: "example.com/m/p", Name: name, Unit: "sec/op", N: 10, Center: v, Low: v * 0.98, High: v * 1.02}
		}
		h.Records = append(h.Records, record(t, i, env,
			row("BenchmarkSteady", 1e-6), row("BenchmarkSlower", 2e-6*grow), row(hostileName, 5e-6*half)))
	}
	// A base record is not part of the default branch's trend.
	base := record(t, 20, env1, Row{Package: "example.com/m/p", Name: "BenchmarkSlower", Unit: "sec/op", N: 10, Center: 1, Low: 1, High: 1})
	base.ID, base.Side = "base-only", SideBase
	h.Records = append(h.Records, base)
	return h
}

func TestTrends(t *testing.T) {
	h := trendHistory(t)
	key := func(name string) compare.TrendKey {
		return compare.TrendKey{Package: "example.com/m/p", Name: name, Unit: "sec/op"}
	}
	baseSHA := fmt.Sprintf("%040x", 8+1) // run 8's commit
	got := h.Trends([]compare.TrendKey{key("BenchmarkSlower"), key("BenchmarkSteady"), key("BenchmarkNone")}, baseSHA)
	if len(got) != 2 {
		t.Fatalf("trends for %d rows, want 2: %v", len(got), got)
	}
	slower := got[key("BenchmarkSlower")]
	// Runs 3..11 are in the current environment: 9 points, run 8 is the
	// 6th, and the 4th highest (runs 9, 10, 11 are higher).
	if want := (compare.Trend{Spark: "▁▂▃▄▅▅▆▇█", N: 9, BaseAt: 6, BaseRank: 4}); slower != want {
		t.Errorf("Slower: %+v, want %+v", slower, want)
	}
	if steady := got[key("BenchmarkSteady")]; steady.N != 9 || steady.BaseAt != 6 || steady.BaseRank != 1 {
		t.Errorf("Steady: %+v", steady)
	}
	if tr := h.Trends([]compare.TrendKey{key("BenchmarkSlower")}, "ffffffffff")[key("BenchmarkSlower")]; tr.BaseAt != 0 || tr.N != 9 {
		t.Errorf("a base not in the history: %+v", tr)
	}
}

func TestSummary(t *testing.T) {
	md := Summary(trendHistory(t), SummaryOptions{Charts: 2})
	golden(t, "summary", md)
	// Each chart is one fenced block of exactly the four statements.
	blocks := regexp.MustCompile("(?s)```mermaid\n(.*?)```\n").FindAllStringSubmatch(md, -1)
	if len(blocks) != 2 {
		t.Fatalf("%d mermaid blocks, want 2:\n%s", len(blocks), md)
	}
	stmt := regexp.MustCompile(`^    (title "[^"\n]*"|x-axis \["[^"\n]*"(, "[^"\n]*")*\]|y-axis "[^"\n]*" -?[0-9]+ --> -?[0-9]+|line \[[0-9., -]+\])$`)
	for _, b := range blocks {
		lines := strings.Split(strings.TrimSuffix(b[1], "\n"), "\n")
		if len(lines) != 5 || lines[0] != "xychart-beta" {
			t.Errorf("chart is not xychart-beta and four statements:\n%s", b[1])
			continue
		}
		for _, l := range lines[1:] {
			if !stmt.MatchString(l) {
				t.Errorf("unexpected chart line %q", l)
			}
		}
	}
	if strings.Count(md, "```") != 4 {
		t.Errorf("%d fences, want 4: a name closed one", strings.Count(md, "```"))
	}
	for _, b := range blocks {
		if strings.Contains(b[1], "#quot;") || strings.Contains(b[1], "%%") {
			t.Errorf("a chart holds a Mermaid entity or directive:\n%s", b[1])
		}
	}
	for _, bad := range []string{"<img", "%%{", "@octocat"} {
		if strings.Contains(md, bad) {
			t.Errorf("summary holds %q:\n%s", bad, md)
		}
	}
	// The hostile row halved: it moved most and heads the table.
	if !strings.Contains(md, "title \"BenchmarkX___    line _1_____init_") {
		t.Errorf("the hostile row's chart title is not defused:\n%s", md)
	}
	if Summary(&History{Records: trendHistory(t).Records[:1]}, SummaryOptions{}) != "" {
		t.Error("a history of one run has a summary")
	}
}

func TestMermaidText(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkGet/size=1KiB-8":  "BenchmarkGet/size=1KiB-8",
		"a\"b]c\nd%%e`f#g;h<i>j":    "a_b_c_d__e_f_g_h_i_j",
		"Привет/世界":                 "Привет/世界",
		"zero\u200bwidth\u2028line": "zero_width_line",
		strings.Repeat("x", 10):     "xxxx…",
	} {
		n := 100
		if len(in) == 10 {
			n = 4
		}
		if got := MermaidText(in, n); got != want {
			t.Errorf("MermaidText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlainTable(t *testing.T) {
	out := PlainTable(trendHistory(t).Movers())
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 4 {
		t.Errorf("%d lines, want a header and 3 rows:\n%s", len(lines), out)
	}
	if strings.ContainsAny(out, "\x1b\r") || strings.Count(out, "\n") != 4 {
		t.Errorf("a name broke its line:\n%s", out)
	}
}
