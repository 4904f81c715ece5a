package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment/githubtest"
	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// The shards end-to-end test runs a fixture of three packages once on one
// machine and once as three shards of a matrix, and merges the shards,
// all with the action binary and the fake GitHub API.

// shardFixturePkg is one package of the shards fixture: Grow does 20%
// more work on head and allocates more, Shrink 30% less work and fewer
// bytes, Same is unchanged. Allocations are deterministic, so their
// verdicts are asserted always; the timing verdicts only with
// NATSBENCH_TIMING_TESTS=1 (see internal/app/verdicts_test.go).
const shardFixturePkg = `package PKG

import "testing"

var (
	sink uint64
	buf  []byte
)

func spin(n int) {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
}

func BenchmarkGrow(b *testing.B) {
	for range b.N {
		buf = make([]byte, growBytes)
		spin(growN)
	}
}

func BenchmarkShrink(b *testing.B) {
	for range b.N {
		buf = make([]byte, shrinkBytes)
		spin(shrinkN)
	}
}

func BenchmarkSame(b *testing.B) {
	for range b.N {
		spin(20000)
	}
}
`

const (
	shardSizesBase = "package PKG\n\nconst (\n\tgrowN, growBytes     = 20000, 1000\n\tshrinkN, shrinkBytes = 20000, 1000\n)\n"
	shardSizesHead = "package PKG\n\nconst (\n\tgrowN, growBytes     = 24000, 2000\n\tshrinkN, shrinkBytes = 14000, 500\n)\n"
)

// newShardFixture makes the repository: packages a, b and c, each with
// Grow, Shrink and Same (nine benchmarks, so that each of three shards
// holds parts of two packages).
func newShardFixture(t *testing.T, dir string) fixture {
	t.Helper()
	base := map[string]string{"mod/go.mod": "module example.com/shards\n\ngo 1.26\n"}
	head := map[string]string{}
	for _, p := range []string{"a", "b", "c"} {
		base["mod/"+p+"/bench_test.go"] = strings.ReplaceAll(shardFixturePkg, "PKG", p)
		base["mod/"+p+"/sizes.go"] = strings.ReplaceAll(shardSizesBase, "PKG", p)
		head["mod/"+p+"/sizes.go"] = strings.ReplaceAll(shardSizesHead, "PKG", p)
	}
	b := gittest.MustCommit(t, dir, base, "base")
	h := gittest.MustCommit(t, dir, head, "head: Grow +20% work, Shrink -30% work")
	return fixture{dir: dir, base: b, head: h}
}

// shardInputs are the inputs of the runs of the shards test: the
// action's default count when timing verdicts are asserted, half of it
// otherwise, in fixed rounds: the test compares the merge with one
// computation over all the shards' samples, which the looks a
// sequential shard keeps are not (TestMergeKeepsStoppedRows covers
// those).
func shardInputs(token string) map[string]string {
	in := actionInputs(token)
	in["count"], in["benchtime"] = "10", "20ms"
	if os.Getenv("NATSBENCH_TIMING_TESTS") == "1" {
		in["count"] = "20"
	}
	in["min-count"] = in["count"]
	in["comment"] = "" // action.yml's default
	return in
}

// procs is the -GOMAXPROCS suffix of a benchmark's name.
var procs = regexp.MustCompile(`-\d+$`)

// rowKey names a row across reports.
func rowKey(r compare.Row) string { return r.Package + " " + r.Name + " " + r.Unit }

func TestShards(t *testing.T) {
	gh := githubtest.New(t)
	token := gh.Token()
	s := &suite{root: t, gh: gh}
	bin := s.binary(t)
	fx := newShardFixture(t, filepath.Join(testutil.SharedDir(t), "workspace"))
	event := prEvent(7, fx.base)
	timing := os.Getenv("NATSBENCH_TIMING_TESTS") == "1"

	// One machine.
	in := shardInputs(token)
	in["output-dir"], in["comment"] = "whole", "false"
	start := time.Now()
	whole := runAction(t, bin, fx.dir, gh.URL(), "pull_request", event, in)
	t.Logf("wall time, one machine: %s", time.Since(start).Round(time.Millisecond))
	whole.wantCode(t, 0)
	one := readReport(t, filepath.Join(fx.dir, "whole", "report.json"))

	// Three shards, each timed on its own.
	for i := 1; i <= 3; i++ {
		in := shardInputs(token)
		in["shard"], in["output-dir"] = fmt.Sprintf("%d/3", i), "shards"
		start := time.Now()
		r := runAction(t, bin, fx.dir, gh.URL(), "pull_request", event, in)
		t.Logf("wall time, shard %d/3: %s", i, time.Since(start).Round(time.Millisecond))
		r.wantCode(t, 0)
		if !strings.HasSuffix(r.outputs["report-json"], fmt.Sprintf("shards/shard-%d-of-3/report.json", i)) {
			t.Errorf("shard %d: report-json %q", i, r.outputs["report-json"])
		}
	}
	if n := len(gh.CommentsOn(owner, repo, 7)); n != 0 {
		t.Fatalf("%d comments after the shards: a shard of several must not comment unless asked", n)
	}

	t.Run("merge equals one machine", func(t *testing.T) {
		in := shardInputs(token)
		in["mode"], in["report"], in["output-dir"] = "merge", "shards", "merged"
		r := runAction(t, bin, fx.dir, gh.URL(), "pull_request", event, in)
		r.wantCode(t, 0)
		merged := readReport(t, filepath.Join(fx.dir, "merged", "report.json"))
		if merged.Head.SHA != one.Head.SHA || merged.Base.SHA != one.Base.SHA {
			t.Errorf("merged %s..%s, one machine %s..%s", merged.Base.SHA, merged.Head.SHA, one.Base.SHA, one.Head.SHA)
		}
		if len(merged.Benchmarks) != len(one.Benchmarks) || len(merged.Benchmarks) != 27 {
			t.Fatalf("merged %d rows, one machine %d, want 27 (9 benchmarks × 3 units)", len(merged.Benchmarks), len(one.Benchmarks))
		}
		// Row for row, verdict for verdict: always on the exact units,
		// on timings only on an idle machine.
		for i, m := range merged.Benchmarks {
			o := one.Benchmarks[i]
			if rowKey(m) != rowKey(o) {
				t.Errorf("row %d: merged %q, one machine %q", i, rowKey(m), rowKey(o))
				continue
			}
			if m.Unit == "sec/op" && !timing {
				t.Logf("%s: merged %s, one machine %s (timing: not asserted)", rowKey(m), m.Verdict, o.Verdict)
				continue
			}
			if m.Verdict != o.Verdict {
				t.Errorf("%s: merged %s, one machine %s", rowKey(m), m.Verdict, o.Verdict)
			}
		}
		for _, row := range merged.Benchmarks {
			want := map[string]compare.Verdict{"Grow B/op": compare.Regression, "Shrink B/op": compare.Improvement, "Same B/op": compare.Unchanged}
			name := procs.ReplaceAllString(row.Name, "")
			if v, ok := want[name+" "+row.Unit]; ok && row.Verdict != v {
				t.Errorf("%s: %s, want %s", rowKey(row), row.Verdict, v)
			}
			if timing && row.Unit == "sec/op" {
				tv := map[string]compare.Verdict{"Grow": compare.Regression, "Shrink": compare.Improvement, "Same": compare.Unchanged}[name]
				if row.Verdict != tv {
					t.Errorf("%s: %s, want %s", rowKey(row), row.Verdict, tv)
				}
			}
			if !strings.HasSuffix(row.Shard, "/3") || row.CPU == "" {
				t.Errorf("%s: shard %q cpu %q", rowKey(row), row.Shard, row.CPU)
			}
		}
		// The adjusted p-values are those of the shards' raw samples
		// compared together, as one machine compares its own.
		var base, head []byte
		for i := 1; i <= 3; i++ {
			dir := filepath.Join(fx.dir, "shards", fmt.Sprintf("shard-%d-of-3", i))
			b, err := os.ReadFile(filepath.Join(dir, "base.txt"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := os.ReadFile(filepath.Join(dir, "head.txt"))
			if err != nil {
				t.Fatal(err)
			}
			base, head = append(base, b...), append(head, h...)
		}
		want, err := compare.Compute(compare.Input{Base: base, Head: head, Options: compare.Options{Alpha: 0.05, Threshold: 5}})
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want.Benchmarks {
			m := merged.Benchmarks[i]
			if rowKey(m) != rowKey(w) || m.Verdict != w.Verdict || (m.PAdjusted == nil) != (w.PAdjusted == nil) || m.PAdjusted != nil && *m.PAdjusted != *w.PAdjusted {
				t.Errorf("row %d: merged %s %s p=%v, from the raw samples %s %s p=%v", i, rowKey(m), m.Verdict, m.PAdjusted, rowKey(w), w.Verdict, w.PAdjusted)
			}
		}
		cs := gh.CommentsOn(owner, repo, 7)
		if len(cs) != 1 {
			t.Fatalf("%d comments on PR 7, want 1", len(cs))
		}
		if !strings.Contains(cs[0].Body, "3 shards") || !strings.Contains(cs[0].Body, "Grow") {
			t.Errorf("comment:\n%s", cs[0].Body)
		}
		if r.outputs["comment-url"] != cs[0].HTMLURL() || r.outputs["regressions"] != fmt.Sprint(merged.Summary[compare.Regression]) {
			t.Errorf("outputs %v", r.outputs)
		}
		if !strings.Contains(r.summary, "| Shard |") {
			t.Errorf("summary lacks the shard column:\n%s", r.summary)
		}
		r.noToken(t, token, filepath.Join(fx.dir, "merged"))
	})

	t.Run("a missing shard is named", func(t *testing.T) {
		in := shardInputs(token)
		in["mode"], in["report"], in["output-dir"], in["comment"] = "merge", "shards/shard-1-of-3\nshards/shard-2-*", "partial", "false"
		in["fail-on-regression"] = "true"
		r := runAction(t, bin, fx.dir, gh.URL(), "pull_request", event, in)
		r.wantCode(t, 1) // regressions, and a lost shard
		rep := readReport(t, filepath.Join(fx.dir, "partial", "report.json"))
		want := fmt.Sprintf("shard 3/3 missing: %d benchmarks not measured", rep.Shards[2].Benchmarks)
		if rep.Shards[2].Status != compare.ShardMissing || rep.Shards[2].Benchmarks == 0 {
			t.Errorf("shards %+v", rep.Shards)
		}
		for _, where := range []string{r.summary, r.stdout} {
			if !strings.Contains(where, want) {
				t.Errorf("%q not said", want)
			}
		}
		if !strings.Contains(r.stdout, "::error::fail-on-regression") || !strings.Contains(r.stdout, "1 shard lost") {
			t.Error("the gate does not name the lost shard")
		}
	})

	t.Run("mixed commits are refused", func(t *testing.T) {
		// Shard 3 of a later commit, in a clone of the fixture.
		other := filepath.Join(testutil.SharedDir(t), "workspace")
		if out, err := gittest.Git(filepath.Dir(other), "clone", "-q", fx.dir, other); err != nil {
			t.Fatalf("clone: %v %s", err, out)
		}
		gittest.MustCommit(t, other, map[string]string{"mod/a/doc.go": "package a\n"}, "later")
		in := shardInputs(token)
		in["shard"], in["output-dir"] = "3/3", "shards"
		r := runAction(t, bin, other, gh.URL(), "pull_request", event, in)
		r.wantCode(t, 0)
		in = shardInputs(token)
		in["mode"], in["output-dir"] = "merge", "mixed"
		in["report"] = "shards/shard-1-of-3, shards/shard-2-of-3, " + filepath.Join(other, "shards", "shard-3-of-3")
		gh.ResetCalls()
		r = runAction(t, bin, fx.dir, gh.URL(), "pull_request", event, in)
		r.wantCode(t, 1)
		if !strings.Contains(r.stdout, "::error::") || !strings.Contains(r.stdout, "shards of different commits") {
			t.Errorf("no error about mixed commits")
		}
		if gh.Calls("") != 0 {
			t.Errorf("%d API calls for refused shards", gh.Calls(""))
		}
		if _, err := os.Stat(filepath.Join(fx.dir, "mixed", "report.json")); err == nil {
			t.Error("a report of mixed commits was written")
		}
	})

	// The fork recipe: the workflow_run workflow merges the downloaded
	// shards and comments on the pull request GitHub names, not on the
	// one the artifacts name (7).
	t.Run("merge in workflow_run", func(t *testing.T) {
		before := len(gh.CommentsOn(owner, repo, 7))
		in := shardInputs(token)
		in["mode"], in["report"], in["output-dir"] = "merge", "shards/*", "fork-merged"
		r := runAction(t, bin, fx.dir, gh.URL(), "workflow_run", forkRun(gh, 8), in)
		r.wantCode(t, 0)
		cs := gh.CommentsOn(owner, repo, 8)
		if len(cs) != 1 {
			t.Fatalf("%d comments on PR 8, want 1", len(cs))
		}
		if !strings.Contains(cs[0].Body, "3 shards") || !strings.Contains(cs[0].Body, runURL+"-pr") {
			t.Errorf("comment:\n%s", cs[0].Body)
		}
		if n := len(gh.CommentsOn(owner, repo, 7)); n != before {
			t.Errorf("%d comments on PR 7, which only the artifacts name; want %d", n, before)
		}
		r.noToken(t, token, filepath.Join(fx.dir, "fork-merged"))
	})

	t.Run("local shard", func(t *testing.T) {
		out := t.TempDir()
		cmd := exec.Command(bin, "-shard", "2/3", "-count", "1", "-benchtime", "1x", "-baseline", fx.base, "-output-dir", out)
		cmd.Dir = filepath.Join(fx.dir, "mod")
		cmd.Env = baseEnv()
		if stdout, err := cmd.Output(); err != nil || !strings.HasPrefix(string(stdout), compare.Marker) {
			t.Fatalf("local shard: %v\n%s", err, stdout)
		}
		data, err := os.ReadFile(filepath.Join(out, "shard-2-of-3", "shard.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"schema": "natsbench/shard/v1"`) || !strings.Contains(string(data), `"shard": "2/3"`) {
			t.Errorf("shard.json:\n%s", data)
		}
	})

	t.Run("local merge", func(t *testing.T) {
		out := t.TempDir()
		cmd := exec.Command(bin, "merge", "-output-dir", out, filepath.Join(fx.dir, "shards"))
		cmd.Env = baseEnv()
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		if !strings.HasPrefix(string(stdout), compare.Marker) || !strings.Contains(string(stdout), "3 shards") {
			t.Errorf("merge printed:\n%s", stdout)
		}
		rep := readReport(t, filepath.Join(out, "report.json"))
		if len(rep.Benchmarks) != 27 || len(rep.Shards) != 3 {
			t.Errorf("%d rows, %d shards", len(rep.Benchmarks), len(rep.Shards))
		}
	})
}
