package runner

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"
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
}

// headerKeys are the configuration lines that the testing package prints
// before its first benchmark; the rest of its chatter is dropped.
var headerKeys = []string{"goos", "goarch", "pkg", "cpu"}

var headerLine = regexp.MustCompile(`^(goos|goarch|cpu|pkg): (.*)$`)

// parseOutput sorts the output of a test binary run with -test.bench.
func parseOutput(out []byte) runOutput {
	r := runOutput{headers: map[string]string{}, completed: map[string]bool{}, failText: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var frame, culprit string // the last stack frame seen; the benchmark a crash dump points at
	var failing string        // the benchmark whose "--- FAIL" block is being read
	var crash strings.Builder
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		if r.crashed {
			if crash.Len() < maxFailureOutput {
				crash.WriteString(line + "\n")
			}
			// In a crash dump, the frame above testing.(*B).runN is the
			// benchmark function: the first such frame names the culprit.
			if strings.HasPrefix(line, "testing.(*B).runN(") && culprit == "" {
				culprit = benchmarkOfFrame(frame)
			}
			if line != "" && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "goroutine ") {
				frame = line
			}
			continue
		}
		if failing != "" && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && !strings.HasPrefix(trimmed, "--- FAIL: ") {
			if len(r.failText[failing]) < maxFailureOutput {
				r.failText[failing] += "\n" + line
			}
			continue
		}
		failing = ""
		switch {
		case headerLine.MatchString(line):
			m := headerLine.FindStringSubmatch(line)
			r.headers[m[1]] = strings.TrimSpace(m[2])
		case strings.HasPrefix(trimmed, "--- FAIL: Benchmark"):
			if f := strings.Fields(strings.TrimPrefix(trimmed, "--- FAIL: ")); len(f) > 0 {
				r.failed = append(r.failed, f[0])
				failing = procsSuffix.ReplaceAllString(f[0], "")
				r.failText[failing] = trimmed
			}
		case strings.HasPrefix(line, "Benchmark"):
			fields := strings.Fields(line)
			if isResult(fields) {
				r.results = append(r.results, line)
				r.completed[topLevel(fields[0])] = true
				r.started = ""
			} else {
				// The name is printed before the benchmark runs; a
				// panic then continues on the same line.
				r.started = fields[0]
			}
		}
		if isCrash(trimmed) {
			r.crashed = true
			_, rest, named := strings.Cut(trimmed, "\t")
			if !named || !strings.HasPrefix(trimmed, "Benchmark") {
				rest = trimmed
			}
			crash.WriteString(strings.TrimSpace(rest) + "\n")
		}
	}
	r.failed = innermost(r.failed)
	r.crashText = strings.TrimSpace(crash.String())
	if culprit != "" && (r.started == "" || topLevel(r.started) != culprit) {
		// The name of a benchmark that dies in its first iteration is
		// not printed yet: the stack is the only witness.
		r.started = culprit
	}
	if r.crashed && r.started != "" {
		// A benchmark that panics may still get a result line printed
		// while its goroutine unwinds: it is not a result.
		r.dropResults(topLevel(r.started))
	}
	return r
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
