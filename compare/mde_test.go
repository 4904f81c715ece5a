package compare

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

// lognormal returns n values around center whose logs are spread like a
// normal distribution with deviation sigma: its quantiles at (i+½)/n, in
// an order that alternates low and high, so that the samples are the
// same noise at every n.
func lognormal(center, sigma float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = center * math.Exp(sigma*normalQuantile((float64(i)+0.5)/float64(n)))
	}
	for i := 0; i < n/2; i += 2 {
		v[i], v[n-1-i] = v[n-1-i], v[i]
	}
	return v
}

func TestMDEShrinksWithSamples(t *testing.T) {
	const level = 0.05 / 60
	prev := math.Inf(1)
	// From n=12 on, Noether's formula applies at this level; below it
	// the separation bound does (see TestMDEEdges).
	for _, n := range []int{12, 15, 20, 40, 80} {
		got := mdePct(lognormal(100, 0.1, n), lognormal(100, 0.1, n), level, separationShift)
		t.Logf("n=%d: MDE %.1f%%", n, got)
		if !(got < prev) {
			t.Errorf("n=%d: MDE %.2f%%, not below %.2f%% at fewer samples", n, got, prev)
		}
		prev = got
	}
}

func TestMDEShrinksWithNoise(t *testing.T) {
	prev := math.Inf(1)
	for _, sigma := range []float64{0.3, 0.1, 0.03, 0.01} {
		got := mdePct(lognormal(100, sigma, 20), lognormal(100, sigma, 20), 0.05/60, separationShift)
		t.Logf("σ=%g: MDE %.2f%%", sigma, got)
		if !(got < prev) {
			t.Errorf("σ=%g: MDE %.2f%%, not below %.2f%% at more noise", sigma, got, prev)
		}
		prev = got
	}
}

// TestMDEMatchesTheory checks the estimate against the normal theory for
// large samples: a two-sided test at α with power β detects
// (z(1-α/2)+z(β))·σ·sqrt(2/n), and Mann-Whitney needs 1/(3/π) times the
// samples of a t-test on normal data.
func TestMDEMatchesTheory(t *testing.T) {
	const n, sigma, level = 200, 0.05, 0.05
	want := 100 * math.Expm1((normalQuantile(1-level/2)+normalQuantile(Power))*sigma*math.Sqrt(2.0/n)/math.Sqrt(3/math.Pi))
	got := mdePct(lognormal(100, sigma, n), lognormal(100, sigma, n), level, separationShift)
	if math.Abs(got/want-1) > 0.1 {
		t.Errorf("MDE %.3f%%, normal theory %.3f%%: more than 10%% apart", got, want)
	}
}

// TestMDEHasItsPower draws samples with a change of the estimated MDE
// and checks that benchstat's test finds it about Power of the time.
func TestMDEHasItsPower(t *testing.T) {
	const n, sigma, level, reps = 20, 0.05, 0.01, 400
	mde := mdePct(lognormal(100, sigma, n), lognormal(100, sigma, n), level, separationShift)
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(center float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = center * math.Exp(sigma*rng.NormFloat64())
		}
		return v
	}
	thr := benchmath.DefaultThresholds
	found := 0
	for range reps {
		b, h := benchmath.NewSample(draw(100), &thr), benchmath.NewSample(draw(100*(1+mde/100)), &thr)
		if benchmath.AssumeNothing.Compare(b, h).P <= level {
			found++
		}
	}
	power := float64(found) / reps
	t.Logf("MDE %.2f%%: found in %d of %d runs", mde, found, reps)
	// Noether's formula is slightly conservative for normal noise.
	if power < Power-0.07 || power > 0.95 {
		t.Errorf("a change of the MDE (%.2f%%) was found in %.0f%% of runs, want about %.0f%%", mde, 100*power, 100*Power)
	}
}

func TestMDEEdges(t *testing.T) {
	same := []float64{100, 100, 100, 100, 100, 100, 100, 100}
	if got := mdePct(same, same, 0.05, separationShift); got != 0 {
		t.Errorf("equal samples: MDE %v, want 0 (no noise seen)", got)
	}
	if got := mdePct(same[:3], same[:3], 0.05, separationShift); !math.IsInf(got, 1) {
		t.Errorf("n=3+3 at α 0.05: MDE %v, want +Inf (p can never be below 0.1)", got)
	}
	if got := mdePct([]float64{0, 8, 0, 8, 0, 8}, []float64{8, 8, 0, 8, 0, 8}, 0.05, separationShift); !math.IsInf(got, 1) {
		t.Errorf("zero values: MDE %v, want +Inf (no log scale)", got)
	}
	// With n just enough for the level, only a complete separation is
	// significant: the MDE is the shift that separates the samples.
	small := mdePct(lognormal(100, 0.1, 4), lognormal(100, 0.1, 4), 0.03, separationShift)
	if big := mdePct(lognormal(100, 0.1, 20), lognormal(100, 0.1, 20), 0.03, separationShift); !(small > big && !math.IsInf(small, 0)) {
		t.Errorf("n=4+4 at 0.03: MDE %v, want finite and above n=20's %v", small, big)
	}
	// One outlier in otherwise equal samples is still noise.
	if got := mdePct([]float64{100, 100, 100, 100, 100, 150}, same[:6], 0.05, separationShift); !(got > 0) {
		t.Errorf("equal samples but one outlier: MDE %v, want above 0", got)
	}
}

func TestRowLevel(t *testing.T) {
	tests := []struct {
		m, r     int
		rejected bool
		want     float64
	}{
		{0, 0, false, 0.05},
		{1, 0, false, 0.05},
		{100, 0, false, 0.0005},
		{100, 9, false, 0.005},
		{100, 10, true, 0.005},
		{10, 10, true, 0.05},
	}
	for _, tt := range tests {
		if got := rowLevel(0.05, tt.m, tt.r, tt.rejected); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("rowLevel(m=%d, r=%d, rejected %v) = %g, want %g", tt.m, tt.r, tt.rejected, got, tt.want)
		}
	}
}

// benchFile writes one benchmark's values in Go's format.
func benchFile(name, unit string, vals []float64) []byte {
	var b strings.Builder
	b.WriteString("pkg: example.com/m/a\n")
	for _, v := range vals {
		fmt.Fprintf(&b, "Benchmark%s-2 1000 %g %s\n", name, v, unit)
	}
	return []byte(b.String())
}

func TestComputeMDE(t *testing.T) {
	t.Run("a clear 20% change has a smaller MDE", func(t *testing.T) {
		r, err := Compute(Input{Base: benchFile("X", "ns/op", lognormal(1000, 0.03, 20)), Head: benchFile("X", "ns/op", lognormal(1200, 0.03, 20))})
		if err != nil {
			t.Fatal(err)
		}
		got := row(t, r, "a", "X-2", "sec/op")
		if got.Verdict != Regression || got.MDEPct == nil || *got.MDEPct >= 20 {
			t.Errorf("verdict %s, MDE %v; want a regression with an MDE below 20%%", got.Verdict, fmtPtr(got.MDEPct))
		}
	})
	t.Run("fixtures", func(t *testing.T) {
		mixed := mustCompute(t, "mixed", Input{Failures: mixedFailures()})
		for _, tt := range []struct {
			name, unit string
			want       func(*float64) bool
		}{
			{"Slow-2", "sec/op", func(m *float64) bool { return m != nil && *m > 0 && *m < 20 }},
			{"Slow-2", "allocs/op", func(m *float64) bool { return m != nil && *m == 0 }}, // exact
			{"Steady-2", "sec/op", func(m *float64) bool { return m != nil && *m > 0 && *m < 5 }},
			{"Added-2", "sec/op", func(m *float64) bool { return m == nil }},
			{"Broken-2", "sec/op", func(m *float64) bool { return m == nil }},
		} {
			if got := row(t, mixed, "a", tt.name, tt.unit); !tt.want(got.MDEPct) {
				t.Errorf("mixed %s %s: MDE %s", tt.name, tt.unit, fmtPtr(got.MDEPct))
			}
		}
		if got := row(t, mustCompute(t, "few", Input{}), "a", "Slow-2", "sec/op"); got.MDEPct != nil {
			t.Errorf("few (n=3): MDE %s, want none", fmtPtr(got.MDEPct))
		}
		if got := row(t, mustCompute(t, "noisy", Input{}), "a", "Noisy-2", "sec/op"); got.MDEPct == nil || *got.MDEPct <= 5 {
			t.Errorf("noisy: MDE %s, want one above the 5%% threshold", fmtPtr(got.MDEPct))
		}
	})
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%.3g%%", *p)
}

func TestRoundsNeeded(t *testing.T) {
	tests := []struct {
		mde    float64
		n      int
		rounds int
		ok     bool
	}{
		{10, 20, 80, true},   // twice the threshold: four times the rounds
		{5.5, 20, 25, true},  // (5.5/5)² × 20 = 24.2
		{30, 20, 100, false}, // 720 rounds: over the limit
		{1, 20, 6, true},     // never fewer than the level needs at all
		{math.Inf(1), 3, 6, true},
	}
	for _, tt := range tests {
		r, ok := roundsNeeded(tt.mde, tt.n, 5, 0.005, 100)
		if r != tt.rounds || ok != tt.ok {
			t.Errorf("roundsNeeded(%g, %d) = %d, %v; want %d, %v", tt.mde, tt.n, r, ok, tt.rounds, tt.ok)
		}
	}
}

func TestHeadlineCountsRowsAndGivesTheMDE(t *testing.T) {
	sum := &Summary{N: 20, Center: 10, Low: 9, High: 11}
	pct := func(v float64) *float64 { return &v }
	rows := []Row{
		{Name: "A", Unit: "sec/op", Base: sum, Head: sum, Verdict: Unchanged, Reason: Noisy, MDEPct: pct(30)},
		{Name: "A", Unit: "B/op", Base: sum, Head: sum, Verdict: Unchanged, MDEPct: pct(0)},
		{Name: "B", Unit: "sec/op", Base: sum, Head: sum, Verdict: Unchanged, Reason: Noisy, MDEPct: pct(7.44)},
		{Name: "B", Unit: "B/op", Base: sum, Head: sum, Verdict: Unchanged, MDEPct: pct(2)},
		{Name: "C", Unit: "sec/op", Base: sum, Head: sum, Verdict: Unchanged, Reason: Noisy, MDEPct: pct(12)},
	}
	md := Markdown(&Report{Benchmarks: rows, Config: Config{Threshold: 5, Alpha: 0.05}}, MarkdownOptions{})
	want := "### ❔ No significant change in 5 rows of 3 benchmarks, 3 inconclusive, median detectable change 12% (threshold 5%, α 0.05)"
	if !strings.Contains(md, want) {
		t.Errorf("want %q in\n%s", want, md)
	}
	for _, cell := range []string{"unchanged: no change ≥ 7.4% (could not see smaller)", "unchanged: any change would show"} {
		if !strings.Contains(md, cell) {
			t.Errorf("want %q in\n%s", cell, md)
		}
	}
}

func TestAdviceGivesACount(t *testing.T) {
	sum := &Summary{N: 20, Center: 10, Low: 9, High: 11}
	pct := func(v float64) *float64 { return &v }
	p := func(v float64) *float64 { return &v }
	rows := []Row{
		{Package: "m/a", Name: "A", Unit: "sec/op", Base: sum, Head: sum, PValue: p(0.5), PAdjusted: p(0.5), Verdict: Unchanged, Reason: Noisy, MDEPct: pct(10)},
		{Package: "m/a", Name: "A", Unit: "p99-sec", Base: sum, Head: sum, PValue: p(0.5), PAdjusted: p(0.5), Verdict: Unchanged, Reason: Noisy, MDEPct: pct(7.5)},
		{Package: "m/a", Name: "B", Unit: "sec/op", Base: sum, Head: sum, PValue: p(0.5), PAdjusted: p(0.5), Verdict: Unchanged, Reason: Noisy, MDEPct: pct(6)},
		{Package: "m/a", Name: "C", Unit: "sec/op", Base: sum, Head: sum, PValue: p(0.5), PAdjusted: p(0.5), Verdict: Unchanged, MDEPct: pct(3)},
		{Package: "m/a", Name: "D", Unit: "sec/op", Base: sum, Head: sum, PValue: p(0.5), PAdjusted: p(0.5), Verdict: Unchanged, Reason: Noisy, MDEPct: pct(40)},
	}
	md := Markdown(&Report{Benchmarks: rows, Config: Config{Threshold: 5, Alpha: 0.05, Count: 20}}, MarkdownOptions{})
	for _, want := range []string{
		"<details><summary>What would decide the inconclusive rows (3 benchmarks)</summary>",
		"| A | sec/op, p99-sec | 10% | `count: 80` |", // the worse row: (10/5)² × 20
		"| B | sec/op | 6.0% | `count: 29` |",         // (6/5)² × 20 = 28.8
		"| D | sec/op | 40% | more than 100 |",
		"`count: 80` (`-count 80` locally) would decide all but 1 of them.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("want %q in\n%s", want, md)
		}
	}
	if _, advice, _ := strings.Cut(md, "What would decide"); strings.Contains(advice, "| C |") {
		t.Errorf("a decided row is in the advice:\n%s", md)
	}
}

// TestSeparationShift checks the integral where it has a closed form,
// one value a side (P(Y > X) = Φ(d/√2)), and by simulation at 5+5.
func TestSeparationShift(t *testing.T) {
	if got, want := separationShift(1, 1), math.Sqrt2*normalQuantile(Power); math.Abs(got-want) > 1e-3 {
		t.Errorf("separationShift(1, 1) = %.4f, want %.4f", got, want)
	}
	d := separationShift(5, 5)
	rng := rand.New(rand.NewPCG(3, 4))
	const reps = 20000
	sep := 0
	for range reps {
		maxX, minY := math.Inf(-1), math.Inf(1)
		for range 5 {
			maxX = math.Max(maxX, rng.NormFloat64())
			minY = math.Min(minY, d+rng.NormFloat64())
		}
		if minY > maxX {
			sep++
		}
	}
	if p := float64(sep) / reps; math.Abs(p-Power) > 0.02 {
		t.Errorf("shift %.3f separates 5+5 samples in %.3f of draws, want %.2f", d, p, Power)
	}
}

func TestMDEWordingPerReason(t *testing.T) {
	for _, tt := range []struct{ fixture, want string }{
		{"small", "unchanged: significant but smaller than the 5% threshold; could see ≥ "}, // +2%, seen
		{"few", "; could not see a change of any size"},                                     // n=3
		{"noisy", "; no change ≥ "},
	} {
		if md := Markdown(mustCompute(t, tt.fixture, Input{}), MarkdownOptions{}); !strings.Contains(md, tt.want) {
			t.Errorf("%s: want %q in\n%s", tt.fixture, tt.want, md)
		}
	}
}

// TestAdviceAtTheMDELevel: the advice estimates each row's rounds at the
// level its MDE was computed at, which it recovers from report.json
// alone: recomputed at that level, every row's MDE is the one the report
// gives, in the fixed design, under a sequential plan (where the level is
// the look's, not α), and when the time budget ended the run early.
func TestAdviceAtTheMDELevel(t *testing.T) {
	benches := map[string][2][]float64{}
	for i, sigma := range []float64{0.01, 0.05, 0.2, 0.4} {
		base := lognormal(1000, sigma, 14)
		benches[fmt.Sprintf("B%d", i)] = [2][]float64{base, scaled(base, 1+0.05*float64(i))}
	}
	// A benchmark cut short: its rows are tested at an earlier look.
	short := lognormal(1000, 0.1, 11)
	benches["Short"] = [2][]float64{short, scaled(short, 1.02)}
	side := func(s int) []byte {
		m := map[string][]float64{}
		for name, v := range benches {
			m[name] = v[s]
		}
		return seqFile("example.com/m", m)
	}
	for _, tt := range []struct {
		name string
		plan Plan
		cfg  Config
	}{
		{"fixed", Plan{}, Config{Count: 14}},
		{"sequential", Plan{MinRounds: 10, MaxRounds: 14}, Config{Count: 14, MinCount: 10}},
		{"ended by the budget", Plan{MinRounds: 10, MaxRounds: 40, Ended: 14}, Config{Count: 40, MinCount: 10, TimeBudget: "5m"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compute(Input{Base: side(0), Head: side(1), Options: Options{Plan: tt.plan}, Config: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := WriteJSON(&b, r); err != nil {
				t.Fatal(err)
			}
			if r, err = ReadJSON(&b); err != nil {
				t.Fatal(err)
			}
			padj := make([]*float64, len(r.Benchmarks))
			for i, row := range r.Benchmarks {
				padj[i] = row.PAdjusted
			}
			levels := correctedLevels(padj, reportLevels(r))
			alphas := make([]float64, len(padj))
			for i := range alphas {
				alphas[i] = r.Config.Alpha
			}
			atAlpha := correctedLevels(padj, alphas)
			checked := 0
			for i, row := range r.Benchmarks {
				if row.MDEPct == nil || *row.MDEPct == 0 || row.Unit != "sec/op" {
					continue
				}
				v := benches[strings.TrimSuffix(row.Name, "-2")]
				if got := mdePct(v[0], v[1], levels[i], separationShift); math.Abs(got-*row.MDEPct) > 1e-3*got {
					t.Errorf("%s: MDE %.4g%% at the advice's level %.3g, the report's %.4g%%", row.Name, got, levels[i], *row.MDEPct)
				}
				if tt.name == "sequential" && levels[i] >= atAlpha[i] {
					t.Errorf("%s: level %.3g, want the look's, below the fixed design's %.3g", row.Name, levels[i], atAlpha[i])
				}
				checked++
			}
			if checked < 4 {
				t.Errorf("checked %d rows", checked)
			}
		})
	}
}
