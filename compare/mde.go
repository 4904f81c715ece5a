package compare

import (
	"math"
	"slices"
)

// Power is the probability with which a row's minimum detectable effect
// (Row.MDEPct) would have been detected: a change of that size would have
// come out significant in 80% of runs like this one.
const Power = 0.8

// setMDE fills in MDEPct for every compared row: the smallest change this
// run could have detected at the row's level after the Benjamini-Hochberg
// correction (and, in a sequential run, at its look's level), with
// probability Power. See docs/STATISTICS.md.
func setMDE(rows []*work) {
	padj, own := make([]*float64, len(rows)), make([]float64, len(rows))
	for i, w := range rows {
		padj[i], own[i] = w.PAdjusted, w.level
	}
	levels := correctedLevels(padj, own)
	// The separation bound depends on n1 and n2 only, and costs a few
	// milliseconds: rows mostly share their n.
	seps := map[[2]int]float64{}
	sep := func(n1, n2 int) float64 {
		k := [2]int{n1, n2}
		if v, ok := seps[k]; ok {
			return v
		}
		v := separationShift(n1, n2)
		seps[k] = v
		return v
	}
	for i, w := range rows {
		if w.Verdict == Failed || w.Base == nil || w.Head == nil {
			continue
		}
		if w.exact {
			// Decided without a test: any difference would have shown.
			zero := 0.0
			w.MDEPct = &zero
			continue
		}
		if w.PAdjusted == nil {
			continue
		}
		if v := mdePct(w.baseVals, w.headVals, levels[i], sep); !math.IsInf(v, 0) && !math.IsNaN(v) {
			w.MDEPct = &v
		}
	}
}

// correctedLevels returns the level at which each row is significant
// after the Benjamini-Hochberg correction, with the other rows' adjusted
// p-values as they are (rowLevel). own[i] is row i's level before the
// correction (α, or in a sequential run its look's), padj[i] its adjusted
// p-value; a row without one is outside the tested family and keeps its
// own level. A row's MDE and the rounds the advice gives it are both at
// this level, so that the advice asks for what the MDE measures.
func correctedLevels(padj []*float64, own []float64) []float64 {
	m, r := 0, 0
	for i, p := range padj {
		if p != nil {
			m++
			if *p <= own[i] {
				r++
			}
		}
	}
	out := make([]float64, len(padj))
	for i, p := range padj {
		out[i] = own[i]
		if p != nil {
			out[i] = rowLevel(own[i], m, r, *p <= own[i])
		}
	}
	return out
}

// reportLevels returns each row's level before the correction, as Compute
// tested it, from what report.json says (post mode renders the advice
// from it): α, or under a sequential plan (config min_count and count)
// the level of the look at the row's rounds. A run that the time budget
// ended before count rounds (its undecided rows have the most rounds, and
// fewer than count) spent the rest of α at that look. A merged report's
// rows were tested at the planned levels, the merge not knowing where
// each shard's budget ended.
func reportLevels(r *Report) []float64 {
	plan := Plan{MinRounds: r.Config.MinCount, MaxRounds: r.Config.Count}
	if last := maxRounds(r.Benchmarks); plan.Sequential() && r.Config.TimeBudget != "" && len(r.Shards) == 0 &&
		last >= plan.MinRounds && last < plan.MaxRounds {
		plan.Ended = last
	}
	levelOf := plan.levels(r.Config.Alpha)
	out := make([]float64, len(r.Benchmarks))
	for i, row := range r.Benchmarks {
		out[i] = levelOf(row.Rounds)
	}
	return out
}

// maxRounds is the most rounds a row got.
func maxRounds(rows []Row) int {
	n := 0
	for _, r := range rows {
		n = max(n, r.Rounds)
	}
	return n
}

// rowLevel is the level a row's p-value must reach to be significant
// after the Benjamini-Hochberg correction, with the other rows' p-values
// as they are: rejecting r rows of m means p(r) <= r·α/m, so one more
// row is rejected if its p <= (r+1)·α/m.
func rowLevel(alpha float64, m, r int, rejected bool) float64 {
	if m == 0 {
		return alpha
	}
	k := r + 1
	if rejected {
		k = r
	}
	return math.Min(alpha, alpha*float64(k)/float64(m))
}

// mdePct is the minimum detectable effect, in percent, of a two-sided
// Mann-Whitney test at level with probability Power, for samples like
// base and head: +Inf if no change can be detected (too few samples for
// the level, or values the log scale cannot take), 0 if no noise was
// observed. sep is separationShift, or a cache of it.
//
// On the log scale a relative change is a shift, so the noise is modelled
// there: normal, with a deviation σ estimated robustly from the residuals
// (each value's log less its side's median log, pooled). Noether's
// sample-size formula for the Wilcoxon-Mann-Whitney test, solved for the
// effect, says that n1+n2 = N values detect a shift d when
// Φ(d/(σ√2)) - 1/2 reaches (z(1-level/2) + z(Power)) / sqrt(12·n1·n2/N).
// Where that asks for more than certainty (few samples for a small
// level), only a near-complete separation of the samples can be
// significant, and the MDE is the shift that separates them completely
// with probability Power. The effect is then 100·(e^d - 1) percent.
func mdePct(base, head []float64, level float64, sep func(n1, n2 int) float64) float64 {
	n1, n2 := len(base), len(head)
	if n1 == 0 || n2 == 0 || minPValue(n1, n2) > level {
		return math.Inf(1)
	}
	resid, ok := logResiduals(base, head)
	if !ok {
		return math.Inf(1)
	}
	sigma := robustSigma(resid)
	if sigma == 0 {
		return 0
	}
	d := sep(n1, n2)
	if q := targetProb(n1, n2, level); q < 1 {
		d = math.Min(d, math.Sqrt2*normalQuantile(q))
	}
	return 100 * math.Expm1(d*sigma)
}

// targetProb is the P(X+d > X') Noether's formula asks for; 1 or more
// means no shift short of separation reaches the power.
func targetProb(n1, n2 int, level float64) float64 {
	z := normalQuantile(1-level/2) + normalQuantile(Power)
	n := float64(n1 + n2)
	return 0.5 + z/math.Sqrt(12*float64(n1)*float64(n2)/n)
}

// normalQuantile is the standard normal distribution's inverse.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// normalCDF is the standard normal distribution function.
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// separationShift is the shift, in units of σ, with which n2 values of a
// standard normal shifted up lie all above n1 unshifted ones with
// probability Power.
func separationShift(n1, n2 int) float64 {
	// P(min Y > max X) = ∫ n1·φ(x)·Φ(x)^(n1-1) · (1-Φ(x-d))^n2 dx.
	pSep := func(d float64) float64 {
		const lo, hi, steps = -8.0, 8.0, 800
		h := (hi - lo) / steps
		var sum float64
		for i := 0; i <= steps; i++ {
			x := lo + float64(i)*h
			f := float64(n1) * math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) * math.Pow(normalCDF(x), float64(n1-1)) *
				math.Pow(normalCDF(d-x), float64(n2))
			if i == 0 || i == steps {
				f /= 2
			}
			sum += f * h
		}
		return sum
	}
	lo, hi := 0.0, 20.0
	for range 40 {
		mid := (lo + hi) / 2
		if pSep(mid) >= Power {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// robustSigma estimates the deviation of normal noise from residuals
// around zero: 1.4826 times their median absolute value, which one
// outlier cannot inflate (nor can it sway the rank test much). When more
// than half are exactly zero it falls back to the root mean square, so
// that occasional outliers still count as noise.
func robustSigma(resid []float64) float64 {
	abs := make([]float64, len(resid))
	var ss float64
	for i, e := range resid {
		abs[i] = math.Abs(e)
		ss += e * e
	}
	if s := 1.4826 * median(abs); s > 0 {
		return s
	}
	return math.Sqrt(ss / float64(len(resid)))
}

// logResiduals returns the logs of both sides' values less their side's
// median log; false if a value is not positive and finite.
func logResiduals(sides ...[]float64) ([]float64, bool) {
	var out []float64
	for _, vals := range sides {
		logs := make([]float64, len(vals))
		for i, v := range vals {
			if !(v > 0) || math.IsInf(v, 0) {
				return nil, false
			}
			logs[i] = math.Log(v)
		}
		med := median(logs)
		for _, l := range logs {
			out = append(out, l-med)
		}
	}
	return out, true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// roundsNeeded estimates the rounds (samples per side) with which a row
// whose minimum detectable effect is mdePct after n rounds would detect a
// change of threshold percent, from the MDE's scaling with 1/sqrt(n). It
// is at least the fewest rounds that can reach level at all
// (samplesNeeded), and ok is false when it would exceed limit.
func roundsNeeded(mdePct float64, n int, threshold, level float64, limit int) (rounds int, ok bool) {
	floor := samplesNeeded(level)
	if math.IsInf(mdePct, 0) || math.IsNaN(mdePct) || n <= 0 || threshold <= 0 {
		return floor, floor <= limit
	}
	r := float64(n) * (mdePct / threshold) * (mdePct / threshold)
	if r > float64(limit) {
		return limit, false
	}
	rounds = max(int(math.Ceil(r)), floor)
	return rounds, rounds <= limit
}
