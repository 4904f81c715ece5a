package compare

import (
	"fmt"
	"math"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/perf/benchunit"

	"github.com/natsbench/natsbench-action/outcome"
)

// Marker is the hidden first line of every rendered report; the comment
// poster finds its sticky comment by it.
const Marker = "<!-- natsbench-action -->"

// MarkdownOptions tune Markdown.
type MarkdownOptions struct {
	// MaxBytes bounds the output in bytes, which are never fewer than
	// characters; 0 means unlimited. This is the one place where a report
	// is fitted to a target's size (a comment, a job summary). Detail is
	// cut to fit, in this order: the folded table of other results and
	// the warnings, the hotspots, the environment and reproduce command,
	// failure output, and then rows of the significant table ("…and N
	// more"). The marker, the verdict line and the link to the run are
	// kept whenever they fit at all.
	MaxBytes int
	// RunURL links to the full run; empty means Report.RunURL. Post mode
	// sets it: its report was made by another run.
	RunURL string
	// Trends, when set, adds a column to the significant changes: each
	// row's recent trend on the default branch, from the history, so
	// that a reviewer sees whether the base itself was an outlier. Rows
	// without an entry show nothing there.
	Trends map[TrendKey]Trend
}

// TrendKey names the row a Trend belongs to.
type TrendKey struct {
	Package, Name, Unit string
}

// Trend is one row's recent history on the default branch, as the
// caller drew it: compare only places and escapes it.
type Trend struct {
	// Spark is a sparkline of the row's last N records, oldest first.
	Spark string
	// N is the number of records drawn.
	N int
	// BaseAt is the 1-based position of the base commit's record among
	// the N, 0 when the base is not among them.
	BaseAt int
	// BaseRank is the base's rank among the N by value, 1 for the
	// highest; 0 when the base is not among them.
	BaseRank int
}

// failureOutputLines is how much of a failure's or build error's output
// the comment shows; report.json has all of it.
const failureOutputLines = 30

// Markdown renders r for a pull-request comment, a job summary or
// report.md. All text that came from the benchmarked code is escaped.
func Markdown(r *Report, opt MarkdownOptions) string {
	m := &mdReport{r: r, runURL: safeURL(orDefault(opt.RunURL, r.RunURL)), trends: opt.Trends}
	m.prepare()
	doc := m.doc(failureOutputLines)
	if opt.MaxBytes <= 0 || len(doc.String()) <= opt.MaxBytes {
		return doc.String()
	}
	fits := func() bool { return len(doc.String()) <= opt.MaxBytes }
	doc.truncated = true
	cuts := []func(){
		func() { doc.details, doc.advice, doc.shards, doc.warnings = "", "", "", "" },
		func() { doc.hotspots = "" },
		func() { doc.env, doc.repro = "", "" },
		func() { doc.failures = m.failures(5) },
		func() { doc.failures = m.failures(0) },
	}
	for _, cut := range cuts {
		cut()
		if fits() {
			return doc.String()
		}
	}
	// Then fewer significant rows, worst kept: the most rows that fit,
	// found by bisection since the size grows with the rows.
	lo, hi := 0, len(m.sig)-1 // all rows did not fit (above)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if doc.sig = m.sigTable(mid); fits() {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	doc.sig = m.sigTable(lo)
	if !fits() {
		// Only if MaxBytes is smaller than the verdict and the run link.
		doc.failures = ""
	}
	if s := doc.String(); len(s) > opt.MaxBytes {
		// Smaller than the marker and the verdict: a plain cut, which
		// keeps the promise of the limit.
		return cutRunes(s, opt.MaxBytes)
	}
	return doc.String()
}

// cutRunes returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// mdDoc is the rendered report in sections, so that detail can be cut.
type mdDoc struct {
	head, sig, failures, warnings, details, shards, hotspots, env, repro string
	advice                                                               string
	runURL                                                               string
	truncated                                                            bool
}

func (d *mdDoc) String() string {
	var b strings.Builder
	for _, s := range []string{d.head, d.sig, d.failures, d.hotspots, d.details, d.advice, d.shards, d.warnings, d.env, d.repro} {
		if s != "" {
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	if d.truncated {
		if d.runURL != "" {
			fmt.Fprintf(&b, "_Report shortened to fit; the [full report](%s) is in the run's artifacts._\n", d.runURL)
		} else {
			b.WriteString("_Report shortened to fit; the full report is in report.md and report.json._\n")
		}
	}
	return b.String()
}

type mdReport struct {
	r        *Report
	runURL   string
	sig      []Row // significant changes, worst first
	rest     []Row // everything else, in report order
	pkgNames map[string]string
	absolute bool
	sharded  bool // a merged report: rows name their shard
	trends   map[TrendKey]Trend
	seq      bool // a sequential run: rows say how many rounds they got
}

func (m *mdReport) prepare() {
	m.sharded = len(m.r.Shards) > 0
	m.seq = m.r.Config.MinCount > 0 && m.r.Config.MinCount < m.r.Config.Count
	for _, row := range m.r.Benchmarks {
		if row.Verdict == Measured {
			m.absolute = true
		}
	}
	for _, row := range m.r.Benchmarks {
		// In absolute mode the measured figures take the place of the
		// significant changes, and are cut the same way; a row without
		// head figures has none to show there.
		if m.absolute && row.Head != nil || !m.absolute && (row.Verdict == Regression || row.Verdict == Improvement) {
			m.sig = append(m.sig, row)
		} else {
			m.rest = append(m.rest, row)
		}
	}
	if m.absolute {
		m.pkgNames = shortPackages(m.r.Benchmarks)
		return
	}
	sort.SliceStable(m.sig, func(i, j int) bool {
		a, b := m.sig[i], m.sig[j]
		if a.Verdict != b.Verdict {
			return a.Verdict == Regression
		}
		return absDelta(a) > absDelta(b)
	})
	m.pkgNames = shortPackages(m.r.Benchmarks)
}

func absDelta(r Row) float64 {
	if r.DeltaPct == nil {
		return math.Inf(1)
	}
	return math.Abs(*r.DeltaPct)
}

func (m *mdReport) doc(outputLines int) *mdDoc {
	return &mdDoc{
		head:     m.head(),
		sig:      m.sigTable(len(m.sig)),
		failures: m.failures(outputLines),
		details:  m.details(),
		advice:   m.advice(),
		shards:   m.shards(),
		warnings: m.warnings(),
		hotspots: m.hotspots(),
		env:      m.env(),
		repro:    m.repro(),
		runURL:   m.runURL,
	}
}

// head is the marker, the one-line verdict and what was compared.
func (m *mdReport) head() string {
	var b strings.Builder
	b.WriteString(Marker + "\n")
	b.WriteString("### " + m.verdictLine() + "\n")
	for _, sh := range m.r.Shards {
		// A lost shard is said where no one can miss it.
		if sh.Lost() {
			b.WriteString("\n**⚠️ " + Escape(cutRunes(sh.LostText(), 300)) + "**\n")
		}
	}
	var line []string
	if m.r.Base.Ref != "" || m.r.Base.SHA != "" {
		line = append(line, "base "+refString(m.r.Base)+" → head "+refString(m.r.Head))
	} else if m.r.Head.Ref != "" || m.r.Head.SHA != "" {
		line = append(line, "head "+refString(m.r.Head))
	}
	if c := m.r.Config; c.Count > 0 {
		s := fmt.Sprintf("%d runs", c.Count)
		if m.seq {
			s = fmt.Sprintf("%d–%d runs", c.MinCount, c.Count)
		}
		if c.Benchtime != "" {
			s += " × " + Escape(c.Benchtime)
		}
		s += ", interleaved"
		if m.seq {
			s += ", each benchmark stopped once its rows were settled"
		}
		line = append(line, s)
	}
	if n := len(m.r.Shards); n > 0 {
		line = append(line, plural(n, "shard", "shards"))
	}
	if m.runURL != "" {
		line = append(line, fmt.Sprintf("[run](%s)", m.runURL))
	}
	if len(line) > 0 {
		b.WriteString("\n" + strings.Join(line, " · ") + "\n")
	}
	return b.String()
}

// verdictLine says in one line what a reviewer needs to know.
func (m *mdReport) verdictLine() string {
	s := m.r.Summary
	if s == nil {
		s = countVerdicts(m.r.Benchmarks)
	}
	n := countBenchmarks(m.r.Benchmarks)
	settings := fmt.Sprintf("(threshold %g%%, α %g)", m.r.Config.Threshold, m.r.Config.Alpha)
	var extra []string
	// Failed, added and removed count rows, as the line does: the unit a
	// verdict is given to. Absolute mode counts benchmarks only.
	failed := s[Failed]
	if m.absolute {
		failed = countBenchmarks(m.r.Benchmarks, Failed)
	}
	if failed > 0 {
		extra = append(extra, fmt.Sprintf("%d failed", failed))
	}
	if k := len(m.r.BuildErrors); k > 0 {
		extra = append(extra, plural(k, "build error", "build errors"))
	}
	lost := 0
	for _, sh := range m.r.Shards {
		if sh.Lost() {
			lost++
		}
	}
	if lost > 0 {
		extra = append(extra, plural(lost, "shard lost", "shards lost"))
	}
	if m.absolute {
		line := fmt.Sprintf("📊 %s measured, no baseline", plural(n, "benchmark", "benchmarks"))
		if len(extra) > 0 {
			line = "❌ " + strings.TrimPrefix(line, "📊 ") + ", " + strings.Join(extra, ", ")
		}
		return line
	}
	if k := s[Added]; k > 0 {
		extra = append(extra, fmt.Sprintf("%d added", k))
	}
	if k := s[Removed]; k > 0 {
		extra = append(extra, fmt.Sprintf("%d removed", k))
	}
	undecided := inconclusive(m.r.Benchmarks)
	if undecided > 0 {
		extra = append(extra, undecidedText(undecided, m.r.Benchmarks))
	}
	icon := "✅"
	switch {
	case s[Failed] > 0 || len(m.r.BuildErrors) > 0 || lost > 0:
		icon = "❌"
	case s[Regression] > 0:
		icon = "⚠️"
	case undecided > 0:
		// Not a green light: some rows could not be tested.
		icon = "❔"
	}
	var changes []string
	if k := s[Regression]; k > 0 {
		changes = append(changes, plural(k, "regression", "regressions"))
	}
	if k := s[Improvement]; k > 0 {
		changes = append(changes, plural(k, "improvement", "improvements"))
	}
	if len(changes) == 0 {
		changes = []string{"No significant change"}
	}
	line := icon + " " + strings.Join(changes, ", ") + " in " + plural(len(m.r.Benchmarks), "row", "rows") + " of " + plural(n, "benchmark", "benchmarks")
	if len(extra) > 0 {
		line += ", " + strings.Join(extra, ", ")
	}
	return line + " " + settings
}

// inconclusive counts the rows that could not be decided.
func inconclusive(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Verdict == Unchanged && r.Reason.Inconclusive() {
			n++
		}
	}
	return n
}

// countBenchmarks counts distinct (package, name) pairs among the rows
// with one of the verdicts, or among all rows if none is given.
func countBenchmarks(rows []Row, verdicts ...Verdict) int {
	seen := map[[2]string]bool{}
	for _, r := range rows {
		if len(verdicts) > 0 && !slices.Contains(verdicts, r.Verdict) {
			continue
		}
		seen[[2]string{r.Package, r.Name}] = true
	}
	return len(seen)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// sigTable is the table of the first n significant changes, worst first.
func (m *mdReport) sigTable(n int) string {
	if m.absolute {
		return m.absTable(n)
	}
	if len(m.sig) == 0 {
		return ""
	}
	var b strings.Builder
	trends := m.hasTrends()
	b.WriteString("| | Benchmark | Unit | Base | Head | Δ | p (adjusted) |" + m.roundsHead() + m.shardHead())
	if trends {
		b.WriteString(" Trend on the default branch |")
	}
	b.WriteString("\n|---|:--|:--|--:|--:|--:|--:|" + m.roundsRule() + m.shardRule())
	if trends {
		b.WriteString(":--|")
	}
	b.WriteString("\n")
	for _, r := range m.sig[:n] {
		icon := "🟢"
		if r.Verdict == Regression {
			icon = "🔴"
		}
		base, head := m.pair(r)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |%s%s", icon, m.name(r), Escape(r.Unit), base, head, fmtDelta(r.DeltaPct), fmtP(r), m.roundsCell(r), m.shardCell(r))
		if trends {
			b.WriteString(" " + trendCell(m.trends[TrendKey{r.Package, r.Name, r.Unit}]) + " |")
		}
		b.WriteString("\n")
	}
	if more := len(m.sig) - n; more > 0 {
		fmt.Fprintf(&b, "\n…and %d more significant %s.\n", more, pluralWord(more, "change", "changes"))
	}
	return b.String()
}

// hasTrends reports whether any significant row has a trend to show, so
// that a report without history keeps its table as it was.
func (m *mdReport) hasTrends() bool {
	for _, r := range m.sig {
		if t, ok := m.trends[TrendKey{r.Package, r.Name, r.Unit}]; ok && t.N > 0 {
			return true
		}
	}
	return false
}

// maxSpark bounds the sparkline shown in a cell, in runes.
const maxSpark = 60

// trendCell is "▁▂▅▇▃ base 4/5, 2nd highest of 5": the sparkline and
// where the base sits in it, by time and by value.
func trendCell(t Trend) string {
	if t.N <= 0 {
		return ""
	}
	spark := Escape(cutRunes(t.Spark, 4*maxSpark))
	switch {
	case t.BaseAt <= 0 || t.BaseAt > t.N || t.BaseRank <= 0 || t.BaseRank > t.N:
		return spark + fmt.Sprintf(" base not among the last %d", t.N)
	case t.N == 1:
		return spark + " base is the only record"
	}
	return spark + fmt.Sprintf(" base %d/%d, %s of %d", t.BaseAt, t.N, rankWord(t.BaseRank, t.N), t.N)
}

// rankWord says a rank among n (1 = highest) the short way round:
// "highest", "2nd highest", "3rd lowest", "lowest".
func rankWord(rank, n int) string {
	switch {
	case rank == 1:
		return "highest"
	case rank == n:
		return "lowest"
	case rank <= (n+1)/2:
		return ordinal(rank) + " highest"
	}
	return ordinal(n-rank+1) + " lowest"
}

func ordinal(k int) string {
	suffix := "th"
	if k%100 < 11 || k%100 > 13 {
		switch k % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", k, suffix)
}

// absTable lists the head's figures when there is no baseline.
func (m *mdReport) absTable(n int) string {
	if len(m.sig) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| Benchmark | Unit | Median | 95% CI | n |\n")
	b.WriteString("|:--|:--|--:|--:|--:|\n")
	for _, r := range m.sig[:n] {
		sc := benchunit.CommonScale([]float64{r.Head.Center}, benchunit.ClassOf(r.Unit))
		fmt.Fprintf(&b, "| %s | %s | %s | ± %s | %d |\n", m.name(r), Escape(r.Unit), fmtValue(sc, r.Head.Center, r.Unit), pctRange(r.Head), r.Head.N)
	}
	if more := len(m.sig) - n; more > 0 {
		fmt.Fprintf(&b, "\n…and %s.\n", plural(more, "more result", "more results"))
	}
	return b.String()
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// failures lists failed benchmarks and build errors with the last
// outputLines lines of their output; 0 shows no output.
func (m *mdReport) failures(outputLines int) string {
	if len(m.r.Failures) == 0 && len(m.r.BuildErrors) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### ❌ Failures\n\n")
	for _, e := range m.r.BuildErrors {
		fmt.Fprintf(&b, "- **%s** %s: build failed\n", Escape(string(e.Side)), Escape(e.Package))
		writeOutput(&b, e.Output, outputLines)
	}
	for _, f := range m.r.Failures {
		name := normName(f.Benchmark)
		if name == "" {
			name = "(all benchmarks)"
		}
		fmt.Fprintf(&b, "- **%s** %s %s: %s\n", Escape(string(f.Side)), Escape(f.Package), Escape(name), Escape(orDefault(f.Reason, "failed")))
		writeOutput(&b, f.Output, outputLines)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"

}

func writeOutput(b *strings.Builder, out string, lines int) {
	out = strings.TrimRight(out, "\n")
	if lines <= 0 || strings.TrimSpace(out) == "" {
		return
	}
	all := strings.Split(out, "\n")
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("[… %d earlier lines in report.json]", len(all)-lines)}, all[len(all)-lines:]...)
	}
	b.WriteString("\n" + Fence(strings.Join(all, "\n"), "text") + "\n")
}

// details folds every row that is not a significant change.
func (m *mdReport) details() string {
	if m.absolute || len(m.rest) == 0 {
		return ""
	}
	var b strings.Builder
	what := fmt.Sprintf("Other results (%d)", len(m.rest))
	if len(m.sig) == 0 {
		what = fmt.Sprintf("All results (%d)", len(m.rest))
	}
	fmt.Fprintf(&b, "<details><summary>%s</summary>\n\n", what)
	b.WriteString("| Benchmark | Unit | Base | Head | Δ | p (adjusted) |" + m.roundsHead() + " Verdict |" + m.shardHead() + "\n")
	b.WriteString("|:--|:--|--:|--:|--:|--:|" + m.roundsRule() + ":--|" + m.shardRule() + "\n")
	for _, r := range m.rest {
		base, head := m.pair(r)
		v := Escape(string(r.Verdict))
		if r.Note != "" {
			v += ": " + Escape(r.Note)
		}
		if t := mdeText(r); t != "" && r.Note != "" {
			v += "; " + t
		} else if t != "" {
			v += ": " + t
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |%s %s |%s\n", m.name(r), Escape(r.Unit), base, head, fmtDelta(r.DeltaPct), fmtP(r), m.roundsCell(r), v, m.shardCell(r))
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// roundsHead, roundsRule and roundsCell add the Rounds column to the
// tables of a sequential run, where benchmarks stop once settled.
func (m *mdReport) roundsHead() string {
	if !m.seq {
		return ""
	}
	return " Rounds |"
}

func (m *mdReport) roundsRule() string {
	if !m.seq {
		return ""
	}
	return "--:|"
}

func (m *mdReport) roundsCell(r Row) string {
	switch {
	case !m.seq:
		return ""
	case r.Rounds == 0:
		return " |"
	}
	return fmt.Sprintf(" %d |", r.Rounds)
}

// shardHead, shardRule and shardCell add the Shard column to the tables
// of a merged report.
func (m *mdReport) shardHead() string {
	if !m.sharded {
		return ""
	}
	return " Shard |"
}

func (m *mdReport) shardRule() string {
	if !m.sharded {
		return ""
	}
	return ":--|"
}

func (m *mdReport) shardCell(r Row) string {
	if !m.sharded {
		return ""
	}
	return " " + Escape(r.Shard) + " |"
}

// shards folds the table of a merged report's shards: which ran where.
func (m *mdReport) shards() string {
	if !m.sharded {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>Shards (%d)</summary>\n\n", len(m.r.Shards))
	b.WriteString("| Shard | Status | Benchmarks | CPU |\n|:--|:--|--:|:--|\n")
	for _, sh := range m.r.Shards {
		status := Escape(string(sh.Status))
		if sh.Error != "" {
			status += ": " + Escape(cutRunes(sh.Error, 300))
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", Escape(sh.Shard), status, sh.Benchmarks, Escape(sh.CPU))
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

func (m *mdReport) warnings() string {
	if len(m.r.Warnings) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>Warnings (%d)</summary>\n\n", len(m.r.Warnings))
	for _, w := range m.r.Warnings {
		b.WriteString("- " + Escape(w) + "\n")
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// hotspots shows the CPU hotspots of the packages that regressed.
func (m *mdReport) hotspots() string {
	regressed := map[string]bool{}
	for _, r := range m.r.Benchmarks {
		if r.Verdict == Regression {
			regressed[r.Package] = true
		}
	}
	var rows []outcome.Hotspot
	for _, h := range m.r.Hotspots {
		if regressed[h.Package] {
			rows = append(rows, h)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### 🔥 Hotspots of regressed packages\n\n")
	b.WriteString("| Package | Side | Function | Flat | Cum |\n|:--|:--|:--|--:|--:|\n")
	for _, h := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f%% | %.1f%% |\n", Escape(h.Package), Escape(string(h.Side)), Escape(h.Function), 100*h.Flat, 100*h.Cum)
	}
	return b.String()
}

func (m *mdReport) env() string {
	e := m.r.Environment
	var parts []string
	if e.GOOS != "" || e.GOARCH != "" {
		parts = append(parts, Escape(e.GOOS+"/"+e.GOARCH))
	}
	if e.CPU != "" {
		parts = append(parts, Escape(e.CPU))
	}
	if e.GOMAXPROCS > 0 {
		parts = append(parts, fmt.Sprintf("GOMAXPROCS %d", e.GOMAXPROCS))
	}
	if e.GoVersion != "" {
		parts = append(parts, Escape(e.GoVersion))
	}
	if len(parts) == 0 {
		return ""
	}
	return "<sub>" + strings.Join(parts, " · ") + "</sub>\n"
}

func (m *mdReport) repro() string {
	if strings.TrimSpace(m.r.Command) == "" {
		return ""
	}
	return "Reproduce locally:\n\n" + Fence(m.r.Command, "sh")
}

// name is the row's benchmark, with its package when there are several.
func (m *mdReport) name(r Row) string {
	n := r.Name
	if n == "" {
		n = "(all benchmarks)"
	}
	if p := m.pkgNames[r.Package]; p != "" {
		return Escape(p) + " › " + Escape(n)
	}
	return Escape(n)
}

// shortPackages maps packages to the shortest unambiguous name, or to ""
// when all rows share one package (then the name alone is clear).
func shortPackages(rows []Row) map[string]string {
	pkgs := map[string]bool{}
	for _, r := range rows {
		pkgs[r.Package] = true
	}
	out := map[string]string{}
	if len(pkgs) <= 1 {
		return out
	}
	base := map[string]int{}
	for p := range pkgs {
		base[path.Base(p)]++
	}
	for p := range pkgs {
		if b := path.Base(p); base[b] == 1 && p != "" {
			out[p] = b
		} else {
			out[p] = p
		}
	}
	return out
}

// pair formats the base and head cells of a row on a common scale, as
// benchstat scales each row.
func (m *mdReport) pair(r Row) (string, string) {
	cls := benchunit.ClassOf(r.Unit)
	var centers []float64
	for _, s := range []*Summary{r.Base, r.Head} {
		if s != nil {
			centers = append(centers, s.Center)
		}
	}
	sc := benchunit.CommonScale(centers, cls)
	cellOf := func(s *Summary) string {
		if s == nil {
			return "—"
		}
		return fmtValue(sc, s.Center, r.Unit) + " ± " + pctRange(s)
	}
	return cellOf(r.Base), cellOf(r.Head)
}

// fmtValue formats a value with benchunit's scaling and a symbol for the
// common units: 1.234µs, 12.30KiB, 3.000k.
func fmtValue(sc benchunit.Scaler, v float64, unit string) string {
	s := sc.Format(v)
	switch {
	case strings.HasPrefix(unit, "sec/"):
		s += "s"
	case strings.HasPrefix(unit, "B/"):
		s += "B"
	}
	return s
}

// pctRange is benchstat's ± column: the Spread, or "?" for an interval
// that crosses zero.
func pctRange(s *Summary) string {
	switch {
	case math.IsInf(s.Low, 0) || math.IsInf(s.High, 0):
		return "∞"
	case sign(s.Center) != sign(s.Low) || sign(s.Center) != sign(s.High):
		return "?"
	}
	return fmt.Sprintf("%.0f%%", s.Spread())
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func fmtDelta(d *float64) string {
	if d == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f%%", *d)
}

func fmtP(r Row) string {
	if r.PValue == nil {
		if r.Verdict == Regression || r.Verdict == Improvement || (r.Base != nil && r.Head != nil && r.Verdict == Unchanged) {
			return "exact"
		}
		return ""
	}
	s := fmtProb(*r.PValue)
	if r.PAdjusted != nil {
		s += " (" + fmtProb(*r.PAdjusted) + ")"
	} else if r.Verdict != Failed {
		// Deterministic unit: decided exactly, outside the FDR family.
		s += " (exact)"
	}
	return s
}

func fmtProb(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func refString(r Ref) string {
	s := ""
	if r.Ref != "" {
		s = "**" + Escape(r.Ref) + "**"
	}
	if r.SHA != "" {
		sha := r.SHA
		if len(sha) > 12 {
			sha = sha[:12]
		}
		if s != "" {
			s += " "
		}
		s += "(" + Escape(sha) + ")"
	}
	return s
}

// safeURL returns u if it is an absolute http(s) URL that cannot break
// out of a markdown link, else "".
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	s := p.String()
	if strings.ContainsAny(s, " ()<>[]`\"'\n") {
		return ""
	}
	return s
}
