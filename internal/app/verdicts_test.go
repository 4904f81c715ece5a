package app

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/runner"
)

// These tests run the whole pipeline a user runs, runner then compare, on
// fixture modules made in the test, with the action's default count,
// benchtime, alpha and threshold: the defaults must find the changes and
// flag nothing else.
//
// Verdicts on timings hold only on a machine that is not busy with other
// work: under `go test ./...` the other packages' tests share the two cores
// and the fixture's samples vary by ±30% or more. So the timing rows are
// asserted only with NATSBENCH_TIMING_TESTS=1, which .ci/run sets for a
// step of its own, run alone; the exact rows (allocations, added, removed,
// failed) are asserted always.

// timingAsserted reports whether this run asserts verdicts on timings.
func timingAsserted(t *testing.T) bool {
	t.Helper()
	if os.Getenv("NATSBENCH_TIMING_TESTS") == "1" {
		return true
	}
	t.Log("timing verdicts logged, not asserted: set NATSBENCH_TIMING_TESTS=1 on an otherwise idle machine")
	return false
}

// fixtureBase is the baseline module: one package of benchmarks whose cost
// is a fixed amount of CPU work, so that a change in the amount of work is
// a change of known size.
const fixtureBase = `package work

var sink uint64

// spin does n steps of a dependent multiply-add chain: the same work every
// time, which neither the compiler nor the CPU can skip.
func spin(n int) {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
}

var buf []byte
`

const fixtureBench = `package work

import "testing"

func BenchmarkSlower(b *testing.B) {
	for range b.N {
		spin(SLOWER)
	}
}

func BenchmarkFaster(b *testing.B) {
	for range b.N {
		spin(FASTER)
	}
}

func BenchmarkAllocs(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		spin(20000)
		ALLOC
	}
}

func BenchmarkSameA(b *testing.B) {
	for range b.N {
		spin(20000)
	}
}

func BenchmarkSameB(b *testing.B) {
	for range b.N {
		spin(30000)
	}
}

func BenchmarkBreaks(b *testing.B) {
	BREAK
	for range b.N {
		spin(20000)
	}
}

EXTRA
`

type fixtureSide struct {
	slower, faster, alloc, brk, extra string
}

var (
	baseSide = fixtureSide{
		slower: "20000", faster: "20000",
		alloc: "buf = make([]byte, 64)",
		brk:   "",
		extra: "func BenchmarkRemoved(b *testing.B) {\n\tfor range b.N {\n\t\tspin(20000)\n\t}\n}",
	}
	// headSide is 20% more work, 30% less work, an allocation more (and
	// bigger), a benchmark that fails, one removed and one added.
	headSide = fixtureSide{
		slower: "24000", faster: "14000",
		alloc: "buf = make([]byte, 64)\n\t\tbuf = make([]byte, 128)",
		brk:   `b.Fatal("head broke this benchmark")`,
		extra: "func BenchmarkAdded(b *testing.B) {\n\tfor range b.N {\n\t\tspin(20000)\n\t}\n}",
	}
)

// files are the fixture module's files for this side.
func (s fixtureSide) files() map[string]string {
	bench := strings.NewReplacer("SLOWER", s.slower, "FASTER", s.faster, "ALLOC", s.alloc, "BREAK", s.brk, "EXTRA", s.extra).Replace(fixtureBench)
	return map[string]string{
		"go.mod":            "module example.com/verdicts\n\ngo 1.26\n",
		"work/work.go":      fixtureBase,
		"work/work_test.go": bench,
	}
}

// fixtureRepo makes a git repository whose first commit is base and whose
// head is head; it returns the directory and the base commit.
func fixtureRepo(t *testing.T, base, head fixtureSide) (dir, baseSHA string) {
	t.Helper()
	dir = t.TempDir()
	baseSHA = gittest.MustCommit(t, dir, base.files(), "base")
	// An A/A head still needs a commit of its own.
	files := head.files()
	files["NOTES"] = "head\n"
	gittest.MustCommit(t, dir, files, "head")
	return dir, baseSHA
}

// runDefaults benchmarks the fixture and computes the report with the
// action's defaults, through the conversion the action uses.
func runDefaults(t *testing.T, dir, baseline string) *compare.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real benchmarks for about ten seconds")
	}
	cfg, err := parseConfig(fromFlag, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rc := cfg.Run
	rc.Dir, rc.Baseline, rc.OutputDir = dir, baseline, t.TempDir()
	rc.NATS = false // the fixture needs no NATS server, and its timings none beside them
	res, err := runner.Run(t.Context(), rc)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := compare.Compute(CompareInput(res, cfg.Compare, cfg.record()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rounds %d in %v\nbase:\n%s\nhead:\n%s", res.Rounds, res.Elapsed, res.Base, res.Head)
	return rep
}

// verdicts maps "Name unit" (name without the -N suffix) to its verdict.
func verdicts(rep *compare.Report) map[string]compare.Verdict {
	m := map[string]compare.Verdict{}
	for _, r := range rep.Benchmarks {
		name := r.Name
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		m[name+" "+r.Unit] = r.Verdict
	}
	return m
}

func TestVerdictsOnFixture(t *testing.T) {
	dir, base := fixtureRepo(t, baseSide, headSide)
	rep := runDefaults(t, dir, base)
	timing := timingAsserted(t)
	got := verdicts(rep)
	want := map[string]compare.Verdict{
		"Slower sec/op":    compare.Regression,
		"Faster sec/op":    compare.Improvement,
		"Allocs allocs/op": compare.Regression,
		"Allocs B/op":      compare.Regression,
		"SameA sec/op":     compare.Unchanged,
		"SameB sec/op":     compare.Unchanged,
		"SameA allocs/op":  compare.Unchanged,
		"Removed sec/op":   compare.Removed,
		"Added sec/op":     compare.Added,
		"Breaks":           compare.Failed, // a failure with no data on head
	}
	for k, v := range want {
		if strings.HasSuffix(k, " sec/op") && !timing {
			continue
		}
		g, ok := got[k]
		if k == "Breaks" {
			g, ok = failedRow(rep, "Breaks")
		}
		if !ok || g != v {
			t.Errorf("%s: verdict %q, want %q", k, g, v)
		}
	}
	if t.Failed() || !timing {
		for _, r := range rep.Benchmarks {
			t.Logf("%s %s %s delta %v p %v note %s", r.Name, r.Unit, r.Verdict, deref(r.DeltaPct), deref(r.PValue), r.Note)
		}
	}
}

// failedRow finds the verdict of any row of the named benchmark that failed.
func failedRow(rep *compare.Report, name string) (compare.Verdict, bool) {
	for _, r := range rep.Benchmarks {
		if strings.HasPrefix(r.Name, name) && r.Verdict == compare.Failed {
			return r.Verdict, true
		}
	}
	return "", false
}

func TestAAFlagsNothing(t *testing.T) {
	dir, base := fixtureRepo(t, baseSide, baseSide)
	rep := runDefaults(t, dir, base)
	timing := timingAsserted(t)
	for _, r := range rep.Benchmarks {
		if r.Unit == "sec/op" && !timing {
			t.Logf("A/A: %s %s is %s (delta %v)", r.Name, r.Unit, r.Verdict, deref(r.DeltaPct))
			continue
		}
		if r.Verdict != compare.Unchanged {
			t.Errorf("A/A: %s %s is %s (delta %v, p %v, adjusted %v), want unchanged",
				r.Name, r.Unit, r.Verdict, deref(r.DeltaPct), deref(r.PValue), deref(r.PAdjusted))
		}
	}
	if len(rep.Benchmarks) == 0 {
		t.Fatal("A/A: no rows")
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRegressedChoosesProfiles: the action profiles only the packages
// with a regression, the only ones whose hotspots the report shows.
func TestRegressedChoosesProfiles(t *testing.T) {
	cfg, err := parseConfig(fromFlag, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// allocs/op is exact: every sample equal on each side decides it.
	results := func(allocsA, allocsB int) []byte {
		var b strings.Builder
		for range 10 {
			fmt.Fprintf(&b, "pkg: example.com/m/a\nBenchmarkX-2 100 1000 ns/op %d allocs/op\n", allocsA)
			fmt.Fprintf(&b, "pkg: example.com/m/b\nBenchmarkY-2 100 1000 ns/op %d allocs/op\n", allocsB)
		}
		return []byte(b.String())
	}
	tests := []struct {
		name       string
		base, head []byte
		want       []runner.Profiled
	}{
		{"a regressed, b improved", results(1, 2), results(2, 1), []runner.Profiled{{Package: "example.com/m/a", Benchmarks: []string{"BenchmarkX"}}}},
		{"nothing regressed", results(1, 1), results(1, 1), nil},
		{"no baseline", nil, results(2, 2), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &runner.Result{Base: tt.base, Head: tt.head, HeadFile: "head.txt"}
			if tt.base != nil {
				res.BaseSHA, res.BaseFile = "abc", "base.txt"
			}
			if got := regressed(res, cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("regressed = %+v, want %+v", got, tt.want)
			}
		})
	}
}
