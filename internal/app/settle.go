package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// Settler judges, with package compare, which benchmarks a sequential
// run may stop, and keeps the rows of each stopped benchmark as the look
// that stopped it decided them, for the final report (compare.Input's
// Stopped). The runner does not import compare, so the two meet here.
type Settler struct {
	opt  compare.Options // its Plan is the run's
	mu   sync.Mutex
	seen map[compare.BenchmarkRef]bool
	rows []compare.Row
}

// NewSettler returns a Settler that judges with opt, whose Plan must be
// the run's.
func NewSettler(opt compare.Options) *Settler {
	return &Settler{opt: opt, seen: map[compare.BenchmarkRef]bool{}}
}

// Settle is the runner's Settle hook: it computes the report of the
// results so far and names the benchmarks whose every row is settled
// (see compare.SettledBenchmarks).
func (s *Settler) Settle(ctx context.Context, round int, base, head []byte) ([]runner.BenchmarkID, error) {
	if base == nil {
		// Nothing is compared without a baseline: nothing settles.
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := compare.Compute(compare.Input{Base: base, Head: head, Options: s.opt})
	if err != nil {
		return nil, fmt.Errorf("comparing the results of %d rounds: %w", round, err)
	}
	settled := compare.SettledBenchmarks(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []runner.BenchmarkID
	for _, b := range settled {
		ids = append(ids, runner.BenchmarkID{Package: b.Package, Name: b.Name})
		if s.seen[b] {
			// Stopped at an earlier look, which decided its rows.
			continue
		}
		s.seen[b] = true
		for _, row := range r.Benchmarks {
			if row.Package == b.Package && compare.TopLevel(row.Name) == b.Name {
				s.rows = append(s.rows, row)
			}
		}
	}
	return ids, nil
}

// Stopped returns the rows of the benchmarks settled so far, as the look
// that settled them decided them.
func (s *Settler) Stopped() []compare.Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]compare.Row(nil), s.rows...)
}
