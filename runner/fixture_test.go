package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

// The fixture module is one git repository shared by the tests: its first
// commit is the baseline, its second the head.
const fixtureGoMod = "module example.com/fixture\n\ngo 1.26\n"

// work is the CPU-bound loop the fixture benchmarks spend their time in.
const fixtureWork = `package work

// Spin does n units of fixed work and returns a value the compiler
// cannot drop.
func Spin(n int) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < n*1000; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	return h
}
`

var fixtureBase = map[string]string{
	"go.mod":            fixtureGoMod,
	"work/work.go":      fixtureWork,
	"a/a.go":            "package a\n",
	"a/testdata/in.txt": "fixture input\n",
	"a/a_test.go": `package a

import (
	"os"
	"testing"

	"example.com/fixture/work"
)

var sink uint64

func BenchmarkChanged(b *testing.B) { for b.Loop() { sink += work.Spin(10) } }

func BenchmarkSame(b *testing.B) {
	// Reads testdata: the benchmark must run in its package directory.
	if _, err := os.ReadFile("testdata/in.txt"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() { sink += work.Spin(5) }
}

func BenchmarkRemoved(b *testing.B) { for b.Loop() { sink += work.Spin(1) } }
func BenchmarkFail(b *testing.B)    { for b.Loop() { sink += work.Spin(1) } }
func BenchmarkPanic(b *testing.B)   { for b.Loop() { sink += work.Spin(1) } }
func BenchmarkAfter(b *testing.B)   { for b.Loop() { sink += work.Spin(1) } }

func TestNothing(t *testing.T) {}
`,
	"gone/gone_test.go": `package gone

import "testing"

func BenchmarkGone(b *testing.B) { for b.Loop() {} }
`,
	"broken/broken_test.go": `package broken

import "testing"

func BenchmarkBroken(b *testing.B) { for b.Loop() {} }
`,
	"nobench/nobench_test.go": `package nobench

import "testing"

func TestOnly(t *testing.T) {}
`,
	"natsb/natsb_test.go": `package natsb

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

// BenchmarkDial checks that NATS_URL names a live NATS server with
// JetStream: it reads the server's INFO line over plain TCP.
func BenchmarkDial(b *testing.B) {
	raw := os.Getenv("NATS_URL")
	if raw == "" {
		b.Skip("NATS_URL not set")
	}
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "INFO ") || !strings.Contains(line, ` + "`" + `"jetstream":true` + "`" + `) {
			b.Fatalf("no NATS INFO with JetStream: %q %v", line, err)
		}
	}
}
`,
	"hang/hang_test.go": `package hang

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHang hangs when FIXTURE_HANG is set, after writing its pid to
// FIXTURE_MARK, so that tests can time it out or cancel it.
func BenchmarkHang(b *testing.B) {
	if os.Getenv("FIXTURE_HANG") == "" {
		for b.Loop() {}
		return
	}
	if m := os.Getenv("FIXTURE_MARK"); m != "" {
		os.WriteFile(m, []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	time.Sleep(time.Hour)
}
`,
}

// fixtureHead is applied on top of fixtureBase: "" deletes a file.
var fixtureHead = map[string]string{
	"a/a_test.go": `package a

import (
	"os"
	"testing"

	"example.com/fixture/work"
)

var sink uint64

func BenchmarkChanged(b *testing.B) { for b.Loop() { sink += work.Spin(20) } }

func BenchmarkSame(b *testing.B) {
	if _, err := os.ReadFile("testdata/in.txt"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() { sink += work.Spin(5) }
}

func BenchmarkAdded(b *testing.B) { for b.Loop() { sink += work.Spin(1) } }
func BenchmarkFail(b *testing.B)  { b.Fatal("fixture failure") }
func BenchmarkPanic(b *testing.B) { panic("fixture panic") }
func BenchmarkAfter(b *testing.B) { for b.Loop() { sink += work.Spin(1) } }

func TestNothing(t *testing.T) {}
`,
	"gone/gone_test.go": "",
	"fresh/fresh_test.go": `package fresh

import "testing"

func BenchmarkFresh(b *testing.B) { for b.Loop() {} }
`,
	"broken/broken_test.go": `package broken

import "testing"

func BenchmarkBroken(b *testing.B) { for b.Loop() { undefinedThing() } }
`,
}

// fixtureRepo is the shared fixture: made once, removed by TestMain.
type fixtureRepo struct {
	dir           string
	baseSHA, head string
}

var (
	fixtureOnce sync.Once
	fixture     fixtureRepo
	fixtureErr  error
	fixtureRoot string
)

func TestMain(m *testing.M) {
	// The runner keeps the baseline's worktree in the user's cache
	// directory: the tests' is one of their own. GOCACHE, which would
	// follow XDG_CACHE_HOME, stays the warm build cache.
	cache, err := os.MkdirTemp("", "natsbench-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Getenv("GOCACHE") == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOCACHE:", err)
			os.Exit(1)
		}
		os.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.RemoveAll(cache)
	os.Exit(code)
}

// sharedFixture returns the fixture repository, making it on first use.
func sharedFixture(t *testing.T) fixtureRepo {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureRoot, fixtureErr = os.MkdirTemp("", "natsbench-fixture-")
		if fixtureErr != nil {
			return
		}
		dir := filepath.Join(fixtureRoot, "repo")
		fixture.dir = dir
		fixture.baseSHA, fixtureErr = gittest.Commit(dir, fixtureBase, "base")
		if fixtureErr != nil {
			return
		}
		fixture.head, fixtureErr = gittest.Commit(dir, fixtureHead, "head")
	})
	if fixtureErr != nil {
		t.Fatalf("making fixture: %v", fixtureErr)
	}
	return fixture
}

// worktrees returns the number of worktrees of the repository in dir.
func worktrees(t *testing.T, dir string) int {
	t.Helper()
	out, err := gittest.Git(dir, "worktree", "list", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(out, "worktree ")
}

var _ = context.Background
