package changepoint

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The synthetic series of these tests: a level of 100 (think ns/op), noise
// of a given shape and standard deviation, steps of known size and place,
// and optionally slow drift, single outliers and changes of environment.

// shape describes one family of synthetic series.
type shape struct {
	name string
	// noise draws one unit of noise: standard deviation 1, or scale 1
	// where the distribution has no standard deviation.
	noise func(r *rand.Rand) float64
	// steps is the largest number of steps per series (0: none).
	steps int
	// small makes the steps real but smaller than the threshold (2-4% on
	// very quiet noise), so none should be reported.
	small bool
	// outliers is the fraction of points given a single slow spike of
	// 10 to 50 standard deviations.
	outliers float64
	// drift is the total drift over the series, in standard deviations.
	drift float64
	// envs is the number of environments that follow one another, each
	// at its own level (1: one environment).
	envs int
	// interleave alternates two environments at random, point by point.
	interleave bool
	// ar makes the noise autocorrelated, AR(1) with this coefficient and
	// the same standard deviation: a runner that is slow for a few days.
	ar float64
}

func normal(r *rand.Rand) float64 { return r.NormFloat64() }

// studentT3 is Student's t with 3 degrees of freedom, scaled to standard
// deviation 1 (its own is sqrt(3)).
func studentT3(r *rand.Rand) float64 {
	z := r.NormFloat64()
	var chi2 float64
	for range 3 {
		g := r.NormFloat64()
		chi2 += g * g
	}
	return z / math.Sqrt(chi2/3) / math.Sqrt(3)
}

// cauchy is the standard Cauchy distribution: no mean, no variance.
func cauchy(r *rand.Rand) float64 { return math.Tan(math.Pi * (r.Float64() - 0.5)) }

var shapes = []shape{
	{name: "normal", noise: normal, steps: 3, envs: 1},
	{name: "student-t3", noise: studentT3, steps: 3, envs: 1},
	{name: "outliers", noise: normal, steps: 3, outliers: 0.02, envs: 1},
	{name: "cauchy", noise: cauchy, steps: 3, envs: 1},
	{name: "drift+steps", noise: normal, steps: 3, drift: 2, envs: 1},
	{name: "env-breaks", noise: normal, steps: 3, envs: 3},
	{name: "interleaved-envs", noise: normal, steps: 2, interleave: true},
	{name: "autocorrelated", noise: normal, steps: 3, ar: 0.5, envs: 1},
	{name: "none-normal", noise: normal, envs: 1},
	{name: "none-t3", noise: studentT3, envs: 1},
	{name: "none-outliers", noise: normal, outliers: 0.02, envs: 1},
	{name: "none-drift", noise: normal, drift: 2, envs: 1},
	{name: "none-env-breaks", noise: studentT3, envs: 3},
	{name: "none-autocorrelated", noise: normal, ar: 0.5, envs: 1},
	{name: "small-steps", noise: normal, steps: 3, small: true, envs: 1},
}

// series is one generated series and its ground truth.
type series struct {
	points []Point
	steps  []int // index of the first point after each true step
	breaks []int // index of the first point of each new environment
}

const seriesLen = 200

// generate draws one series of n points of the shape.
func (s shape) generate(r *rand.Rand, n int) series {
	var out series
	sigmaPct := 0.5 + 3.5*r.Float64() // noise SD in percent of the level
	if s.small {
		sigmaPct = 0.2
	}

	// Environment of each point, and where they change.
	env := make([]int, n)
	if s.interleave {
		for i := range env {
			env[i] = r.IntN(2)
		}
	} else if s.envs > 1 {
		for {
			out.breaks = out.breaks[:0]
			for range s.envs - 1 {
				out.breaks = append(out.breaks, 30+r.IntN(n-60))
			}
			if sortedApart(out.breaks, 30) {
				break
			}
		}
		e := 0
		for i := range env {
			if e < len(out.breaks) && i == out.breaks[e] {
				e++
			}
			env[i] = e
		}
	}

	// Steps at least 15 points apart and 10 from the ends (twice that
	// when two environments share the points), and 10 from a break.
	gap, edge := 15, 10
	if s.interleave {
		gap, edge = 30, 20
	}
	k := 0
	if s.steps > 0 {
		k = 1 + r.IntN(s.steps)
	}
	for tries := 0; k > 0; tries++ {
		out.steps = out.steps[:0]
		for range k {
			out.steps = append(out.steps, edge+r.IntN(n-2*edge))
		}
		if sortedApart(out.steps, gap) && farFrom(out.steps, out.breaks, 10) {
			break
		}
		if tries > 1000 {
			panic("cannot place steps")
		}
	}

	// Each environment has its own level factor and noise factor.
	factor := []float64{1, 1.25, 0.8}
	if !s.interleave {
		for i := range factor {
			factor[i] = 0.6 + r.Float64()
		}
	}
	level := 100.0
	st := 0
	var e float64 // the noise, autocorrelated when s.ar > 0
	for i := range n {
		if st < len(out.steps) && i == out.steps[st] {
			// A step of at least 3 SD and at least 5%, up to twice that,
			// either way.
			pct := math.Max(5, 3*sigmaPct) * (1 + r.Float64())
			if s.small {
				pct = 2 + 2*r.Float64()
			}
			if r.IntN(2) == 0 {
				pct = -pct
			}
			level *= 1 + pct/100
			st++
		}
		sd := sigmaPct / 100 * level // noise in proportion to the level, as in benchmarks
		e = s.ar*e + math.Sqrt(1-s.ar*s.ar)*s.noise(r)
		v := level + s.drift*sd*float64(i)/float64(n) + sd*e
		if s.outliers > 0 && r.Float64() < s.outliers {
			v += sd * (10 + 40*r.Float64())
		}
		v *= factor[env[i]]
		out.points = append(out.points, Point{Value: v, Env: fmt.Sprintf("cpu%d/go1.2%d/4", env[i], env[i])})
	}
	return out
}

func sortedApart(xs []int, gap int) bool {
	for i := range xs {
		for j := range xs {
			if i != j && abs(xs[i]-xs[j]) < gap {
				return false
			}
		}
	}
	for i := 1; i < len(xs); i++ {
		if xs[i] < xs[i-1] {
			xs[i], xs[i-1] = xs[i-1], xs[i]
			i = 0
		}
	}
	return true
}

func farFrom(xs, ys []int, d int) bool {
	for _, x := range xs {
		for _, y := range ys {
			if abs(x-y) < d {
				return false
			}
		}
	}
	return true
}

// tally counts one shape's results against the ground truth.
type tally struct {
	series, points, truth, found, tp, fp, atBreak int
}

// score matches the changes found in s with its true steps. Positions are
// compared within the environment of the change (the k-th point of that
// environment), so that interleaved environments count in their own
// records. A true step counts once for every environment with points on
// both sides of it.
func (tl *tally) score(t *testing.T, s series, found []Change) {
	t.Helper()
	tl.series++
	tl.points += len(s.points)
	tl.found += len(found)
	// pos[i] is the index of point i among the points of its environment.
	pos := make([]int, len(s.points))
	count := map[string]int{}
	for i, p := range s.points {
		pos[i] = count[p.Env]
		count[p.Env]++
	}
	type truth struct {
		env     string
		at      int
		matched bool
	}
	var truths []*truth
	for _, st := range s.steps {
		seen := map[string]bool{}
		for i := st; i < len(s.points); i++ {
			e := s.points[i].Env
			if seen[e] {
				continue
			}
			seen[e] = true
			if pos[i] > 0 { // the environment has points before the step too
				truths = append(truths, &truth{env: e, at: pos[i]})
			}
		}
	}
	tl.truth += len(truths)
	for _, c := range found {
		if s.points[c.Before].Env != s.points[c.After].Env {
			t.Errorf("change %+v spans two environments", c)
		}
		env, at := s.points[c.After].Env, pos[c.After]
		var best *truth
		for _, tr := range truths {
			if !tr.matched && tr.env == env && abs(tr.at-at) <= 2 && (best == nil || abs(tr.at-at) < abs(best.at-at)) {
				best = tr
			}
		}
		if best != nil {
			best.matched = true
			tl.tp++
			continue
		}
		tl.fp++
		for _, b := range s.breaks {
			if abs(c.After-b) <= 2 {
				tl.atBreak++
			}
		}
	}
}

func (tl tally) precision() float64 {
	if tl.found == 0 {
		return 1
	}
	return float64(tl.tp) / float64(tl.found)
}

func (tl tally) recall() float64 {
	if tl.truth == 0 {
		return 1
	}
	return float64(tl.tp) / float64(tl.truth)
}

func (tl tally) fpPer1000() float64 { return 1000 * float64(tl.fp) / float64(tl.points) }

// TestSyntheticPrecisionRecall measures precision and recall on 100 series
// of 200 points per shape, with a fixed seed, and asserts the aims of
// docs/CHANGEPOINTS.md: recall of at least 90% for steps of at least 3 noise
// SDs and 5% (found within 2 records), at most 1 false change point per
// 1,000 points where nothing changes, none at a change of environment.
func TestSyntheticPrecisionRecall(t *testing.T) {
	opt := Options{MinShiftPct: 5, Seed: 1}
	const perShape = 100
	var table strings.Builder
	fmt.Fprintf(&table, "\n| shape | series × points | true steps | reported | true pos. | false pos. | precision | recall | false per 1,000 points |\n")
	fmt.Fprintf(&table, "|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for si, sh := range shapes {
		r := rand.New(rand.NewPCG(2026, uint64(si)))
		var tl tally
		for range perShape {
			s := sh.generate(r, seriesLen)
			if sh.small {
				s.steps = nil // real, but below the threshold: none is to be reported
			}
			found, err := Detect(s.points, opt)
			if err != nil {
				t.Fatalf("%s: %v", sh.name, err)
			}
			tl.score(t, s, found)
		}
		fmt.Fprintf(&table, "| %s | %d × %d | %d | %d | %d | %d | %.1f%% | %.1f%% | %.2f |\n",
			sh.name, tl.series, seriesLen, tl.truth, tl.found, tl.tp, tl.fp,
			100*tl.precision(), 100*tl.recall(), tl.fpPer1000())

		if tl.truth > 0 && !sh.small && sh.name != "cauchy" && tl.recall() < 0.90 {
			t.Errorf("%s: recall %.1f%%, want at least 90%%", sh.name, 100*tl.recall())
		}
		if tl.truth == 0 && tl.fpPer1000() > 1 {
			t.Errorf("%s: %.2f false change points per 1,000 points, want at most 1", sh.name, tl.fpPer1000())
		}
		if tl.atBreak > 0 {
			t.Errorf("%s: %d change points reported at an environment break", sh.name, tl.atBreak)
		}
	}
	t.Log(table.String())
}
