package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/outcome"
	"github.com/natsbench/natsbench-action/runner"
)

// The merge tests make shard outputs the way a shard run writes them
// (writeShard, the publisher's report.json) from raw results made up
// here, so that they run no benchmark; the end-to-end test merges real
// shards.

const (
	baseSHA = "1111111111111111111111111111111111111111"
	headSHA = "2222222222222222222222222222222222222222"
)

// rawShard is one shard's raw results: per package, its benchmarks with
// their base and head ns/op.
type rawShard struct {
	cpu  string
	pkgs map[string]map[string][2]float64
}

// raw renders one side's results as go test prints them.
func (s rawShard) raw(side int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "goos: linux\ngoarch: amd64\n")
	for _, pkg := range sortedKeys(s.pkgs) {
		fmt.Fprintf(&b, "pkg: %s\ncpu: %s\n", pkg, s.cpu)
		for run := range 8 {
			for _, name := range sortedKeys(s.pkgs[pkg]) {
				v := s.pkgs[pkg][name][side] * (1 + 0.002*float64(run%4))
				fmt.Fprintf(&b, "Benchmark%s-2 \t 1000\t %.1f ns/op\t %d B/op\n", name, v, int(s.pkgs[pkg][name][side]))
			}
		}
	}
	return b.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// testShards are three shards of one run: +20% and -30% changes spread
// over three packages, each shard on its own CPU.
var testShards = []rawShard{
	{cpu: "CPU one", pkgs: map[string]map[string][2]float64{
		"example.com/m/a": {"Slower": {1000, 1200}, "Same": {500, 500}},
	}},
	{cpu: "CPU two", pkgs: map[string]map[string][2]float64{
		"example.com/m/b": {"Faster": {1000, 700}, "Same": {800, 800}},
	}},
	{cpu: "CPU three", pkgs: map[string]map[string][2]float64{
		"example.com/m/c": {"Slower": {2000, 2400}, "Tiny": {100, 101}},
	}},
}

func testConfig() Config {
	c, err := parseConfig(fromFlag, func(string) string { return "" })
	if err != nil {
		panic(err)
	}
	return c
}

// writeTestShard writes shard i (1-based) of shards into root as a
// shard run does, and returns its directory.
func writeTestShard(t *testing.T, root string, shards []rawShard, i int, cfg Config) string {
	t.Helper()
	s := shards[i-1]
	var sizes []int
	for _, sh := range shards {
		n := 0
		for _, names := range sh.pkgs {
			n += len(names)
		}
		sizes = append(sizes, n)
	}
	var owned []runner.BenchmarkID
	for _, pkg := range sortedKeys(s.pkgs) {
		for _, name := range sortedKeys(s.pkgs[pkg]) {
			owned = append(owned, runner.BenchmarkID{Package: pkg, Name: "Benchmark" + name})
		}
	}
	var failures []outcome.Failure
	if i == 2 {
		failures = []outcome.Failure{{Side: outcome.Head, Package: "example.com/m/b", Benchmark: "Gone", Reason: "panic"}}
	}
	return writeShardOf(t, root, cfg, runner.Shard{Index: i, Count: len(shards)}, sizes, owned,
		compare.Input{Base: s.raw(0), Head: s.raw(1), Failures: failures})
}

// writeShardOf writes into root the output of shard sh, which owned
// owned and measured in's Base and Head, as a shard run does (in's
// Options, Config, refs and Command are filled in), and returns its
// directory.
func writeShardOf(t *testing.T, root string, cfg Config, sh runner.Shard, sizes []int, owned []runner.BenchmarkID, in compare.Input) string {
	t.Helper()
	cfg.Run.Shard = sh
	cfg.OutputDir = root
	dir := shardOutputDir(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"base.txt": in.Base, "head.txt": in.Head} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := &runner.Result{Shard: &runner.ShardResult{Shard: sh, Sizes: sizes, Owned: owned}}
	in.Options, in.Config = cfg.Compare, cfg.record()
	in.BaseRef, in.HeadRef = compare.Ref{Ref: "main", SHA: baseSHA}, compare.Ref{SHA: headSHA}
	in.Command = "go run x -shard " + sh.String()
	r, err := compare.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeJSONFile(filepath.Join(dir, "report.json"), r); err != nil {
		t.Fatal(err)
	}
	if err := writeShard(dir, cfg, res, r, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// oneMachine is the report one machine would make of all the shards'
// results.
func oneMachine(t *testing.T, shards []rawShard) *compare.Report {
	t.Helper()
	var base, head []byte
	for _, s := range shards {
		base, head = append(base, s.raw(0)...), append(head, s.raw(1)...)
	}
	cfg := testConfig()
	r, err := compare.Compute(compare.Input{Base: base, Head: head, Options: cfg.Compare,
		Failures: []outcome.Failure{{Side: outcome.Head, Package: "example.com/m/b", Benchmark: "Gone", Reason: "panic"}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMergeEqualsOneMachine(t *testing.T) {
	root := t.TempDir()
	for i := range testShards {
		writeTestShard(t, root, testShards, i+1, testConfig())
	}
	m, err := mergeShards([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.lost) != 0 {
		t.Errorf("lost %v", m.lost)
	}
	got, want := m.report, oneMachine(t, testShards)
	if len(got.Benchmarks) != len(want.Benchmarks) {
		t.Fatalf("%d rows, one machine %d", len(got.Benchmarks), len(want.Benchmarks))
	}
	regressions := 0
	for i, g := range got.Benchmarks {
		w := want.Benchmarks[i]
		if g.Package != w.Package || g.Name != w.Name || g.Unit != w.Unit || g.Verdict != w.Verdict {
			t.Errorf("row %d: %s %s %s %s, one machine %s %s %s %s", i, g.Package, g.Name, g.Unit, g.Verdict, w.Package, w.Name, w.Unit, w.Verdict)
		}
		if (g.PAdjusted == nil) != (w.PAdjusted == nil) || g.PAdjusted != nil && *g.PAdjusted != *w.PAdjusted {
			t.Errorf("row %d %s: adjusted p %v, one machine %v", i, g.Name, g.PAdjusted, w.PAdjusted)
		}
		if g.Verdict == compare.Regression {
			regressions++
		}
		wantShard := map[string]string{"example.com/m/a": "1/3", "example.com/m/b": "2/3", "example.com/m/c": "3/3"}[g.Package]
		wantCPU := map[string]string{"1/3": "CPU one", "2/3": "CPU two", "3/3": "CPU three"}[wantShard]
		if g.Shard != wantShard || g.CPU != wantCPU {
			t.Errorf("row %s %s: shard %q cpu %q, want %q %q", g.Package, g.Name, g.Shard, g.CPU, wantShard, wantCPU)
		}
	}
	if regressions < 2 {
		t.Errorf("%d regression rows, want the two Slower ones at least", regressions)
	}
	if got.Base.SHA != baseSHA || got.Head.SHA != headSHA || strings.Contains(got.Command, "-shard") {
		t.Errorf("refs %v %v, command %q", got.Base, got.Head, got.Command)
	}
	if len(got.Shards) != 3 || got.Shards[1].Status != compare.ShardMerged || got.Shards[1].Benchmarks != 2 || got.Shards[1].CPU != "CPU two" {
		t.Errorf("shards %+v", got.Shards)
	}
	// The report survives report.json: post mode can publish a merge.
	var b bytes.Buffer
	if err := compare.WriteJSON(&b, got); err != nil {
		t.Fatal(err)
	}
	back, err := compare.ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Benchmarks[0].Shard == "" || len(back.Shards) != 3 {
		t.Errorf("shard fields lost in report.json: %+v", back.Shards)
	}
	md := compare.Markdown(got, compare.MarkdownOptions{})
	for _, want := range []string{"3 shards", "| Shard |", "CPU three", "| 1/3 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestMergeNamesLostShards(t *testing.T) {
	root := t.TempDir()
	writeTestShard(t, root, testShards, 1, testConfig())
	// Shard 2 failed before it had results; shard 3 never uploaded.
	cfg := testConfig()
	cfg.Run.Shard = runner.Shard{Index: 2, Count: 3}
	cfg.OutputDir = root
	if err := writeShard(shardOutputDir(cfg), cfg, nil, nil, errors.New("running benchmarks: go list: <b>boom</b>")); err != nil {
		t.Fatal(err)
	}
	m, err := mergeShards([]string{filepath.Join(root, "shard-*")})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range m.lost {
		texts = append(texts, l.LostText())
	}
	if len(texts) != 2 || !strings.HasPrefix(texts[0], "shard 2/3 failed: 2 benchmarks not measured") ||
		texts[1] != "shard 3/3 missing: 2 benchmarks not measured" {
		t.Errorf("lost: %q", texts)
	}
	md := compare.Markdown(m.report, compare.MarkdownOptions{})
	if !strings.Contains(md, "shard 3/3 missing: 2 benchmarks not measured") || strings.Contains(md, "<b>") || !strings.Contains(md, "2 shards lost") {
		t.Errorf("markdown:\n%s", md)
	}
	cfg.FailOnRegression = true
	if err := gate(cfg, m.report); err == nil || !strings.Contains(err.Error(), "2 shards lost") {
		t.Errorf("gate: %v", err)
	}
	for _, row := range m.report.Benchmarks {
		if row.Package != "example.com/m/a" {
			t.Errorf("row of a lost shard: %+v", row)
		}
	}
}

func TestMergeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, root string, dirs []string)
		want   string
	}{
		{"mixed commits", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[1], "shard.json"), headSHA, "3333333333333333333333333333333333333333")
		}, "shards of different commits: shard 1/3 measured head 222222222222 against base 111111111111, shard 2/3 head 333333333333"},
		{"other settings", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[2], "shard.json"), `"count": 20`, `"count": 30`)
		}, "shards of different settings: shard 1/3 and shard 3/3 differ in count"},
		{"other shard count", func(t *testing.T, root string, dirs []string) {
			four := append(append([]rawShard{}, testShards...), testShards[0])
			writeTestShard(t, root, four, 4, testConfig())
		}, "are of different splits (3 and 4 shards)"},
		{"other split", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[2], "shard.json"), "\"sizes\": [\n    2,", "\"sizes\": [\n    3,")
		}, "split the benchmarks differently (sizes [2 2 2] and [3 2 2])"},
		{"twice", func(t *testing.T, root string, dirs []string) {
			copyDir(t, dirs[0], filepath.Join(root, "again"))
		}, "shard 1/3 is in both"},
		{"schema", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[0], "shard.json"), ShardSchema, "natsbench/shard/v9 <script>")
		}, `schema is not "natsbench/shard/v1"`},
		{"not a commit", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[0], "shard.json"), headSHA, "--upload-pack=x")
		}, "a commit is not a hexadecimal object name"},
		{"symlink", func(t *testing.T, root string, dirs []string) {
			p := filepath.Join(dirs[0], "head.txt")
			os.Remove(p)
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		}, "head.txt is not a regular file"},
		{"huge raw results", func(t *testing.T, root string, dirs []string) {
			f, err := os.OpenFile(filepath.Join(dirs[0], "head.txt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(maxRawBytes + 1); err != nil {
				t.Fatal(err)
			}
		}, "head.txt is larger than"},
		{"bad report.json", func(t *testing.T, root string, dirs []string) {
			edit(t, filepath.Join(dirs[0], "report.json"), `"verdict": "regression"`, `"verdict": "pwned"`)
		}, "unknown verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for i := range testShards {
				dirs = append(dirs, writeTestShard(t, root, testShards, i+1, testConfig()))
			}
			tc.change(t, root, dirs)
			_, err := mergeShards([]string{root})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("merge: %v\nwant an error with %q", err, tc.want)
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
		if _, err := mergeShards([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no shard output (shard.json)") {
			t.Errorf("merge of an empty directory: %v", err)
		}
		if _, err := mergeShards([]string{filepath.Join(t.TempDir(), "nope*")}); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("merge of nothing: %v", err)
		}
	})
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s lacks %q:\n%s", path, old, data)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(data, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rounds renders one side's results, one line per round and benchmark,
// as go test prints them.
func rounds(pkg string, benches map[string][]float64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "goos: linux\ngoarch: amd64\npkg: %s\ncpu: CPU\n", pkg)
	for _, name := range sortedKeys(benches) {
		for _, v := range benches[name] {
			fmt.Fprintf(&b, "Benchmark%s-2 \t 1000\t %.1f ns/op\n", name, v)
		}
	}
	return b.Bytes()
}

// spread is n values around center, ±5% in a fixed order.
func spread(center float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = center * (0.95 + 0.1*float64((i*7)%n)/float64(n))
	}
	return v
}

// TestMergeKeepsStoppedRows: a sequential shard stopped a benchmark at
// its look after 12 rounds, as a regression; the other shard's 200
// unchanged benchmarks ran all 40. Recomputed with all 201 rows in the
// correction, the stopped row would be unchanged; the merge keeps the
// look's verdict, adjusted p, MDE and rounds, as one machine's run does.
func TestMergeKeepsStoppedRows(t *testing.T) {
	cfg := testConfig()
	cfg.Run.Count, cfg.Run.MinCount = 40, 10
	cfg.Compare.Plan = compare.Plan{MinRounds: 10, MaxRounds: 40}
	const pkgA, pkgB = "example.com/m/a", "example.com/m/b"
	sizes := []int{1, 200}

	// Shard 1, as a run does it: the look after round 12 settles X (its
	// only benchmark, so the shard ends there), and the report keeps it.
	xBase := map[string][]float64{"X": spread(1000, 12)}
	xHead := map[string][]float64{"X": spread(1200, 12)}
	base1, head1 := rounds(pkgA, xBase), rounds(pkgA, xHead)
	settler := NewSettler(cfg.Compare)
	ids, err := settler.Settle(t.Context(), 12, base1, head1)
	if err != nil || len(ids) != 1 {
		t.Fatalf("the look after 12 rounds stopped %v (%v), want X", ids, err)
	}
	root := t.TempDir()
	writeShardOf(t, root, cfg, runner.Shard{Index: 1, Count: 2}, sizes,
		[]runner.BenchmarkID{{Package: pkgA, Name: "BenchmarkX"}},
		compare.Input{Base: base1, Head: head1, Stopped: settler.Stopped()})

	nulls := map[string][]float64{}
	var owned2 []runner.BenchmarkID
	for i := range 200 {
		name := fmt.Sprintf("N%03d", i)
		nulls[name] = spread(500, 40)
		owned2 = append(owned2, runner.BenchmarkID{Package: pkgB, Name: "Benchmark" + name})
	}
	dir2 := writeShardOf(t, root, cfg, runner.Shard{Index: 2, Count: 2}, sizes, owned2,
		compare.Input{Base: rounds(pkgB, nulls), Head: rounds(pkgB, nulls)})

	shard1 := readReport(t, filepath.Join(root, "shard-1-of-2", "report.json"))
	look := shard1.Benchmarks[0]
	if look.Name != "X-2" || look.Verdict != compare.Regression || look.Rounds != 12 {
		t.Fatalf("shard 1's row: %s %s after %d rounds, want X-2 regression after 12", look.Name, look.Verdict, look.Rounds)
	}
	// What the merge would say of X without its look.
	oneMachine, err := compare.Compute(compare.Input{
		Base: append(base1, rounds(pkgB, nulls)...), Head: append(head1, rounds(pkgB, nulls)...), Options: cfg.Compare})
	if err != nil {
		t.Fatal(err)
	}
	if r := oneMachine.Benchmarks[0]; r.Name != "X-2" || r.Verdict != compare.Unchanged {
		t.Fatalf("recomputed, X is %s %s; want unchanged, or the test shows nothing", r.Name, r.Verdict)
	}

	m, err := mergeShards([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	got := m.report.Benchmarks[0]
	val := func(p *float64) string {
		if p == nil {
			return "none"
		}
		return fmt.Sprint(*p)
	}
	if got.Name != "X-2" || got.Verdict != compare.Regression || got.Rounds != 12 || got.Shard != "1/2" ||
		val(got.PAdjusted) != val(look.PAdjusted) || val(got.MDEPct) != val(look.MDEPct) || look.MDEPct == nil {
		t.Errorf("merged X: %s %s after %d rounds, adjusted p %s, MDE %s, shard %s; want the look's regression after 12, p %s, MDE %s, shard 1/2",
			got.Name, got.Verdict, got.Rounds, val(got.PAdjusted), val(got.MDEPct), got.Shard, val(look.PAdjusted), val(look.MDEPct))
	}
	if n := m.report.Summary[compare.Regression]; n != 1 {
		t.Errorf("%d regressions, want X's", n)
	}
	if r := m.report.Benchmarks[1]; r.Rounds != 40 || r.Verdict != compare.Unchanged {
		t.Errorf("merged %s: %s after %d rounds, want unchanged after 40", r.Name, r.Verdict, r.Rounds)
	}

	// A shard cannot decide another shard's benchmarks: shard 2's report
	// claiming X's regression is not kept.
	hostile := t.TempDir()
	copyDir(t, filepath.Join(root, "shard-1-of-2"), filepath.Join(hostile, "shard-1-of-2"))
	copyDir(t, dir2, filepath.Join(hostile, "shard-2-of-2"))
	r2 := readReport(t, filepath.Join(hostile, "shard-2-of-2", "report.json"))
	r2.Benchmarks = append(r2.Benchmarks, look)
	if err := writeJSONFile(filepath.Join(hostile, "shard-2-of-2", "report.json"), r2); err != nil {
		t.Fatal(err)
	}
	r1 := *shard1
	r1.Benchmarks = nil
	if err := writeJSONFile(filepath.Join(hostile, "shard-1-of-2", "report.json"), &r1); err != nil {
		t.Fatal(err)
	}
	if m, err = mergeShards([]string{hostile}); err != nil {
		t.Fatal(err)
	}
	if got := m.report.Benchmarks[0]; got.Verdict != compare.Unchanged {
		t.Errorf("X, claimed by the shard that did not run it: %s, want recomputed unchanged", got.Verdict)
	}
}

func readReport(t *testing.T, path string) *compare.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := compare.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
