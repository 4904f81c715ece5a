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
	cfg.Run.Shard = runner.Shard{Index: i, Count: len(shards)}
	cfg.OutputDir = root
	dir := shardOutputDir(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base, head := s.raw(0), s.raw(1)
	for name, data := range map[string][]byte{"base.txt": base, "head.txt": head} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := &runner.Result{Shard: &runner.ShardResult{Shard: cfg.Run.Shard}}
	for _, sh := range shards {
		n := 0
		for _, names := range sh.pkgs {
			n += len(names)
		}
		res.Shard.Sizes = append(res.Shard.Sizes, n)
	}
	for _, pkg := range sortedKeys(s.pkgs) {
		for _, name := range sortedKeys(s.pkgs[pkg]) {
			res.Shard.Owned = append(res.Shard.Owned, runner.BenchmarkID{Package: pkg, Name: "Benchmark" + name})
		}
	}
	in := compare.Input{Base: base, Head: head, Options: cfg.Compare, Config: cfg.record(),
		BaseRef: compare.Ref{Ref: "main", SHA: baseSHA}, HeadRef: compare.Ref{SHA: headSHA},
		Command: "go run x -shard " + cfg.Run.Shard.String()}
	if i == 2 {
		in.Failures = []outcome.Failure{{Side: outcome.Head, Package: "example.com/m/b", Benchmark: "Gone", Reason: "panic"}}
	}
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
			edit(t, filepath.Join(dirs[2], "shard.json"), `"count": 20`, `"count": 10`)
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
