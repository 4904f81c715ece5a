package changes

import (
	"crypto/sha1"
	"flag"
	"fmt"
	"github.com/natsbench/natsbench-action/internal/testutil"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/changepoint"
	"github.com/natsbench/natsbench-action/history"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

var envA = history.Env{CPU: "AMD EPYC 7763 64-Core Processor", GOMAXPROCS: 4, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"}

// series describes one synthetic row: its level before, and from which
// record on it is scaled by factor.
type series struct {
	key    history.Key
	level  float64
	at     int
	factor float64
	noise  float64 // relative standard deviation
}

// synth makes n daily head records of the given rows with seeded normal
// noise; env(i) gives each record's environment.
func synth(n int, seed uint64, env func(i int) history.Env, rows ...series) *history.History {
	r := rand.New(rand.NewPCG(seed, 16))
	h := &history.History{}
	for i := range n {
		rec := history.Record{
			Schema: history.Schema, ID: fmt.Sprintf("run-%d-head", i), SHA: fmt.Sprintf("%x", sha1.Sum([]byte{byte(seed), byte(i)})),
			CommitTime: t0.AddDate(0, 0, i).Add(-time.Hour), RunTime: t0.AddDate(0, 0, i),
			RunURL: fmt.Sprintf("https://github.com/octo/fixture/actions/runs/%d", 1000+i),
			Side:   history.SideHead, Env: env(i), Count: 10, Benchtime: "1s",
		}
		for _, s := range rows {
			v := s.level
			if s.at > 0 && i >= s.at {
				v *= s.factor
			}
			noise := s.noise
			if noise == 0 {
				noise = 0.01
			}
			v *= 1 + noise*r.NormFloat64()
			rec.Rows = append(rec.Rows, history.Row{Package: s.key.Package, Name: s.key.Name, Unit: s.key.Unit,
				N: 10, Center: v, Low: v * 0.99, High: v * 1.01})
		}
		h.Records = append(h.Records, rec)
	}
	return h
}

func oneEnv(int) history.Env { return envA }

var opts = Options{ThresholdPct: 5, ServerURL: "https://github.com", Repository: "octo/fixture",
	Version: "v1.4.0", Workflow: "benchmarks.yml", Detect: changepoint.Options{Seed: 1}}

var (
	keyX    = history.Key{Package: "example.com/m/p", Name: "Encode/size=64", Unit: "sec/op"}
	keyY    = history.Key{Package: "example.com/m/p", Name: "Decode", Unit: "B/op"}
	keyRate = history.Key{Package: "example.com/m/q", Name: "Stream", Unit: "MB/s"}
)

func TestFindNamesTheRecordsAroundAStep(t *testing.T) {
	h := synth(60, 1, oneEnv, series{key: keyX, level: 1e-6, at: 30, factor: 1.2})
	cs, err := Find(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("%d change points, want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	if c.Key != keyX || c.BeforeIndex != 29 || c.AfterIndex != 30 || c.Before.Record != 29 || c.After.Record != 30 {
		t.Errorf("change at %d→%d (records %d→%d) of %v, want 29→30 of %v", c.BeforeIndex, c.AfterIndex, c.Before.Record, c.After.Record, c.Key, keyX)
	}
	if c.ShiftPct < 17 || c.ShiftPct > 23 || c.Low > c.ShiftPct || c.High < c.ShiftPct || c.PValue > 0.01 {
		t.Errorf("shift %+.1f%% [%+.1f%%, %+.1f%%] p=%v, want about +20%% around it, p ≤ 0.01", c.ShiftPct, c.Low, c.High, c.PValue)
	}
	if !c.Regression() {
		t.Error("sec/op up is not a regression")
	}
	b, a := h.Records[29], h.Records[30]
	if c.Before.SHA != b.SHA || c.After.SHA != a.SHA || c.After.RunURL != a.RunURL || !c.After.CommitTime.Equal(a.CommitTime) || c.Before.ID != b.ID {
		t.Errorf("runs %+v → %+v do not match records 29 and 30", c.Before, c.After)
	}
	if want := "https://github.com/octo/fixture/compare/" + b.SHA + "..." + a.SHA; c.CompareURL != want {
		t.Errorf("compare link %q, want %q", c.CompareURL, want)
	}
	wantCmd := "git worktree add --detach /tmp/natsbench-" + a.SHA[:7] + " " + a.SHA + " && cd /tmp/natsbench-" + a.SHA[:7] +
		" && go run github.com/natsbench/natsbench-action@v1.4.0 -baseline " + b.SHA +
		" -packages example.com/m/p -bench '^BenchmarkEncode$/^size=64$' -count 20"
	if c.Command != wantCmd {
		t.Errorf("command\n%s\nwant\n%s", c.Command, wantCmd)
	}
	if want := "gh workflow run benchmarks.yml --repo octo/fixture -f baseline=" + b.SHA + " -f head=" + a.SHA; c.Dispatch != want {
		t.Errorf("dispatch %q, want %q", c.Dispatch, want)
	}
	// A workflow's name, as GITHUB_WORKFLOW gives it, is one quoted word.
	o := opts
	o.Workflow = "Bench $(marks)"
	if cs, err := Find(h, o); err != nil || len(cs) != 1 || !strings.HasPrefix(cs[0].Dispatch, "gh workflow run 'Bench $(marks)' --repo") {
		t.Errorf("workflow by name: %v, %+v", err, cs)
	}
}

func TestCommandDropsTheProcsSuffix(t *testing.T) {
	// Reports name a benchmark run with GOMAXPROCS 4 Encode/size=64-4;
	// go test's -bench matches the name without the suffix.
	k := keyX
	k.Name += "-4"
	h := synth(60, 1, oneEnv, series{key: k, level: 1e-6, at: 30, factor: 1.2})
	cs, err := Find(h, opts)
	if err != nil || len(cs) != 1 {
		t.Fatalf("%v, %+v", err, cs)
	}
	if !strings.Contains(cs[0].Command, " -bench '^BenchmarkEncode$/^size=64$' ") {
		t.Errorf("command %s: want the name without -4", cs[0].Command)
	}
	for _, tc := range []struct {
		name  string
		procs int
		want  string
	}{{"Work-2", 2, "Work"}, {"Work-2", 1, "Work-2"}, {"Work-2", 4, "Work-2"}, {"Size/n-8-8", 8, "Size/n-8"}, {"Work", 0, "Work"}} {
		if got := TestName(tc.name, tc.procs); got != tc.want {
			t.Errorf("TestName(%q, %d) = %q, want %q", tc.name, tc.procs, got, tc.want)
		}
	}
}

func TestCommandWithoutPackage(t *testing.T) {
	h := synth(60, 1, oneEnv, series{key: history.Key{Name: "Encode", Unit: "sec/op"}, level: 1e-6, at: 30, factor: 1.2})
	cs, err := Find(h, opts)
	if err != nil || len(cs) != 1 {
		t.Fatalf("%v, %+v", err, cs)
	}
	if c := cs[0].Command; strings.Contains(c, "-packages") || !strings.Contains(c, " -baseline "+cs[0].Before.SHA+" -bench '^BenchmarkEncode$' -count 20") {
		t.Errorf("command %s: want no -packages", c)
	}
}

func TestThresholdDropsSmallShifts(t *testing.T) {
	// A 3% step on 0.2% noise is real and significant, but under 5%.
	h := synth(60, 2, oneEnv, series{key: keyX, level: 100, at: 30, factor: 1.03, noise: 0.002})
	cs, err := Find(h, opts)
	if err != nil || len(cs) != 0 {
		t.Fatalf("threshold 5%%: %v, %+v; want none", err, cs)
	}
	o := opts
	o.ThresholdPct = 1
	if cs, err := Find(h, o); err != nil || len(cs) != 1 || cs[0].AfterIndex != 30 {
		t.Fatalf("threshold 1%%: %v, %+v; want the step at 30", err, cs)
	}
}

func TestEnvironmentBreakIsNoChange(t *testing.T) {
	envB := envA
	envB.CPU = "Intel Xeon Platinum 8370C"
	env := func(i int) history.Env {
		if i >= 30 {
			return envB
		}
		return envA
	}
	// The figures jump 40% where the machine changes, and nowhere else.
	h := synth(60, 3, env, series{key: keyX, level: 1e-6, at: 30, factor: 1.4})
	if cs, err := Find(h, opts); err != nil || len(cs) != 0 {
		t.Fatalf("%v, %+v; want no change point at an environment break", err, cs)
	}
}

func TestWorstFirst(t *testing.T) {
	h := synth(60, 4, oneEnv,
		series{key: keyX, level: 1e-6, at: 20, factor: 0.6},   // faster: an improvement of 40%
		series{key: keyY, level: 4096, at: 30, factor: 1.12},  // more bytes: a regression of 12%
		series{key: keyRate, level: 800, at: 40, factor: 0.7}, // fewer MB/s: a regression of 30%
		series{key: history.Key{Package: "example.com/m/q", Name: "Flat", Unit: "sec/op"}, level: 5e-9},
	)
	cs, err := Find(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s %s %d %v", c.Key.Name, c.Key.Unit, c.AfterIndex, c.Regression()))
	}
	want := []string{"Stream MB/s 40 true", "Decode B/op 30 true", "Encode/size=64 sec/op 20 false"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("order\n%s\nwant\n%s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

func TestNewSinceThePreviousRun(t *testing.T) {
	full := synth(50, 5, oneEnv, series{key: keyX, level: 1e-6, at: 30, factor: 1.2, noise: 0.005})
	upTo := func(lo, n int) *history.History { return &history.History{Records: full.Records[lo:n]} }
	// Run by run, the step is new exactly once: when enough records
	// after it make it significant, though it may flicker near the
	// significance level and its place wobble by a record.
	var newAt []int
	for n := 2; n <= 50; n++ {
		cs, err := New(upTo(0, n-1), upTo(0, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Key != keyX || abs(c.AfterIndex-30) > MatchDistance {
				t.Errorf("record %d: change point at %d, want one near 30", n, c.AfterIndex)
			}
			newAt = append(newAt, n)
		}
	}
	if len(newAt) != 1 || newAt[0] > 40 {
		t.Fatalf("new at runs %v, want once, within 10 runs of the step", newAt)
	}
	if cs, err := Find(full, opts); err != nil || len(cs) != 1 || cs[0].AfterIndex != 30 {
		t.Fatalf("the whole history: %v, %+v; want the step at 30", err, cs)
	}
	// Retention dropping the oldest record moves every index, not the
	// change point.
	if cs, err := New(upTo(0, 45), upTo(1, 46), opts); err != nil || len(cs) != 0 {
		t.Fatalf("after retention: %v, %+v; want nothing new", err, cs)
	}
	// A step the previous run did not know of is new however the
	// history is cut.
	if cs, err := New(upTo(0, 20), upTo(0, 50), opts); err != nil || len(cs) != 1 {
		t.Fatalf("from 20 to 50 records: %v, %+v; want the step new", err, cs)
	}
}

func TestBadOptionsAreAnError(t *testing.T) {
	h := synth(20, 6, oneEnv, series{key: keyX, level: 1})
	o := opts
	o.Detect.Alpha = 2
	if _, err := Find(h, o); err == nil || !strings.Contains(err.Error(), "Alpha") {
		t.Fatalf("alpha 2: %v, want an error naming Alpha", err)
	}
}

// hostile is a benchmark name that tries to break out of every context
// it is put in: markdown, HTML, a shell command and a regular expression.
const hostile = "Evil'$(touch PWNED)`touch PWNED2`\"; touch PWNED3 #|<img src=x>@octo/*[x](y)/sub'x"

func TestCommandsQuoteHostileNames(t *testing.T) {
	key := history.Key{Package: "example.com/m/$(touch PWNED4)", Name: hostile, Unit: "sec/op"}
	h := synth(40, 7, oneEnv, series{key: key, level: 1e-6, at: 20, factor: 1.5})
	o := opts
	o.WorkingDirectory = "sub dir/it's"
	cs, err := Find(h, o)
	if err != nil || len(cs) != 1 || cs[0].Command == "" {
		t.Fatalf("%v, %+v; want one change point with a command", err, cs)
	}
	c := cs[0]

	// Run the command with a real shell, git and go replaced by scripts
	// that record their arguments: the shell must pass the name through
	// as one literal argument and run nothing else.
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	work := filepath.Join(dir, "work")
	for _, d := range []string{bin, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	argsFile := filepath.Join(dir, "args")
	recorder := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> " + argsFile + "; done\nprintf '\\n\\0' >> " + argsFile + "\n"
	// The fake git makes the worktree directory the command cds into.
	fakeGit := recorder + "mkdir -p \"$4/sub dir/it's\"\n"
	for name, body := range map[string]string{"git": fakeGit, "go": recorder} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The command's worktree is under /tmp; run it in a private root by
	// rewriting that one fixed, hex-named path.
	wt := "/tmp/natsbench-" + c.After.SHA[:7]
	cmdText := strings.ReplaceAll(c.Command, wt, filepath.Join(work, "wt"))
	sh := exec.Command("sh", "-c", cmdText)
	sh.Dir = work
	sh.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("sh -c %s: %v\n%s", cmdText, err, out)
	}
	for _, p := range []string{"PWNED", "PWNED2", "PWNED3", "PWNED4"} {
		for _, d := range []string{work, filepath.Join(work, "wt"), filepath.Join(work, "wt", "sub dir", "it's")} {
			if _, err := os.Stat(filepath.Join(d, p)); err == nil {
				t.Errorf("the command ran an injected command: %s exists in %s", p, d)
			}
		}
	}
	raw, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	var cur []string
	for _, a := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		if a == "\n" {
			calls = append(calls, cur)
			cur = nil
			continue
		}
		cur = append(cur, a)
	}
	wantGo := []string{"run", Module + "@v1.4.0", "-baseline", c.Before.SHA, "-packages", key.Package, "-bench", BenchRegexp(hostile), "-count", "20"}
	if len(calls) != 2 || fmt.Sprintf("%q", calls[1]) != fmt.Sprintf("%q", wantGo) {
		t.Fatalf("calls %q\nwant git, then go %q", calls, wantGo)
	}

	// The expression selects exactly the benchmark, level by level as go
	// test splits it.
	parts := strings.Split(BenchRegexp(hostile), "/")
	names := strings.Split("Benchmark"+hostile, "/")
	if len(parts) != len(names) {
		t.Fatalf("%d levels in %q, want %d", len(parts), BenchRegexp(hostile), len(names))
	}
	for i := range parts {
		re := regexp.MustCompile(parts[i])
		if !re.MatchString(names[i]) || re.MatchString(names[i]+"x") || re.MatchString("x"+names[i]) {
			t.Errorf("level %d: %q does not select exactly %q", i, parts[i], names[i])
		}
	}
}

func TestNoCommandOrLinkFromBadRecords(t *testing.T) {
	h := synth(40, 8, oneEnv, series{key: keyX, level: 1e-6, at: 20, factor: 1.5})
	h.Records[20].SHA = "e4f5a6b; rm -rf ~" // Load would have refused it; Find must not trust that
	o := opts
	o.Repository = "octo/fixture)](https://evil.example"
	cs, err := Find(h, o)
	if err != nil || len(cs) != 1 {
		t.Fatalf("%v, %+v", err, cs)
	}
	if c := cs[0]; c.Command != "" || c.Dispatch != "" || c.CompareURL != "" {
		t.Errorf("a bad commit id made command %q, dispatch %q, link %q", c.Command, c.Dispatch, c.CompareURL)
	}
	if s := Summary(cs, SummaryOptions{}); strings.Contains(s, "rm -rf") || strings.Contains(s, "evil") {
		t.Errorf("the summary repeats the bad values:\n%s", s)
	}
	// A name with a newline cannot be one line of shell.
	h = synth(40, 8, oneEnv, series{key: history.Key{Package: "p", Name: "X\ntouch PWNED", Unit: "sec/op"}, level: 1, at: 20, factor: 1.5})
	if cs, err := Find(h, opts); err != nil || len(cs) != 1 || cs[0].Command != "" || cs[0].CompareURL == "" {
		t.Fatalf("%v, %+v; want a link and no command", err, cs)
	}
	// Options that are not what they claim to be are left out.
	o = opts
	o.ServerURL, o.Version, o.Workflow = "javascript:alert(1)//", "v1; rm -rf ~", "bench\nrm -rf ~"
	h = synth(40, 8, oneEnv, series{key: keyX, level: 1e-6, at: 20, factor: 1.5})
	cs, err = Find(h, o)
	if err != nil || len(cs) != 1 {
		t.Fatalf("%v, %+v", err, cs)
	}
	if c := cs[0]; c.CompareURL != "" || !strings.Contains(c.Command, "@latest ") || !strings.HasPrefix(c.Dispatch, "gh workflow run benchmarks.yml ") {
		t.Errorf("bad options: link %q, command %q, dispatch %q", c.CompareURL, c.Command, c.Dispatch)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, name, got, *update)
}

func goldenHistory() *history.History {
	return synth(60, 9, oneEnv,
		series{key: keyX, level: 1e-6, at: 20, factor: 0.6},
		series{key: keyY, level: 4096, at: 30, factor: 1.12},
		series{key: keyRate, level: 800, at: 40, factor: 0.7},
		series{key: history.Key{Package: "example.com/m/q", Name: hostile, Unit: "sec/op"}, level: 2e-3, at: 25, factor: 1.25},
	)
}

func TestSummaryGolden(t *testing.T) {
	cs, err := Find(goldenHistory(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 4 {
		t.Fatalf("%d change points, want 4", len(cs))
	}
	golden(t, "summary", Summary(cs, SummaryOptions{}))
	golden(t, "summary-capped", Summary(cs, SummaryOptions{MaxListed: 2}))
	golden(t, "summary-none", Summary(nil, SummaryOptions{Series: 200, Records: 365, Known: 3}))
	golden(t, "plain", Plain(cs))
	for _, c := range cs {
		if strings.Contains(c.Label(), "\n") {
			t.Errorf("label %q has a newline", c.Label())
		}
	}
}
