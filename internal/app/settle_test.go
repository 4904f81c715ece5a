package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/compare"
)

// TestSequentialRunReportsRounds runs the pipeline with min-count below
// count on the A/A fixture: every compared row says how many rounds it
// got, between min-count and count, and the comment shows them.
func TestSequentialRunReportsRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real benchmarks")
	}
	dir, base := fixtureRepo(t, baseSide, baseSide)
	flags := map[string]string{"count": "6", "min-count": "3", "benchtime": "1x", "bench": "^Benchmark(SameA|Allocs)$", "nats": "false"}
	cfg, err := parseConfig(fromFlag, func(s string) string { return flags[s] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.OutputDir = t.TempDir()
	var progress bytes.Buffer
	rep, res, err := measure(t.Context(), cfg, dir, base, &progress, links{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	if rep.Config.MinCount != 3 || rep.Config.Count != 6 {
		t.Errorf("report config %+v, want min_count 3 and count 6", rep.Config)
	}
	settledAt := map[string]int{}
	for _, s := range res.Settled {
		settledAt[strings.TrimPrefix(s.Name, "Benchmark")] = s.Rounds
	}
	rows := 0
	for _, r := range rep.Benchmarks {
		if r.Base == nil || r.Head == nil {
			t.Errorf("%s %s: %s without both sides", r.Name, r.Unit, r.Verdict)
			continue
		}
		rows++
		want := res.Rounds
		if n, ok := settledAt[procsSuffix.ReplaceAllString(r.Name, "")]; ok {
			want = n
		}
		if r.Rounds < 3 || r.Rounds > 6 || r.Rounds != min(r.Base.N, r.Head.N) || r.Rounds != want {
			t.Errorf("%s %s: rounds %d (n %d+%d), want %d", r.Name, r.Unit, r.Rounds, r.Base.N, r.Head.N, want)
		}
		// A/A: no change is ever found.
		if r.Verdict != compare.Unchanged {
			t.Errorf("%s %s: %s, want unchanged (note %q)", r.Name, r.Unit, r.Verdict, r.Note)
		}
	}
	if rows == 0 {
		t.Fatal("no rows")
	}
	md := compare.Markdown(rep, compare.MarkdownOptions{})
	for _, want := range []string{"3–6 runs × 1x, interleaved, each benchmark stopped once its rows were settled", "| Rounds |"} {
		if !strings.Contains(md, want) {
			t.Errorf("comment lacks %q:\n%s", want, md)
		}
	}
	var js bytes.Buffer
	if err := compare.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"min_count": 3`, `"rounds": `} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("report.json lacks %q", want)
		}
	}
}
