// Package changepoint finds the points where a benchmark's history shifted
// persistently, and says by how much and how surely.
//
// It is pure computation: a series of points in, change points out, no I/O.
// The method is the E-divisive procedure of Matteson and James (2014), as
// used by MongoDB's performance CI and Apache Otava: recursive bisection of
// the series at the split that best separates the two sides, each split kept
// only if a permutation test finds it significant and both sides have at
// least a minimum number of points. The divergence between the two sides is
// measured on ranks (a standardised Mann-Whitney statistic) instead of the
// energy distance on raw values, so that a single outlier weighs no more than
// any other point and one permutation costs O(n) instead of O(n²).
// docs/CHANGEPOINTS.md explains the choice and the measured precision and
// recall.
//
// Points of different environments (CPU model, Go version, GOMAXPROCS, as one
// opaque key) are never compared: each environment's points form their own
// series, so a change of environment is never reported as a change point.
package changepoint

import (
	"fmt"
	"math"
	"slices"
)

// Defaults used when an Options field is zero.
const (
	DefaultMinSegment   = 5
	DefaultAlpha        = 0.01
	DefaultPermutations = 199
)

// Point is one record of a series: a benchmark's center (for example its
// median ns/op in one run) and the key of the environment that measured it.
type Point struct {
	Value float64
	Env   string
}

// Options tunes Detect. The zero value of MinSegment, Alpha and Permutations
// means the default; MinShiftPct zero reports every significant change.
type Options struct {
	// MinSegment is the fewest points each side of a change point must
	// have (at least 2): a change needs that many runs after it to be seen.
	MinSegment int
	// Alpha is the significance level of each split's permutation test,
	// in (0, 1).
	Alpha float64
	// MinShiftPct drops changes whose estimated shift is smaller than this
	// many percent in absolute value. A change with no shift at all (of
	// the spread alone) is never reported.
	MinShiftPct float64
	// Permutations is the number of permutations per test; it must allow a
	// p-value of at most Alpha, that is (1+Permutations)*Alpha >= 1.
	Permutations int
	// Seed makes the permutation tests reproducible: the same points and
	// options always give the same changes.
	Seed uint64
}

// Change is one change point. Before and After index the points given to
// Detect: the last point before the change and the first after it, both of
// the same environment (they need not be adjacent when environments
// interleave).
type Change struct {
	Before, After int
	// ShiftPct is the shift of the level after the change relative to the
	// level before it, in percent (positive: the values grew). It is the
	// Hodges-Lehmann estimate (the median of all after-minus-before
	// differences) over the median before.
	ShiftPct float64
	// Low and High bound ShiftPct with 95% confidence (a distribution-free
	// interval from the Mann-Whitney order statistics).
	Low, High float64
	// PValue is the permutation test's p-value for this split.
	PValue float64
	// BeforeMedian and AfterMedian are the medians of the segments on each
	// side, bounded by the neighbouring change points.
	BeforeMedian, AfterMedian float64
}

// Detect returns the change points of points, in the order of their After
// index. It returns an error, naming the problem, for invalid options or a
// value that is NaN or infinite.
func Detect(points []Point, opt Options) ([]Change, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	for i, p := range points {
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return nil, fmt.Errorf("changepoint: point %d (env %q) has value %v, want a finite number", i, p.Env, p.Value)
		}
	}

	// Group by environment, keeping each group's points in series order and
	// the groups in order of first appearance, so output is deterministic.
	var envs []string
	groups := map[string][]int{}
	for i, p := range points {
		if _, ok := groups[p.Env]; !ok {
			envs = append(envs, p.Env)
		}
		groups[p.Env] = append(groups[p.Env], i)
	}

	var out []Change
	var d detector
	for _, env := range envs {
		idx := groups[env]
		vals := make([]float64, len(idx))
		for j, i := range idx {
			vals[j] = points[i].Value
		}
		for _, c := range d.series(vals, opt) {
			c.Before, c.After = idx[c.Before], idx[c.After]
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		if a.After != b.After {
			return a.After - b.After
		}
		return a.Before - b.Before
	})
	return out, nil
}

// withDefaults fills zero fields and checks the result.
func (o Options) withDefaults() (Options, error) {
	if o.MinSegment == 0 {
		o.MinSegment = DefaultMinSegment
	}
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Permutations == 0 {
		o.Permutations = DefaultPermutations
	}
	switch {
	case o.MinSegment < 2:
		return o, fmt.Errorf("changepoint: option MinSegment is %d, want at least 2", o.MinSegment)
	case math.IsNaN(o.Alpha) || o.Alpha <= 0 || o.Alpha >= 1:
		return o, fmt.Errorf("changepoint: option Alpha is %v, want a number between 0 and 1", o.Alpha)
	case math.IsNaN(o.MinShiftPct) || math.IsInf(o.MinShiftPct, 0) || o.MinShiftPct < 0:
		return o, fmt.Errorf("changepoint: option MinShiftPct is %v, want a finite number of at least 0", o.MinShiftPct)
	case o.Permutations < 0:
		return o, fmt.Errorf("changepoint: option Permutations is %d, want at least 1", o.Permutations)
	case float64(o.Permutations+1)*o.Alpha < 1:
		return o, fmt.Errorf("changepoint: option Permutations is %d, too few to reach a p-value of Alpha %v (want at least %d)",
			o.Permutations, o.Alpha, int(math.Ceil(1/o.Alpha))-1)
	case o.Permutations > 100000:
		return o, fmt.Errorf("changepoint: option Permutations is %d, want at most 100000", o.Permutations)
	}
	return o, nil
}
