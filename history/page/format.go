package page

import (
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
)

// scale is how a unit is shown: values are multiplied by factor and
// labelled with label, so that an axis reads 1.5 µs/op, not 1.5e-06.
type scale struct {
	factor float64
	label  string
}

// scaleFor picks the scale of unit for values up to max (in magnitude):
// time units go to ns, µs, ms or s, byte units to B, KiB, MiB or GiB, and
// other units get k, M or G when they are large.
func scaleFor(unit string, max float64) scale {
	max = math.Abs(max)
	switch {
	case strings.HasPrefix(unit, "sec/"), strings.HasPrefix(unit, "ns/"):
		rest := unit[strings.IndexByte(unit, '/'):]
		secs := max
		base := 1.0
		if strings.HasPrefix(unit, "ns/") {
			secs, base = max*1e-9, 1e-9
		}
		for _, s := range []struct {
			limit  float64
			prefix string
			factor float64
		}{{1e-6, "ns", 1e9}, {1e-3, "µs", 1e6}, {1, "ms", 1e3}} {
			if secs < s.limit {
				return scale{base * s.factor, s.prefix + rest}
			}
		}
		return scale{base, "s" + rest}
	case strings.HasPrefix(unit, "B/"):
		rest := unit[1:]
		for _, s := range []struct {
			prefix string
			size   float64
		}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if max >= s.size {
				return scale{1 / s.size, s.prefix + rest}
			}
		}
		return scale{1, unit}
	}
	for _, s := range []struct {
		prefix string
		size   float64
	}{{"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if max >= s.size {
			return scale{1 / s.size, s.prefix + " " + unit}
		}
	}
	return scale{1, unit}
}

// formatValue writes v of unit with three significant digits in the
// unit's own scale: "1.23 µs/op", "512 B/op", "12.3 k allocs/op".
func formatValue(v float64, unit string) string {
	s := scaleFor(unit, v)
	return sig3(v*s.factor) + " " + s.label
}

// sig3 writes v with three significant digits and no exponent for the
// figures benchmarks have; integers of four digits or more stay whole.
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	// Round first, so that a carry (9.996 → 10.0) counts its new digit.
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	mag := int(math.Floor(math.Log10(math.Abs(v))))
	if mag < -6 || mag > 15 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', max(0, 2-mag), 64)
}

// formatChange writes the relative change from a to b as a signed
// percentage, "+12.3%", "−4.0%", "+150%"; "" when a is zero.
func formatChange(a, b float64) string {
	if a == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return ""
	}
	pct := (b - a) / math.Abs(a) * 100
	s := "+"
	if pct < 0 {
		s = "−" // a real minus sign, as wide as the plus
	}
	p := math.Abs(pct)
	switch {
	case p >= 100:
		return s + strconv.FormatFloat(p, 'f', 0, 64) + "%"
	case p < 0.05:
		return "±0.0%"
	}
	return s + strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// envLabel is what a break line says: the parts of the new environment
// key that differ from the old one, shortened. Keys are Env.Key strings,
// comma-separated.
func envLabel(prev, next string) string {
	old := map[string]bool{}
	for _, p := range strings.Split(prev, ", ") {
		old[p] = true
	}
	var changed []string
	for _, p := range strings.Split(next, ", ") {
		if !old[p] {
			changed = append(changed, shortCPU(p))
		}
	}
	if len(changed) == 0 {
		changed = []string{next}
	}
	return clip(strings.Join(changed, ", "), 40)
}

// shortCPU drops the trademarks and clock speed a CPU model string
// carries: "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz" → "Intel Xeon
// Platinum 8370C".
func shortCPU(s string) string {
	if i := strings.Index(s, " @ "); i > 0 {
		s = s[:i]
	}
	for _, junk := range []string{"(R)", "(r)", "(TM)", "(tm)", " CPU", " Processor"} {
		s = strings.ReplaceAll(s, junk, "")
	}
	f := strings.Fields(s)
	// AMD's "16-Core" says nothing the model number does not.
	if len(f) > 1 && strings.HasSuffix(f[len(f)-1], "-Core") {
		f = f[:len(f)-1]
	}
	return strings.Join(f, " ")
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dateTicks marks whole hours, days or months of UTC run time, at most
// about seven of them, so that a time axis reads "Sep 3", "Sep 10", not
// seconds since 1970 at arbitrary places.
type dateTicks struct{}

var _ plot.Ticker = dateTicks{}

// Ticks implements plot.Ticker for Unix seconds.
func (dateTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return nil
	}
	const want = 7
	lo := time.Unix(int64(math.Ceil(min)), 0).UTC()
	span := (max - min) / 3600 // hours
	var out []plot.Tick
	add := func(t time.Time, format string) {
		x := float64(t.Unix())
		if x >= min && x <= max {
			out = append(out, plot.Tick{Value: x, Label: t.Format(format)})
		}
	}
	for _, h := range []int{1, 2, 3, 6, 12} {
		step := time.Duration(h) * time.Hour
		if span/float64(h) <= want {
			for t := lo.Truncate(step); !t.After(time.Unix(int64(max), 0)); t = t.Add(step) {
				if t.Hour() == 0 {
					add(t, "Jan 2")
				} else {
					add(t, "15:04")
				}
			}
			return out
		}
	}
	day := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, time.UTC)
	for _, d := range []int{1, 2, 7, 14} {
		if span/float64(24*d) <= want {
			for t := day; float64(t.Unix()) <= max; t = t.AddDate(0, 0, d) {
				add(t, "Jan 2")
			}
			return out
		}
	}
	for _, m := range []int{1, 2, 3, 6, 12, 24, 60, 120} {
		if span/float64(24*30*m) <= want || m == 120 {
			// Aligned: every second month starts in January, every
			// quarter is a calendar quarter.
			month := time.Month((int(lo.Month())-1)/m*m + 1)
			if m >= 12 {
				month = 1
			}
			first := time.Date(lo.Year(), month, 1, 0, 0, 0, 0, time.UTC)
			for t := first; float64(t.Unix()) <= max; t = t.AddDate(0, m, 0) {
				if m >= 12 {
					add(t, "2006")
				} else {
					add(t, "Jan 2006")
				}
			}
			return out
		}
	}
	return out
}

// valueTicks are three to seven ticks at multiples of 1, 2, 2.5 or 5
// times a power of ten, labelled with the decimals their step needs.
// (gonum's DefaultTicks can start at an offset, 13.25, 14.25, which a
// label of "13", "14" would misstate.)
type valueTicks struct{}

var _ plot.Ticker = valueTicks{}

// Ticks implements plot.Ticker.
func (valueTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return nil
	}
	raw := (max - min) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, dec := 10*mag, -int(math.Floor(math.Log10(mag)))-1
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step, dec = m*mag, -int(math.Floor(math.Log10(mag)))
			if m == 2.5 {
				dec++
			}
			break
		}
	}
	if dec < 0 {
		dec = 0
	}
	var ticks []plot.Tick
	for k := math.Ceil(min / step); k*step <= max; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', dec, 64)})
	}
	return ticks
}
