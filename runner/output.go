package runner

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Bounds on what one run of a test binary may print: a line longer than
// maxLine, or more than maxOutput in all, is a recorded failure; the
// results kept of one run, and of one side, stop at maxResults.
const (
	maxLine    = 1 << 20
	maxOutput  = 1 << 30
	maxResults = 16 << 20
	// maxNames bounds the benchmarks (and failures) one binary may name.
	maxNames = 10000
	// maxName bounds a benchmark's name as the runner keeps it.
	maxName = 1024
)

// runOutput is what one run of a test binary printed, sorted out.
type runOutput struct {
	headers   map[string]string // goos, goarch, cpu, pkg as printed
	results   []string          // benchmark result lines, verbatim
	completed map[string]bool   // top-level benchmarks that printed a result
	failed    []string          // benchmarks that printed "--- FAIL"
	started   string            // the benchmark printed last without a result: the one running when it died
	crashed   bool              // a panic, fatal error or quit signal
	failText  map[string]string // a failed benchmark's "--- FAIL" block, by name as in failed
	crashText string            // the crash report, from its first line
	tail      string            // the last maxFailureOutput bytes of output
	// tooMany is set when the results passed maxResults: those after it
	// were dropped.
	tooMany bool
	// longOutside says that a line over maxLine was printed while no
	// benchmark ran.
	longOutside string
}

// headerKeys are the configuration lines that the testing package prints
// before its first benchmark; the rest of its chatter is dropped.
var headerKeys = []string{"goos", "goarch", "pkg", "cpu"}

var headerLine = regexp.MustCompile(`^(goos|goarch|cpu|pkg): (.*)$`)

// lineWriter splits what a process writes into lines for line, as it
// comes, holding at most maxLine bytes. A longer line is dropped and
// reported to long with its length; past maxOutput bytes in all, Write
// fails with errOutputTooLarge, which stops the process.
type lineWriter struct {
	line    func(string)
	long    func(n int)
	partial []byte
	over    int // > 0: inside a dropped line, this long so far
	total   int64
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.total += int64(len(p))
	if w.total > maxOutput {
		return 0, fmt.Errorf("%w: over %d MiB", errOutputTooLarge, maxOutput>>20)
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		switch {
		case w.over > 0:
			w.over += len(chunk)
		case len(w.partial)+len(chunk) > maxLine:
			w.over = len(w.partial) + len(chunk)
			w.partial = w.partial[:0]
		default:
			w.partial = append(w.partial, chunk...)
		}
		if i < 0 {
			break
		}
		w.end()
		p = p[i+1:]
	}
	return n, nil
}

// end finishes the current line.
func (w *lineWriter) end() {
	if w.over > 0 {
		w.long(w.over)
		w.over = 0
		return
	}
	w.line(string(w.partial))
	w.partial = w.partial[:0]
	if cap(w.partial) > 64<<10 {
		w.partial = nil // a long line's buffer is not kept for the rest
	}
}

// flush finishes a last line that has no newline.
func (w *lineWriter) flush() {
	if w.over > 0 || len(w.partial) > 0 {
		w.end()
	}
}

// outputParser sorts the output of a test binary run with -test.bench,
// line by line, as it comes.
type outputParser struct {
	r           runOutput
	frame       string // the last stack frame seen
	culprit     string // the benchmark a crash dump points at
	failing     string // the benchmark whose "--- FAIL" block is being read
	crash       strings.Builder
	resultBytes int
	tail        tailBuffer
	long        map[string]int // top-level benchmark -> length of a line it printed over maxLine
	pendingLong int            // a line over maxLine seen while no benchmark was named
	lw          lineWriter
}

func newOutputParser() *outputParser {
	p := &outputParser{
		r:    runOutput{headers: map[string]string{}, completed: map[string]bool{}, failText: map[string]string{}},
		tail: tailBuffer{n: maxFailureOutput},
		long: map[string]int{},
	}
	p.lw = lineWriter{line: p.line, long: p.longLine}
	return p
}

// Write feeds the parser a process's output.
func (p *outputParser) Write(b []byte) (int, error) { return p.lw.Write(b) }

// parseOutput sorts the whole output of a run (for tests).
func parseOutput(out []byte) runOutput {
	p := newOutputParser()
	_, _ = p.Write(out)
	return p.finish()
}

// longLine records a line over maxLine, blaming the running benchmark.
// The testing package runs a benchmark's first iteration before it
// prints the name: a line while none is named is the next one's.
func (p *outputParser) longLine(n int) {
	fmt.Fprintf(&p.tail, "[a line of %d bytes, over the %d-byte limit, was dropped]\n", n, maxLine)
	if p.r.started == "" {
		p.pendingLong = n
		return
	}
	p.blameLong(topLevel(p.r.started), n)
}

func (p *outputParser) blameLong(name string, n int) {
	if _, ok := p.long[name]; !ok && len(p.long) < maxNames {
		p.long[name] = n
	}
}

func (p *outputParser) line(line string) {
	r := &p.r
	p.tail.Write([]byte(line))
	p.tail.Write([]byte{'\n'})
	line = strings.TrimRight(line, " \t\r")
	trimmed := strings.TrimSpace(line)
	if r.crashed {
		if p.crash.Len() < maxFailureOutput {
			p.crash.WriteString(line + "\n")
		}
		// In a crash dump, the frame above testing.(*B).runN is the
		// benchmark function: the first such frame names the culprit.
		if strings.HasPrefix(line, "testing.(*B).runN(") && p.culprit == "" {
			p.culprit = benchmarkOfFrame(p.frame)
		}
		if line != "" && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "goroutine ") {
			p.frame = cut(line, maxName)
		}
		return
	}
	if p.failing != "" && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && !strings.HasPrefix(trimmed, "--- FAIL: ") {
		if len(r.failText[p.failing]) < maxFailureOutput {
			r.failText[p.failing] += "\n" + cut(line, maxFailureOutput)
		}
		return
	}
	p.failing = ""
	switch {
	case headerLine.MatchString(line):
		m := headerLine.FindStringSubmatch(line)
		r.headers[m[1]] = cut(strings.TrimSpace(m[2]), maxName)
	case strings.HasPrefix(trimmed, "--- FAIL: Benchmark"):
		if f := strings.Fields(strings.TrimPrefix(trimmed, "--- FAIL: ")); len(f) > 0 && len(r.failed) < maxNames {
			name := cut(f[0], maxName)
			r.failed = append(r.failed, name)
			p.failing = procsSuffix.ReplaceAllString(name, "")
			r.failText[p.failing] = cut(trimmed, maxFailureOutput)
		}
	case strings.HasPrefix(line, "Benchmark"):
		fields := strings.Fields(line)
		if p.pendingLong > 0 {
			p.blameLong(topLevel(cut(fields[0], maxName)), p.pendingLong)
			p.pendingLong = 0
		}
		if isResult(fields) {
			if p.resultBytes+len(line) > maxResults {
				r.tooMany = true
				break
			}
			p.resultBytes += len(line) + 1
			r.results = append(r.results, line)
			r.completed[topLevel(fields[0])] = true
			r.started = ""
		} else {
			// The name is printed before the benchmark runs; a
			// panic then continues on the same line.
			r.started = cut(fields[0], maxName)
		}
	}
	if isCrash(trimmed) {
		r.crashed = true
		_, rest, named := strings.Cut(trimmed, "\t")
		if !named || !strings.HasPrefix(trimmed, "Benchmark") {
			rest = trimmed
		}
		p.crash.WriteString(cut(strings.TrimSpace(rest), maxFailureOutput) + "\n")
	}
}

// finish returns what the whole output said.
func (p *outputParser) finish() runOutput {
	p.lw.flush()
	r := p.r
	r.failed = innermost(r.failed)
	r.crashText = strings.TrimSpace(p.crash.String())
	r.tail = p.tail.String()
	if p.culprit != "" && (r.started == "" || topLevel(r.started) != p.culprit) {
		// The name of a benchmark that dies in its first iteration is
		// not printed yet: the stack is the only witness.
		r.started = p.culprit
	}
	if r.crashed && r.started != "" {
		// A benchmark that panics may still get a result line printed
		// while its goroutine unwinds: it is not a result.
		r.dropResults(topLevel(r.started))
	}
	// A benchmark that printed a line too long to read has failed: what
	// it printed is lost, and its results cannot be trusted.
	for name, n := range p.long {
		r.dropResults(name)
		if r.failText[name] == "" {
			r.failed = append(r.failed, name)
		}
		r.failText[name] = fmt.Sprintf("printed a line of %d bytes, over the %d-byte limit", n, maxLine)
	}
	if n := p.pendingLong; n > 0 {
		r.longOutside = fmt.Sprintf("printed a line of %d bytes, over the %d-byte limit, outside any benchmark", n, maxLine)
	}
	return r
}

// cut shortens s to at most n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// dropResults forgets the results of a top-level benchmark.
func (r *runOutput) dropResults(top string) {
	kept := r.results[:0]
	for _, l := range r.results {
		if topLevel(strings.Fields(l)[0]) != top {
			kept = append(kept, l)
		}
	}
	r.results = kept
	delete(r.completed, top)
}

// benchmarkOfFrame returns the top-level benchmark whose function is in a
// stack frame line such as "example.com/m/p.BenchmarkX.func1(0x1?)", or "".
func benchmarkOfFrame(frame string) string {
	slash := strings.LastIndexByte(frame, '/')
	i := strings.Index(frame[slash+1:], ".Benchmark")
	if i < 0 {
		return ""
	}
	name := frame[slash+1+i+1:]
	if end := strings.IndexAny(name, ".([ "); end >= 0 {
		name = name[:end]
	}
	return name
}

// isCrash reports whether a line is the start of a Go crash report.
func isCrash(line string) bool {
	if _, rest, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(line, "Benchmark") {
		// The crash report follows the benchmark's name on its line:
		// "BenchmarkX-2   \tpanic: boom".
		line = strings.TrimSpace(rest)
	}
	for _, p := range []string{"panic: ", "fatal error: ", "SIGQUIT: quit"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// isResult reports whether fields form a benchmark result line: a name,
// an iteration count, and value-unit pairs.
func isResult(fields []string) bool {
	if len(fields) < 4 || len(fields)%2 != 0 {
		return false
	}
	if _, err := strconv.Atoi(fields[1]); err != nil {
		return false
	}
	for i := 2; i < len(fields); i += 2 {
		if _, err := strconv.ParseFloat(fields[i], 64); err != nil {
			return false
		}
	}
	return true
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// topLevel returns the top-level benchmark of a printed name:
// "BenchmarkX/size=1-2" -> "BenchmarkX".
func topLevel(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return procsSuffix.ReplaceAllString(name, "")
}

// reportName turns a printed benchmark name into the form benchfmt and
// benchstat show: without the "Benchmark" prefix and the -GOMAXPROCS
// suffix ("BenchmarkX/size=1-2" -> "X/size=1").
func reportName(name string) string {
	return procsSuffix.ReplaceAllString(strings.TrimPrefix(name, "Benchmark"), "")
}

// innermost drops a failed benchmark whose sub-benchmark failed too: the
// sub-benchmark says more.
func innermost(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		n = procsSuffix.ReplaceAllString(n, "")
		parent := false
		for _, m := range names {
			if strings.HasPrefix(m, n+"/") {
				parent = true
				break
			}
		}
		if !parent && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// splitLevels splits a -test.bench pattern into its per-level parts the
// way the testing package does: at slashes outside brackets and parentheses.
func splitLevels(pattern string) []string {
	var parts []string
	brackets, parens, start := 0, 0, 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++ // an escaped character is never a separator
		case '[':
			brackets++
		case ']':
			if brackets > 0 {
				brackets--
			}
		case '(':
			if brackets == 0 {
				parens++
			}
		case ')':
			if brackets == 0 {
				parens--
			}
		case '/':
			if brackets == 0 && parens == 0 {
				parts = append(parts, pattern[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, pattern[start:])
}

// selectBenchmarks returns the top-level benchmark names that the user's
// pattern selects; the testing package matches the first level of the
// pattern against them.
func selectBenchmarks(pattern string, names []string) []string {
	re, err := regexp.Compile(splitLevels(pattern)[0])
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

// narrowPattern rewrites the user's pattern to run only the given
// top-level benchmarks, keeping its sub-benchmark levels.
func narrowPattern(pattern string, names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	levels := splitLevels(pattern)
	levels[0] = "^(?:" + strings.Join(quoted, "|") + ")$"
	return strings.Join(levels, "/")
}

// tail returns about the last n bytes of s, cut at a line start.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}
