package compare

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/outcome"
)

// fixture reads testdata/NAME_old.txt and NAME_new.txt.
func fixture(t *testing.T, name string) (base, head []byte) {
	t.Helper()
	base, err := os.ReadFile(filepath.Join("testdata", name+"_old.txt"))
	if err != nil {
		t.Fatal(err)
	}
	head, err = os.ReadFile(filepath.Join("testdata", name+"_new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return base, head
}

// mustCompute compares fixture NAME with in's other fields.
func mustCompute(t *testing.T, name string, in Input) *Report {
	t.Helper()
	in.Base, in.Head = fixture(t, name)
	in.BaseName, in.HeadName = name+"_old.txt", name+"_new.txt"
	r, err := Compute(in)
	if err != nil {
		t.Fatalf("Compute(%s): %v", name, err)
	}
	return r
}

// row finds the row for pkg (short: last element), name and unit.
func row(t *testing.T, r *Report, pkg, name, unit string) Row {
	t.Helper()
	for _, b := range r.Benchmarks {
		if (b.Package == pkg || strings.HasSuffix(b.Package, "/"+pkg)) && b.Name == name && b.Unit == unit {
			return b
		}
	}
	t.Fatalf("no row %s %s %s in %d rows", pkg, name, unit, len(r.Benchmarks))
	return Row{}
}

const pkgA = "example.com/m/a"

func mixedFailures() []outcome.Failure {
	return []outcome.Failure{{Side: "head", Package: pkgA, Benchmark: "BenchmarkBroken", Reason: "panic", Output: "panic: boom"}}
}

func TestComputeVerdicts(t *testing.T) {
	r := mustCompute(t, "mixed", Input{Failures: mixedFailures()})
	tests := []struct {
		pkg, name, unit string
		want            Verdict
	}{
		{"a", "Slow-2", "sec/op", Regression},      // 20% slower, n=10
		{"a", "Fast-2", "sec/op", Improvement},     // 30% faster
		{"a", "Allocs-2", "allocs/op", Regression}, // 2 -> 3, exact
		{"a", "Allocs-2", "B/op", Regression},      // 32 -> 48, exact
		{"a", "Allocs-2", "sec/op", Unchanged},     // time unchanged
		{"a", "Slow-2", "allocs/op", Unchanged},    // equal constants
		{"a", "Steady-2", "sec/op", Unchanged},     // same distribution
		{"a", "Throughput-2", "B/s", Improvement},  // MB/s up: higher is better
		{"a", "Throughput-2", "sec/op", Improvement},
		{"a", "Events-2", "events/s", Regression}, // events/s down: a regression
		{"a", "Events-2", "sec/op", Regression},
		{"a", "Events-2", "p99-sec", Unchanged}, // custom latency unit, tidied like benchstat
		{"a", "Removed-2", "sec/op", Removed},
		{"a", "Added-2", "sec/op", Added},
		{"a", "Broken-2", "sec/op", Failed},
		{"b", "Slow-2", "sec/op", Unchanged}, // same name, other package: kept apart
	}
	for _, tt := range tests {
		t.Run(tt.pkg+"/"+tt.name+"/"+tt.unit, func(t *testing.T) {
			got := row(t, r, tt.pkg, tt.name, tt.unit)
			if got.Verdict != tt.want {
				t.Errorf("verdict = %s, want %s (row %+v)", got.Verdict, tt.want, got)
			}
		})
	}

	t.Run("regression figures", func(t *testing.T) {
		got := row(t, r, "a", "Slow-2", "sec/op")
		if got.Base.N != 10 || got.Head.N != 10 {
			t.Errorf("n = %d+%d, want 10+10", got.Base.N, got.Head.N)
		}
		if got.DeltaPct == nil || *got.DeltaPct < 15 || *got.DeltaPct > 25 {
			t.Errorf("delta = %v, want about +20%%", got.DeltaPct)
		}
		if got.PValue == nil || got.PAdjusted == nil || *got.PAdjusted < *got.PValue {
			t.Errorf("p = %v adjusted %v: want both, adjusted >= raw", got.PValue, got.PAdjusted)
		}
		if !(got.Base.Low <= got.Base.Center && got.Base.Center <= got.Base.High) {
			t.Errorf("base CI %v..%v does not hold center %v", got.Base.Low, got.Base.High, got.Base.Center)
		}
	})
	t.Run("exact rows keep benchstat's p but stay out of the FDR family", func(t *testing.T) {
		got := row(t, r, "a", "Allocs-2", "allocs/op")
		if got.PValue == nil || got.PAdjusted != nil {
			t.Errorf("p = %v, adjusted %v; want benchstat's p and no adjusted p for a deterministic unit", got.PValue, got.PAdjusted)
		}
	})
	t.Run("failed keeps the reason", func(t *testing.T) {
		got := row(t, r, "a", "Broken-2", "sec/op")
		if !strings.Contains(got.Note, "head") || !strings.Contains(got.Note, "panic") {
			t.Errorf("note = %q, want side and reason", got.Note)
		}
	})
	t.Run("summary counts every verdict", func(t *testing.T) {
		for _, v := range []Verdict{Regression, Improvement, Unchanged, Added, Removed, Failed, Measured} {
			if _, ok := r.Summary[v]; !ok {
				t.Errorf("summary lacks %q", v)
			}
		}
		if r.Summary[Regression] != 5 || r.Summary[Improvement] != 3 || r.Summary[Failed] != 3 {
			t.Errorf("summary = %v", r.Summary)
		}
	})
	t.Run("environment from the file header", func(t *testing.T) {
		e := r.Environment
		if e.GOOS != "linux" || e.GOARCH != "amd64" || e.CPU != "Test CPU @ 2.00GHz" || e.GOMAXPROCS != 2 || e.GoVersion == "" {
			t.Errorf("environment = %+v", e)
		}
	})
}

func TestComputeAA(t *testing.T) {
	// Same code on both sides, 3% noise, 20 benchmarks x 3 units.
	r := mustCompute(t, "aa", Input{})
	if n := r.Summary[Regression] + r.Summary[Improvement]; n != 0 {
		for _, b := range r.Benchmarks {
			if b.Verdict != Unchanged {
				t.Logf("%s %s: %s %v p=%v", b.Name, b.Unit, b.Verdict, *b.DeltaPct, *b.PAdjusted)
			}
		}
		t.Fatalf("A/A flagged %d changes, want 0", n)
	}
	if r.Summary[Unchanged] != len(r.Benchmarks) || len(r.Benchmarks) != 60 {
		t.Errorf("summary = %v over %d rows, want 60 unchanged", r.Summary, len(r.Benchmarks))
	}
}

func TestComputeUndecidable(t *testing.T) {
	tests := []struct {
		fixture, name string
		note, warning string
	}{
		// 20% slower but n=3: Mann-Whitney can't get below p=0.1.
		{"few", "Slow-2", "too few samples", "too few samples to ever reach significance at α 0.05 (need at least 4 runs per side)"},
		// +8% hidden in ±25% noise.
		{"noisy", "Noisy-2", "noisy", "noise wider than the 5% threshold"},
		// +2% with 0.2% noise: real, but under the threshold.
		{"small", "Small-2", "smaller than the 5% threshold", ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			r := mustCompute(t, tt.fixture, Input{})
			got := row(t, r, "a", tt.name, "sec/op")
			if got.Verdict != Unchanged {
				t.Errorf("verdict = %s, want unchanged", got.Verdict)
			}
			if !strings.Contains(got.Note, tt.note) {
				t.Errorf("note = %q, want %q", got.Note, tt.note)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings = %q, want one containing %q", r.Warnings, tt.warning)
			}
		})
	}
}

// TestComputeTooFewAtALook: under a sequential plan a row is tested at its
// look's level, below α, and the warning names that level and the runs it
// needs, not α's (4 runs, which these rows of 3 nearly have).
func TestComputeTooFewAtALook(t *testing.T) {
	r := mustCompute(t, "few", Input{Options: Options{Plan: Plan{MinRounds: 3, MaxRounds: 6}}})
	got := row(t, r, "a", "Slow-2", "sec/op")
	if got.Reason != TooFewSamples {
		t.Fatalf("reason = %q, want %q", got.Reason, TooFewSamples)
	}
	warnings := strings.Join(r.Warnings, "\n")
	if strings.Contains(warnings, "at α 0.05 (need at least 4") {
		t.Errorf("warnings name α's runs, not the look's: %q", r.Warnings)
	}
	level := Plan{MinRounds: 3, MaxRounds: 6}.levels(DefaultAlpha)(3)
	want := fmt.Sprintf("their look's level %.2g, spent from α 0.05 (need at least %d runs per side at it)", level, samplesNeeded(level))
	if !strings.Contains(warnings, want) {
		t.Errorf("warnings = %q, want one containing %q", r.Warnings, want)
	}
	if samplesNeeded(level) <= 4 {
		t.Errorf("the look's level %g needs %d runs, want more than α's 4", level, samplesNeeded(level))
	}
}

func TestComputeThresholdOption(t *testing.T) {
	// The +2% change is significant; with a 1% threshold it counts.
	r := mustCompute(t, "small", Input{Options: Options{Threshold: 1}})
	if got := row(t, r, "a", "Small-2", "sec/op"); got.Verdict != Regression {
		t.Errorf("verdict = %s, want regression at threshold 1%%", got.Verdict)
	}
	if r.Config.Threshold != 1 || r.Config.Alpha != DefaultAlpha {
		t.Errorf("config = %+v", r.Config)
	}
}

func TestComputeFailures(t *testing.T) {
	t.Run("failure without data adds a row", func(t *testing.T) {
		r := mustCompute(t, "mixed", Input{Failures: []outcome.Failure{{Side: "head", Package: "example.com/m/c", Benchmark: "BenchmarkGone-2", Reason: "timeout"}}})
		got := row(t, r, "example.com/m/c", "Gone", "")
		if got.Verdict != Failed || !strings.Contains(got.Note, "timeout") {
			t.Errorf("row = %+v", got)
		}
	})
	t.Run("binary failure explains the rows it left empty", func(t *testing.T) {
		r := mustCompute(t, "mixed", Input{Failures: []outcome.Failure{{Side: "head", Package: pkgA, Reason: "failed"}}})
		if got := row(t, r, "a", "Broken-2", "sec/op"); got.Verdict != Failed {
			t.Errorf("Broken: %s, want failed", got.Verdict)
		}
		if got := row(t, r, "a", "Slow-2", "sec/op"); got.Verdict != Regression {
			t.Errorf("Slow (has data on head): %s, want regression", got.Verdict)
		}
	})
	t.Run("build error on head", func(t *testing.T) {
		r := mustCompute(t, "mixed", Input{BuildErrors: []outcome.BuildError{{Side: "head", Package: pkgA, Output: "./a.go:1: syntax error"}}})
		if got := row(t, r, "a", "Removed-2", "sec/op"); got.Verdict != Failed || !strings.Contains(got.Note, "build failed on head") {
			t.Errorf("Removed: %+v, want failed by the build", got)
		}
		if len(r.BuildErrors) != 1 {
			t.Errorf("build errors = %v", r.BuildErrors)
		}
	})
	t.Run("build error of a package without data", func(t *testing.T) {
		r := mustCompute(t, "mixed", Input{BuildErrors: []outcome.BuildError{{Side: "base", Package: "example.com/m/z", Output: "boom"}}})
		if got := row(t, r, "example.com/m/z", "", ""); got.Verdict != Failed {
			t.Errorf("row = %+v", got)
		}
	})
	t.Run("failed rows leave the tested family", func(t *testing.T) {
		r := mustCompute(t, "mixed", Input{Failures: []outcome.Failure{{Side: "head", Package: pkgA, Benchmark: "BenchmarkSlow", Reason: "panic"}}})
		got := row(t, r, "a", "Slow-2", "sec/op")
		if got.Verdict != Failed || got.PAdjusted != nil || got.PValue == nil {
			t.Errorf("row = %+v, want failed with its raw p-value only", got)
		}
	})
}

func TestComputeAbsolute(t *testing.T) {
	_, head := fixture(t, "mixed")
	r, err := Compute(Input{Head: head})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range r.Benchmarks {
		if b.Verdict != Measured || b.Base != nil || b.Head == nil || b.DeltaPct != nil {
			t.Fatalf("row %+v, want measured head figures only", b)
		}
	}
	if r.Summary[Measured] != len(r.Benchmarks) {
		t.Errorf("summary = %v", r.Summary)
	}
}

func TestComputeInputErrors(t *testing.T) {
	good, _ := fixture(t, "few")
	tests := []struct {
		name    string
		in      Input
		wantErr string // "" = no error
		warning string
	}{
		{"only syntax errors", Input{Base: good, Head: []byte("BenchmarkX-2 12 notanumber ns/op\n"), HeadName: "head.txt"}, "head.txt:1:", ""},
		{"syntax error among results", Input{Base: good, Head: append([]byte("BenchmarkX-2 12 notanumber ns/op\n"), good...), HeadName: "head.txt"}, "", "head.txt:1:"},
		{"no results at all", Input{Base: good, Head: []byte("PASS\nok x 1s\n")}, "", "head: no benchmark results"},
		{"empty head", Input{Base: good, Head: []byte{}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compute(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings = %q, want %q", r.Warnings, tt.warning)
			}
		})
	}
}

func TestMinPValue(t *testing.T) {
	// benchmath's table of the smallest U-test p-value for n=m.
	want := []float64{1: 1, 2: 0.3333333333333333, 3: 0.1, 4: 0.02857142857142857, 5: 0.007936507936507936, 6: 0.0021645021645021645}
	for n := 1; n < len(want); n++ {
		if got := minPValue(n, n); abs(got-want[n]) > 1e-15 {
			t.Errorf("minPValue(%d, %d) = %v, want %v", n, n, got, want[n])
		}
	}
	if got := samplesNeeded(0.05); got != 4 {
		t.Errorf("samplesNeeded(0.05) = %d, want 4", got)
	}
	if got := minPValue(3, 4); abs(got-2.0/35) > 1e-15 {
		t.Errorf("minPValue(3, 4) = %v, want 2/35", got)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestAdjustBH(t *testing.T) {
	tests := []struct {
		p, want []float64
	}{
		{nil, []float64{}},
		{[]float64{0.03}, []float64{0.03}},
		// R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH")
		{[]float64{0.01, 0.04, 0.03, 0.005}, []float64{0.02, 0.04, 0.04, 0.02}},
		// R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH") is all 0.05
		{[]float64{0.01, 0.02, 0.03, 0.04, 0.05}, []float64{0.05, 0.05, 0.05, 0.05, 0.05}},
		// R: p.adjust(c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216), "BH")
		{[]float64{0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216},
			[]float64{0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.1057142857142857, 0.216, 0.216, 0.216}},
		// capped at 1
		{[]float64{0.9, 1}, []float64{1, 1}},
	}
	for _, tt := range tests {
		got := adjustBH(tt.p)
		if len(got) != len(tt.want) {
			t.Fatalf("adjustBH(%v) = %v, want %v", tt.p, got, tt.want)
		}
		for i := range got {
			if abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("adjustBH(%v) = %v, want %v", tt.p, got, tt.want)
				break
			}
		}
	}
}

func TestComputeInline(t *testing.T) {
	hdr := "goos: linux\ngoarch: amd64\npkg: p\ncpu: %s\n"
	lines := func(cpu string, n int, ns, bytes string) []byte {
		s := strings.ReplaceAll(hdr, "%s", cpu)
		for range n {
			s += "BenchmarkX-2 1000 " + ns + " ns/op " + bytes + " B/op\n"
		}
		return []byte(s)
	}
	t.Run("one sample is not deterministic", func(t *testing.T) {
		r, err := Compute(Input{Base: lines("c", 1, "100", "64"), Head: lines("c", 1, "100", "72")})
		if err != nil {
			t.Fatal(err)
		}
		got := row(t, r, "p", "X-2", "B/op")
		if got.Verdict != Unchanged || !strings.Contains(got.Note, "too few samples") {
			t.Errorf("row = %+v, want unchanged for too few samples", got)
		}
	})
	t.Run("two equal samples are", func(t *testing.T) {
		r, err := Compute(Input{Base: lines("c", 2, "100", "64"), Head: lines("c", 2, "100", "72")})
		if err != nil {
			t.Fatal(err)
		}
		if got := row(t, r, "p", "X-2", "B/op"); got.Verdict != Regression || got.PAdjusted != nil {
			t.Errorf("row = %+v, want an exact regression", got)
		}
	})
	t.Run("different machines", func(t *testing.T) {
		r, err := Compute(Input{Base: lines("Xeon", 5, "100", "64"), Head: lines("EPYC", 5, "100", "64")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(r.Warnings, "\n"), "different machines") {
			t.Errorf("warnings = %q", r.Warnings)
		}
	})
}
