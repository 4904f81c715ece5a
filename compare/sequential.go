package compare

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
)

// Plan is a sequential design: the rows are looked at after every round
// from MinRounds to MaxRounds, and a benchmark whose rows are all settled
// stops running. Its zero value, or MinRounds >= MaxRounds, is the fixed
// design: one look, at the end, at level Alpha.
type Plan struct {
	MinRounds, MaxRounds int
	// Ended, when set below MaxRounds, is the round at which the time
	// budget ended the run: that look is the last, and spends all the
	// alpha the planned looks after it would have (Lan and DeMets allow
	// it, the end being set by the clock, not by the results). 0: the
	// run ended as planned, or a look between rounds is being taken.
	Ended int
}

// Sequential reports whether the plan takes more than one look.
func (p Plan) Sequential() bool { return p.MinRounds > 0 && p.MinRounds < p.MaxRounds }

// levels returns, for the plan and alpha, the two-sided nominal level a
// row with n rounds is tested at: alpha for the fixed design; under a
// sequential one the level of the look at n rounds, from an
// O'Brien-Fleming-type alpha-spending function (docs/STATISTICS.md).
// A row with fewer rounds than MinRounds (a benchmark cut short) gets
// the first look's level, with more than MaxRounds the last one's.
func (p Plan) levels(alpha float64) func(n int) float64 {
	if !p.Sequential() {
		return func(int) float64 { return alpha }
	}
	last := p.MaxRounds
	if p.Ended >= p.MinRounds && p.Ended < p.MaxRounds {
		last = p.Ended
	}
	lv := cachedLevels(alpha, p.MinRounds, p.MaxRounds, last)
	return func(n int) float64 {
		n = min(max(n, p.MinRounds), last)
		return lv[n-p.MinRounds]
	}
}

var levelCache sync.Map // levelKey -> []float64

type levelKey struct {
	alpha          float64
	min, max, last int
}

// cachedLevels are the levels of the looks at minN..last rounds of a plan
// of at most maxN, the look at last spending what is left of alpha.
func cachedLevels(alpha float64, minN, maxN, last int) []float64 {
	k := levelKey{alpha, minN, maxN, last}
	if v, ok := levelCache.Load(k); ok {
		return v.([]float64)
	}
	t := make([]float64, 0, last-minN+1)
	for n := minN; n <= last; n++ {
		t = append(t, float64(n)/float64(maxN))
	}
	c := spendingBoundaries(alpha, t)
	lv := make([]float64, len(c))
	for i, z := range c {
		lv[i] = 2 * upperTail(z)
	}
	levelCache.Store(k, lv)
	return lv
}

// obfSpent is the O'Brien-Fleming-type spending function of Lan and
// DeMets for a two-sided test (α/2 per side, as in their paper and in R's
// ldbounds and gsDesign): the part of alpha spent by information
// fraction t.
func obfSpent(alpha, t float64) float64 {
	if t >= 1 {
		return alpha
	}
	if t <= 0 {
		return 0
	}
	return 4 * upperTail(normalQuantile(1-alpha/4)/math.Sqrt(t))
}

// spendingBoundaries returns the critical values |Z| >= c[k] of a
// two-sided group-sequential test with looks at the information
// fractions t (increasing, up to 1), such that under no change the
// probability of first crossing at look k is obfSpent(t[k]) -
// obfSpent(t[k-1]), and at the last look what is left of alpha: the
// chance of a false alarm at any look is alpha.
//
// The statistic is a Brownian motion S(t) under no change, Z = S(t)/√t
// (a rank test's standardized statistic on growing samples is that,
// asymptotically). The sub-density of S at each look over the paths that
// have not crossed is carried on a grid (Armitage, McPherson and Rowe's
// recursion, with the trapezoidal rule); each boundary is found by
// bisection on the probability of crossing it next.
func spendingBoundaries(alpha float64, t []float64) []float64 {
	c := make([]float64, len(t))
	var xs, fs []float64 // the grid of S and its sub-density at the last look
	prevT, spent := 0.0, 0.0
	for k, tk := range t {
		target := obfSpent(alpha, tk) - spent
		if k == len(t)-1 {
			target = alpha - spent
		}
		sd := math.Sqrt(tk - prevT)
		// cross is the probability of crossing ±b·√tk at this look from
		// the paths still going.
		cross := func(b float64) float64 {
			lim := b * math.Sqrt(tk)
			if k == 0 {
				return 2 * upperTail(lim/sd)
			}
			var g []float64
			for _, x := range xs {
				g = append(g, normalCDF((x-lim)/sd)+normalCDF((-lim-x)/sd))
			}
			return trapezoid(xs, fs, g)
		}
		if target <= 0 {
			c[k] = math.Inf(1)
		} else {
			lo, hi := 0.0, 40.0
			for range 60 {
				mid := (lo + hi) / 2
				if cross(mid) > target {
					lo = mid
				} else {
					hi = mid
				}
			}
			c[k] = hi
		}
		spent += cross(c[k])
		// The sub-density of S(tk) inside the boundary.
		lim := math.Min(c[k], 8) * math.Sqrt(tk)
		// Points close enough for the next look's kernel, whose width is
		// the next increment's deviation.
		step := sd / 8
		if k+1 < len(t) {
			step = math.Sqrt(t[k+1]-tk) / 8
		}
		grid := min(max(int(2*lim/step)+1, 101), 2001)
		nx := make([]float64, grid)
		nf := make([]float64, grid)
		var g []float64
		for i := range nx {
			x := -lim + 2*lim*float64(i)/float64(grid-1)
			nx[i] = x
			if k == 0 {
				nf[i] = normalPDF(x/sd) / sd
				continue
			}
			// The kernel is negligible beyond kernelReach deviations
			// (see there): integrate over the grid points within
			// it, not the whole grid, which made a plan of many looks
			// quadratic in its grid (a report may ask for 1,000).
			from, _ := slices.BinarySearch(xs, x-kernelReach*sd)
			to, _ := slices.BinarySearch(xs, x+kernelReach*sd)
			from, to = max(from-1, 0), min(to+1, len(xs))
			g = g[:0]
			for _, u := range xs[from:to] {
				g = append(g, normalPDF((x-u)/sd)/sd)
			}
			nf[i] = trapezoid(xs[from:to], fs[from:to], g)
		}
		xs, fs, prevT = nx, nf, tk
	}
	return c
}

// kernelReach is how many deviations from its centre the Gaussian kernel
// of the recursion is integrated: exp(-9²/2) is about 2.6e-18.
const kernelReach = 9

// trapezoid integrates f·g over the grid x.
func trapezoid(x, f, g []float64) float64 {
	var s float64
	for i := 1; i < len(x); i++ {
		s += (x[i] - x[i-1]) * (f[i]*g[i] + f[i-1]*g[i-1]) / 2
	}
	return s
}

// upperTail is 1-Φ(z), exact in the far tail too.
func upperTail(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

func normalPDF(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }

// shiftCI is the confidence interval, at level conf, of the change from
// base to head in percent: the Hodges-Lehmann shift of the logs with
// Moses's distribution-free interval, the one the Mann-Whitney U test
// inverts. ok is false when it is unbounded (too few samples for the
// level) or a value is not positive.
func shiftCI(base, head []float64, conf float64) (lo, hi float64, ok bool) {
	n1, n2 := len(base), len(head)
	if n1 == 0 || n2 == 0 {
		return 0, 0, false
	}
	k := uCritical(n1, n2, (1-conf)/2)
	if k < 1 {
		return 0, 0, false
	}
	d := make([]float64, 0, n1*n2)
	for _, b := range base {
		for _, h := range head {
			if !(b > 0) || !(h > 0) || math.IsInf(b, 0) || math.IsInf(h, 0) {
				return 0, 0, false
			}
			d = append(d, math.Log(h)-math.Log(b))
		}
	}
	slices.Sort(d)
	return 100 * math.Expm1(d[k-1]), 100 * math.Expm1(d[len(d)-k]), true
}

// uCritical is the largest k with P(U < k) <= p for the Mann-Whitney U
// statistic of n1 and n2 values under no change: the interval between
// the k-th smallest and k-th largest of the n1·n2 differences covers the
// shift with probability at least 1-2p. Exact for small samples, the
// normal approximation beyond.
func uCritical(n1, n2 int, p float64) int {
	if n1*n2 > 2500 {
		mu := float64(n1*n2) / 2
		sigma := math.Sqrt(float64(n1*n2*(n1+n2+1)) / 12)
		return int(math.Floor(mu + 0.5 + normalQuantile(p)*sigma))
	}
	dist := uDist(n1, n2)
	cum, k := 0.0, 0
	for u, pu := range dist {
		// P(U < u+1) = cum + pu.
		if cum+pu > p {
			break
		}
		cum += pu
		k = u + 1
	}
	return k
}

var uDistCache sync.Map // [2]int -> []float64

// uDist is the null distribution of U for samples of n1 and n2 values:
// P(U = u) for u = 0..n1·n2.
func uDist(n1, n2 int) []float64 {
	key := [2]int{min(n1, n2), max(n1, n2)}
	if v, ok := uDistCache.Load(key); ok {
		return v.([]float64)
	}
	a, b := key[0], key[1]
	// f[j][u]: the number of arrangements of i values of one sample and
	// j of the other with U = u, built up over i.
	f := make([][]float64, b+1)
	for j := range f {
		f[j] = []float64{1}
	}
	for i := 1; i <= a; i++ {
		g := make([][]float64, b+1)
		g[0] = []float64{1}
		for j := 1; j <= b; j++ {
			row := make([]float64, i*j+1)
			// The largest value is from the first sample (adds j to U)
			// or from the second.
			for u, v := range f[j] {
				row[u+j] += v
			}
			for u, v := range g[j-1] {
				row[u] += v
			}
			g[j] = row
		}
		f = g
	}
	dist := f[b]
	var total float64
	for _, v := range dist {
		total += v
	}
	for i := range dist {
		dist[i] /= total
	}
	uDistCache.Store(key, dist)
	return dist
}

// BenchmarkRef names a top-level benchmark as go test does: its package
// and its function's name, "BenchmarkX".
type BenchmarkRef struct {
	Package, Name string
}

// TopLevel is the top-level benchmark function a row's name belongs to,
// as go test names it: "Encode/size=1-8" is "BenchmarkEncode".
func TopLevel(name string) string {
	top, _, _ := strings.Cut(normName(name), "/")
	return "Benchmark" + top
}

// SettledBenchmarks returns the top-level benchmarks of a report computed
// under a sequential Plan whose every row is settled (see Row.Settled),
// or has nothing to decide (added or removed): more rounds of them would
// change no verdict. A benchmark with a failed row is not among them (the
// runner stops failed benchmarks itself). Sorted by package and name.
func SettledBenchmarks(r *Report) []BenchmarkRef {
	settled := map[BenchmarkRef]bool{}
	var order []BenchmarkRef
	for _, row := range r.Benchmarks {
		if row.Name == "" {
			continue
		}
		k := BenchmarkRef{Package: row.Package, Name: TopLevel(row.Name)}
		if _, seen := settled[k]; !seen {
			order = append(order, k)
			settled[k] = true
		}
		done := row.Settled || row.Verdict == Added || row.Verdict == Removed
		settled[k] = settled[k] && done && row.Verdict != Failed
	}
	var out []BenchmarkRef
	for _, k := range order {
		if settled[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b BenchmarkRef) int {
		return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(a.Name, b.Name))
	})
	return out
}

// keepStopped gives the rows that match a stopped row its decision (the
// verdict, reason, note and adjusted p-value of the look that stopped
// it), so that decide leaves them as they are; it returns them, for their
// MDE to be restored after setMDE. A stopped row that does not fit the
// row's samples (see fits) is not kept: the row is decided afresh.
func keepStopped(rows []*work, stopped []Row, opt Options) map[*work]Row {
	if !opt.Plan.Sequential() || len(stopped) == 0 {
		return nil
	}
	type key struct {
		pkg, name, unit string
		rounds          int
	}
	byKey := map[key]Row{}
	for _, r := range stopped {
		if r.Verdict != "" && r.Settled {
			byKey[key{r.Package, r.Name, r.Unit, r.Rounds}] = r
		}
	}
	// The looks' levels: a look is not the last, whose level the time
	// budget may have raised.
	looks := opt.Plan
	looks.Ended = 0
	levelOf := looks.levels(opt.Alpha)
	kept := map[*work]Row{}
	for _, w := range rows {
		r, ok := byKey[key{w.Package, w.Name, w.Unit, w.Rounds}]
		if !ok || w.Verdict != "" || w.Base == nil || w.Head == nil {
			continue
		}
		note, ok := fits(w, r, opt.Threshold, levelOf(w.Rounds))
		if !ok {
			continue
		}
		w.Verdict, w.Reason, w.Note, w.Settled = r.Verdict, r.Reason, note, true
		p := *r.PAdjusted
		w.PAdjusted = &p
		kept[w] = r
	}
	return kept
}

// fits reports whether a stopped row's decision is the one the look at
// level took on w's samples, which are the samples it had then (the
// rounds match), and gives the note that look wrote. Stopped rows may
// come from a shard's report.json, which a pull request's code wrote: a
// row is kept only if its adjusted p-value is one Benjamini-Hochberg can
// give for w's p-value (never below it, at most 1), and its verdict and
// reason are the ones that p-value, w's change and w's samples give at
// level. The note is made anew, not taken from r. Exact rows are not
// kept: their decision takes no test and comes out the same.
func fits(w *work, r Row, threshold, level float64) (note string, ok bool) {
	if w.exact || w.PValue == nil || r.PAdjusted == nil {
		return "", false
	}
	// 1e-9: p·m/rank in floating point may round just below p.
	p := *r.PAdjusted
	if !(p >= *w.PValue*(1-1e-9) && p <= 1) {
		return "", false
	}
	sig := p <= level
	big := w.DeltaPct == nil || math.Abs(*w.DeltaPct) >= threshold
	switch {
	case r.Verdict == Regression || r.Verdict == Improvement:
		want := Regression
		if up := w.Head.Center > w.Base.Center; up == (w.better > 0) {
			want = Improvement
		}
		return "", sig && big && r.Reason == NoReason && r.Verdict == want
	case r.Verdict == Unchanged && r.Reason == BelowThreshold:
		return belowThresholdNote(threshold), sig && !big
	case r.Verdict == Unchanged && r.Reason == Equivalent:
		lo, hi, ok := shiftCI(w.baseVals, w.headVals, 1-level)
		if !ok || sig || lo <= -threshold || hi >= threshold {
			return "", false
		}
		return equivalentNote(lo, hi, 1-level, threshold), true
	}
	return "", false
}

// StoppedRows returns the rows of r, a sequential run's report computed
// under plan, that belong to benchmarks a look before the plan's last
// stopped: every row of the benchmark is settled as r reports it (a
// change, significant but smaller, equivalent, or exact) or has nothing
// to decide, and has fewer rounds than plan.MaxRounds. They are r's
// decisions, for the Stopped of an Input that takes up r's samples again:
// a merge of shards, whose correction across rows spans more rows than
// the shard's looks did. r may be untrusted: Compute keeps a row only if
// it fits the samples it is given. The rows are returned with Settled
// set, which report.json does not carry.
func StoppedRows(r *Report, plan Plan) []Row {
	if !plan.Sequential() {
		return nil
	}
	type bench struct{ pkg, name string }
	stopped := map[bench]bool{}
	for _, row := range r.Benchmarks {
		k := bench{row.Package, TopLevel(row.Name)}
		ok, seen := stopped[k]
		if !seen {
			ok = true
		}
		switch {
		case row.Verdict == Added || row.Verdict == Removed:
		case reportedSettled(row) && row.Rounds >= plan.MinRounds && row.Rounds < plan.MaxRounds:
		default:
			ok = false
		}
		stopped[k] = ok
	}
	var out []Row
	for _, row := range r.Benchmarks {
		if stopped[bench{row.Package, TopLevel(row.Name)}] && reportedSettled(row) {
			row.Settled = true
			out = append(out, row)
		}
	}
	return out
}

// reportedSettled reports whether a row read from report.json says it was
// settled: a change, significant but smaller, equivalent, or an exact row
// (which has a p-value but, out of the tested family, no adjusted one).
func reportedSettled(r Row) bool {
	if r.Base == nil || r.Head == nil {
		return false
	}
	switch {
	case r.Verdict == Regression || r.Verdict == Improvement:
		return true
	case r.Verdict != Unchanged:
		return false
	case r.Reason == BelowThreshold || r.Reason == Equivalent:
		return true
	}
	return r.Reason == NoReason && r.PValue != nil && r.PAdjusted == nil
}
