package runner

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func ids(pkgNames ...string) []BenchmarkID {
	var out []BenchmarkID
	for _, pn := range pkgNames {
		var id BenchmarkID
		if _, err := fmt.Sscanf(pn, "%s %s", &id.Package, &id.Name); err != nil {
			id.Package = pn
		}
		out = append(out, id)
	}
	return out
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		bad  bool
	}{
		{"", Shard{}, false},
		{"1/1", Shard{1, 1}, false},
		{" 2/4 ", Shard{2, 4}, false},
		{"4/4", Shard{4, 4}, false},
		{"0/4", Shard{}, true},
		{"5/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"1/257", Shard{}, true},
		{"2", Shard{}, true},
		{"a/b", Shard{}, true},
		{"-1/2", Shard{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseShard(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("ParseShard(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
}

// checkPartition fails unless parts hold every distinct benchmark of in
// exactly once, in n shards.
func checkPartition(t *testing.T, in []BenchmarkID, parts [][]BenchmarkID, n int) {
	t.Helper()
	if len(parts) != n {
		t.Fatalf("%d shards, want %d", len(parts), n)
	}
	seen := map[BenchmarkID]int{}
	for i, p := range parts {
		for _, id := range p {
			if j, dup := seen[id]; dup {
				t.Errorf("%v in shards %d and %d", id, j+1, i+1)
			}
			seen[id] = i
		}
	}
	for _, id := range in {
		if _, ok := seen[id]; !ok {
			t.Errorf("%v in no shard", id)
		}
	}
}

func TestSplit(t *testing.T) {
	many := func(pkgs, per int) []BenchmarkID {
		var out []BenchmarkID
		for p := range pkgs {
			for b := range per {
				out = append(out, BenchmarkID{fmt.Sprintf("example.com/p%02d", p), fmt.Sprintf("Benchmark%03d", b)})
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []BenchmarkID
		n     int
		sizes []int
	}{
		{"nothing", nil, 3, []int{0, 0, 0}},
		{"fewer benchmarks than shards", ids("p A", "p B"), 4, []int{0, 1, 0, 1}},
		{"one package is split by name", ids("p D", "p A", "p C", "p B"), 2, []int{2, 2}},
		{"duplicates count once", ids("p A", "p A", "q A", "q B"), 3, []int{1, 1, 1}},
		{"a package that does not parse is one unit", ids("p", "q A", "q B", "r A"), 2, []int{2, 2}},
		{"one shard", many(3, 7), 1, []int{21}},
		{"uneven", many(3, 7), 4, []int{5, 5, 6, 5}},
		{"many", many(40, 25), 7, []int{143, 143, 143, 142, 143, 143, 143}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := Split(tc.in, tc.n, nil)
			checkPartition(t, tc.in, parts, tc.n)
			var sizes []int
			for _, p := range parts {
				sizes = append(sizes, len(p))
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.sizes)
			}
			// Deterministic: any order of the same input, same split.
			rev := slices.Clone(tc.in)
			slices.Reverse(rev)
			if again := Split(rev, tc.n, nil); !reflect.DeepEqual(again, parts) {
				t.Errorf("reversed input split differently:\n%v\n%v", again, parts)
			}
			// Sorted by package then name, cut into consecutive runs.
			var flat []BenchmarkID
			for _, p := range parts {
				flat = append(flat, p...)
			}
			if !slices.IsSortedFunc(flat, func(a, b BenchmarkID) int {
				if a.Package != b.Package {
					return map[bool]int{true: -1, false: 1}[a.Package < b.Package]
				}
				return map[bool]int{true: -1, false: 1}[a.Name < b.Name]
			}) {
				t.Errorf("shards are not consecutive runs of the sorted benchmarks: %v", flat)
			}
		})
	}
}

// TestSplitByDurations: with the durations known, every shard's expected
// time is within 20% of the mean, although the benchmarks' times differ
// 50-fold and the heavy ones sit together in one package.
func TestSplitByDurations(t *testing.T) {
	var in []BenchmarkID
	d := Durations{}
	for p := range 6 {
		for b := range 20 {
			id := BenchmarkID{fmt.Sprintf("example.com/p%d", p), fmt.Sprintf("Benchmark%02d", b)}
			in = append(in, id)
			ms := 100 + (p*37+b*53)%900 // 0.1s to 1s
			if p == 2 {
				ms *= 5 // one package of slow benchmarks
			}
			if b == 7 {
				continue // unknown: weighs the mean
			}
			d[id] = time.Duration(ms) * time.Millisecond
		}
	}
	for _, n := range []int{2, 3, 4, 5, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			parts := Split(in, n, d)
			checkPartition(t, in, parts, n)
			w := weights(in, d)
			weight := map[BenchmarkID]float64{}
			for i, id := range in {
				weight[id] = w[i]
			}
			var total float64
			sums := make([]float64, n)
			for i, p := range parts {
				for _, id := range p {
					sums[i] += weight[id]
				}
				total += sums[i]
			}
			mean := total / float64(n)
			for i, s := range sums {
				if s < 0.8*mean || s > 1.2*mean {
					t.Errorf("shard %d/%d expects %.1fs, mean %.1fs: over 20%% off (all: %.1f)", i+1, n, s, mean, sums)
				}
			}
			byCount := Split(in, n, nil)
			if reflect.DeepEqual(byCount, parts) {
				t.Error("durations changed nothing")
			}
			if again := Split(in, n, maps.Clone(d)); !reflect.DeepEqual(again, parts) {
				t.Error("same durations, different split")
			}
		})
	}
}

// TestRunShards runs the fixture as three shards: together they measure
// exactly what one run measures, each benchmark once, each shard only the
// benchmarks its split gave it, with an exact -test.bench pattern.
func TestRunShards(t *testing.T) {
	f := sharedFixture(t)
	cfg := Config{
		Dir: f.dir, Baseline: f.baseSHA, Packages: []string{"./a", "./gone", "./fresh"},
		// Not Fail and Panic: whether a panicking benchmark leaves a
		// result line varies from run to run, which is not the split's.
		Bench: "^Benchmark(Changed|Same|Removed|Added|After|Gone|Fresh)$",
		Count: 1, Benchtime: "1x", OutputDir: t.TempDir(), Seed: 1,
	}
	whole, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Shard != nil {
		t.Errorf("an unsharded run has a split: %+v", whole.Shard)
	}
	wantBase, wantHead := counts(t, whole.Base), counts(t, whole.Head)
	gotBase, gotHead := map[string]int{}, map[string]int{}
	owner := map[BenchmarkID]int{}
	for i := 1; i <= 3; i++ {
		c := cfg
		c.Shard = Shard{Index: i, Count: 3}
		c.OutputDir = t.TempDir()
		var progress bytes.Buffer
		c.Progress = &progress
		res, err := Run(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Shard == nil || res.Shard.Shard != c.Shard || len(res.Shard.Sizes) != 3 {
			t.Fatalf("shard %d: split %+v", i, res.Shard)
		}
		for _, id := range res.Shard.Owned {
			if j, dup := owner[id]; dup {
				t.Errorf("%v owned by shards %d and %d", id, j, i)
			}
			owner[id] = i
		}
		for side, data := range map[string][]byte{"base": res.Base, "head": res.Head} {
			got := gotBase
			if side == "head" {
				got = gotHead
			}
			for k, n := range counts(t, data) {
				pkg, name, _ := strings.Cut(k, " ")
				if owner[BenchmarkID{pkg, "Benchmark" + name}] != i {
					t.Errorf("shard %d ran %s on %s, which it does not own", i, k, side)
				}
				got[k] += n
			}
		}
	}
	if !mapsEqual(gotBase, wantBase) || !mapsEqual(gotHead, wantHead) {
		t.Errorf("shards measured base %v head %v; one run measured base %v head %v", gotBase, gotHead, wantBase, wantHead)
	}
	// The pattern selects 7 of the benchmarks on the two sides (a: 5,
	// gone: 1, fresh: 1): only they are split.
	if len(owner) != 7 {
		t.Errorf("the shards own %d benchmarks, want 7: %v", len(owner), owner)
	}
}

// TestSourceBenchmarks: the split reads benchmark functions from the
// test files as go test finds them, and a file that does not parse makes
// the package one unit.
func TestSourceBenchmarks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_test.go", "package p\n\nimport \"testing\"\n\nfunc BenchmarkA(b *testing.B) {}\nfunc Benchmarklower(b *testing.B) {}\nfunc (x T) BenchmarkMethod(b *testing.B) {}\nvar s = \"func BenchmarkQuoted(b *testing.B)\"\n")
	write("b_test.go", "package p_test\n\nimport \"testing\"\n\nfunc Benchmark(b *testing.B) {}\nfunc BenchmarkB_1(b *testing.B) {}\n")
	write("c.go", "package p\n\nfunc BenchmarkNotATest() {}\n")
	names, ok := sourceBenchmarks(dir)
	slices.Sort(names)
	if !ok || !slices.Equal(names, []string{"Benchmark", "BenchmarkA", "BenchmarkB_1"}) {
		t.Errorf("sourceBenchmarks = %q, %v", names, ok)
	}
	write("d_test.go", "package p\n\nfunc BenchmarkBroken(b *testing.B) {\n")
	if _, ok := sourceBenchmarks(dir); ok {
		t.Error("a test file that does not parse was read")
	}
}

func TestRunRejectsBadShard(t *testing.T) {
	if _, err := Run(t.Context(), Config{Dir: t.TempDir(), Shard: Shard{Index: 3, Count: 2}}); err == nil || !strings.Contains(err.Error(), "shard 3/2") {
		t.Errorf("Run with shard 3/2: %v", err)
	}
}
