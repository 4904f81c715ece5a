package compare

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
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
	for _, plan := range []Plan{{MinRounds: 10, MaxRounds: 40}, {MinRounds: 10, MaxRounds: 40, Ended: 24}} {
		t.Run(fmt.Sprintf("%+v", plan), func(t *testing.T) { simulateLooks(t, plan) })
	}
	// A run that the budget ended spends the rest of alpha at its last
	// look: that look's level is above the planned one's.
	planned := Plan{MinRounds: 10, MaxRounds: 40}.levels(0.05)(24)
	ended := Plan{MinRounds: 10, MaxRounds: 40, Ended: 24}.levels(0.05)(24)
	if !(ended > 2*planned && ended < 0.05) {
		t.Errorf("level at round 24: planned %.4f, ended there %.4f; want the latter well above, below 0.05", planned, ended)
	}
	t.Logf("level at round 24 of 10-40: %.4f planned, %.4f when the run ended there", planned, ended)
}

func simulateLooks(t *testing.T, plan Plan) {
	minN, maxN, runs := plan.MinRounds, plan.MaxRounds, 20000
	if plan.Ended > 0 {
		maxN = plan.Ended
	}
	lv := plan.levels(0.05)
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
	rate, naiveRate := float64(crossed)/float64(runs), float64(naive)/float64(runs)
	// The standard error of the rate is 0.0015.
	if rate < 0.04 || rate > 0.055 {
		t.Errorf("false alarms in %.4f of the runs, want about 0.05", rate)
	}
	if naiveRate < 0.1 {
		t.Errorf("testing every look at α found %.4f: the simulation does not repeat looks", naiveRate)
	}
	t.Logf("with the boundaries %.4f, testing every look at α %.4f", rate, naiveRate)
}

// seqFile writes Go benchmark output: for each benchmark, one line per
// value, with constant B/op and allocs/op.
func seqFile(pkg string, benches map[string][]float64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "pkg: %s\n", pkg)
	names := slices.Sorted(maps.Keys(benches))
	for _, name := range names {
		for _, v := range benches[name] {
			fmt.Fprintf(&b, "Benchmark%s-2\t1000\t%.3f ns/op\t64 B/op\t1 allocs/op\n", name, v)
		}
	}
	return []byte(b.String())
}

func scaled(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

// TestSettleDecision is the settle decision on one benchmark's rows: the
// sec/op row decides (the B/op and allocs/op rows are exact and settled).
func TestSettleDecision(t *testing.T) {
	seq := Plan{MinRounds: 10, MaxRounds: 40}
	cases := []struct {
		name       string
		plan       Plan
		n          int
		sigma      float64 // the noise, as the deviation of the logs
		change     float64 // head / base
		settled    bool
		verdict    Verdict
		reason     Reason
		wantRounds int
	}{
		{"quiet and unchanged at the first look: equivalent", seq, 10, 0.005, 1, true, Unchanged, Equivalent, 10},
		{"quiet, 30% slower, half way: significant", seq, 25, 0.005, 1.3, true, Regression, NoReason, 25},
		{"quiet, 20% faster, at the first look: significant", seq, 10, 0.005, 0.8, true, Improvement, NoReason, 10},
		{"quiet, 2% slower at the last look: significant but smaller", seq, 40, 0.005, 1.02, true, Unchanged, BelowThreshold, 40},
		{"noisy and unchanged: not settled", seq, 10, 0.2, 1, false, Unchanged, Noisy, 10},
		{"noisy and 4% slower: not settled", seq, 30, 0.2, 1.04, false, Unchanged, Noisy, 30},
		{"quiet, 4.5% slower: neither shown equivalent nor significant yet", seq, 10, 0.02, 1.045, false, Unchanged, NoReason, 10},
		{"fixed design: nothing is settled", Plan{}, 10, 0.005, 1, false, Unchanged, NoReason, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := lognormal(1000, c.sigma, c.n)
			head := scaled(lognormal(1000, c.sigma, c.n), c.change)
			slices.Reverse(head)
			rep, err := Compute(Input{
				Base:    seqFile("example.com/m", map[string][]float64{"X": base}),
				Head:    seqFile("example.com/m", map[string][]float64{"X": head}),
				Options: Options{Plan: c.plan},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Benchmarks {
				if r.Unit != "sec/op" {
					if r.Settled != c.plan.Sequential() {
						t.Errorf("%s: settled %v, want %v (exact row)", r.Unit, r.Settled, c.plan.Sequential())
					}
					continue
				}
				if r.Settled != c.settled || r.Verdict != c.verdict || r.Reason != c.reason || r.Rounds != c.wantRounds {
					t.Errorf("sec/op: settled %v, %s, reason %q, rounds %d; want settled %v, %s, reason %q, rounds %d (note %q, p %v)",
						r.Settled, r.Verdict, r.Reason, r.Rounds, c.settled, c.verdict, c.reason, c.wantRounds, r.Note, *r.PAdjusted)
				}
			}
			got := SettledBenchmarks(rep)
			if want := c.settled; (len(got) == 1) != want {
				t.Errorf("SettledBenchmarks = %v, want the benchmark settled: %v", got, want)
			}
			if len(got) == 1 && got[0] != (BenchmarkRef{Package: "example.com/m", Name: "BenchmarkX"}) {
				t.Errorf("SettledBenchmarks = %v, want example.com/m BenchmarkX", got)
			}
		})
	}
}

// A benchmark is settled only when all its sub-benchmarks are.
func TestSettledBenchmarksGroupsSubBenchmarks(t *testing.T) {
	quiet := lognormal(1000, 0.005, 12)
	noisy := lognormal(1000, 0.3, 12)
	in := Input{
		Base:    seqFile("example.com/m", map[string][]float64{"A/quiet": quiet, "A/noisy": noisy, "B/quiet": quiet, "B/too": quiet}),
		Head:    seqFile("example.com/m", map[string][]float64{"A/quiet": quiet, "A/noisy": noisy, "B/quiet": quiet, "B/too": quiet}),
		Options: Options{Plan: Plan{MinRounds: 10, MaxRounds: 20}},
	}
	rep, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	got := SettledBenchmarks(rep)
	want := []BenchmarkRef{{Package: "example.com/m", Name: "BenchmarkB"}}
	if !slices.Equal(got, want) {
		t.Errorf("SettledBenchmarks = %v, want %v", got, want)
	}
}

// The interval of the change covers the true shift, and is unbounded
// where the samples are too few for the confidence.
func TestShiftCI(t *testing.T) {
	base := lognormal(100, 0.02, 20)
	head := scaled(lognormal(100, 0.02, 20), 1.1)
	lo, hi, ok := shiftCI(base, head, 0.95)
	if !ok || !(lo < 10 && 10 < hi) || hi-lo > 5 {
		t.Errorf("20+20 values, +10%%: interval [%.2f%%, %.2f%%] ok %v, want a narrow one around 10%%", lo, hi, ok)
	}
	if _, _, ok := shiftCI(base[:3], head[:3], 0.95); ok {
		t.Error("3+3 values: a 95% interval, want unbounded (the least p is 0.1)")
	}
	// uCritical against the table of the Mann-Whitney U: for 10+10 at
	// two-sided 0.05, the critical U is 23, so the interval is between
	// the 24th smallest and 24th largest difference.
	if k := uCritical(10, 10, 0.025); k != 24 {
		t.Errorf("uCritical(10, 10, 0.025) = %d, want 24", k)
	}
	// The normal approximation, beyond the exact table, agrees with it
	// where both apply.
	exact := uCritical(50, 50, 0.025)
	mu, sigma := 1250.0, math.Sqrt(50*50*101/12.0)
	if approx := int(math.Floor(mu + 0.5 + normalQuantile(0.025)*sigma)); approx < exact-2 || approx > exact+2 {
		t.Errorf("uCritical(50, 50): exact %d, normal approximation %d", exact, approx)
	}
}

// The comment of a sequential run says the rounds' range in its header,
// gives every row its rounds, and an equivalent row its interval.
func TestSequentialMarkdown(t *testing.T) {
	quiet := lognormal(1000, 0.005, 12)
	noisy := lognormal(1000, 0.3, 20)
	rep, err := Compute(Input{
		Base:    seqFile("example.com/m", map[string][]float64{"Quiet": quiet, "Noisy": noisy}),
		Head:    seqFile("example.com/m", map[string][]float64{"Quiet": quiet, "Noisy": noisy}),
		Options: Options{Plan: Plan{MinRounds: 10, MaxRounds: 20}},
		Config:  Config{Count: 20, MinCount: 10, Benchtime: "20ms"},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := Markdown(rep, MarkdownOptions{})
	for _, want := range []string{
		"10–20 runs × 20ms, interleaved, each benchmark stopped once its rows were settled",
		"| Benchmark | Unit | Base | Head | Δ | p (adjusted) | Rounds | Verdict |",
		"| 12 | unchanged: equivalent: the change is between ",
		"| 20 | unchanged: noisy: ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("comment lacks %q:\n%s", want, md)
		}
	}
	// A fixed run's comment has no Rounds column.
	rep, err = Compute(Input{
		Base: seqFile("example.com/m", map[string][]float64{"Quiet": quiet}),
		Head: seqFile("example.com/m", map[string][]float64{"Quiet": quiet}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if md := Markdown(rep, MarkdownOptions{}); strings.Contains(md, "Rounds") || strings.Contains(md, "equivalent") {
		t.Errorf("a fixed run's comment has rounds or equivalence:\n%s", md)
	}
}

// report.json keeps a sequential run's rounds and plan, and refuses
// negative ones from an untrusted file.
func TestSequentialJSON(t *testing.T) {
	quiet := lognormal(1000, 0.005, 12)
	rep, err := Compute(Input{
		Base:    seqFile("example.com/m", map[string][]float64{"Quiet": quiet}),
		Head:    seqFile("example.com/m", map[string][]float64{"Quiet": quiet}),
		Options: Options{Plan: Plan{MinRounds: 10, MaxRounds: 20}},
		Config:  Config{Count: 20, MinCount: 10, TimeBudget: "8m0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Config.MinCount != 10 || back.Config.TimeBudget != "8m0s" || back.Benchmarks[0].Rounds != 12 ||
		back.Benchmarks[0].Reason != Equivalent {
		t.Errorf("read back config %+v, row %+v", back.Config, back.Benchmarks[0])
	}
	bad := strings.Replace(b.String(), `"rounds": 12`, `"rounds": -1`, 1)
	if _, err := ReadJSON(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "rounds is -1") {
		t.Errorf("negative rounds: err %v", err)
	}
}

// TestSequentialRankTestFalseAlarms looks at A/A rows after every round
// from 10 to 40 with benchstat's own Mann-Whitney test, the test the
// report uses, at the plan's levels: the share of rows ever found
// significant stays at about α, where testing every look at α would find
// several times as many.
func TestSequentialRankTestFalseAlarms(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a thousand sequential rows")
	}
	const minN, maxN, rows, alpha = 10, 40, 1000, 0.05
	lv := Plan{MinRounds: minN, MaxRounds: maxN}.levels(alpha)
	rng := rand.New(rand.NewPCG(3, 4))
	thr := benchmath.DefaultThresholds
	crossed, naive := 0, 0
	for range rows {
		var base, head []float64
		hit, naiveHit := false, false
		for n := 1; n <= maxN; n++ {
			base = append(base, 1000*math.Exp(0.05*rng.NormFloat64()))
			head = append(head, 1000*math.Exp(0.05*rng.NormFloat64()))
			if n < minN {
				continue
			}
			c := benchmath.AssumeNothing.Compare(benchmath.NewSample(base, &thr), benchmath.NewSample(head, &thr))
			hit = hit || c.P <= lv(n)
			naiveHit = naiveHit || c.P <= alpha
		}
		if hit {
			crossed++
		}
		if naiveHit {
			naive++
		}
	}
	rate, naiveRate := float64(crossed)/rows, float64(naive)/rows
	t.Logf("A/A rows ever significant: %.3f at the plan's levels, %.3f at α every look", rate, naiveRate)
	// The standard error of the rate is 0.007.
	if rate > alpha+0.02 {
		t.Errorf("A/A rows ever significant: %.3f, want at most about %g", rate, alpha)
	}
	if naiveRate < 2*alpha {
		t.Errorf("testing every look at α found %.3f: the simulation does not repeat looks", naiveRate)
	}
}

// A stopped row keeps the decision of the look that stopped it, although
// the final report's correction across rows would now decide it
// otherwise; a row of the same name with other rounds does not.
// TestStoppedRowsKeepTheirLook: a benchmark stopped at a look keeps that
// look's decision in a computation over more rows (as a merge of shards
// makes), whose correction alone would have decided it otherwise; the
// rows read back from report.json (StoppedRows) serve as well as the
// look's own, and rows that do not fit the samples are not kept.
func TestStoppedRowsKeepTheirLook(t *testing.T) {
	plan := Plan{MinRounds: 10, MaxRounds: 40}
	// X changed by 10%, Q is quiet and unchanged.
	x := map[string][]float64{"X": lognormal(1000, 0.02, 12), "Q": lognormal(1000, 0.005, 12)}
	xh := map[string][]float64{"X": scaled(x["X"], 1.10), "Q": scaled(x["Q"], 1.001)}
	look, err := Compute(Input{Base: seqFile("example.com/m", x), Head: seqFile("example.com/m", xh), Options: Options{Plan: plan}})
	if err != nil {
		t.Fatal(err)
	}
	rowOf := func(r *Report, name string) Row {
		t.Helper()
		for _, row := range r.Benchmarks {
			if row.Name == name && row.Unit == "sec/op" {
				return row
			}
		}
		t.Fatalf("no %s sec/op row", name)
		return Row{}
	}
	rowX := func(r *Report) Row { t.Helper(); return rowOf(r, "X-2") }
	if r := rowX(look); r.Verdict != Regression || r.Rounds != 12 {
		t.Fatalf("the look: X %s after %d rounds, want a regression after 12", r.Verdict, r.Rounds)
	}
	if r := rowOf(look, "Q-2"); r.Reason != Equivalent {
		t.Fatalf("the look: Q %s %q, want equivalent", r.Verdict, r.Note)
	}
	if got := SettledBenchmarks(look); len(got) != 2 {
		t.Fatalf("the look settled %v, want Q and X", got)
	}
	// The final computation: X as it stopped, and 200 benchmarks with no
	// change that ran all 40 rounds.
	base, head := maps.Clone(x), maps.Clone(xh)
	for i := range 200 {
		v := lognormal(1000, 0.05, 40)
		base[fmt.Sprintf("N%03d", i)], head[fmt.Sprintf("N%03d", i)] = v, slices.Clone(v)
	}
	in := Input{Base: seqFile("example.com/m", base), Head: seqFile("example.com/m", head), Options: Options{Plan: plan}}
	plain, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if r := rowX(plain); r.Verdict != Unchanged {
		t.Fatalf("recomputed without the look: %s (adjusted p %g), want unchanged, or the test shows nothing", r.Verdict, *r.PAdjusted)
	}

	var b bytes.Buffer
	if err := WriteJSON(&b, look); err != nil {
		t.Fatal(err)
	}
	read, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	want := rowX(look)
	for name, stopped := range map[string][]Row{"the look's rows": look.Benchmarks, "rows from report.json": StoppedRows(read, plan)} {
		if name == "the look's rows" {
			// As a Settler hands them on.
			stopped = slices.Clone(stopped)
		}
		in.Stopped = stopped
		rep, err := Compute(in)
		if err != nil {
			t.Fatal(err)
		}
		r := rowX(rep)
		if r.Verdict != Regression || r.Rounds != 12 || *r.PAdjusted != *want.PAdjusted || !equalPtr(r.MDEPct, want.MDEPct) || rep.Summary[Regression] != 1 {
			t.Errorf("%s: %s after %d rounds, adjusted p %g, MDE %v, summary %v; want the look's regression, p %g, MDE %v",
				name, r.Verdict, r.Rounds, *r.PAdjusted, r.MDEPct, rep.Summary, *want.PAdjusted, want.MDEPct)
		}
		if q, wq := rowOf(rep, "Q-2"), rowOf(look, "Q-2"); q.Note != wq.Note || *q.PAdjusted != *wq.PAdjusted || q.Rounds != 12 {
			t.Errorf("%s: Q %q, adjusted p %g; want the look's %q, %g", name, q.Note, *q.PAdjusted, wq.Note, *wq.PAdjusted)
		}
	}
	if got := StoppedRows(read, Plan{}); got != nil {
		t.Errorf("StoppedRows of a fixed plan: %v", got)
	}
	if got := StoppedRows(read, Plan{MinRounds: 10, MaxRounds: 12}); got != nil {
		t.Errorf("StoppedRows with rows at the last look: %v", got)
	}

	// A note is made anew, not taken from the stopped row.
	in.Stopped = []Row{want}
	in.Stopped[0].Note = "<img src=x> regressed"
	if rep, err := Compute(in); err != nil || rowX(rep).Verdict != Regression || rowX(rep).Note != "" {
		t.Errorf("a stopped row's own note: %q (%v)", rowX(rep).Note, err)
	}

	forged := func(edit func(*Row)) []Row {
		r := want
		r.Settled = true
		edit(&r)
		return []Row{r}
	}
	for name, stopped := range map[string][]Row{
		"other rounds":          forged(func(r *Row) { r.Rounds = 11 }),
		"adjusted p below p":    forged(func(r *Row) { p := *r.PValue / 2; r.PAdjusted = &p }),
		"adjusted p above 1":    forged(func(r *Row) { p := 1.5; r.PAdjusted = &p }),
		"adjusted p not sig":    forged(func(r *Row) { p := 0.5; r.PAdjusted = &p }),
		"the wrong direction":   forged(func(r *Row) { r.Verdict = Improvement }),
		"below the threshold":   forged(func(r *Row) { r.Verdict, r.Reason = Unchanged, BelowThreshold }),
		"equivalent":            forged(func(r *Row) { r.Verdict, r.Reason = Unchanged, Equivalent }),
		"noisy is not a stop":   forged(func(r *Row) { r.Verdict, r.Reason = Unchanged, Noisy }),
		"without an adjusted p": forged(func(r *Row) { r.PAdjusted = nil }),
	} {
		in.Stopped = stopped
		rep, err := Compute(in)
		if err != nil {
			t.Fatal(err)
		}
		if r := rowX(rep); r.Verdict != Unchanged || *r.PAdjusted != *rowX(plain).PAdjusted {
			t.Errorf("a stopped row with %s was kept: %s, adjusted p %g", name, r.Verdict, *r.PAdjusted)
		}
	}
}

func equalPtr(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// BenchmarkSpendingBoundaries computes the looks' boundaries of plans from
// the default (10–20) to one of many looks, as a report from an untrusted
// run may ask for (ReadJSON allows up to 1,000 rounds; a plan of 2–1000
// took 26 s before the kernel was cut to its reach, 3.9 s after).
func BenchmarkSpendingBoundaries(b *testing.B) {
	for _, p := range []struct{ min, max int }{{10, 20}, {10, 40}, {2, 300}} {
		t := make([]float64, 0, p.max-p.min+1)
		for n := p.min; n <= p.max; n++ {
			t = append(t, float64(n)/float64(p.max))
		}
		b.Run(fmt.Sprintf("looks=%d", len(t)), func(b *testing.B) {
			for b.Loop() {
				spendingBoundaries(DefaultAlpha, t)
			}
		})
	}
}
