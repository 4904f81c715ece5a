package compare

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The O'Brien-Fleming-type boundaries of Lan and DeMets for five equally
// spaced looks at two-sided α 0.05, as published (Jennison and Turnbull,
// table 7.6; R's ldbounds and gsDesign give the same).
func TestSpendingBoundariesPublished(t *testing.T) {
	got := spendingBoundaries(0.05, []float64{0.2, 0.4, 0.6, 0.8, 1})
	want := []float64{4.877, 3.357, 2.680, 2.290, 2.031}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 0.005 {
			t.Errorf("look %d: boundary %.4f, want %.3f (all: %.4f)", i+1, got[i], want[i], got)
		}
	}
}

// One look is the fixed design: the boundary is the plain two-sided
// critical value.
func TestSpendingBoundariesOneLook(t *testing.T) {
	got := spendingBoundaries(0.05, []float64{1})
	if math.Abs(got[0]-1.95996) > 1e-4 {
		t.Errorf("one look: boundary %.5f, want 1.95996", got[0])
	}
}

// Simulated Brownian motions, looked at after every round from 10 to 40
// as a plan of natsbench would: they cross the boundaries in about α of
// the runs, where crossing 2·(1-Φ) ≤ α at any look would be several
// times α.
func TestSpendingBoundariesSimulated(t *testing.T) {
	const minN, maxN, runs = 10, 40, 20000
	lv := Plan{MinRounds: minN, MaxRounds: maxN}.levels(0.05)
	rng := rand.New(rand.NewPCG(1, 2))
	crossed, naive := 0, 0
	for range runs {
		s := 0.0
		hit, naiveHit := false, false
		for n := 1; n <= maxN; n++ {
			s += rng.NormFloat64()
			if n < minN {
				continue
			}
			p := 2 * upperTail(math.Abs(s)/math.Sqrt(float64(n)))
			hit = hit || p <= lv(n)
			naiveHit = naiveHit || p <= 0.05
		}
		if hit {
			crossed++
		}
		if naiveHit {
			naive++
		}
	}
	rate, naiveRate := float64(crossed)/runs, float64(naive)/runs
	// The standard error of the rate is 0.0015.
	if rate < 0.04 || rate > 0.055 {
		t.Errorf("false alarms in %.4f of the runs, want about 0.05", rate)
	}
	if naiveRate < 0.1 {
		t.Errorf("testing every look at α found %.4f: the simulation does not repeat looks", naiveRate)
	}
	t.Logf("with the boundaries %.4f, testing every look at α %.4f", rate, naiveRate)
}
