package runner

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"
)

// TestRunSequential runs the fixture's package a sequentially, with a
// Settle hook in place of the statistics, and checks which benchmark ran
// how many rounds.
func TestRunSequential(t *testing.T) {
	f := sharedFixture(t)
	same := BenchmarkID{Package: "example.com/fixture/a", Name: "BenchmarkSame"}
	changed := BenchmarkID{Package: "example.com/fixture/a", Name: "BenchmarkChanged"}
	cases := []struct {
		name        string
		budget      time.Duration
		settle      []BenchmarkID // what the hook returns from round 2 on
		rounds      int
		want        map[string]int // results per side
		settled     []SettledBenchmark
		budgetSpent bool
	}{
		{
			name:   "a settled benchmark stops after min-count, the other runs to count",
			settle: []BenchmarkID{same}, rounds: 4,
			want:    map[string]int{"example.com/fixture/a Changed": 4, "example.com/fixture/a Same": 2},
			settled: []SettledBenchmark{{BenchmarkID: same, Rounds: 2}},
		},
		{
			name:   "when every benchmark is settled the run ends",
			settle: []BenchmarkID{same, changed}, rounds: 2,
			want:    map[string]int{"example.com/fixture/a Changed": 2, "example.com/fixture/a Same": 2},
			settled: []SettledBenchmark{{BenchmarkID: changed, Rounds: 2}, {BenchmarkID: same, Rounds: 2}},
		},
		{
			name:   "a spent time budget ends the run, but not before min-count",
			budget: time.Nanosecond, rounds: 2,
			want:        map[string]int{"example.com/fixture/a Changed": 2, "example.com/fixture/a Same": 2},
			budgetSpent: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls []int
			var progress bytes.Buffer
			res, err := Run(t.Context(), Config{
				Dir: f.dir, Packages: []string{"./a"}, Bench: "^Benchmark(Changed|Same)$",
				Count: 4, MinCount: 2, TimeBudget: c.budget, Benchtime: "1x",
				Baseline: f.baseSHA, OutputDir: t.TempDir(), Progress: &progress,
				Settle: func(ctx context.Context, round int, base, head []byte) ([]BenchmarkID, error) {
					calls = append(calls, round)
					// The hook sees every result so far, on both sides.
					want := map[string]int{"example.com/fixture/a Changed": round, "example.com/fixture/a Same": min(round, 2)}
					for side, data := range map[Side][]byte{Base: base, Head: head} {
						if got := counts(t, data); !mapsEqual(got, want) {
							t.Errorf("round %d: the hook got %s results %v, want %v", round, side, got, want)
						}
					}
					return c.settle, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(progress.String())
			for side, data := range map[Side][]byte{Base: res.Base, Head: res.Head} {
				if got := counts(t, data); !mapsEqual(got, c.want) {
					t.Errorf("%s results = %v, want %v", side, got, c.want)
				}
			}
			if res.Rounds != c.rounds || res.BudgetSpent != c.budgetSpent {
				t.Errorf("rounds %d, budget spent %v; want %d, %v", res.Rounds, res.BudgetSpent, c.rounds, c.budgetSpent)
			}
			if !slices.Equal(res.Settled, c.settled) {
				t.Errorf("settled = %v, want %v", res.Settled, c.settled)
			}
			// Asked after rounds 2 and 3 (never after the last), unless
			// the run ended first.
			wantCalls := []int{2, 3}
			if c.rounds == 2 {
				wantCalls = []int{2}
			}
			if c.budgetSpent {
				wantCalls = []int{2}
			}
			if !slices.Equal(calls, wantCalls) {
				t.Errorf("hook called after rounds %v, want %v", calls, wantCalls)
			}
		})
	}
}
