package changepoint

import (
	"math"
	"math/rand/v2"
	"slices"
)

// detector holds buffers reused across the tests of one Detect call.
type detector struct {
	order      []int
	ranks      []float64
	perm       []float64
	prefix     []float64
	inv        []float64
	weight     []float64
	windows    []int
	wideWeight []float64
	diffs      []float64
	blocks     []int
	border     []int
}

// split is a significant split of one environment's series: the first
// point of the right side, and the test's p-value.
type split struct {
	at int
	p  float64
}

// series finds the change points of one environment's values; Before and
// After of the result index vals.
func (d *detector) series(vals []float64, opt Options) []Change {
	var splits []split
	type seg struct{ lo, hi int }
	stack := []seg{{0, len(vals)}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.hi-s.lo < 2*opt.MinSegment {
			continue
		}
		// Seeding each test by its segment keeps a segment's result
		// independent of the order in which segments are visited.
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(s.lo)<<32|uint64(s.hi)))
		t, p, ok := d.test(vals[s.lo:s.hi], opt, rng)
		if !ok {
			continue
		}
		splits = append(splits, split{s.lo + t, p})
		stack = append(stack, seg{s.lo, s.lo + t}, seg{s.lo + t, s.hi})
	}
	slices.SortFunc(splits, func(a, b split) int { return a.at - b.at })
	d.refine(vals, splits, opt.MinSegment)

	var out []Change
	for i, sp := range splits {
		lo, hi := 0, len(vals)
		if i > 0 {
			lo = splits[i-1].at
		}
		if i+1 < len(splits) {
			hi = splits[i+1].at
		}
		c := d.shift(vals[lo:sp.at], vals[sp.at:hi])
		if math.Abs(c.ShiftPct) < opt.MinShiftPct || c.ShiftPct == 0 {
			continue
		}
		c.Before, c.After, c.PValue = sp.at-1, sp.at, sp.p
		out = append(out, c)
	}
	return out
}

// refine moves each split to the best place between its neighbours. A
// split found in a segment that holds several changes is pulled towards the
// others; between its neighbours it sees its own change alone.
func (d *detector) refine(vals []float64, splits []split, minSeg int) {
	for range 3 {
		moved := false
		for i := range splits {
			lo, hi := 0, len(vals)
			if i > 0 {
				lo = splits[i-1].at
			}
			if i+1 < len(splits) {
				hi = splits[i+1].at
			}
			x := vals[lo:hi]
			d.rank(x)
			d.setWeights(len(x), minSeg)
			if _, t := d.scan(d.ranks, minSeg, false); t > 0 && lo+t != splits[i].at {
				splits[i].at = lo + t
				moved = true
			}
		}
		if !moved {
			return
		}
	}
}

// setWeights precomputes, for n points, the reciprocals 1/k and the
// standardising weights sqrt(ab/(a+b)) of every comparison scan makes.
func (d *detector) setWeights(n, minSeg int) {
	d.inv = slices.Grow(d.inv[:0], n+1)[:n+1]
	for k := 1; k <= n; k++ {
		d.inv[k] = 1 / float64(k)
	}
	d.weight = slices.Grow(d.weight[:0], n+1)[:n+1]
	for t := minSeg; t <= n-minSeg; t++ {
		d.weight[t] = math.Sqrt(float64(t) * float64(n-t) / float64(n))
	}
	d.windows = d.windows[:0]
	for w := 2 * minSeg; w < n-minSeg; w *= 2 {
		d.windows = append(d.windows, w)
	}
	d.wideWeight = slices.Grow(d.wideWeight[:0], len(d.windows)*(n+1))[:len(d.windows)*(n+1)]
	for j, w := range d.windows {
		for t := minSeg; t+w < n; t++ {
			d.wideWeight[j*(n+1)+t] = math.Sqrt(float64(t) * float64(w) / float64(t+w))
		}
	}
}

// test finds the best split of x (the size of its left side) and whether a
// permutation test finds it significant at opt.Alpha.
//
// The statistic compares the mean rank of the left side [0, t) with that
// of a right side, standardised by its standard deviation under
// exchangeability (up to a factor common to all comparisons): a
// Mann-Whitney statistic. As in E-divisive, the right side is either the
// rest of the segment or a shorter window [t, t+w), w = 2, 4, 8...
// MinSegment points, so that a short excursion that comes back (up for 20
// runs, then down again) is found although it leaves the two halves of the
// segment alike. The maximum over all comparisons is compared with the
// maxima of random permutations of the same ranks, which makes the test
// exact whatever the shape of the noise. The test stops early once the
// p-value can no longer reach Alpha, which on a series with no change
// happens after a handful of permutations.
func (d *detector) test(x []float64, opt Options, rng *rand.Rand) (t int, p float64, ok bool) {
	n := len(x)
	d.rank(x)
	d.setWeights(n, opt.MinSegment)
	obs, t := d.scan(d.ranks, opt.MinSegment, true)
	if obs == 0 {
		return 0, 1, false
	}
	if at, ok := levels(x, t, opt.MinSegment); ok {
		return at, 1 / float64(opt.Permutations+1), true
	}
	d.perm = slices.Grow(d.perm[:0], n)[:n]
	limit := opt.Alpha*float64(opt.Permutations+1) - 1
	// A permutation ties the observed maximum when it is equal up to
	// rounding; counting ties as exceedances keeps the test conservative.
	tol := obs * (1 - 1e-9)
	exceed := 0
	for range opt.Permutations {
		d.shuffle(rng, blockLen)
		if m, _ := d.scan(d.perm, opt.MinSegment, true); m >= tol {
			exceed++
			if float64(exceed) > limit {
				return t, 1, false
			}
		}
	}
	return t, float64(1+exceed) / float64(opt.Permutations+1), true
}

// levels reports whether x is deterministic, as B/op and allocs/op
// nearly are: runs of equal values (within levelTolerance of the run's
// first value: a median of B/op can be 12309.5 for 12288), each at least
// minSeg long, at least two of them. Every boundary between such runs is a
// change with no noise around it, and no permutation of the values is as
// extreme as the series itself, so the test would only be limited by how
// few distinct block arrangements a short series has. It returns the
// boundary nearest to best (the scan's split).
func levels(x []float64, best, minSeg int) (at int, ok bool) {
	at = -1
	start := 0
	for i := 1; i <= len(x); i++ {
		if i < len(x) && math.Abs(x[i]-x[start]) <= levelTolerance*math.Abs(x[start]) {
			continue
		}
		if i-start < minSeg {
			return 0, false
		}
		if start > 0 && (at < 0 || abs(start-best) < abs(at-best)) {
			at = start
		}
		start = i
	}
	return at, at > 0
}

// levelTolerance is the relative difference under which two figures are
// the same level: a tenth of the action's default threshold (5%), and
// above what the testing package's own allocations add to a median of
// B/op on a loaded machine (0.17% was seen). A series whose noise is this
// small is as good as deterministic: a change found this way is many
// noise deviations large, and the threshold drops the small ones.
const levelTolerance = 5e-3

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// blockLen is the length of the blocks of consecutive points that the
// permutations move as a whole. Benchmark noise is often autocorrelated (a
// runner slow for a few days); permuting single points would take such a
// spell for a change. Blocks of 3 keep the false change points on AR(1)
// noise with coefficient 0.5 at the rate of independent noise, for a loss
// of recall of about one point (docs/CHANGEPOINTS.md).
const blockLen = 3

// shuffle fills d.perm with d.ranks cut into blocks of b consecutive points,
// the first block shorter by a random offset, the blocks in random order.
func (d *detector) shuffle(rng *rand.Rand, b int) {
	n := len(d.ranks)
	d.blocks = d.blocks[:0]
	for start := -rng.IntN(b); start < n; start += b {
		d.blocks = append(d.blocks, max(start, 0))
	}
	d.blocks = append(d.blocks, n)
	nb := len(d.blocks) - 1
	d.border = slices.Grow(d.border[:0], nb)[:nb]
	for i := range d.border {
		d.border[i] = i
	}
	rng.Shuffle(nb, func(i, j int) { d.border[i], d.border[j] = d.border[j], d.border[i] })
	out := d.perm[:0]
	for _, k := range d.border {
		out = append(out, d.ranks[d.blocks[k]:d.blocks[k+1]]...)
	}
}

// scan returns the largest standardised difference of mean ranks over the
// splits that leave at least minSeg points each side, and where it is (the
// first such split when several tie). With wide false it compares only the
// two sides of each split; with wide true also each left side with the
// windows that follow it. setWeights(len(r), minSeg) must have been called.
func (d *detector) scan(r []float64, minSeg int, wide bool) (best float64, at int) {
	n := len(r)
	d.prefix = slices.Grow(d.prefix[:0], n+1)[:n+1]
	P := d.prefix
	P[0] = 0
	for i, v := range r {
		P[i+1] = P[i] + v
	}
	inv, total := d.inv, P[n]
	for t := minSeg; t <= n-minSeg; t++ {
		v := math.Abs(P[t]*inv[t]-(total-P[t])*inv[n-t]) * d.weight[t]
		if v > best {
			best, at = v, t
		}
	}
	if !wide {
		return best, at
	}
	// One window length at a time, so that the loop runs over contiguous
	// memory; ties keep the earliest split as above.
	for j, w := range d.windows {
		ww := d.wideWeight[j*(n+1) : (j+1)*(n+1)]
		iw := inv[w]
		for t := minSeg; t+w < n; t++ {
			v := math.Abs(P[t]*inv[t]-(P[t+w]-P[t])*iw) * ww[t]
			if v > best || (v == best && t < at) {
				best, at = v, t
			}
		}
	}
	return best, at
}

// rank fills d.ranks with the mid-ranks (1-based, ties share their mean
// rank) of x.
func (d *detector) rank(x []float64) {
	n := len(x)
	d.order = slices.Grow(d.order[:0], n)[:n]
	for i := range d.order {
		d.order[i] = i
	}
	slices.SortStableFunc(d.order, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	d.ranks = slices.Grow(d.ranks[:0], n)[:n]
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[d.order[j]] == x[d.order[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of the 1-based ranks i+1..j
		for k := i; k < j; k++ {
			d.ranks[d.order[k]] = mid
		}
		i = j
	}
}
