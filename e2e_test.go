package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment/githubtest"
	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// The end-to-end test runs the built action binary as GitHub runs a
// container action: INPUT_* and GITHUB_* variables, an event file, and
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against a fixture
// repository made here and a fake GitHub API. One binary, one fixture and
// one fake API serve every subtest, each made on first use; every subtest
// makes what else it needs, so that each one runs alone
// (go test -run 'TestAction/post').

const (
	owner, repo = "octo", "fixture"
	runURL      = "https://github.com/octo/fixture/actions/runs/4242"
)

// fixture is a git repository whose head makes BenchmarkSlower 4x slower
// and allocate twice the bytes, BenchmarkFaster 8x faster and allocate an
// eighth, and leaves BenchmarkSame alone. The changes are big, so that few
// short rounds find them; the bytes per op are deterministic and compared
// exactly, so their verdicts hold even when the shared 2-core machine
// makes times swing by several fold.
type fixture struct {
	dir, base, head string
}

// fixtureWork is the fixtures' fixed amount of CPU work, with no
// allocation: one source for every e2e fixture module.
const fixtureWork = `// work is a fixed amount of CPU work with no allocation.
func work(n int) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < n; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	return h
}
`

const fixtureBench = `package fixture

import (
	"os"
	"strings"
	"testing"
)

var (
	sink uint64
	buf  []byte
)

` + fixtureWork + `
func BENCH_Slower(b *testing.B) {
	for i := 0; i < b.N; i++ {
		buf = make([]byte, slowBytes)
		sink += work(slowN)
	}
}

func BENCH_Faster(b *testing.B) {
	for i := 0; i < b.N; i++ {
		buf = make([]byte, fastBytes)
		sink += work(fastN)
	}
}

// BENCH_Same checks what the action promises the benchmarked code: a
// NATS server, and no token.
func BENCH_Same(b *testing.B) {
	if os.Getenv("NATS_URL") == "" {
		b.Fatal("NATS_URL is not set")
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "INPUT_") {
			b.Fatalf("the action's inputs leaked into the benchmark: %s", kv)
		}
	}
	for i := 0; i < b.N; i++ {
		sink += work(1000)
	}
}
`

func newFixture(t *testing.T, tmp string) fixture {
	t.Helper()
	dir := filepath.Join(tmp, "workspace")
	// The module sits in a subdirectory, as in a monorepo: the action
	// finds it through working-directory, relative to GITHUB_WORKSPACE.
	// BENCH_ keeps "func Benchmark" out of this file, which would make
	// the runner take this package for one with benchmarks.
	base := gittest.MustCommit(t, dir, map[string]string{
		"README":            "fixture\n",
		"mod/go.mod":        "module example.com/fixture\n\ngo 1.26\n",
		"mod/bench_test.go": strings.ReplaceAll(fixtureBench, "BENCH_", "Benchmark"),
		"mod/sizes.go":      "package fixture\n\nconst (\n\tslowN, slowBytes = 1000, 64\n\tfastN, fastBytes = 4000, 512\n)\n",
	}, "base")
	head := gittest.MustCommit(t, dir, map[string]string{
		"mod/sizes.go": "package fixture\n\nconst (\n\tslowN, slowBytes = 4000, 128\n\tfastN, fastBytes = 500, 64\n)\n",
	}, "head: Slower four times slower, Faster eight times faster")
	return fixture{dir: dir, base: base, head: head}
}

// buildAction builds the binary with the Dockerfile's recipe, into tmp.
func buildAction(t *testing.T, tmp string) string {
	t.Helper()
	bin := filepath.Join(tmp, "natsbench")
	out, err := exec.Command("bash", "scripts/build.sh", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	return bin
}

// run is one execution of the action.
type run struct {
	code            int
	stdout, stderr  string
	outputs         map[string]string
	summary         string
	workspace, home string
}

// baseEnv is the test process's environment without anything that would
// make the binary think it is in another workflow (CI runs this test on
// GitHub Actions too).
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GITHUB_") || strings.HasPrefix(kv, "INPUT_") ||
			strings.HasPrefix(kv, "RUNNER_") || strings.HasPrefix(kv, "ACTIONS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// actionInputs are the inputs as GitHub passes them to a container
// action: every input, defaults from action.yml filled in.
func actionInputs(token string) map[string]string {
	return map[string]string{
		"github-token": token, "mode": "run", "report": "", "working-directory": "mod",
		"packages": "./...", "bench": ".", "count": "6", "benchtime": "20ms", "timeout": "2m",
		"baseline": "", "threshold": "5", "alpha": "0.05", "output-dir": "natsbench-results",
		"comment": "true", "comment-key": "", "matrix": "null", "nats": "true", "fail-on-regression": "false",
		// The default is auto; these tests have no history branch to reach
		// (GITHUB_SERVER_URL is github.com), e2e_history_test.go has one.
		"history": "off", "history-branch": "natsbench-history", "history-keep": "500",
	}
}

// runAction runs the binary like a container action for event with the
// given payload and input overrides.
func runAction(t *testing.T, bin, workspace, apiURL, eventName, payload string, in map[string]string) run {
	t.Helper()
	return runActionEnv(t, bin, workspace, apiURL, eventName, payload, in, nil)
}

// runActionEnv is runAction with some GITHUB_* variables overridden.
func runActionEnv(t *testing.T, bin, workspace, apiURL, eventName, payload string, in, vars map[string]string) run {
	t.Helper()
	tmp := t.TempDir()
	eventPath := filepath.Join(tmp, "event.json")
	outPath := filepath.Join(tmp, "output")
	sumPath := filepath.Join(tmp, "summary")
	for p, data := range map[string]string{eventPath: payload, outPath: "", sumPath: ""} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(baseEnv(),
		"GITHUB_ACTIONS=true",
		"GITHUB_EVENT_NAME="+eventName,
		"GITHUB_EVENT_PATH="+eventPath,
		"GITHUB_OUTPUT="+outPath,
		"GITHUB_STEP_SUMMARY="+sumPath,
		"GITHUB_WORKSPACE="+workspace,
		"GITHUB_REPOSITORY="+owner+"/"+repo,
		"GITHUB_API_URL="+apiURL,
		"GITHUB_SERVER_URL=https://github.com",
		"GITHUB_RUN_ID=4242",
		"GITHUB_WORKFLOW=benchmarks",
		"GITHUB_JOB=bench",
	)
	for k, v := range vars {
		// exec keeps the last value of a variable given twice.
		env = append(env, k+"="+v)
	}
	for k, v := range in {
		// GitHub keeps the hyphen: INPUT_GITHUB-TOKEN.
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = workspace // a container action starts in the workspace
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String(), workspace: workspace}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running the action: %v", err)
	}
	r.outputs = readOutputs(t, outPath)
	sum, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	r.summary = string(sum)
	t.Logf("exit %d; stdout:\n%s\nstderr:\n%s", r.code, tail(r.stdout, 3000), tail(r.stderr, 3000))
	return r
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// readOutputs parses GITHUB_OUTPUT's name<<delimiter blocks.
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, delim, ok := strings.Cut(sc.Text(), "<<")
		if !ok {
			if name, v, ok := strings.Cut(sc.Text(), "="); ok {
				out[name] = v
				continue
			}
			t.Fatalf("GITHUB_OUTPUT: unexpected line %q", sc.Text())
		}
		var lines []string
		for sc.Scan() && sc.Text() != delim {
			lines = append(lines, sc.Text())
		}
		out[name] = strings.Join(lines, "\n")
	}
	return out
}

// noToken fails if the token shows anywhere but in the ::add-mask::
// command that tells the runner to hide it.
func (r run) noToken(t *testing.T, token string, files ...string) {
	t.Helper()
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, token) && line != "::add-mask::"+token {
			t.Errorf("token printed on stdout: %q", line)
		}
	}
	if strings.Contains(r.stderr, token) {
		t.Error("token printed on stderr")
	}
	for k, v := range r.outputs {
		if strings.Contains(v, token) {
			t.Errorf("token in output %s", k)
		}
	}
	if strings.Contains(r.summary, token) {
		t.Error("token in the job summary")
	}
	for _, dir := range files {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(token)) {
				t.Errorf("token in %s", path)
			}
			return nil
		})
	}
}

func (r run) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d", r.code, code)
	}
}

func readReport(t *testing.T, path string) *compare.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := compare.ReadJSON(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return rep
}

// verdict returns the verdict of the named benchmark's row for unit.
func verdict(t *testing.T, rep *compare.Report, name, unit string) compare.Verdict {
	t.Helper()
	for _, row := range rep.Benchmarks {
		if row.Unit == unit && (row.Name == name || strings.HasPrefix(row.Name, name+"-")) {
			return row.Verdict
		}
	}
	t.Fatalf("no %s row for %s in %+v", unit, name, rep.Benchmarks)
	return ""
}

// wantVerdicts checks the fixture's verdicts: exactly on the deterministic
// B/op rows; on the timed rows, never the opposite verdict (the machine
// may be too noisy for a verdict, never for a wrong one).
func wantVerdicts(t *testing.T, rep *compare.Report) {
	t.Helper()
	if v := verdict(t, rep, "Slower", "B/op"); v != compare.Regression {
		t.Errorf("Slower B/op: %s, want regression", v)
	}
	if v := verdict(t, rep, "Faster", "B/op"); v != compare.Improvement {
		t.Errorf("Faster B/op: %s, want improvement", v)
	}
	if v := verdict(t, rep, "Slower", "sec/op"); v == compare.Improvement || v == compare.Failed {
		t.Errorf("Slower sec/op: %s", v)
	}
	if v := verdict(t, rep, "Faster", "sec/op"); v == compare.Regression || v == compare.Failed {
		t.Errorf("Faster sec/op: %s", v)
	}
	if v := verdict(t, rep, "Same", "sec/op"); v == compare.Failed {
		t.Errorf("Same failed: no NATS_URL, or the inputs leaked into the benchmark")
	}
}

func prEvent(number int, baseSHA string) string {
	return fmt.Sprintf(`{"action": "synchronize", "number": %d, "pull_request": {"number": %[1]d, "base": {"ref": "main", "sha": %q}, "head": {"ref": "feature"}}}`, number, baseSHA)
}

// suite holds what the subtests share, each part made on first use by
// whichever subtest needs it first.
type suite struct {
	root *testing.T // owns the shared temporary directories
	gh   *githubtest.Server

	binOnce, fxOnce, firstOnce sync.Once
	bin                        string
	fx                         fixture
	first                      run    // the first pull request run
	saved                      string // its base.txt and head.txt
	firstErr                   string
}

// binary is the action, built once.
func (s *suite) binary(t *testing.T) string {
	t.Helper()
	s.binOnce.Do(func() { s.bin = buildAction(t, s.root.TempDir()) })
	if s.bin == "" {
		t.Fatal("the action binary was not built")
	}
	return s.bin
}

// fixture is the fixture repository, made once.
func (s *suite) fixture(t *testing.T) fixture {
	t.Helper()
	s.fxOnce.Do(func() { s.fx = newFixture(t, testutil.SharedDir(s.root)) })
	if s.fx.head == "" {
		t.Fatal("the fixture repository was not made")
	}
	return s.fx
}

// firstRun is the pull request run that the comment and local compare
// subtests build on, run once: by its own subtest in a full run, else by
// the first subtest that needs it. Its raw results are kept in s.saved.
func (s *suite) firstRun(t *testing.T) run {
	t.Helper()
	s.firstOnce.Do(func() {
		s.firstErr = "it stopped early"
		fx := s.fixture(t)
		s.first = runAction(t, s.binary(t), fx.dir, s.gh.URL(), "pull_request", prEvent(1, fx.base), actionInputs(s.gh.Token()))
		s.saved = s.root.TempDir()
		for _, f := range []string{"base.txt", "head.txt"} {
			data, err := os.ReadFile(filepath.Join(fx.dir, "natsbench-results", f))
			if err != nil {
				s.firstErr = err.Error()
				return
			}
			if err := os.WriteFile(filepath.Join(s.saved, f), data, 0o644); err != nil {
				s.firstErr = err.Error()
				return
			}
		}
		s.firstErr = ""
	})
	if s.firstErr != "" {
		t.Fatalf("the first pull request run: %s", s.firstErr)
	}
	return s.first
}

const key = "<!-- natsbench-action:key=benchmarks/bench -->"

func TestAction(t *testing.T) {
	s := &suite{root: t, gh: githubtest.New(t)}
	gh := s.gh
	token := gh.Token()

	t.Run("pull request comments", func(t *testing.T) {
		fx := s.fixture(t)
		resultsDir := filepath.Join(fx.dir, "natsbench-results")
		r := s.firstRun(t)
		r.wantCode(t, 0)
		if r.outputs["report-json"] != "natsbench-results/report.json" || r.outputs["report-markdown"] != "natsbench-results/report.md" {
			t.Errorf("report paths %q, %q: want them relative to the workspace", r.outputs["report-json"], r.outputs["report-markdown"])
		}
		rep := readReport(t, filepath.Join(fx.dir, r.outputs["report-json"]))
		if rep.Base.SHA != fx.base || rep.Head.SHA != fx.head {
			t.Errorf("compared %s with %s, want base %s head %s", rep.Head.SHA, rep.Base.SHA, fx.base, fx.head)
		}
		if rep.RunURL != runURL || rep.Extra["pr_number"] != "1" {
			t.Errorf("report run_url %q, extra %v: want the run and PR 1", rep.RunURL, rep.Extra)
		}
		wantVerdicts(t, rep)
		if got, want := r.outputs["regressions"], fmt.Sprint(rep.Summary[compare.Regression]); got != want || got == "0" {
			t.Errorf("output regressions = %q, report says %s", got, want)
		}
		if got, want := r.outputs["improvements"], fmt.Sprint(rep.Summary[compare.Improvement]); got != want || got == "0" {
			t.Errorf("output improvements = %q, report says %s", got, want)
		}
		for _, f := range []string{"base.txt", "head.txt", "report.md"} {
			if _, err := os.Stat(filepath.Join(resultsDir, f)); err != nil {
				t.Errorf("output-dir: %v", err)
			}
		}
		if !strings.Contains(r.summary, compare.Marker) {
			t.Errorf("job summary lacks the report:\n%s", r.summary)
		}
		if !strings.Contains(r.stdout, "::group::") {
			t.Error("logs are not grouped")
		}
		cs := gh.CommentsOn(owner, repo, 1)
		if len(cs) != 1 {
			t.Fatalf("%d comments, want 1", len(cs))
		}
		if !strings.HasPrefix(cs[0].Body, key) || !strings.Contains(cs[0].Body, runURL) || !strings.Contains(cs[0].Body, "Slower") {
			t.Errorf("comment body:\n%s", cs[0].Body)
		}
		if got := r.outputs["comment-url"]; got != cs[0].HTMLURL() {
			t.Errorf("output comment-url = %q, want %q", got, cs[0].HTMLURL())
		}
		r.noToken(t, token, resultsDir)
	})

	t.Run("second run on a flaky API updates in place", func(t *testing.T) {
		fx := s.fixture(t)
		first := s.firstRun(t).outputs["comment-url"]
		gh.AddComments(owner, repo, 1, 120, "unrelated chatter") // the sticky one is now on page 1 of 2
		gh.ResetCalls()
		gh.SecondaryRateLimit(1, 1)
		gh.FailNext(1, 502)
		in := actionInputs(token)
		in["bench"] = "Slower"
		r := runAction(t, s.binary(t), fx.dir, gh.URL(), "pull_request", prEvent(1, fx.base), in)
		r.wantCode(t, 0)
		var ours []githubtest.Comment
		for _, c := range gh.CommentsOn(owner, repo, 1) {
			if strings.Contains(c.Body, key) {
				ours = append(ours, c)
			}
		}
		if len(ours) != 1 {
			t.Fatalf("%d sticky comments, want 1", len(ours))
		}
		if gh.Calls("POST") != 0 || gh.Calls("PATCH") != 1 {
			t.Errorf("POST %d, PATCH %d: want the comment edited in place", gh.Calls("POST"), gh.Calls("PATCH"))
		}
		if r.outputs["comment-url"] != first {
			t.Errorf("comment-url = %q, want %q", r.outputs["comment-url"], first)
		}
		if strings.Contains(ours[0].Body, "Faster") {
			t.Error("the comment still shows the first run's report")
		}
		r.noToken(t, token, filepath.Join(fx.dir, "natsbench-results"))
	})

	t.Run("local compare of the raw results", func(t *testing.T) {
		s.firstRun(t)
		out, err := exec.Command(s.binary(t), "compare", "-json", filepath.Join(s.saved, "report.json"),
			filepath.Join(s.saved, "base.txt"), filepath.Join(s.saved, "head.txt")).Output()
		if err != nil {
			t.Fatalf("compare: %v", err)
		}
		if !strings.HasPrefix(string(out), compare.Marker) || !strings.Contains(string(out), "Slower") {
			t.Errorf("compare printed:\n%s", out)
		}
		wantVerdicts(t, readReport(t, filepath.Join(s.saved, "report.json")))
	})

	t.Run("fork token gets a warning, exit 0", func(t *testing.T) {
		fx := s.fixture(t)
		gh.Forbidden(true)
		defer gh.Forbidden(false)
		in := actionInputs(token)
		in["bench"], in["count"], in["benchtime"] = "Same", "1", "1x"
		r := runAction(t, s.binary(t), fx.dir, gh.URL(), "pull_request", prEvent(2, fx.base), in)
		r.wantCode(t, 0)
		if !strings.Contains(r.stdout, "::warning::") || !strings.Contains(r.stdout, "workflow_run") {
			t.Errorf("no warning with the fork advice on stdout")
		}
		if !strings.Contains(r.summary, compare.Marker) {
			t.Error("the job summary was not written")
		}
		if n := len(gh.CommentsOn(owner, repo, 2)); n != 0 {
			t.Errorf("%d comments on the fork's PR", n)
		}
		if r.outputs["comment-url"] != "" {
			t.Errorf("comment-url = %q, want empty", r.outputs["comment-url"])
		}
		r.noToken(t, token, filepath.Join(fx.dir, "natsbench-results"))
	})

	t.Run("bad inputs fail clearly", func(t *testing.T) {
		for _, tc := range []struct{ input, value, want string }{
			{"alpha", "2", `input "alpha" must be between 0 and 1`},
			{"count", "zero", `input "count" must be a positive integer, got "zero"`},
			{"bench", "(", `input "bench" is not a valid regular expression`},
		} {
			t.Run(tc.input, func(t *testing.T) {
				gh.ResetCalls()
				in := actionInputs(token)
				in[tc.input] = tc.value
				r := runAction(t, s.binary(t), t.TempDir(), gh.URL(), "pull_request", prEvent(1, "0123"), in)
				r.wantCode(t, 1)
				if !strings.Contains(r.stdout, "::error::") || !strings.Contains(r.stdout, tc.want) {
					t.Errorf("stdout lacks an ::error:: with %q", tc.want)
				}
				if gh.Calls("") != 0 {
					t.Errorf("%d API calls on a bad configuration", gh.Calls(""))
				}
				r.noToken(t, token)
			})
		}
	})

	// The two-workflow pattern's second half: a workflow_run for a fork's
	// PR (GitHub gives no pull_requests) posts the downloaded report.
	t.Run("post mode", func(t *testing.T) {
		workspace := t.TempDir()
		art := filepath.Join(workspace, "artifact")
		// The artifact names another pull request than the one GitHub
		// says the run measured: GitHub wins.
		writeReport(t, filepath.Join(art, "report.json"), regressedReport(t, 999))
		// A tampered report.md in the artifact is never posted.
		os.WriteFile(filepath.Join(art, "report.md"), []byte("<img src=x onerror=alert(1)> @everyone"), 0o644)
		payload := forkRun(gh, 3)
		in := actionInputs(token)
		in["mode"], in["report"] = "post", "artifact"
		in["fail-on-regression"] = "true"
		r := runAction(t, s.binary(t), workspace, gh.URL(), "workflow_run", payload, in)
		r.wantCode(t, 1) // fail-on-regression, and the report has regressions
		cs := gh.CommentsOn(owner, repo, 3)
		if len(cs) != 1 {
			t.Fatalf("%d comments on PR 3, want 1", len(cs))
		}
		if n := len(gh.CommentsOn(owner, repo, 999)); n != 0 {
			t.Errorf("%d comments on PR 999, which only the artifact names", n)
		}
		if strings.Contains(cs[0].Body, "onerror") || !strings.Contains(cs[0].Body, runURL+"-pr") {
			t.Errorf("posted body:\n%s", cs[0].Body)
		}
		if r.outputs["regressions"] == "0" || r.outputs["comment-url"] != cs[0].HTMLURL() {
			t.Errorf("outputs %v", r.outputs)
		}
		r.noToken(t, token)
	})

	t.Run("post mode keeps a huge report under GitHub's limit", func(t *testing.T) {
		gh.ResetCalls()
		workspace := t.TempDir()
		path := filepath.Join(workspace, "report.json")
		huge := hugeReport(t, 4)
		writeReport(t, path, huge)
		if n := len(compare.Markdown(huge, compare.MarkdownOptions{})); n <= githubtest.MaxBody {
			t.Fatalf("the huge report is only %d bytes", n)
		}
		in := actionInputs(token)
		in["mode"], in["report"] = "post", path
		r := runAction(t, s.binary(t), workspace, gh.URL(), "workflow_run", forkRun(gh, 4), in)
		r.wantCode(t, 0)
		cs := gh.CommentsOn(owner, repo, 4)
		if len(cs) != 1 {
			t.Fatalf("%d comments on PR 4, want 1 (was the body refused with 422?)", len(cs))
		}
		if n := len([]rune(cs[0].Body)); n > githubtest.MaxBody || !strings.Contains(cs[0].Body, "Bench0000") {
			t.Errorf("body of %d characters, want the worst changes in at most %d", n, githubtest.MaxBody)
		}
		if gh.Calls("POST") != 1 {
			t.Errorf("%d POSTs, want 1 (no 422 and retry)", gh.Calls("POST"))
		}
	})

	t.Run("API down for good: warning, exit 0", func(t *testing.T) {
		workspace := t.TempDir()
		writeReport(t, filepath.Join(workspace, "artifact", "report.json"), regressedReport(t, 3))
		gh.FailNext(100, 502)
		defer gh.FailNext(0, 0)
		in := actionInputs(token)
		in["mode"], in["report"] = "post", "artifact"
		r := runAction(t, s.binary(t), workspace, gh.URL(), "workflow_run", forkRun(gh, 3), in)
		r.wantCode(t, 0)
		if !strings.Contains(r.stdout, "::warning::no comment") {
			t.Error("no warning about the comment")
		}
		r.noToken(t, token)
	})

	t.Run("local run", func(t *testing.T) {
		fx := s.fixture(t)
		cmd := exec.Command(s.binary(t), "-count", "1", "-benchtime", "1x", "-bench", "Same", "-output-dir", filepath.Join(t.TempDir(), "out"))
		cmd.Dir = filepath.Join(fx.dir, "mod")
		cmd.Env = baseEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("local run: %v\n%s", err, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), compare.Marker) || !strings.Contains(stdout.String(), "Same") {
			t.Errorf("stdout is not the report:\n%s", stdout.String())
		}
		if !strings.Contains(stderr.String(), fx.base) {
			t.Errorf("stderr does not say it compares with HEAD~1 %s:\n%s", fx.base, stderr.String())
		}
	})
}

// forkRun is the workflow_run event of a run that measured pull request
// pr from a fork, as GitHub sends it (no pull_requests), with the pull
// request added to gh.
func forkRun(gh *githubtest.Server, pr int) string {
	sha := fmt.Sprintf("%040x", pr)
	branch := fmt.Sprintf("feature-%d", pr)
	gh.AddPull(githubtest.Pull{Owner: owner, Repo: repo, Number: pr, HeadSHA: sha, HeadRepo: "alice/" + repo, HeadBranch: branch})
	return `{"action": "completed", "workflow_run": {"html_url": "` + runURL + `-pr", "pull_requests": [],
		"head_sha": "` + sha + `", "head_branch": "` + branch + `", "head_repository": {"full_name": "alice/` + repo + `"}}}`
}

// regressedReport is a small report for pull request pr, as the
// pull_request workflow makes it: one benchmark allocates twice the bytes
// (a regression however noisy the machine), one half.
func regressedReport(t *testing.T, pr int) *compare.Report {
	t.Helper()
	var base, head bytes.Buffer
	for _, w := range []*bytes.Buffer{&base, &head} {
		fmt.Fprintln(w, "goos: linux\ngoarch: amd64\npkg: example.com/fixture")
	}
	for i := range 6 {
		fmt.Fprintf(&base, "BenchmarkSlower-8 1000 %d ns/op 64 B/op\nBenchmarkFaster-8 1000 %d ns/op 512 B/op\n", 1000+i, 4000+i)
		fmt.Fprintf(&head, "BenchmarkSlower-8 1000 %d ns/op 128 B/op\nBenchmarkFaster-8 1000 %d ns/op 64 B/op\n", 4000+i, 500+i)
	}
	r, err := compare.Compute(compare.Input{Base: base.Bytes(), Head: head.Bytes(), BaseName: "base.txt", HeadName: "head.txt", PR: pr})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeReport(t *testing.T, path string, r *compare.Report) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := compare.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hugeReport compares 1500 benchmarks that all changed, so that the full
// markdown is far over GitHub's comment limit, for pull request pr.
func hugeReport(t *testing.T, pr int) *compare.Report {
	t.Helper()
	var base, head bytes.Buffer
	for _, w := range []*bytes.Buffer{&base, &head} {
		fmt.Fprintln(w, "goos: linux\ngoarch: amd64\npkg: example.com/huge/with/a/rather/long/import/path")
	}
	for i := range 1500 {
		for run := range 6 {
			// Bench0000 changes most, so it heads the table.
			fmt.Fprintf(&base, "BenchmarkBench%04d/case=some-long-sub-benchmark-name-%d-8 1000 %d ns/op\n", i, i, 1000+run)
			fmt.Fprintf(&head, "BenchmarkBench%04d/case=some-long-sub-benchmark-name-%d-8 1000 %d ns/op\n", i, i, 4000-i+run)
		}
	}
	r, err := compare.Compute(compare.Input{Base: base.Bytes(), Head: head.Bytes(), BaseName: "base.txt", HeadName: "head.txt", PR: pr})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
