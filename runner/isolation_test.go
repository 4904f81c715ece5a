//go:build unix

package runner

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// needIsolation skips the test where isolation cannot work: not root, or
// a Go toolchain that the sandbox's user cannot run (one under /root).
func needIsolation(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root, as in the action's container")
	}
	sb, err := newSandbox("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.close()
	out := &tailBuffer{n: 4096}
	c := command{dir: sb.home, env: sb.env(os.Environ()), timeout: time.Minute, sandbox: sb, out: out}
	if r := c.run(t.Context(), "go", "version"); r.err != nil {
		t.Skipf("uid %d cannot run go here: %v\n%s", sandboxUID, r.err, out)
	}
}

// fixtureModule writes files as a module in a new git repository in a
// directory every user may read, commits them and returns the directory.
func fixtureModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(testutil.SharedDir(t), "repo")
	gittest.MustCommit(t, dir, files, "fixture")
	return dir
}

// metrics returns the last value of each unit of a benchmark's results.
func metrics(t *testing.T, data []byte, bench string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	r := benchfmt.NewReader(bytes.NewReader(data), "results")
	for r.Scan() {
		if rec, ok := r.Result().(*benchfmt.Result); ok && string(rec.Name.Base()) == bench {
			for _, v := range rec.Values {
				got[v.Unit] = v.Value
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// attackBench tries, once, what a hostile pull request's benchmark would
// try in the action's container, and reports each outcome as a metric
// (1: it worked). The paths it attacks come in FIXTURE_* variables: in
// the container they are well known.
const attackBench = `package attack

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func BenchmarkAttack(b *testing.B) {
	parent := "/proc/" + strconv.Itoa(os.Getppid())
	env, _ := os.ReadFile(parent + "/environ")
	var wrote, cred, inc, sock, fd, bin float64
	if f, err := os.OpenFile(os.Getenv("FIXTURE_GITHUB_ENV"), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		if _, err := f.WriteString("NODE_OPTIONS=--require=/tmp/pwn.js\n"); err == nil {
			wrote = 1
		}
		f.Close()
	}
	if c, err := os.ReadFile(os.Getenv("FIXTURE_GIT_CONFIG")); err == nil && bytes.Contains(c, []byte("AUTHORIZATION")) {
		cred = 1
	}
	if c, err := os.ReadFile(os.Getenv("FIXTURE_GIT_INCLUDE")); err == nil && bytes.Contains(c, []byte("AUTHORIZATION")) {
		inc = 1
	}
	if c, err := net.Dial("unix", os.Getenv("FIXTURE_DOCKER_SOCK")); err == nil {
		c.Close()
		sock = 1
	}
	// The action's standard output is the run's log: writing there would
	// put workflow commands in it. Opening it is enough to know.
	for _, n := range []string{"/fd/1", "/fd/2"} {
		if f, err := os.OpenFile(parent+n, os.O_WRONLY, 0); err == nil {
			f.Close()
			fd = 1
		}
	}
	// The other side's test binary sits next to its own.
	if exe, err := os.Executable(); err == nil {
		if err := os.WriteFile(filepath.Join(filepath.Dir(exe), "base-000.test"), []byte("#!/bin/sh\n"), 0o755); err == nil {
			bin = 1
		}
	}
	// Workflow commands on its own output, which the runner reads.
	fmt.Println("::add-mask::natsbench")
	fmt.Println("::stop-commands::natsbench")
	fmt.Println("::error title=pwned::pwned")
	fmt.Println("::set-output name=regressions::0")
	for b.Loop() {
	}
	b.ReportMetric(float64(len(env)), "environ-bytes")
	b.ReportMetric(wrote, "github-env-written")
	b.ReportMetric(cred, "credential-read")
	b.ReportMetric(inc, "included-credential-read")
	b.ReportMetric(sock, "docker-socket")
	b.ReportMetric(fd, "parent-output-opened")
	b.ReportMetric(bin, "binary-dir-written")
	b.ReportMetric(float64(os.Getuid()), "uid")
}
`

// TestIsolatedBenchmarkGetsNothing is the container's case (issue 11,
// items 4 and 5): as root, a benchmark tries to read the action's
// environment, append to GITHUB_ENV, read the credential that
// actions/checkout persists, reach the Docker socket and write into the
// action's output, and to replace the other side's test binary. Without
// Isolate (as before) each attack works; with it, none does.
func TestIsolatedBenchmarkGetsNothing(t *testing.T) {
	needIsolation(t)
	dir := fixtureModule(t, map[string]string{
		"go.mod":                fixtureGoMod,
		"attack/attack_test.go": attackBench,
	})
	gittest.Must(t, dir, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0")
	gitConfig := filepath.Join(dir, ".git", "config")
	if err := os.Chmod(gitConfig, 0o644); err != nil {
		t.Fatal(err)
	}

	// The file commands and the Docker socket, with the modes they have
	// on GitHub's runners, and a credential in a file that .git/config
	// includes, where newer actions/checkout put it.
	commands := testutil.SharedDir(t)
	include := filepath.Join(commands, "git-credentials.config")
	if err := os.WriteFile(include, []byte("[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic c2Vjb25k\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Must(t, dir, "config", "includeIf.gitdir:"+filepath.Join(dir, ".git")+"/.path", include)
	if err := os.Chmod(gitConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	githubEnv := filepath.Join(commands, "set_env_0123")
	sock := filepath.Join(commands, "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(sock, 0o660); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"FIXTURE_GITHUB_ENV="+githubEnv, "FIXTURE_GIT_CONFIG="+gitConfig, "FIXTURE_GIT_INCLUDE="+include, "FIXTURE_DOCKER_SOCK="+sock)

	run := func(t *testing.T, isolate bool) (*Result, map[string]float64, string) {
		t.Helper()
		if err := os.WriteFile(githubEnv, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var progress bytes.Buffer
		res, err := Run(t.Context(), Config{
			Dir: dir, Count: 1, Benchtime: "1x", Profile: true, Isolate: isolate,
			OutputDir: filepath.Join(t.TempDir(), "out"), Progress: &progress, Env: env,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures)+len(res.BuildErrors) > 0 {
			t.Fatalf("failures %+v, build errors %+v", res.Failures, res.BuildErrors)
		}
		m := metrics(t, res.Head, "Attack")
		if len(m) == 0 {
			t.Fatalf("no result:\n%s", res.Head)
		}
		return res, m, progress.String()
	}

	t.Run("without isolation every attack works", func(t *testing.T) {
		_, m, _ := run(t, false)
		for _, unit := range []string{"github-env-written", "credential-read", "included-credential-read", "docker-socket", "parent-output-opened", "binary-dir-written"} {
			if m[unit] != 1 {
				t.Errorf("%s = %v: the attack failed even without isolation, so the test proves nothing", unit, m[unit])
			}
		}
		if m["environ-bytes"] == 0 {
			t.Error("the parent's environment was unreadable even without isolation")
		}
	})

	t.Run("isolated", func(t *testing.T) {
		res, m, progress := run(t, true)
		if m["uid"] != sandboxUID {
			t.Errorf("the benchmark ran as uid %v, want %d", m["uid"], sandboxUID)
		}
		for _, unit := range []string{"environ-bytes", "github-env-written", "credential-read", "included-credential-read", "docker-socket", "parent-output-opened", "binary-dir-written"} {
			if v, ok := m[unit]; !ok || v != 0 {
				t.Errorf("%s = %v, want 0", unit, v)
			}
		}
		if b, err := os.ReadFile(githubEnv); err != nil || len(b) != 0 {
			t.Errorf("GITHUB_ENV holds %q (%v), want it untouched", b, err)
		}
		for _, line := range strings.Split(progress, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::") {
				t.Errorf("a workflow command reached the log: %q", line)
			}
		}
		for _, p := range []string{gitConfig, include} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("%s after the run: %v; want its mode 0644 back", p, err)
			}
		}
		// What the runner writes stays the action's.
		profile := filepath.Join(filepath.Dir(res.HeadFile), "profiles", "head-example.com_fixture_attack.pprof")
		for _, p := range []string{res.HeadFile, profile} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Error(err)
				continue
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
				t.Errorf("%s belongs to uid %d, want 0", p, uid)
			}
		}
	})
}

// escapeBench leaves a process behind that the command's session and
// process group do not hold, then hangs past the timeout (or returns, with
// FIXTURE_HANG=no). FIXTURE_ESCAPE says how: "setsid" starts a child in a
// session of its own; "orphan" also empties its environment and is
// orphaned at once (a shell that backgrounds it exits).
const escapeBench = `package escape

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func BenchmarkEscape(b *testing.B) {
	mark := os.Getenv("FIXTURE_MARK")
	switch os.Getenv("FIXTURE_ESCAPE") {
	case "setsid":
		c := exec.Command("sleep", "3600")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(mark, []byte(strconv.Itoa(c.Process.Pid)), 0o644)
	case "orphan":
		c := exec.Command("/bin/sh", "-c", "sleep 3600 </dev/null >/dev/null 2>&1 & echo $! > "+mark)
		c.Env = []string{}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Run(); err != nil {
			b.Fatal(err)
		}
	default:
		for b.Loop() {
		}
		return
	}
	if os.Getenv("FIXTURE_HANG") != "no" {
		time.Sleep(time.Hour)
	}
}
`

// TestTimeoutKillsEscapedChild (issue 11, item 14): a child that left the
// benchmark's session is killed when the benchmark times out.
func TestTimeoutKillsEscapedChild(t *testing.T) {
	dir := fixtureModule(t, map[string]string{"go.mod": fixtureGoMod, "escape/escape_test.go": escapeBench})
	tests := []struct {
		name    string
		escape  string
		isolate bool
	}{
		{"setsid", "setsid", false},
		{"setsid isolated", "setsid", true},
		// Without the marker in its environment, only the sandbox's
		// uid tells an orphan of ours: isolated only.
		{"orphan with no environment, isolated", "orphan", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.isolate {
				needIsolation(t)
			}
			mark := pidMark(t)
			res, err := Run(t.Context(), Config{
				Dir: dir, Count: 1, Benchtime: "1x", Timeout: 3 * time.Second, Isolate: tt.isolate,
				OutputDir: t.TempDir(), Env: append(os.Environ(), "FIXTURE_ESCAPE="+tt.escape, "FIXTURE_MARK="+mark),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) != 1 || res.Failures[0].Reason != "timeout" {
				t.Fatalf("failures = %+v, want one timeout", res.Failures)
			}
			checkKilled(t, mark)
		})
	}
}

// TestExitKillsEscapedChild: a benchmark that returns leaves no process
// behind either. This is the path of almost every run, where killTree
// first asks whether anything is left at all (leftNothing) before it
// reads the process table.
func TestExitKillsEscapedChild(t *testing.T) {
	dir := fixtureModule(t, map[string]string{"go.mod": fixtureGoMod, "escape/escape_test.go": escapeBench})
	tests := []struct {
		name    string
		escape  string
		isolate bool
	}{
		{"setsid", "setsid", false},
		{"orphan with no environment, isolated", "orphan", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.isolate {
				needIsolation(t)
			}
			mark := pidMark(t)
			res, err := Run(t.Context(), Config{
				Dir: dir, Count: 1, Benchtime: "1x", Isolate: tt.isolate, OutputDir: t.TempDir(),
				Env: append(os.Environ(), "FIXTURE_ESCAPE="+tt.escape, "FIXTURE_MARK="+mark, "FIXTURE_HANG=no"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) != 0 || !strings.Contains(string(res.Head), "BenchmarkEscape") {
				t.Fatalf("failures = %+v, head = %q: want the benchmark's result", res.Failures, res.Head)
			}
			checkKilled(t, mark)
		})
	}
}

// pidMark makes the file an escaping child writes its pid to, writable
// by the sandbox's user.
func pidMark(t *testing.T) string {
	t.Helper()
	mark := filepath.Join(testutil.SharedDir(t), "pid")
	if err := os.WriteFile(mark, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(mark, 0o666); err != nil {
		t.Fatal(err)
	}
	return mark
}

// checkKilled fails the test if the process whose pid the benchmark wrote
// to mark is still there (and then kills it).
func checkKilled(t *testing.T, mark string) {
	t.Helper()
	b, err := os.ReadFile(mark)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("the benchmark wrote no child pid: %q %v", b, err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the escaped child %d is still there after the run: %v", pid, err)
	}
}

// TestIsolatedBuildUsesTheGivenCaches: a workflow keeps the container's Go
// caches warm with actions/cache; the isolated user must build in them (and
// own what it writes there), not in a cache of its own that is lost.
func TestIsolatedBuildUsesTheGivenCaches(t *testing.T) {
	needIsolation(t)
	dir := fixtureModule(t, map[string]string{
		"go.mod":      "module example.com/cached\n\ngo 1.26\n",
		"c/c_test.go": "package c\n\nimport \"testing\"\n\nfunc BenchmarkC(b *testing.B) {\n\tfor b.Loop() {\n\t}\n}\n",
		"c/c.go":      "package c\n",
	})
	// As the runner's temp directory is: the runner's user's, and private.
	home := filepath.Join(t.TempDir(), "github-home")
	gocache := filepath.Join(home, ".cache", "go-build")
	if err := os.MkdirAll(gocache, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), Config{
		Dir: dir, Count: 1, Benchtime: "1x", Isolate: true, GoCache: gocache,
		OutputDir: filepath.Join(t.TempDir(), "out"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures)+len(res.BuildErrors) > 0 || len(metrics(t, res.Head, "C")) == 0 {
		t.Fatalf("no result: failures %+v, build errors %+v\n%s", res.Failures, res.BuildErrors, res.Head)
	}
	var files, others int
	err = filepath.WalkDir(gocache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != sandboxUID {
			others++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 || others > 0 {
		t.Errorf("GOCACHE %s holds %d files, %d not the sandbox user's; want the build's, all the user's", gocache, files, others)
	}
}
