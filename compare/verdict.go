package compare

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchproc"

	"github.com/natsbench/natsbench-action/outcome"
)

// decide sets the verdict of a row that was compared (both sides have
// data and nothing failed). It never turns "could not tell" into a
// verdict: too few samples or noise wider than the threshold leave the
// row unchanged with a note and a report warning.
func decide(w *work, opt Options, ws *warnSet) {
	if w.Verdict != "" {
		return
	}
	changed := false
	if w.exact {
		// Deterministic units: every sample on each side is the same, so
		// any difference is real, however small; there is nothing to test.
		changed = w.Base.Center != w.Head.Center
		w.Settled = true
		if changed {
			w.Reason = Exact
			w.Note = string(Exact) + ": every sample is the same on each side"
		}
	} else {
		n1, n2 := len(w.baseVals), len(w.headVals)
		if minP := minPValue(n1, n2); minP > w.level {
			w.Verdict = Unchanged
			w.Reason = TooFewSamples
			w.Note = fmt.Sprintf(string(TooFewSamples)+": with n=%d+%d the smallest possible p is %.3g > α %.3g", n1, n2, minP, w.level)
			ws.add(tooFewWarning(w.level, opt), w.label())
			return
		}
		sig := *w.PAdjusted <= w.level
		big := w.DeltaPct == nil || math.Abs(*w.DeltaPct) >= opt.Threshold
		changed = sig && big
		w.Settled = sig
		switch {
		case sig && !big:
			w.Reason = BelowThreshold
			w.Note = belowThresholdNote(opt.Threshold)
		case !sig && opt.Plan.Sequential() && equivalent(w, opt.Threshold):
			w.Settled = true
		case !sig:
			if noise := noisePct(w.Base, w.Head); noise > opt.Threshold {
				w.Reason = Noisy
				w.Note = fmt.Sprintf(string(Noisy)+": confidence interval ±%.0f%% is wider than the %g%% threshold", noise, opt.Threshold)
				ws.add(fmt.Sprintf("noise wider than the %g%% threshold: a change of that size could go unseen", opt.Threshold), w.label())
			}
		}
	}
	if !changed {
		w.Verdict = Unchanged
		return
	}
	if up := w.Head.Center > w.Base.Center; up == (w.better > 0) {
		w.Verdict = Improvement
	} else {
		w.Verdict = Regression
	}
}

// equivalent reports whether the change's confidence interval, at the
// confidence matching the row's level (1 - level: 95% at α 0.05, more at
// an early look), lies within ±threshold, and if so notes it. The looks
// spend the same boundary on equivalence as on significance, so that a
// row stopped as equivalent is as sure as one stopped as changed.
func equivalent(w *work, threshold float64) bool {
	conf := 1 - w.level
	lo, hi, ok := shiftCI(w.baseVals, w.headVals, conf)
	if !ok || lo <= -threshold || hi >= threshold {
		return false
	}
	w.Reason = Equivalent
	w.Note = equivalentNote(lo, hi, conf, threshold)
	return true
}

// equivalentNote is the note of a row shown equivalent by the interval
// from lo to hi percent at confidence conf.
func equivalentNote(lo, hi, conf, threshold float64) string {
	return fmt.Sprintf(string(Equivalent)+": the change is between %+.1f%% and %+.1f%% (%s confidence), within the ±%g%% threshold",
		lo, hi, confText(conf), threshold)
}

// belowThresholdNote is the note of a significant row whose change is
// smaller than the threshold.
func belowThresholdNote(threshold float64) string {
	return fmt.Sprintf(string(BelowThreshold)+" than the %g%% threshold", threshold)
}

// confText formats a confidence level as a percentage, with as many
// decimals as it takes to not round it up: 95%, 99.6%, 99.998%.
func confText(c float64) string {
	for d := 0; d < 6; d++ {
		s := strconv.FormatFloat(100*c, 'f', d, 64)
		if v, _ := strconv.ParseFloat(s, 64); v <= 100*c {
			return s + "%"
		}
	}
	return strconv.FormatFloat(100*c, 'g', 6, 64) + "%"
}

// minPValue is the smallest two-sided p-value the Mann-Whitney U test can
// give for samples of n1 and n2 values (no ties, complete separation):
// 2 / C(n1+n2, n1).
func minPValue(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// tooFewWarning is the warning for rows too small to be significant at
// level: α itself in the fixed design; under a sequential plan the level
// of the row's look, which is below α, so that it names the runs that
// look would have needed, not those α would.
func tooFewWarning(level float64, opt Options) string {
	if level == opt.Alpha {
		return fmt.Sprintf("too few samples to ever reach significance at α %g (need at least %d runs per side); no verdict", opt.Alpha, samplesNeeded(opt.Alpha))
	}
	return fmt.Sprintf("too few samples to reach significance at their look's level %.2g, spent from α %g (need at least %d runs per side at it); no verdict", level, opt.Alpha, samplesNeeded(level))
}

// samplesNeeded is the smallest n with minPValue(n, n) <= alpha.
func samplesNeeded(alpha float64) int {
	n := 1
	for minPValue(n, n) > alpha && n < 1000 {
		n++
	}
	return n
}

// noisePct is the wider Spread of the two sides. Unbounded intervals (too
// few samples for a CI) are not noise and count as 0.
func noisePct(ss ...*Summary) float64 {
	var worst float64
	for _, s := range ss {
		if s == nil {
			continue
		}
		if v := s.Spread(); !math.IsInf(v, 0) {
			worst = math.Max(worst, v)
		}
	}
	return worst
}

// applyFailures marks the rows that runner's failures and build errors
// explain as failed, and adds a row for each failure that matches none.
func applyFailures(rows []*work, fs []outcome.Failure, bs []outcome.BuildError) []*work {
	extra := map[[2]string]*work{}
	addExtra := func(pkg, name, note string) {
		k := [2]string{pkg, name}
		if w := extra[k]; w != nil {
			w.Note = joinNote(w.Note, note)
			return
		}
		w := &work{Row: Row{Package: pkg, Name: name, Verdict: Failed, Reason: FailedRun, Note: note}}
		extra[k] = w
		rows = append(rows, w)
	}
	for _, f := range fs {
		name := normName(f.Benchmark)
		note := "failed on " + string(f.Side)
		if f.Reason != "" {
			note += ": " + f.Reason
		}
		matched := false
		for _, w := range rows {
			if extra[[2]string{w.Package, w.Name}] == w || (f.Package != "" && w.Package != f.Package) {
				continue
			}
			if name == "" {
				// The binary died before naming a benchmark: it explains
				// the rows it left without data on its side.
				if hasData(w, f.Side) {
					continue
				}
			} else if rn := normName(w.Name); rn != name && !strings.HasPrefix(rn, name+"/") {
				continue
			}
			markFailed(w, note)
			matched = true
		}
		if !matched {
			addExtra(f.Package, name, note)
		}
	}
	for _, b := range bs {
		note := "build failed on " + string(b.Side)
		matched := false
		for _, w := range rows {
			if extra[[2]string{w.Package, w.Name}] == w || w.Package != b.Package || hasData(w, b.Side) {
				continue
			}
			markFailed(w, note)
			matched = true
		}
		if !matched {
			addExtra(b.Package, "", note)
		}
	}
	return rows
}

func markFailed(w *work, note string) {
	w.Verdict = Failed
	w.Reason = FailedRun
	w.PAdjusted = nil
	w.Note = joinNote(w.Note, note)
}

func joinNote(a, b string) string {
	if a == "" || strings.Contains(a, b) {
		return a + b
	}
	return a + "; " + b
}

func hasData(w *work, side outcome.Side) bool {
	switch side {
	case outcome.Base:
		return w.Base != nil
	case outcome.Head:
		return w.Head != nil
	}
	return false
}

// normName strips what go test adds around a benchmark's name (the
// "Benchmark" prefix, the -GOMAXPROCS suffix) so that runner's names and
// benchfmt's match.
func normName(s string) string {
	s = strings.TrimPrefix(s, "Benchmark")
	if i := strings.LastIndexByte(s, '-'); i >= 0 && i < len(s)-1 {
		digits := true
		for _, c := range s[i+1:] {
			if c < '0' || c > '9' {
				digits = false
				break
			}
		}
		if digits {
			s = s[:i]
		}
	}
	return s
}

// warnSet collects warnings that apply to many rows into one line each,
// so that a report over hundreds of rows stays readable.
type warnSet struct {
	order []string
	rows  map[string][]string
}

func newWarnSet() *warnSet { return &warnSet{rows: map[string][]string{}} }

func (ws *warnSet) add(msg, label string) {
	if _, ok := ws.rows[msg]; !ok {
		ws.order = append(ws.order, msg)
	}
	ws.rows[msg] = append(ws.rows[msg], label)
}

// residue warns when a row's results differ in configuration the rows
// are not split by (benchstat's "benchmarks vary in ...").
func (ws *warnSet) residue(c *cell, label, side string) {
	keys := make([]benchproc.Key, 0, len(c.residue))
	for k := range c.residue {
		keys = append(keys, k)
	}
	fields := benchproc.NonSingularFields(keys)
	if len(fields) == 0 {
		return
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	sort.Strings(names)
	ws.add(side+": benchmarks vary in "+strings.Join(names, ", "), label)
}

func (ws *warnSet) strings() []string {
	out := make([]string, 0, len(ws.order))
	const show = 3
	for _, msg := range ws.order {
		labels := ws.rows[msg]
		if len(labels) == 1 {
			out = append(out, msg+": "+labels[0])
			continue
		}
		s := fmt.Sprintf("%s: %d rows (%s", msg, len(labels), strings.Join(labels[:min(show, len(labels))], "; "))
		if len(labels) > show {
			s += "; …"
		}
		out = append(out, s+")")
	}
	return out
}
