package main_test

import (
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment/githubtest"
	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/changes"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// The change-point fixture's benchmark does a fixed loop of CPU work and
// allocates a buffer; from one commit on, it does 20% more of both. The
// bytes are Go size classes (10240 and 12288 bytes), so B/op steps by
// exactly 20% however loaded the machine is; the time steps by about 20%
// on an idle machine and by anything on a loaded one.
const changeBench = `package fixture

import "testing"

var (
	sink []byte
	acc  uint64
)

` + fixtureWork + `
func BenchmarkWork(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink = make([]byte, workBytes)
		acc += work(workN)
	}
}
`

func workSizes(n, bytes, run int) string {
	return fmt.Sprintf("package fixture\n\n// commit %d\nconst (\n\tworkN     = %d\n\tworkBytes = %d\n)\n", run, n, bytes)
}

// Records before the step, and at most after it. B/op, deterministic,
// is found with five records each side (MinSegment); a 20% step in
// noisy times needs about fifteen before it and nine after
// (docs/CHANGEPOINTS.md, "Limits"), so the timing variant runs longer.
const (
	changeRunsBefore       = 8
	changeRunsAfterMax     = 8
	timingChangeRunsBefore = 15
	timingChangeRunsAfter  = 14
)

// TestActionChangePoint makes a history the way users do, by running the
// action binary on every push to main of a fixture repository whose
// remote is a real git server, and checks that the job summary of a
// trusted run names the commit where the benchmark got 20% slower (and
// 20% bigger): the change point appears in exactly one run's summary, as
// new since the previous run, with the commit before and the commit after
// the step, and the next run's summary does not repeat it.
//
// The B/op step is asserted always. The sec/op step is asserted only with
// NATSBENCH_TIMING_TESTS=1 on an otherwise idle machine, like every
// timing verdict (internal/app/verdicts_test.go); otherwise logged.
func TestActionChangePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the action about 25 times")
	}
	timing := os.Getenv("NATSBENCH_TIMING_TESTS") == "1"
	runsBefore, runsAfterMax := changeRunsBefore, changeRunsAfterMax
	if timing {
		runsBefore, runsAfterMax = timingChangeRunsBefore, timingChangeRunsAfter
	}
	gh := githubtest.New(t)
	token := gh.Token()
	srv := newGitServer(t, token, "ghs_readonlynotused000000000000000000")
	bare := srv.bare(t, owner, repo)
	bin := buildAction(t, t.TempDir())

	ws := filepath.Join(testutil.SharedDir(t), "workspace")
	prev := gittest.MustCommit(t, ws, map[string]string{
		".gitignore":        "natsbench-results/\n",
		"mod/go.mod":        "module example.com/fixture\n\ngo 1.26\n",
		"mod/bench_test.go": changeBench,
		"mod/sizes.go":      workSizes(20000, 10240, 0),
	}, "initial")
	gittest.Must(t, ws, "remote", "add", "origin", bare)

	in := actionInputs(token)
	// B/op is the bytes of all iterations over their number, the testing
	// package's own included: short iterations, many of them (about 500
	// in 10ms), and the median of six rounds keep it within 0.5% of
	// 10240, a level (a few iterations gave 10444 once).
	in["history"], in["count"], in["benchtime"], in["comment"], in["bench"] = "auto", "6", "10ms", "false", "Work"
	if timing {
		// Six runs of 10ms vary by ±25% from one job to the next, which
		// hides a 20% step in time; ten of 100ms settle each record.
		in["count"], in["benchtime"] = "10", "100ms"
	}
	start := time.Now()
	var commits []string
	var summaries []string
	newAt := map[string]int{} // unit → run whose summary first listed the step
	var stepSummary string
	for i := 0; i < runsBefore+runsAfterMax; i++ {
		n, bytes := 20000, 10240
		if i >= runsBefore {
			n, bytes = 24000, 12288
		}
		sha := gittest.MustCommit(t, ws, map[string]string{"mod/sizes.go": workSizes(n, bytes, i+1)}, fmt.Sprintf("commit %d", i+1))
		commits = append(commits, sha)
		t0 := time.Now()
		// A push to main: a trusted run, which writes the history.
		r := runActionEnv(t, bin, ws, gh.URL(), "push", pushEvent(prev, sha), in, map[string]string{
			"GITHUB_SERVER_URL": srv.URL, "GITHUB_RUN_ID": fmt.Sprint(1000 + i), "GITHUB_RUN_ATTEMPT": "1",
			"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": sha,
		})
		r.wantCode(t, 0)
		if strings.Contains(r.stdout, "::warning::") {
			t.Errorf("run %d warned:\n%s", i+1, r.stdout)
		}
		prev = sha
		sum := changeSection(t, r.summary)
		summaries = append(summaries, sum)
		t.Logf("run %d (%s) took %s", i+1, sha[:7], time.Since(t0).Round(time.Millisecond))
		for _, unit := range []string{"B/op", "sec/op"} {
			if !listsChange(sum, unit) {
				continue
			}
			if at, ok := newAt[unit]; ok {
				// Noisy times may show a second, false change point
				// on a loaded machine: asserted only when timed.
				if unit == "B/op" || timing {
					t.Errorf("run %d lists the %s change point as new again (first in run %d):\n%s", i+1, unit, at+1, sum)
				}
				continue
			}
			newAt[unit] = i
			before, after := commits[runsBefore-1], commits[runsBefore]
			link := srv.URL + "/" + owner + "/" + repo + "/compare/" + before + "..." + after
			row := changeRow(sum, unit)
			if !strings.Contains(row, link) || !strings.Contains(row, "🔴") {
				msg := fmt.Sprintf("run %d: the %s change point is not the regression from commit %d (%.7s) to %d (%.7s):\n%s",
					i+1, unit, runsBefore, before, runsBefore+1, after, sum)
				if unit == "B/op" || timing {
					t.Error(msg)
				} else {
					t.Log(msg)
				}
			}
			if unit == "B/op" {
				stepSummary = sum
				if !strings.Contains(row, "**+20.0%**") {
					t.Errorf("B/op shift: %s, want +20.0%%", row)
				}
				if !strings.Contains(sum, "-baseline "+before+" -packages example.com/fixture -bench '^BenchmarkWork$' -count 20") ||
					!strings.Contains(sum, "gh workflow run benchmarks --repo octo/fixture -f baseline="+before+" -f head="+after) {
					t.Errorf("the confirmation commands are missing:\n%s", sum)
				}
			}
		}
		_, gotB := newAt["B/op"]
		_, gotT := newAt["sec/op"]
		// One run past the B/op step's, to see it not repeated; with
		// timing asserted, until the time's step is found too.
		if gotB && i > newAt["B/op"] && (!timing || gotT) {
			break
		}
	}
	t.Logf("%d runs in %s", len(commits), time.Since(start).Round(time.Second))
	if _, ok := newAt["B/op"]; !ok {
		t.Errorf("no run's summary listed the B/op change point; the last:\n%s", summaries[len(summaries)-1])
	}
	if at, ok := newAt["sec/op"]; ok {
		t.Logf("sec/op change point first listed by run %d:\n%s", at+1, summaries[at])
	} else if timing {
		t.Errorf("no run's summary listed the sec/op change point")
	} else {
		t.Log("no run's summary listed the sec/op change point (the machine's load hides a 20% step in time; set NATSBENCH_TIMING_TESTS=1 on an idle machine to assert it)")
	}
	if at, ok := newAt["B/op"]; ok && at != runsBefore+4 {
		t.Errorf("the B/op step was first listed by run %d, want run %d (five records after it)", at+1, runsBefore+5)
	}
	if last := summaries[len(summaries)-1]; !timing && !strings.Contains(last, "No new change point") && !listsChange(last, "sec/op") {
		t.Errorf("the run after the step's does not say there is nothing new:\n%s", last)
	}
	t.Logf("the job summary's change points of run %d:\n%s", newAt["B/op"]+1, stepSummary)

	// The trend page in output-dir marks it, and `natsbench history`
	// in the checkout (its origin is the server's repository) lists it.
	pg, err := os.ReadFile(filepath.Join(ws, "natsbench-results", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.UnescapeString(string(pg)), "+20.0% (regression, p=0.005)") {
		t.Error("the trend page does not mark the B/op change point")
	}
	cmd := exec.Command(bin, "history", "-plain")
	cmd.Dir = ws
	cmd.Env = append(baseEnv(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !historyListsStep(string(out)) {
		t.Errorf("natsbench history: %v\n%s", err, out)
	}

	// The loop's second half, as the summary says: a dispatch on main
	// with baseline = the commit before and head = the commit after
	// (checked out instead of main's tip) runs the two interleaved, which
	// decides, and writes nothing to the history.
	before, after := commits[runsBefore-1], commits[runsBefore]
	tip := commits[len(commits)-1]
	recsBefore, branchTip := records(t, bare)
	gittest.Must(t, ws, "checkout", "-q", after)
	r := runActionEnv(t, bin, ws, gh.URL(), "workflow_dispatch",
		`{"ref": "refs/heads/main", "inputs": {"baseline": "`+before+`", "head": "`+after+`"}, "repository": {"full_name": "octo/fixture", "default_branch": "main"}}`,
		maps(in, map[string]string{"baseline": before}), map[string]string{
			"GITHUB_SERVER_URL": srv.URL, "GITHUB_RUN_ID": "2000", "GITHUB_RUN_ATTEMPT": "1",
			"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": tip,
		})
	r.wantCode(t, 0)
	if v := verdict(t, readReport(t, filepath.Join(ws, r.outputs["report-json"])), "Work", "B/op"); v != compare.Regression {
		t.Errorf("the interleaved run of %.7s against %.7s: B/op %s, want regression", after, before, v)
	}
	if !strings.Contains(r.stdout, "is not the commit the workflow ran on") {
		t.Errorf("the confirming run does not say why it writes no history:\n%s", r.stdout)
	}
	if recs, newTip := records(t, bare); len(recs) != len(recsBefore) || newTip != branchTip {
		t.Errorf("the confirming run wrote the history: %d → %d records", len(recsBefore), len(recs))
	}

	// The history branch holds every run, and the step is there.
	recs, _ := records(t, bare)
	for _, s := range (&history.History{Records: recs}).Series(history.SideHead) {
		var vs []string
		for _, p := range s.Points {
			vs = append(vs, fmt.Sprintf("%.6g", p.Center))
		}
		t.Logf("%s: %s", s.Key, strings.Join(vs, " "))
	}
	if len(recs) != len(commits) {
		t.Errorf("%d records, want %d", len(recs), len(commits))
	}
	cs, err := changes.Find(&history.History{Records: recs}, changes.Options{ThresholdPct: 5})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		t.Logf("change point in the history: %s %s %+.1f%% %.7s→%.7s", c.Key.Name, c.Key.Unit, c.ShiftPct, c.Before.SHA, c.After.SHA)
		found = found || (c.Key.Unit == "B/op" && c.Before.SHA == commits[runsBefore-1] && c.After.SHA == commits[runsBefore])
	}
	if !found {
		t.Error("changes.Find on the history branch does not find the B/op step")
	}
}

// historyListsStep reports whether `natsbench history -plain` lists the
// B/op step as a +20.0% regression whose interval holds 20% and stays
// within a point of it. The interval is not asserted exactly: under load
// a record's median B/op can be a few bytes above its size class
// (12294.5 for 12288, within the levels' tolerance), which moves an end
// of the interval to +20.1%.
func historyListsStep(out string) bool {
	re := regexp.MustCompile(`(?m)^[0-9]+\. example\.com/fixture Work(?:-[0-9]+)? B/op: \+20\.0% \[\+([0-9.]+)%, \+([0-9.]+)%\] regression`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return false
	}
	lo, err1 := strconv.ParseFloat(m[1], 64)
	hi, err2 := strconv.ParseFloat(m[2], 64)
	return err1 == nil && err2 == nil && 19 <= lo && lo <= 20 && 20 <= hi && hi <= 21
}

// TestHistoryListsStep pins historyListsStep: an interval a few bytes
// wide passes, one that misses 20% or strays beyond a point fails, and so
// do another unit and the other direction.
func TestHistoryListsStep(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"1. example.com/fixture Work-2 B/op: +20.0% [+20.0%, +20.0%] regression, p=0.005", true},
		{"2. example.com/fixture Work-4 B/op: +20.0% [+20.0%, +20.1%] regression, p=0.005", true},
		{"1. example.com/fixture Work B/op: +20.0% [+19.5%, +20.6%] regression, p=0.005", true},
		{"1. example.com/fixture Work-2 B/op: +20.0% [+20.1%, +20.6%] regression, p=0.005", false},
		{"1. example.com/fixture Work-2 B/op: +20.0% [+12.0%, +20.0%] regression, p=0.005", false},
		{"1. example.com/fixture Work-2 sec/op: +20.0% [+20.0%, +20.0%] regression, p=0.005", false},
		{"1. example.com/fixture Work-2 B/op: +20.0% [+20.0%, +20.0%] improvement, p=0.005", false},
	} {
		if got := historyListsStep("3 change points, worst first:\n\n" + tc.line + "\n"); got != tc.want {
			t.Errorf("historyListsStep(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// changeSection is the job summary's change-point section.
func changeSection(t *testing.T, summary string) string {
	t.Helper()
	const head = "### 🔎 Change points since the previous run"
	i := strings.Index(summary, head)
	if i < 0 {
		t.Fatalf("the job summary has no change-point section:\n%s", summary)
	}
	s := summary[i:]
	if j := strings.Index(s[len(head):], "\n### "); j >= 0 {
		s = s[:len(head)+j]
	}
	return s
}

// listsChange reports whether the section lists a change point of the
// fixture's benchmark in unit.
func listsChange(section, unit string) bool { return changeRow(section, unit) != "" }

// changeRow is the table row of the fixture's benchmark in unit, or "".
func changeRow(section, unit string) string {
	re := regexp.MustCompile(`(?m)^\| [0-9]+ \| example\.com/fixture › Work(-[0-9]+)? \| ` + regexp.QuoteMeta(unit) + ` \|.*$`)
	return re.FindString(section)
}
