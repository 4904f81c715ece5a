package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// fmtPct formats a percentage with two significant figures at most, as
// the MDE is an estimate: 23%, 7.4%, 0.5%.
func fmtPct(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f%%", v)
	}
	return fmt.Sprintf("%.1f%%", v)
}

// mdeText says what an unchanged row could have seen, for the verdict
// cell; "" for rows it does not apply to, and for rows the p column
// already marks as compared exactly.
func mdeText(r Row) string {
	if r.Verdict != Unchanged || r.Base == nil || r.Head == nil {
		return ""
	}
	switch {
	case r.MDEPct == nil && r.Reason == TooFewSamples:
		return "could not see a change of any size"
	case r.MDEPct == nil:
		return ""
	case r.Reason == BelowThreshold:
		return "could see ≥ " + fmtPct(*r.MDEPct)
	case r.Reason == Equivalent:
		// Its note gives the interval, which says more.
		return ""
	case *r.MDEPct == 0 && r.PValue != nil && r.PAdjusted == nil:
		return ""
	case *r.MDEPct == 0:
		return "any change would show"
	}
	return "no change ≥ " + fmtPct(*r.MDEPct) + " (could not see smaller)"
}

// undecidedMDE is the median MDE of the rows that could not be decided,
// +Inf where at least half could not see any change; ok is false without such
// rows.
func undecidedMDE(rows []Row) (median float64, ok bool) {
	var v []float64
	for _, r := range rows {
		if r.Verdict == Unchanged && r.Reason.Inconclusive() {
			if r.MDEPct != nil {
				v = append(v, *r.MDEPct)
			} else {
				v = append(v, math.Inf(1))
			}
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2], true
	}
	return (v[n/2-1] + v[n/2]) / 2, true
}

// undecidedText is the headline's note on the inconclusive rows.
func undecidedText(k int, rows []Row) string {
	s := fmt.Sprintf("%d inconclusive", k)
	switch med, ok := undecidedMDE(rows); {
	case !ok:
	case math.IsInf(med, 0):
		s += ", at least half with too few samples to see any change"
	default:
		s += ", median detectable change " + fmtPct(med)
	}
	return s
}

// adviceMaxRounds caps the rounds the advice suggests: beyond it, more
// rounds are not a sensible way to decide a row (at this repository's
// pace, 100 rounds take about 40 minutes), and the advice says so.
const adviceMaxRounds = 100

// undecidedBench is one benchmark with inconclusive rows, for the advice.
type undecidedBench struct {
	row    Row // the first inconclusive row, for the name
	units  []string
	mde    float64 // the largest MDE of its inconclusive rows, +Inf for none
	rounds int
	ok     bool // rounds is within adviceMaxRounds
	// atLeast: a row has no MDE (too few samples to test), so its noise,
	// and the rounds it needs beyond the fewest that can be tested, are
	// unknown.
	atLeast bool
}

// undecidedBenchmarks groups the inconclusive rows by benchmark and
// estimates the rounds each benchmark needs for all its rows to see a
// change of the threshold, each row at the level of its MDE.
func undecidedBenchmarks(r *Report) []*undecidedBench {
	if !slices.ContainsFunc(r.Benchmarks, undecided) {
		// The looks' levels cost time on a long plan: none are needed.
		return nil
	}
	padj := make([]*float64, len(r.Benchmarks))
	for i, row := range r.Benchmarks {
		padj[i] = row.PAdjusted
	}
	levels := correctedLevels(padj, reportLevels(r))
	byName := map[[2]string]*undecidedBench{}
	var out []*undecidedBench
	for i, row := range r.Benchmarks {
		if !undecided(row) {
			continue
		}
		k := [2]string{row.Package, row.Name}
		b := byName[k]
		if b == nil {
			b = &undecidedBench{row: row, ok: true}
			byName[k] = b
			out = append(out, b)
		}
		b.units = append(b.units, row.Unit)
		mde := math.Inf(1)
		if row.MDEPct != nil {
			mde = *row.MDEPct
		} else {
			b.atLeast = true
		}
		b.mde = math.Max(b.mde, mde)
		rounds, ok := roundsNeeded(mde, min(row.Base.N, row.Head.N), r.Config.Threshold, levels[i], adviceMaxRounds)
		b.rounds, b.ok = max(b.rounds, rounds), b.ok && ok
	}
	return out
}

// undecided reports whether the advice covers a row: compared, and
// inconclusive.
func undecided(row Row) bool {
	return row.Verdict == Unchanged && row.Reason.Inconclusive() && row.Base != nil && row.Head != nil
}

// advice is a folded section saying, for each benchmark whose rows stay
// undecided, how many rounds would decide them at this noise, as the
// value of the count input.
func (m *mdReport) advice() string {
	if m.absolute {
		return ""
	}
	benches := undecidedBenchmarks(m.r)
	if len(benches) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>What would decide the inconclusive rows (%s)</summary>\n\n", plural(len(benches), "benchmark", "benchmarks"))
	fmt.Fprintf(&b, "At this noise, the rounds each benchmark needs for its rows to see a %g%% change (the detectable change shrinks as 1/√rounds):\n\n", m.r.Config.Threshold)
	b.WriteString("| Benchmark | Units | Detectable now | Rounds needed |\n|:--|:--|--:|:--|\n")
	best, beyond, atLeast := 0, 0, false
	for _, u := range benches {
		now := "none"
		if !math.IsInf(u.mde, 0) {
			now = fmtPct(u.mde)
		}
		need := fmt.Sprintf("more than %d", adviceMaxRounds)
		if u.ok {
			need = fmt.Sprintf("`count: %d`", u.rounds)
			if u.atLeast {
				need = "at least " + need
				atLeast = true
			}
			best = max(best, u.rounds)
		} else {
			beyond++
		}
		units := make([]string, len(u.units))
		for i, s := range u.units {
			units[i] = Escape(s)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.name(u.row), strings.Join(units, ", "), now, need)
	}
	b.WriteString("\n")
	if best > 0 {
		what := "all of them"
		if beyond > 0 {
			what = fmt.Sprintf("all but %d of them", beyond)
		}
		verb := "would decide"
		if atLeast {
			verb = "is the least that could decide"
		}
		fmt.Fprintf(&b, "`count: %d` (`-count %d` locally) %s %s. ", best, best, verb, what)
	}
	if beyond > 0 {
		fmt.Fprintf(&b, "Where more than %d rounds are needed, rounds alone are not the way: a quieter runner, or a larger `threshold`, is.", adviceMaxRounds)
	}
	b.WriteString("\n\n</details>\n")
	return b.String()
}
