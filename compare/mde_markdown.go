package compare

import (
	"fmt"
	"math"
	"slices"
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
