package app

import (
	"context"
	"fmt"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// Settle is the runner's Settle hook of a sequential run, judged by
// package compare with opt (whose Plan must be the run's): between
// rounds it computes the report of the results so far and names the
// benchmarks whose every row is settled (see compare.SettledBenchmarks).
// The runner does not import compare, so the two meet here.
func Settle(opt compare.Options) runner.SettleFunc {
	return func(ctx context.Context, round int, base, head []byte) ([]runner.BenchmarkID, error) {
		if base == nil {
			// Nothing is compared without a baseline: nothing settles.
			return nil, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := compare.Compute(compare.Input{Base: base, Head: head, Options: opt})
		if err != nil {
			return nil, fmt.Errorf("comparing the results of %d rounds: %w", round, err)
		}
		var ids []runner.BenchmarkID
		for _, b := range compare.SettledBenchmarks(r) {
			ids = append(ids, runner.BenchmarkID{Package: b.Package, Name: b.Name})
		}
		return ids, nil
	}
}
