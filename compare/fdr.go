package compare

import "sort"

// adjustBH returns Benjamini-Hochberg adjusted p-values, in the order of
// p: adjusted p(i) = min over j >= i of p(j)*m/j for the ascending order,
// capped at 1. A row is significant at false discovery rate q if its
// adjusted p-value is <= q.
func adjustBH(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, m)
	running := 1.0
	for rank := m; rank >= 1; rank-- {
		i := idx[rank-1]
		v := p[i] * float64(m) / float64(rank)
		if v < running {
			running = v
		}
		out[i] = running
	}
	return out
}

// adjust fills in PAdjusted for every row that has a p-value; the family
// is all rows tested in this report, failed rows and rows compared
// exactly (deterministic units, decided without a test) excepted.
func adjust(rows []*work) {
	var ps []float64
	var tested []*work
	for _, w := range rows {
		if w.PValue != nil && w.Verdict != Failed && !w.exact {
			ps = append(ps, *w.PValue)
			tested = append(tested, w)
		}
	}
	for i, q := range adjustBH(ps) {
		q := q
		tested[i].PAdjusted = &q
	}
}
