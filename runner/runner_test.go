package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/google/pprof/profile"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
)

// counts reads a benchmark file with benchfmt, as compare and benchstat
// do, and counts results by "pkg name" (name without the procs suffix).
func counts(t *testing.T, data []byte) map[string]int {
	t.Helper()
	got := map[string]int{}
	r := benchfmt.NewReader(bytes.NewReader(data), "results")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			pkg := rec.GetConfig("pkg")
			name, _ := rec.Name.Base(), 0
			got[pkg+" "+string(name)]++
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt syntax error: %v", rec)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRunHeadVersusBase(t *testing.T) {
	f := sharedFixture(t)
	var progress bytes.Buffer
	out := t.TempDir()
	res, err := Run(t.Context(), Config{
		Dir: f.dir, Baseline: f.baseSHA, Count: 2, Benchtime: "1x",
		NATS: true, OutputDir: out, Progress: &progress, Seed: 42,
	})
	if err != nil {
		t.Fatal(err)
	}
	const m = "example.com/fixture/"

	t.Run("results", func(t *testing.T) {
		wantBase := map[string]int{
			m + "a Changed": 2, m + "a Same": 2, m + "a Removed": 2, m + "a Fail": 2,
			m + "a Panic": 2, m + "a After": 2, m + "gone Gone": 2, m + "broken Broken": 2,
			m + "natsb Dial": 2, m + "hang Hang": 2,
		}
		// Fail and Panic fail on head; After runs after Panic killed its
		// binary; gone is removed, fresh added, broken does not build.
		wantHead := map[string]int{
			m + "a Changed": 2, m + "a Same": 2, m + "a Added": 2, m + "a After": 2,
			m + "fresh Fresh": 2, m + "natsb Dial": 2, m + "hang Hang": 2,
		}
		if got := counts(t, res.Base); !mapsEqual(got, wantBase) {
			t.Errorf("base results = %v, want %v\n%s", got, wantBase, res.Base)
		}
		if got := counts(t, res.Head); !mapsEqual(got, wantHead) {
			t.Errorf("head results = %v, want %v\n%s", got, wantHead, res.Head)
		}
	})
	t.Run("files", func(t *testing.T) {
		for _, c := range []struct {
			path string
			want []byte
		}{{res.BaseFile, res.Base}, {res.HeadFile, res.Head}} {
			got, err := os.ReadFile(c.path)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Errorf("%s: %v, content differs from Result", c.path, err)
			}
			if filepath.Dir(c.path) != out {
				t.Errorf("%s not in output dir %s", c.path, out)
			}
		}
		for _, noise := range []string{"PASS", "ok ", "FAIL", "panic", "--- "} {
			if bytes.Contains(res.Head, []byte(noise)) {
				t.Errorf("head.txt contains %q:\n%s", noise, res.Head)
			}
		}
		for _, h := range []string{"goos: ", "goarch: ", "pkg: ", "cpu: "} {
			if !bytes.HasPrefix(res.Head, []byte("goos: ")) || !bytes.Contains(res.Head, []byte(h)) {
				t.Errorf("head.txt lacks the %q header:\n%s", h, res.Head)
			}
		}
	})
	t.Run("failures", func(t *testing.T) {
		type key struct {
			side              Side
			pkg, name, reason string
		}
		var got []key
		for _, f := range res.Failures {
			got = append(got, key{f.Side, f.Package, f.Benchmark, f.Reason})
			if f.Reason == "failed" && !strings.Contains(f.Output, "fixture failure") ||
				f.Reason == "panic" && !strings.Contains(f.Output, "fixture panic") {
				t.Errorf("failure %s/%s output lacks the cause:\n%s", f.Package, f.Benchmark, f.Output)
			}
		}
		want := []key{{Head, m + "a", "Fail", "failed"}, {Head, m + "a", "Panic", "panic"}}
		if !slices.Equal(got, want) {
			t.Errorf("failures = %v, want %v", got, want)
		}
	})
	t.Run("build errors", func(t *testing.T) {
		if len(res.BuildErrors) != 1 {
			t.Fatalf("build errors = %+v, want one", res.BuildErrors)
		}
		b := res.BuildErrors[0]
		if b.Side != Head || b.Package != m+"broken" || !strings.Contains(b.Output, "undefined: undefinedThing") {
			t.Errorf("build error = %+v", b)
		}
	})
	t.Run("commits and order", func(t *testing.T) {
		if res.BaseSHA != f.baseSHA || res.HeadSHA != f.head || res.HeadRef != "main" || res.BaseRef != f.baseSHA {
			t.Errorf("refs = %s %s %s %s", res.BaseRef, res.BaseSHA, res.HeadRef, res.HeadSHA)
		}
		if res.Rounds != 2 || len(res.Orders) != 2 || res.Seed != 42 {
			t.Errorf("rounds %d, orders %v, seed %d", res.Rounds, res.Orders, res.Seed)
		}
		for _, o := range res.Orders {
			if len(o) != 2 || o[0] == o[1] {
				t.Errorf("order %v: want base and head once each", o)
			}
		}
		if !strings.Contains(res.Command, "-baseline "+f.baseSHA) || !strings.Contains(res.Command, "-count 2 -benchtime 1x") {
			t.Errorf("command = %s", res.Command)
		}
		if !strings.Contains(progress.String(), "round 2/2: 18/18 benchmark runs done") {
			t.Errorf("progress:\n%s", progress.String())
		}
	})
	t.Run("worktree removed", func(t *testing.T) {
		if n := worktrees(t, f.dir); n != 1 {
			t.Errorf("%d worktrees left, want 1", n)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRunAbsoluteWithProfile(t *testing.T) {
	f := sharedFixture(t)
	out := t.TempDir()
	res, err := Run(t.Context(), Config{
		Dir: f.dir, Packages: []string{"./a"}, Bench: "^BenchmarkChanged$",
		Count: 1, Benchtime: "300ms", Profile: true, OutputDir: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseSHA != "" || res.BaseFile != "" || res.Base != nil || strings.Contains(res.Command, "-baseline") {
		t.Errorf("absolute mode has a base: %q %q %q %q", res.BaseSHA, res.BaseFile, res.Base, res.Command)
	}
	if got := counts(t, res.Head); !mapsEqual(got, map[string]int{"example.com/fixture/a Changed": 1}) {
		t.Errorf("head results = %v", got)
	}
	if _, err := os.Stat(filepath.Join(out, "profiles", "head-example.com_fixture_a.pprof")); err != nil {
		t.Error(err)
	}
	if len(res.Hotspots) == 0 || len(res.Hotspots) > 3 {
		t.Fatalf("hotspots = %+v, want 1 to 3", res.Hotspots)
	}
	spin := false
	for _, h := range res.Hotspots {
		if h.Side != Head || h.Package != "example.com/fixture/a" || h.Flat <= 0 || h.Cum < h.Flat || h.Cum > 1 {
			t.Errorf("hotspot %+v", h)
		}
		spin = spin || strings.HasSuffix(h.Function, "work.Spin")
	}
	if !spin {
		t.Errorf("work.Spin, where the benchmark spends its time, is not a hotspot: %+v", res.Hotspots)
	}
}

// TestRunProfileOnly: ProfileOnly sees the measured results and chooses
// the packages that get a profile run; naming none costs no run at all.
func TestRunProfileOnly(t *testing.T) {
	f := sharedFixture(t)
	const a = "example.com/fixture/a"
	tests := []struct {
		name string
		pick []Profiled
		want []string // profile files
	}{
		{"one package", []Profiled{{Package: a}}, []string{"base-example.com_fixture_a.pprof", "head-example.com_fixture_a.pprof"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			var seen *Result
			res, err := Run(t.Context(), Config{
				Dir: f.dir, Baseline: f.baseSHA, Packages: []string{"./a", "./hang"}, Bench: "^BenchmarkSame$|^BenchmarkHang$",
				Count: 1, Benchtime: "1x", Profile: true, OutputDir: out,
				ProfileOnly: func(r *Result) []Profiled {
					seen = r
					if !strings.Contains(string(r.Base), "BenchmarkSame") || !strings.Contains(string(r.Head), "BenchmarkHang") {
						t.Errorf("ProfileOnly was given no results: base %q head %q", r.Base, r.Head)
					}
					return tt.pick
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != res {
				t.Errorf("ProfileOnly was not called with the run's result")
			}
			var got []string
			entries, _ := os.ReadDir(filepath.Join(out, "profiles"))
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("profiles = %q, want %q", got, tt.want)
			}
			for _, h := range res.Hotspots {
				if h.Package != a || len(tt.pick) == 0 {
					t.Errorf("hotspot of a package not profiled: %+v", h)
				}
			}
			profiled := slices.ContainsFunc(res.Phases, func(p Phase) bool { return p.Name == PhaseProfile })
			if profiled != (len(tt.pick) > 0) {
				t.Errorf("phases = %+v: a profile phase %v, want %v", res.Phases, profiled, len(tt.pick) > 0)
			}
		})
	}
}

// TestRunProfileOnlyBenchmarks: a profile run runs only the benchmarks
// ProfileOnly names (those that regressed), so the profile holds theirs
// alone; a name the package does not have leaves it whole.
func TestRunProfileOnlyBenchmarks(t *testing.T) {
	f := sharedFixture(t)
	const a = "example.com/fixture/a"
	tests := []struct {
		name  string
		bench []string
		want  map[string]bool // benchmark function: in the profile
	}{
		{"one named", []string{"BenchmarkChanged"}, map[string]bool{"BenchmarkChanged": true, "BenchmarkSame": false}},
		{"unknown name", []string{"BenchmarkNone"}, map[string]bool{"BenchmarkChanged": true, "BenchmarkSame": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := Run(t.Context(), Config{
				Dir: f.dir, Packages: []string{"./a"}, Bench: "^BenchmarkSame$|^BenchmarkChanged$",
				Count: 1, Benchtime: "150ms", Profile: true, OutputDir: out,
				ProfileOnly: func(*Result) []Profiled { return []Profiled{{Package: a, Benchmarks: tt.bench}} },
			})
			if err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(filepath.Join(out, "profiles", "head-example.com_fixture_a.pprof"))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			p, err := profile.Parse(fh)
			if err != nil {
				t.Fatal(err)
			}
			for fn, want := range tt.want {
				got := slices.ContainsFunc(p.Sample, func(s *profile.Sample) bool {
					return slices.ContainsFunc(s.Location, func(l *profile.Location) bool {
						return slices.ContainsFunc(l.Line, func(ln profile.Line) bool {
							return ln.Function != nil && ln.Function.Name == a+"."+fn
						})
					})
				})
				if got != want {
					t.Errorf("%s in the profile: %v, want %v", fn, got, want)
				}
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	f := sharedFixture(t)
	res, err := Run(t.Context(), Config{
		Dir: f.dir, Packages: []string{"./hang", "./fresh"}, Count: 2, Benchtime: "1x",
		Timeout: 2 * time.Second, OutputDir: t.TempDir(),
		Env: append(os.Environ(), "FIXTURE_HANG=1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 1 {
		t.Fatalf("failures = %+v, want one", res.Failures)
	}
	if f := res.Failures[0]; f.Package != "example.com/fixture/hang" || f.Benchmark != "Hang" || f.Reason != "timeout" {
		t.Errorf("failure = %+v", f)
	}
	if got := counts(t, res.Head); !mapsEqual(got, map[string]int{"example.com/fixture/fresh Fresh": 2}) {
		t.Errorf("head results = %v", got)
	}
}

func TestRunCancel(t *testing.T) {
	f := sharedFixture(t)
	mark := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{
			Dir: f.dir, Baseline: f.baseSHA, Packages: []string{"./hang"}, Count: 1,
			Benchtime: "1x", NATS: true, OutputDir: t.TempDir(),
			Env: append(os.Environ(), "FIXTURE_HANG=1", "FIXTURE_MARK="+mark),
		})
		done <- err
	}()
	var pid int
	testutil.CheckFor(t, 2*time.Minute, 50*time.Millisecond, func() error {
		b, err := os.ReadFile(mark)
		if err != nil {
			return fmt.Errorf("the hanging benchmark has not started: %w", err)
		}
		if pid, err = strconv.Atoi(string(b)); err != nil {
			return fmt.Errorf("the hanging benchmark's pid file: %w", err)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after cancellation")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("benchmark process %d still there after cancellation: %v", pid, err)
	}
	if n := worktrees(t, f.dir); n != 1 {
		t.Errorf("%d worktrees left, want 1", n)
	}
}

func TestRunShallowClone(t *testing.T) {
	f := sharedFixture(t)
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gittest.Git(t.TempDir(), "clone", "-q", "--depth", "1", "file://"+f.dir, clone); err != nil {
		t.Fatal(err)
	}
	if _, err := gittest.Git(clone, "rev-parse", "--verify", "-q", f.baseSHA+"^{commit}"); err == nil {
		t.Fatal("the shallow clone has the baseline already: the test proves nothing")
	}
	res, err := Run(t.Context(), Config{
		Dir: clone, Baseline: f.baseSHA, Packages: []string{"./gone"}, Count: 1,
		Benchtime: "1x", OutputDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseSHA != f.baseSHA {
		t.Errorf("base = %s, want %s", res.BaseSHA, f.baseSHA)
	}
	if got := counts(t, res.Base); !mapsEqual(got, map[string]int{"example.com/fixture/gone Gone": 1}) {
		t.Errorf("base results = %v", got)
	}
	if len(res.Head) != 0 || res.Head == nil {
		t.Errorf("head results for a package removed on head: %q (want empty, not nil)", res.Head)
	}
}

func TestResolveCommit(t *testing.T) {
	f := sharedFixture(t)
	for _, rev := range []string{f.baseSHA, f.baseSHA[:12], "main~1", "HEAD^"} {
		got, err := resolveCommit(t.Context(), os.Environ(), f.dir, rev)
		if err != nil || got != f.baseSHA {
			t.Errorf("resolveCommit(%q) = %q, %v; want %s", rev, got, err, f.baseSHA)
		}
	}
	// The fixture has no origin: a missing commit is an error that says so.
	_, err := resolveCommit(t.Context(), os.Environ(), f.dir, strings.Repeat("ab", 20))
	if err == nil || !strings.Contains(err.Error(), "not in the clone") {
		t.Errorf("missing commit: %v", err)
	}
}

func TestBalancedOrdersOdd(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		first := map[Side]int{}
		for _, o := range balancedOrders(rand.New(rand.NewPCG(seed, 0)), []Side{Base, Head}, 7) {
			first[o[0]]++
		}
		if d := first[Base] - first[Head]; d < -1 || d > 1 {
			t.Errorf("seed %d: %v rounds first, want 4+3", seed, first)
		}
	}
	if got := balancedOrders(rand.New(rand.NewPCG(1, 0)), []Side{Head}, 3); len(got) != 3 || got[2][0] != Head {
		t.Errorf("head only: %v", got)
	}
}

func TestRoundOrders(t *testing.T) {
	orders := func(seed int64) [][]Side {
		s := &state{cfg: Config{Count: 20}, res: &Result{Seed: seed}, prog: newProgress(nil, 20, 0)}
		if err := s.rounds(t.Context(), []Side{Base, Head}, nil); err != nil {
			t.Fatal(err)
		}
		return s.res.Orders
	}
	a, b, c := orders(7), orders(7), orders(8)
	seen := map[Side]int{}
	for _, o := range a {
		if len(o) != 2 || o[0] == o[1] {
			t.Fatalf("order %v: want base and head once each", o)
		}
		seen[o[0]]++
	}
	if seen[Base] != 10 || seen[Head] != 10 {
		t.Errorf("of 20 rounds, %d started with base and %d with head; want 10 each: %v", seen[Base], seen[Head], a)
	}
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Error("the same seed gave different orders")
	}
	if slices.EqualFunc(a, c, slices.Equal) {
		t.Error("different seeds gave the same 20 orders")
	}
}

// TestRunForeignOwner checks the container-action case: the checkout
// belongs to another uid, which git refuses as "dubious ownership"
// unless told otherwise.
func TestRunForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the repository to another uid")
	}
	f := sharedFixture(t)
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gittest.Git(t.TempDir(), "clone", "-q", f.dir, clone); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(clone, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 4242, 4242)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gittest.Git(clone, "status"); err == nil || !strings.Contains(err.Error(), "dubious ownership") {
		t.Skipf("this git does not refuse a foreign repository (%v): nothing to test", err)
	}
	res, err := Run(t.Context(), Config{
		Dir: clone, Baseline: "HEAD~1", Packages: []string{"./gone"}, Count: 1,
		Benchtime: "1x", OutputDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseSHA != f.baseSHA || res.HeadSHA != f.head {
		t.Errorf("commits %s %s, want %s %s", res.BaseSHA, res.HeadSHA, f.baseSHA, f.head)
	}
	if got := counts(t, res.Base); !mapsEqual(got, map[string]int{"example.com/fixture/gone Gone": 1}) {
		t.Errorf("base results = %v", got)
	}
}

// TestRunBuildsPackagesNamedAlike: a side's packages build in one go
// command, which names each binary after its package's last path
// element; packages named alike, or by a major version, are built one by
// one instead, and every one runs its own benchmarks.
func TestRunBuildsPackagesNamedAlike(t *testing.T) {
	bench := func(pkg, name string) string {
		return "package " + pkg + "\n\nimport \"testing\"\n\nfunc Benchmark" + name + "(b *testing.B) { for b.Loop() {} }\n"
	}
	dir := fixtureModule(t, map[string]string{
		"go.mod":                fixtureGoMod,
		"x/util/util_test.go":   bench("util", "X"),
		"y/util/util_test.go":   bench("util", "Y"),
		"v2/v2_test.go":         bench("v2", "V"),
		"other/other_test.go":   bench("other", "O"),
		"second/second_test.go": bench("second", "S"),
	})
	res, err := Run(t.Context(), Config{Dir: dir, Count: 1, Benchtime: "1x", OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const m = "example.com/fixture/"
	want := map[string]int{m + "x/util X": 1, m + "y/util Y": 1, m + "v2 V": 1, m + "other O": 1, m + "second S": 1}
	if got := counts(t, res.Head); !mapsEqual(got, want) || len(res.Failures) > 0 || len(res.BuildErrors) > 0 {
		t.Errorf("results = %v, failures %+v, build errors %+v; want %v", got, res.Failures, res.BuildErrors, want)
	}
}

// TestRunBenchmarksPackageWithVetFinding: a benchmark run is not a vet
// run. A package whose test file has a vet finding (a Printf verb of the
// wrong type) is still built and benchmarked, whether it builds in its
// side's shared go command or alone.
func TestRunBenchmarksPackageWithVetFinding(t *testing.T) {
	dir := fixtureModule(t, map[string]string{
		"go.mod": fixtureGoMod,
		"vetbad/vetbad_test.go": `package vetbad

import (
	"fmt"
	"testing"
)

var sink string

func BenchmarkVet(b *testing.B) {
	for b.Loop() {
		sink = fmt.Sprintf("%d", "not a number")
	}
}
`,
		"other/other_test.go": "package other\n\nimport \"testing\"\n\nfunc BenchmarkOther(b *testing.B) { for b.Loop() {} }\n",
	})
	const m = "example.com/fixture/"
	tests := []struct {
		name     string
		packages []string
		want     map[string]int
	}{
		{"with another package", []string{"./..."}, map[string]int{m + "vetbad Vet": 1, m + "other Other": 1}},
		{"alone", []string{"./vetbad"}, map[string]int{m + "vetbad Vet": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(t.Context(), Config{Dir: dir, Packages: tt.packages, Count: 1, Benchtime: "1x", OutputDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if got := counts(t, res.Head); !mapsEqual(got, tt.want) || len(res.BuildErrors) > 0 || len(res.Failures) > 0 {
				t.Errorf("results = %v, build errors %+v, failures %+v; want %v", got, res.BuildErrors, res.Failures, tt.want)
			}
		})
	}
}

// meetPackage is a fixture package whose test binary, when it lists its
// benchmarks or writes a CPU profile, waits up to a minute for another
// binary doing the same: it writes met-<phase>-<pid> in $FIXTURE_MEET if
// one came, alone-<phase>-<pid> if none did.
func meetPackage(pkg string, work int) string {
	return `package ` + pkg + `

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if d := os.Getenv("FIXTURE_MEET"); d != "" {
		for _, phase := range []string{"list", "cpuprofile"} {
			if flag.Lookup("test."+phase).Value.String() != "" {
				meet(d, phase)
			}
		}
	}
	os.Exit(m.Run())
}

func meet(d, phase string) {
	pid := strconv.Itoa(os.Getpid())
	os.WriteFile(filepath.Join(d, "here-"+phase+"-"+pid), nil, 0o644)
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if here, _ := filepath.Glob(filepath.Join(d, "here-"+phase+"-*")); len(here) > 1 {
			os.WriteFile(filepath.Join(d, "met-"+phase+"-"+pid), nil, 0o644)
			return
		}
	}
	os.WriteFile(filepath.Join(d, "alone-"+phase+"-"+pid), nil, 0o644)
}

var sink uint64

func spin` + pkg + `() {
	x := uint64(1)
	for i := 0; i < ` + strconv.Itoa(work) + `; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
}

func BenchmarkSpin(b *testing.B) {
	for b.Loop() {
		spin` + pkg + `()
	}
}
`
}

// TestRunListsAndProfilesAtOnce: the binaries list their benchmarks, and
// run with a CPU profile, at once (each of these runs meets another),
// while the hotspots stay in the targets' order: by package, base first.
func TestRunListsAndProfilesAtOnce(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: one run at a time")
	}
	dir := fixtureModule(t, map[string]string{
		"go.mod":        fixtureGoMod,
		"p1/p1_test.go": meetPackage("p1", 20000),
		"p2/p2_test.go": meetPackage("p2", 30000),
	})
	meet := t.TempDir()
	res, err := Run(t.Context(), Config{
		Dir: dir, Baseline: "HEAD", Count: 1, Benchtime: "100ms", Profile: true, OutputDir: t.TempDir(),
		Env: append(os.Environ(), "FIXTURE_MEET="+meet),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BuildErrors) > 0 || len(res.Failures) > 0 {
		t.Fatalf("build errors %+v, failures %+v", res.BuildErrors, res.Failures)
	}
	entries, err := os.ReadDir(meet)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range entries {
		kind, rest, _ := strings.Cut(e.Name(), "-")
		phase, _, _ := strings.Cut(rest, "-")
		got[kind+" "+phase]++
	}
	// Two packages on two sides: four binaries, each listed and profiled once.
	want := map[string]int{"here list": 4, "met list": 4, "here cpuprofile": 4, "met cpuprofile": 4}
	if !mapsEqual(got, want) {
		t.Errorf("runs = %v, want %v (alone: it ran with no other)", got, want)
	}
	const m = "example.com/fixture/"
	var order []string
	for _, h := range res.Hotspots {
		key := string(h.Side) + " " + h.Package
		if len(order) == 0 || order[len(order)-1] != key {
			order = append(order, key)
		}
	}
	wantOrder := []string{"base " + m + "p1", "head " + m + "p1", "base " + m + "p2", "head " + m + "p2"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("hotspots by target = %q, want %q", order, wantOrder)
	}
}
