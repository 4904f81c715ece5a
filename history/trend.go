package history

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchunit"

	"github.com/natsbench/natsbench-action/compare"
)

// TrendPoints is how many records a pull request's trend draws.
const TrendPoints = 30

// Current returns the series' trailing points measured in the same
// environment as its last point: figures from other hardware or another
// Go are not one line.
func (s Series) Current() Series {
	i := len(s.Points)
	for i > 0 && s.Points[i-1].Env == s.Points[len(s.Points)-1].Env {
		i--
	}
	s.Points = s.Points[i:]
	return s
}

// Trends draws, for each key, the last TrendPoints head records of its
// series in its current environment, and where the record of baseSHA
// sits among them: the trend a pull request's comment shows beside a
// significant change. Keys without history are left out.
func (h *History) Trends(keys []compare.TrendKey, baseSHA string) map[compare.TrendKey]compare.Trend {
	want := make(map[Key]bool, len(keys))
	for _, k := range keys {
		want[Key{Package: k.Package, Name: k.Name, Unit: k.Unit}] = true
	}
	out := map[compare.TrendKey]compare.Trend{}
	for _, s := range h.Series(SideHead) {
		if !want[s.Key] {
			continue
		}
		s = s.Current().Last(TrendPoints)
		if len(s.Points) == 0 {
			continue
		}
		values := make([]float64, len(s.Points))
		for i, p := range s.Points {
			values[i] = p.Center
		}
		t := compare.Trend{Spark: Sparkline(values), N: len(values)}
		// The newest record of the base commit: a re-run replaces it.
		for i := len(s.Points) - 1; i >= 0 && len(baseSHA) >= 7; i-- {
			if sameCommit(s.Points[i].SHA, baseSHA) {
				t.BaseAt = i + 1
				t.BaseRank = 1
				for _, v := range values {
					if v > values[i] {
						t.BaseRank++
					}
				}
				break
			}
		}
		out[compare.TrendKey{Package: s.Key.Package, Name: s.Key.Name, Unit: s.Key.Unit}] = t
	}
	return out
}

// sameCommit reports whether two commit ids, either abbreviated, name the
// same commit.
func sameCommit(a, b string) bool {
	if len(a) < 7 || len(b) < 7 {
		return false
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// Mover is one series' change over its current environment's records.
type Mover struct {
	Key Key
	// Points are the series' points in its current environment.
	Points []Point
	// First and Last are the centers of the first and last point.
	First, Last float64
	// ChangePct is Last against First in percent; NaN when First is 0.
	ChangePct float64
}

// Movers returns every head series with at least two records in its
// current environment, those that moved most first.
func (h *History) Movers() []Mover {
	var out []Mover
	for _, s := range h.Series(SideHead) {
		c := s.Current()
		if len(c.Points) < 2 {
			continue
		}
		m := Mover{Key: s.Key, Points: c.Points, First: c.Points[0].Center, Last: c.Points[len(c.Points)-1].Center}
		m.ChangePct = math.NaN()
		if m.First != 0 {
			m.ChangePct = 100 * (m.Last/m.First - 1)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return moved(out[i]) > moved(out[j]) })
	return out
}

func moved(m Mover) float64 {
	if math.IsNaN(m.ChangePct) {
		return -1
	}
	return math.Abs(m.ChangePct)
}

// minChartChange is the smallest change, in percent, that gets a chart.
const minChartChange = 0.5

// SummaryOptions tune Summary.
type SummaryOptions struct {
	// Charts is how many of the rows that moved most get a chart; 3 when
	// zero.
	Charts int
	// Rows is how many rows the table lists; 20 when zero.
	Rows int
	// Points bounds the points of a chart (the newest are kept); 60 when
	// zero.
	Points int
}

// Summary renders the trends of the history for a job summary: a Mermaid
// xychart-beta chart of each of the rows that moved most over the
// retained records, in their current environment, as a percentage of
// their first value, and a table of the movers with their first and last
// value, the change and the number of records. Its size is bounded by the
// options, whatever the history holds. It is "" when no series has two
// records yet.
func Summary(h *History, opt SummaryOptions) string {
	if opt.Charts <= 0 {
		opt.Charts = 3
	}
	if opt.Rows <= 0 {
		opt.Rows = 20
	}
	if opt.Points <= 0 {
		opt.Points = 60
	}
	movers := h.Movers()
	if len(movers) == 0 {
		return ""
	}
	var b strings.Builder
	heads := 0
	for _, r := range h.Records {
		if r.Side == SideHead {
			heads++
		}
	}
	fmt.Fprintf(&b, "### 📈 Trends over %s\n\n", plural(heads, "run", "runs"))
	b.WriteString("The rows that moved most since the first record in their current environment (CPU, Go, GOMAXPROCS); each chart is the row's median as a percentage of its first value.\n\n")
	charts := 0
	for _, m := range movers {
		// A row that did not move is not worth a chart; the table has it.
		if charts == opt.Charts || !(moved(m) >= minChartChange) {
			break
		}
		b.WriteString(chart(m, opt.Points))
		b.WriteString("\n")
		charts++
	}
	b.WriteString(Table(movers, opt.Rows))
	return b.String()
}

// chart is one mover's Mermaid xychart-beta block.
func chart(m Mover, maxPoints int) string {
	pts := m.Points
	if len(pts) > maxPoints {
		pts = pts[len(pts)-maxPoints:]
	}
	first := pts[0].Center
	var labels, values []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		// The date, and the commit: runs of one day stay apart.
		labels = append(labels, `"`+p.Time.UTC().Format("01-02")+" "+MermaidText(p.SHA[:min(7, len(p.SHA))], 7)+`"`)
		v := 100.0
		if first != 0 {
			v = 100 * p.Center / first
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		values = append(values, fmt.Sprintf("%.1f", v))
	}
	// Some room around the line, so that a flat one is still drawn.
	pad := math.Max((hi-lo)*0.1, 1)
	var b strings.Builder
	b.WriteString("```mermaid\nxychart-beta\n")
	fmt.Fprintf(&b, "    title \"%s\"\n", MermaidText(m.Key.Name+" "+m.Key.Unit+" ("+m.Key.Package+")", 100))
	fmt.Fprintf(&b, "    x-axis [%s]\n", strings.Join(labels, ", "))
	fmt.Fprintf(&b, "    y-axis \"%% of first\" %.0f --> %.0f\n", math.Floor(lo-pad), math.Ceil(hi+pad))
	fmt.Fprintf(&b, "    line [%s]\n", strings.Join(values, ", "))
	b.WriteString("```\n")
	return b.String()
}

// Table renders up to n movers as a markdown table: first, last, change
// and the number of records, every name escaped.
func Table(movers []Mover, n int) string {
	if len(movers) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| Benchmark | Unit | First | Last | Change | Records | Since |\n|:--|:--|--:|--:|--:|--:|:--|\n")
	for _, m := range movers[:min(n, len(movers))] {
		first, last := FormatPair(m.First, m.Last, m.Key.Unit)
		name := compare.Escape(m.Key.Name)
		if m.Key.Package != "" {
			name = compare.Escape(m.Key.Package) + " › " + name
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s |\n", name, compare.Escape(m.Key.Unit), first, last, formatChange(m.ChangePct), len(m.Points), m.Points[0].Time.UTC().Format("2006-01-02"))
	}
	if more := len(movers) - n; more > 0 {
		fmt.Fprintf(&b, "\n…and %s.\n", plural(more, "more row", "more rows"))
	}
	return b.String()
}

// PlainTable renders the movers as aligned plain text, for a terminal.
func PlainTable(movers []Mover) string {
	var b strings.Builder
	rows := [][]string{{"BENCHMARK", "UNIT", "FIRST", "LAST", "CHANGE", "RECORDS", "SINCE"}}
	for _, m := range movers {
		first, last := FormatPair(m.First, m.Last, m.Key.Unit)
		rows = append(rows, []string{plainText(m.Key.Package + " " + m.Key.Name), plainText(m.Key.Unit), first, last,
			formatChange(m.ChangePct), fmt.Sprint(len(m.Points)), m.Points[0].Time.UTC().Format("2006-01-02")})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			pad := widths[i] - utf8.RuneCountInString(c)
			if i > 0 {
				b.WriteString("  ")
			}
			if i >= 2 && i <= 5 {
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else if i < len(r)-1 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString(c)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// plainText keeps a hostile name on its line and free of terminal
// control sequences.
func plainText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// FormatPair formats two values of unit on a common scale, as the
// report's tables do: 1.234µs, 12.30KiB.
func FormatPair(a, b float64, unit string) (string, string) {
	sc := benchunit.CommonScale([]float64{a, b}, benchunit.ClassOf(unit))
	suffix := ""
	switch {
	case strings.HasPrefix(unit, "sec/"):
		suffix = "s"
	case strings.HasPrefix(unit, "B/"):
		suffix = "B"
	}
	return sc.Format(a) + suffix, sc.Format(b) + suffix
}

func formatChange(pct float64) string {
	if math.IsNaN(pct) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", pct)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// MermaidText makes untrusted text safe inside a quoted string of a
// Mermaid diagram in a markdown code fence: only letters, digits, spaces
// and a few harmless punctuation marks are kept, the rest become '_', so
// that no quote ends the string, no bracket or newline changes the
// diagram, no %% starts a directive and no backtick closes the fence. It
// is cut to at most n runes.
func MermaidText(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == ' ', r == '_', r == '-', r == '.', r == '/', r == '=', r == '+', r == ',', r == '*', r == '(', r == ')':
			b.WriteRune(r)
		case r > 0x7f && (r >= 0xa0) && !strings.ContainsRune("\u2028\u2029\u200b\u200c\u200d\ufeff", r) && r < 0xfff0:
			// Letters of other scripts are kept; they cannot be syntax.
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
		count++
	}
	return b.String()
}
