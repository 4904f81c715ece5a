package runner

import (
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

// wdBench is a benchmark that writes the directory it runs in to
// $FIXTURE_WD/<side>: the test learns where each side was checked out.
func wdBench(side string) string {
	return `package wd

import (
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkWD(b *testing.B) {
	if d := os.Getenv("FIXTURE_WD"); d != "" {
		wd, _ := os.Getwd()
		os.WriteFile(filepath.Join(d, "` + side + `"), []byte(wd), 0o644)
	}
	for b.Loop() {}
}
`
}

// TestRunBaselineWorktreePath: without a sandbox, the baseline is
// checked out at one path per repository in the user's cache directory,
// so that the build cache finds its packages again; a run while another
// holds that path takes a temporary directory, and a crashed run's
// leftover at the path is replaced.
func TestRunBaselineWorktreePath(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	base := gittest.MustCommit(t, repo, map[string]string{"go.mod": fixtureGoMod, "wd/wd_test.go": wdBench("base")}, "base")
	gittest.MustCommit(t, repo, map[string]string{"wd/wd_test.go": wdBench("head")}, "head")
	cache := t.TempDir()
	stableRoot := filepath.Join(cache, "natsbench", "base")

	// run benchmarks the repository against its base and returns the
	// directory the base's benchmark ran in.
	run := func(t *testing.T) string {
		t.Helper()
		marks := t.TempDir()
		res, err := Run(t.Context(), Config{
			Dir: repo, Baseline: base, Count: 1, Benchtime: "1x", OutputDir: t.TempDir(),
			Env: append(os.Environ(), "XDG_CACHE_HOME="+cache, "FIXTURE_WD="+marks),
		})
		if err != nil {
			t.Fatal(err)
		}
		const wd = "example.com/fixture/wd WD"
		if got := counts(t, res.Base); !mapsEqual(got, map[string]int{wd: 1}) || len(res.BuildErrors) > 0 || len(res.Failures) > 0 {
			t.Fatalf("base results = %v, build errors %+v, failures %+v", got, res.BuildErrors, res.Failures)
		}
		if got := counts(t, res.Head); !mapsEqual(got, map[string]int{wd: 1}) {
			t.Fatalf("head results = %v", got)
		}
		b, err := os.ReadFile(filepath.Join(marks, "base"))
		if err != nil {
			t.Fatalf("the base's benchmark did not say where it ran: %v", err)
		}
		if n := worktrees(t, repo); n != 1 {
			t.Errorf("%d worktrees left, want 1", n)
		}
		return filepath.Dir(string(b)) // the worktree: the benchmark ran in wd/
	}
	// A run leaves only its test binaries in the cache directory.
	leftNothing := func(t *testing.T) {
		t.Helper()
		repos, err := os.ReadDir(stableRoot)
		if err != nil || len(repos) != 1 {
			t.Fatalf("in %s: %v %v, want one repository's directory", stableRoot, repos, err)
		}
		if left, err := os.ReadDir(filepath.Join(stableRoot, repos[0].Name())); err != nil || len(left) != 1 || left[0].Name() != "bin" {
			t.Errorf("left in %s: %v %v, want bin alone", repos[0].Name(), left, err)
		}
	}

	first := run(t)
	if !strings.HasPrefix(first, stableRoot+string(filepath.Separator)) || filepath.Base(first) != "tree" {
		t.Fatalf("the base ran in %s, want a tree in %s", first, stableRoot)
	}
	leftNothing(t)

	t.Run("same path again", func(t *testing.T) {
		if again := run(t); again != first {
			t.Errorf("the second run's base ran in %s, the first's in %s", again, first)
		}
		leftNothing(t)
	})

	t.Run("lock held", func(t *testing.T) {
		// Another run holds the path, as a second shard run locally would.
		dir := filepath.Dir(first)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		got := run(t)
		if got == first || strings.HasPrefix(got, cache) {
			t.Errorf("the base ran in %s while another run held %s", got, first)
		}
		if _, err := os.Stat(got); err == nil {
			t.Errorf("the temporary worktree %s is still there", got)
		}
		f.Close()
		os.Remove(filepath.Join(dir, "lock"))
	})

	t.Run("leftover replaced", func(t *testing.T) {
		// A crashed run left its worktree, registered with git, and a
		// file in it that is not the baseline's.
		gittest.Must(t, repo, "worktree", "add", "--quiet", "--detach", first, base)
		junk := filepath.Join(first, "wd", "junk_test.go")
		if err := os.WriteFile(junk, []byte("package wd\n\nfunc BenchmarkJunk(b *testing.B) {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := run(t); got != first {
			t.Errorf("the base ran in %s, want %s", got, first)
		}
		leftNothing(t)
	})

	t.Run("leftover directory replaced", func(t *testing.T) {
		// Not a worktree at all: a directory git knows nothing of.
		if err := os.MkdirAll(filepath.Join(first, "stray"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := run(t); got != first {
			t.Errorf("the base ran in %s, want %s", got, first)
		}
		leftNothing(t)
	})
}

func TestUserCacheDir(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("the cache is under HOME/Library/Caches here")
	}
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/h", "XDG_CACHE_HOME=/x"}, "/x"},
		{[]string{"HOME=/h"}, "/h/.cache"},
		{[]string{"HOME=/h", "XDG_CACHE_HOME=relative"}, "/h/.cache"},
		{[]string{"XDG_CACHE_HOME=/x", "XDG_CACHE_HOME=/y"}, "/y"},
		{[]string{"HOME="}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := userCacheDir(tt.env); got != tt.want {
			t.Errorf("userCacheDir(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestRunKeepsTestBinaries: with the stable baseline path, the test
// binaries stay beside it, so that the next run's go test -c finds them
// up to date and does not link them again; a package that no longer
// compiles is reported as such, never run from an earlier run's binary.
func TestRunKeepsTestBinaries(t *testing.T) {
	pkg := func(name, body string) string {
		return "package " + name + "\n\nimport \"testing\"\n\nfunc BenchmarkX(b *testing.B) {\n\tfor b.Loop() {\n\t\t" + body + "\n\t}\n}\n"
	}
	repo := filepath.Join(t.TempDir(), "repo")
	files := map[string]string{
		"go.mod":        fixtureGoMod,
		"p1/p1_test.go": pkg("p1", "_ = 1"),
		"p2/p2_test.go": pkg("p2", "_ = 2"),
	}
	base := gittest.MustCommit(t, repo, files, "base")
	cache := t.TempDir()
	run := func(t *testing.T) *Result {
		t.Helper()
		res, err := Run(t.Context(), Config{
			Dir: repo, Baseline: base, Count: 1, Benchtime: "1x", OutputDir: t.TempDir(),
			Env: append(os.Environ(), "XDG_CACHE_HOME="+cache),
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// binaries returns each kept binary's inode. A link writes a new
	// file (the go command removes the old one first); an up-to-date
	// binary is only touched.
	binaries := func(t *testing.T) map[string]string {
		t.Helper()
		ids := map[string]string{}
		root := filepath.Join(cache, "natsbench", "base")
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".test") {
				return err
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			sys := st.Sys().(*syscall.Stat_t)
			ids[strings.TrimPrefix(path, root)] = strconv.FormatUint(sys.Ino, 10)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	if res := run(t); len(res.BuildErrors) > 0 || len(counts(t, res.Base)) != 2 || len(counts(t, res.Head)) != 2 {
		t.Fatalf("first run: base %v, head %v, build errors %+v", counts(t, res.Base), counts(t, res.Head), res.BuildErrors)
	}
	first := binaries(t)
	if len(first) < 4 {
		t.Fatalf("kept binaries %v, want the two packages' on both sides", first)
	}
	run(t)
	if again := binaries(t); !maps.Equal(again, first) {
		t.Errorf("the second run wrote its binaries again:\n%v\nwant\n%v", again, first)
	}

	// The head's p2 stops compiling: its binary of the runs before is
	// still in the directory, and must not be run.
	if err := os.WriteFile(filepath.Join(repo, "p2", "p2_test.go"), []byte(pkg("p2", "undefined()")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t)
	if got := counts(t, res.Head); !mapsEqual(got, map[string]int{"example.com/fixture/p1 X": 1}) {
		t.Errorf("head results %v, want p1's alone", got)
	}
	if len(res.BuildErrors) != 1 || res.BuildErrors[0].Package != "example.com/fixture/p2" || res.BuildErrors[0].Side != Head {
		t.Errorf("build errors %+v, want the head's p2", res.BuildErrors)
	}
}
