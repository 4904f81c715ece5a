package changepoint

import (
	"math"
	"math/rand/v2"
	"slices"
)

// detector holds buffers reused across the tests of one Detect call.
type detector struct {
	order  []int
	ranks  []float64
	perm   []float64
	weight []float64
	diffs  []float64
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

// test finds the best split of x (the size of its left side) and whether a
// permutation test finds it significant at opt.Alpha.
//
// The statistic at split t is the Mann-Whitney rank sum of the left side,
// centred and divided by its standard deviation under exchangeability (up
// to a factor common to all t): |S_t - t(n+1)/2| / sqrt(t(n-t)). Its maximum
// over the admissible t is compared with the maxima of random permutations
// of the same ranks, which makes the test exact whatever the shape of the
// noise. The test stops early once the p-value can no longer reach Alpha,
// which on a series with no change happens after a handful of permutations.
func (d *detector) test(x []float64, opt Options, rng *rand.Rand) (t int, p float64, ok bool) {
	n := len(x)
	d.rank(x)
	d.weight = slices.Grow(d.weight[:0], n)[:n]
	for i := opt.MinSegment; i <= n-opt.MinSegment; i++ {
		d.weight[i] = 1 / math.Sqrt(float64(i)*float64(n-i))
	}
	obs, t := d.scan(d.ranks, opt.MinSegment)
	if obs == 0 {
		return 0, 1, false
	}
	d.perm = append(d.perm[:0], d.ranks...)
	limit := opt.Alpha*float64(opt.Permutations+1) - 1
	// A permutation ties the observed maximum when it is equal up to
	// rounding; counting ties as exceedances keeps the test conservative.
	tol := obs * (1 - 1e-9)
	exceed := 0
	for range opt.Permutations {
		rng.Shuffle(n, func(i, j int) { d.perm[i], d.perm[j] = d.perm[j], d.perm[i] })
		if m, _ := d.scan(d.perm, opt.MinSegment); m >= tol {
			exceed++
			if float64(exceed) > limit {
				return t, 1, false
			}
		}
	}
	return t, float64(1+exceed) / float64(opt.Permutations+1), true
}

// scan returns the largest standardised rank-sum statistic over the splits
// that leave at least minSeg points each side, and where it is (the first
// such split when several tie).
func (d *detector) scan(r []float64, minSeg int) (best float64, at int) {
	n := len(r)
	mean := float64(n+1) / 2
	var sum float64
	for i := 0; i < minSeg-1; i++ {
		sum += r[i]
	}
	for i := minSeg; i <= n-minSeg; i++ {
		sum += r[i-1]
		v := math.Abs(sum-float64(i)*mean) * d.weight[i]
		if v > best {
			best, at = v, i
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
