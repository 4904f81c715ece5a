package changepoint

import (
	"math"
	"slices"
)

// maxSide bounds how many points of each side the shift estimate uses (the
// nearest to the change), so that its cost stays bounded on long segments.
const maxSide = 100

// z975 is the standard normal quantile for a two-sided 95% interval.
const z975 = 1.959963984540054

// shift estimates the change from before to after: the Hodges-Lehmann
// estimate of the shift (the median of all pairwise differences) with its
// distribution-free 95% confidence interval, in percent of the median
// before. When the median before is zero the percentages are relative to
// the median after instead, and zero when both are.
func (d *detector) shift(before, after []float64) Change {
	c := Change{BeforeMedian: median(before), AfterMedian: median(after)}
	if len(before) > maxSide {
		before = before[len(before)-maxSide:]
	}
	if len(after) > maxSide {
		after = after[:maxSide]
	}
	m, k := len(before), len(after)
	d.diffs = d.diffs[:0]
	for _, y := range after {
		for _, x := range before {
			d.diffs = append(d.diffs, y-x)
		}
	}
	n := len(d.diffs)
	// The interval's ends are the C-th smallest and C-th largest
	// differences, C from the normal approximation of the Mann-Whitney
	// statistic's null distribution.
	cidx := int(math.Floor(float64(n)/2 - z975*math.Sqrt(float64(m)*float64(k)*float64(m+k+1)/12)))
	if cidx < 1 {
		cidx = 1
	}
	// Selecting in increasing order leaves each later rank in the part
	// not yet partitioned, so the three selections cost about 2n.
	lo := nth(d.diffs, cidx-1)
	hl := nth(d.diffs, (n-1)/2)
	if n%2 == 0 {
		hl = (hl + nth(d.diffs, n/2)) / 2
	}
	hi := nth(d.diffs, n-cidx)

	base := math.Abs(c.BeforeMedian)
	if base == 0 {
		base = math.Abs(c.AfterMedian)
	}
	if base == 0 {
		return c
	}
	c.ShiftPct, c.Low, c.High = 100*hl/base, 100*lo/base, 100*hi/base
	return c
}

// nth partially sorts s so that s[k] is its k-th smallest element (from
// 0), with nothing larger before it and nothing smaller after, and returns
// it. Pivots are medians of three, so sorted input is no worst case.
func nth(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

// median returns the median of x, which it does not modify.
func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return medianSorted(s)
}

// medianSorted returns the median of the sorted, non-empty s.
func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
