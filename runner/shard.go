package runner

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shard is part Index of Count (1-based) of a run spread over several
// machines, for example the legs of a GitHub Actions matrix. The zero
// value is the whole run.
type Shard struct {
	Index, Count int
}

// Sharded reports whether s is one part of several.
func (s Shard) Sharded() bool { return s.Count > 1 }

// String is the shard as the input writes it: "2/4"; "" for the whole run.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// MaxShards bounds a shard count: GitHub's matrix has at most 256 legs.
const MaxShards = 256

// ParseShard reads "i/n" (1 <= i <= n <= MaxShards); "" is the whole run.
func ParseShard(s string) (Shard, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, ierr := strconv.Atoi(strings.TrimSpace(is))
	n, nerr := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || ierr != nil || nerr != nil {
		return Shard{}, fmt.Errorf("must be i/n such as 2/4, got %q", s)
	}
	if n < 1 || n > MaxShards || i < 1 || i > n {
		return Shard{}, fmt.Errorf("must be i/n with 1 <= i <= n <= %d, got %q", MaxShards, s)
	}
	return Shard{Index: i, Count: n}, nil
}

// BenchmarkID is one top-level benchmark function of a package. An empty
// Name stands for a whole package whose benchmarks could not be read from
// its source (its test files do not parse): it is assigned as one unit,
// so that one shard builds it and reports its error.
type BenchmarkID struct {
	Package string `json:"package"`
	Name    string `json:"name"`
}

// Durations are the expected times of benchmarks, from the history of
// earlier runs. The split balances by them when it has any, and by count
// otherwise; a benchmark without one weighs the mean of the known ones.
type Durations map[BenchmarkID]time.Duration

// Split divides benchmarks into n shards deterministically: sorted by
// package and then by name, cut into n consecutive runs of about equal
// weight (count, or expected time when durations are known). Consecutive
// runs keep a package's benchmarks together, so that a package is built
// by one or two shards, not by all of them, and still let one big
// package be split. Duplicates are dropped; every benchmark is in
// exactly one shard. The result has n slices, some empty when there are
// fewer benchmarks than shards.
func Split(benchmarks []BenchmarkID, n int, durations Durations) [][]BenchmarkID {
	if n < 1 {
		n = 1
	}
	ids := slices.Clone(benchmarks)
	slices.SortFunc(ids, func(a, b BenchmarkID) int {
		if c := strings.Compare(a.Package, b.Package); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	ids = slices.Compact(ids)
	w := weights(ids, durations)
	// cum[i] is the weight of ids[:i].
	cum := make([]float64, len(ids)+1)
	for i, x := range w {
		cum[i+1] = cum[i] + x
	}
	total := cum[len(ids)]
	parts := make([][]BenchmarkID, n)
	start := 0
	for k := 1; k <= n; k++ {
		end := len(ids)
		if k < n {
			// The cut whose cumulative weight is nearest k/n of the
			// total; ties go to the earlier cut.
			target := total * float64(k) / float64(n)
			end = start
			for end < len(ids) && cum[end+1] <= target {
				end++
			}
			if end < len(ids) && cum[end+1]-target < target-cum[end] {
				end++
			}
		}
		parts[k-1] = ids[start:end:end]
		start = end
	}
	return parts
}

// weights are the benchmarks' durations in seconds when any is known,
// else 1 each.
func weights(ids []BenchmarkID, durations Durations) []float64 {
	w := make([]float64, len(ids))
	var sum float64
	known := 0
	for i, id := range ids {
		if d := durations[id]; d > 0 {
			w[i] = d.Seconds()
			sum += w[i]
			known++
		}
	}
	fill := 1.0
	if known > 0 {
		fill = sum / float64(known)
	}
	for i := range w {
		if w[i] == 0 {
			w[i] = fill
		}
	}
	return w
}

// ShardResult is what a sharded Run was assigned.
type ShardResult struct {
	Shard Shard
	// Owned are the benchmarks of this shard, sorted; a benchmark found
	// only when its binary was listed (not in the source the split read)
	// is added to the first shard that has its package.
	Owned []BenchmarkID
	// Sizes is the number of benchmarks of every shard, so that a merge
	// can say how many a missing shard would have measured.
	Sizes []int
}

// sourceBenchmarks lists the top-level benchmark functions declared in
// the test files in dir, as go test would find them; ok is false when a
// test file does not parse (the package is then split as one unit).
func sourceBenchmarks(dir string) (names []string, ok bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, false
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && isBenchmarkName(fd.Name.Name) {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names, true
}

// shardState is a sharded run's split: the benchmarks this shard owns
// and every benchmark the split saw.
type shardState struct {
	owned, known map[BenchmarkID]bool
	// first is, per package, the first shard the split gave one of its
	// benchmarks: it takes the package's benchmarks the split never saw.
	first map[string]int
}

// shardTargets splits the benchmarks of every side's packages, read from
// their source before anything is built, keeps the targets that hold a
// benchmark of this shard, and records the split. Both sides count: a
// benchmark only the base has is measured (as removed) by one shard too.
func (s *state) shardTargets(targets []*target) []*target {
	sh := s.cfg.Shard
	var all []BenchmarkID
	whole := map[string]bool{} // packages split as one unit
	for _, t := range targets {
		names, ok := sourceBenchmarks(t.dir)
		if !ok {
			whole[t.pkg] = true
			all = append(all, BenchmarkID{Package: t.pkg})
			continue
		}
		// Only the benchmarks the pattern selects are split, so that
		// the shards share out the work that will be done.
		for _, n := range selectBenchmarks(s.cfg.Bench, names) {
			all = append(all, BenchmarkID{Package: t.pkg, Name: n})
		}
	}
	// A package unreadable on one side is one unit on both, or its
	// benchmarks would run in the unit's shard and in their own.
	all = slices.DeleteFunc(all, func(id BenchmarkID) bool { return id.Name != "" && whole[id.Package] })
	parts := Split(all, sh.Count, s.cfg.Durations)
	res := &ShardResult{Shard: sh, Owned: slices.Clone(parts[sh.Index-1])}
	s.shard = &shardState{owned: map[BenchmarkID]bool{}, known: map[BenchmarkID]bool{}, first: map[string]int{}}
	for i, p := range parts {
		res.Sizes = append(res.Sizes, len(p))
		for _, id := range p {
			s.shard.known[id] = true
			if _, ok := s.shard.first[id.Package]; !ok {
				s.shard.first[id.Package] = i + 1
			}
			if i == sh.Index-1 {
				s.shard.owned[id] = true
			}
		}
	}
	s.res.Shard = res
	var kept []*target
	for _, t := range targets {
		if s.ownsPackage(t.pkg) {
			kept = append(kept, t)
		}
	}
	total := 0
	for _, n := range res.Sizes {
		total += n
	}
	s.prog.printf("shard %s: %d of %d benchmarks, in %d of %d package builds", sh, len(res.Owned), total, len(kept), len(targets))
	return kept
}

// ownsPackage reports whether this shard builds pkg: it owns one of its
// benchmarks, or the package whole.
func (s *state) ownsPackage(pkg string) bool {
	for id := range s.shard.owned {
		if id.Package == pkg {
			return true
		}
	}
	return false
}

// keepOwned narrows every target's listed benchmarks to this shard's. A
// name the split never saw (which reading the source should not miss)
// goes to the first shard that builds its package, so that every
// benchmark still runs exactly once. It runs after the builds, on one
// goroutine.
func (s *state) keepOwned(targets []*target) {
	if s.shard == nil {
		return
	}
	for _, t := range targets {
		var keep []string
		whole := BenchmarkID{Package: t.pkg}
		for _, n := range t.names {
			id := BenchmarkID{Package: t.pkg, Name: n}
			switch {
			case s.shard.owned[id], s.shard.owned[whole]:
				keep = append(keep, n)
			case !s.shard.known[id] && !s.shard.known[whole] && s.shard.first[t.pkg] == s.cfg.Shard.Index:
				keep = append(keep, n)
				s.shard.known[id], s.shard.owned[id] = true, true
				s.res.Shard.Owned = append(s.res.Shard.Owned, id)
			}
		}
		t.names = keep
	}
	slices.SortFunc(s.res.Shard.Owned, func(a, b BenchmarkID) int {
		if c := strings.Compare(a.Package, b.Package); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// checkShard rejects a shard the caller should have validated, rather
// than index out of its split.
func checkShard(sh Shard) error {
	if sh == (Shard{}) {
		return nil
	}
	if sh.Count < 1 || sh.Count > MaxShards || sh.Index < 1 || sh.Index > sh.Count {
		return fmt.Errorf("shard %d/%d is not i/n with 1 <= i <= n <= %d", sh.Index, sh.Count, MaxShards)
	}
	return nil
}
