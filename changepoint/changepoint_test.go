package changepoint

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// steps returns n points of environment env whose level is levels[k] from
// index at[k] on (at[0] must be 0), with normal noise of sdPct percent.
func steps(r *rand.Rand, env string, n int, sdPct float64, at []int, levels []float64) []Point {
	var pts []Point
	k := 0
	for i := range n {
		if k+1 < len(at) && i == at[k+1] {
			k++
		}
		pts = append(pts, Point{Value: levels[k] * (1 + sdPct/100*r.NormFloat64()), Env: env})
	}
	return pts
}

func TestDetectBadInput(t *testing.T) {
	good := []Point{{1, "a"}, {2, "a"}}
	for _, tc := range []struct {
		name   string
		points []Point
		opt    Options
		want   string
	}{
		{"nan", []Point{{1, "a"}, {math.NaN(), "b"}}, Options{}, "point 1 (env \"b\") has value NaN"},
		{"inf", []Point{{math.Inf(1), "a"}}, Options{}, "point 0 (env \"a\") has value +Inf"},
		{"min segment", good, Options{MinSegment: 1}, "MinSegment is 1"},
		{"alpha high", good, Options{Alpha: 1.5}, "Alpha is 1.5"},
		{"alpha negative", good, Options{Alpha: -0.1}, "Alpha is -0.1"},
		{"alpha nan", good, Options{Alpha: math.NaN()}, "Alpha is NaN"},
		{"threshold negative", good, Options{MinShiftPct: -5}, "MinShiftPct is -5"},
		{"threshold inf", good, Options{MinShiftPct: math.Inf(1)}, "MinShiftPct is +Inf"},
		{"permutations negative", good, Options{Permutations: -1}, "Permutations is -1"},
		{"permutations too few", good, Options{Permutations: 50, Alpha: 0.01}, "want at least 99"},
		{"permutations too many", good, Options{Permutations: 1e6}, "want at most 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(tc.points, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Detect = %v, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
}

func TestDetectNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	spike := steps(r, "a", 100, 1, []int{0}, []float64{100})
	spike[50].Value *= 20 // one outlier, however large, is not a change
	for _, tc := range []struct {
		name   string
		points []Point
	}{
		{"empty", nil},
		{"too short", steps(r, "a", 9, 1, []int{0, 5}, []float64{100, 200})},
		{"constant", steps(r, "a", 100, 0, []int{0}, []float64{7})},
		{"noise", steps(r, "a", 100, 3, []int{0}, []float64{100})},
		{"one outlier", spike},
		{"environment break", append(steps(r, "cpuA", 100, 1, []int{0}, []float64{100}),
			steps(r, "cpuB", 100, 1, []int{0}, []float64{150})...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(tc.points, Options{Seed: 3})
			if err != nil || len(got) != 0 {
				t.Fatalf("Detect = %+v, %v; want no change", got, err)
			}
		})
	}
}

func TestDetectStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	pts := steps(r, "a", 120, 1, []int{0, 60}, []float64{100, 120})
	got, err := Detect(pts, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d changes %+v, want 1", len(got), got)
	}
	c := got[0]
	if c.Before != 59 || c.After != 60 {
		t.Errorf("change between %d and %d, want 59 and 60", c.Before, c.After)
	}
	if !(c.Low <= 20 && 20 <= c.High && c.Low <= c.ShiftPct && c.ShiftPct <= c.High) {
		t.Errorf("shift %.2f%% [%.2f, %.2f], want an interval holding the estimate and the true 20%%", c.ShiftPct, c.Low, c.High)
	}
	if c.High-c.Low > 2 {
		t.Errorf("interval [%.2f, %.2f] is wider than 2 points on 1%% noise", c.Low, c.High)
	}
	if c.PValue > 0.01 {
		t.Errorf("p-value %v, want at most 0.01", c.PValue)
	}
	if math.Abs(c.BeforeMedian-100) > 1 || math.Abs(c.AfterMedian-120) > 1.2 {
		t.Errorf("medians %.2f and %.2f, want about 100 and 120", c.BeforeMedian, c.AfterMedian)
	}
}

func TestDetectSeveral(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	// Up, back down 20 runs later, then a lasting improvement.
	pts := steps(r, "a", 200, 1, []int{0, 50, 70, 150}, []float64{100, 110, 100, 90})
	got, err := Detect(pts, Options{Seed: 1, MinShiftPct: 5})
	if err != nil {
		t.Fatal(err)
	}
	var after []int
	for _, c := range got {
		after = append(after, c.After)
	}
	if !reflect.DeepEqual(after, []int{50, 70, 150}) {
		t.Fatalf("changes after %v, want [50 70 150]; all: %+v", after, got)
	}
	for i, want := range []float64{10, -9.1, -10} {
		if math.Abs(got[i].ShiftPct-want) > 1.5 {
			t.Errorf("change %d: shift %.2f%%, want about %.1f%%", i, got[i].ShiftPct, want)
		}
	}
}

func TestDetectThreshold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 4))
	pts := steps(r, "a", 100, 0.2, []int{0, 50}, []float64{100, 103})
	all, err := Detect(pts, Options{})
	if err != nil || len(all) != 1 || math.Abs(all[0].ShiftPct-3) > 0.3 {
		t.Fatalf("threshold 0: %+v, %v; want one change of about 3%%", all, err)
	}
	big, err := Detect(pts, Options{MinShiftPct: 5})
	if err != nil || len(big) != 0 {
		t.Fatalf("threshold 5%%: %+v, %v; want none", big, err)
	}
}

// TestDetectEnvironments checks that environments are never compared and
// that each is analysed whole, even when they interleave: a runner pool of
// two CPU models, one 30% slower, and a 15% regression at run 100.
func TestDetectEnvironments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 5))
	var pts []Point
	for i := range 200 {
		env, level := "cpuA", 100.0
		if r.IntN(2) == 1 {
			env, level = "cpuB", 130
		}
		if i >= 100 {
			level *= 1.15
		}
		pts = append(pts, Point{Value: level * (1 + 0.01*r.NormFloat64()), Env: env})
	}
	got, err := Detect(pts, Options{Seed: 9, MinShiftPct: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %+v, want one change per environment", got)
	}
	for _, c := range got {
		if pts[c.Before].Env != pts[c.After].Env {
			t.Errorf("change %+v compares two environments", c)
		}
		if c.Before >= 100 || c.After < 100 {
			t.Errorf("change between %d and %d, want it around run 100", c.Before, c.After)
		}
		for i := c.Before + 1; i < c.After; i++ {
			if pts[i].Env == pts[c.After].Env {
				t.Errorf("change %+v: point %d of the same environment lies between", c, i)
			}
		}
		if math.Abs(c.ShiftPct-15) > 1.5 {
			t.Errorf("shift %.2f%%, want about 15%%", c.ShiftPct)
		}
	}
}

func TestDetectZeroBefore(t *testing.T) {
	// allocs/op going from 0 to 2: the percentage is relative to the level
	// after, since nothing is relative to zero.
	var pts []Point
	for i := range 40 {
		v := 0.0
		if i >= 20 {
			v = 2
		}
		pts = append(pts, Point{Value: v, Env: "a"})
	}
	got, err := Detect(pts, Options{})
	if err != nil || len(got) != 1 || got[0].After != 20 || got[0].ShiftPct != 100 {
		t.Fatalf("Detect = %+v, %v; want one change at 20 of +100%%", got, err)
	}
}

func TestDetectExactLevels(t *testing.T) {
	// B/op of a benchmark whose buffer grows 20% at run 8 and shrinks back
	// at run 20: deterministic figures, so a short history suffices, and
	// each step is found where it is.
	var pts []Point
	for i := range 26 {
		v := 10240.0
		if i >= 8 && i < 20 {
			v = 12288
		}
		pts = append(pts, Point{Value: v, Env: "a"})
	}
	pts[12].Value = 12288.5 // a median of 12288 and 12289 bytes
	got, err := Detect(pts, Options{MinShiftPct: 5})
	if err != nil || len(got) != 2 || got[0].Before != 7 || got[0].After != 8 || got[0].ShiftPct != 20 ||
		got[1].After != 20 || got[1].PValue != 0.005 {
		t.Fatalf("Detect = %+v, %v; want +20%% at 8 and back at 20, p=0.005", got, err)
	}
	// Runs shorter than MinSegment are not levels: one odd value is an
	// outlier, and a step needs MinSegment runs after it.
	for _, odd := range []int{13, 22} {
		pts := slices.Clone(pts[:26])
		for i := range pts {
			pts[i].Value = 10240
		}
		for i := odd; i < min(odd+4, len(pts)); i++ {
			pts[i].Value = 12288
		}
		if got, err := Detect(pts, Options{MinShiftPct: 5}); err != nil || len(got) != 0 {
			t.Errorf("a run of 4 at %d: %+v, %v; want no change", odd, got, err)
		}
	}
}

func TestDetectDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 6))
	pts := steps(r, "a", 300, 3, []int{0, 100, 200}, []float64{100, 108, 104})
	first, err := Detect(pts, Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, _ := Detect(pts, Options{Seed: 42})
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("same input and seed gave %+v, then %+v", first, again)
		}
	}
}

func TestNth(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 7))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(r.IntN(n/3 + 1)) // many ties
		}
		sorted := slices.Clone(x)
		slices.Sort(sorted)
		for k := range n {
			s := slices.Clone(x)
			if got := nth(s, k); got != sorted[k] {
				t.Fatalf("n=%d: nth(%d) = %v, want %v", n, k, got, sorted[k])
			}
		}
	}
	// Sorted input, ascending and descending.
	up := make([]float64, 500)
	for i := range up {
		up[i] = float64(i)
	}
	if got := nth(slices.Clone(up), 123); got != 123 {
		t.Errorf("nth of sorted input = %v, want 123", got)
	}
	slices.Reverse(up)
	if got := nth(up, 400); got != 400 {
		t.Errorf("nth of reversed input = %v, want 400", got)
	}
}
