package runner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loudBench prints 400 MiB in 64 KiB lines, once, before its loop; Quiet
// runs after it.
const loudBench = `package loud

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

var once sync.Once

func BenchmarkLoud(b *testing.B) {
	once.Do(func() {
		line := append(bytes.Repeat([]byte("x"), 64<<10-1), '\n')
		for range 6400 {
			os.Stdout.Write(line)
		}
	})
	for b.Loop() {
	}
}

func BenchmarkQuiet(b *testing.B) {
	for b.Loop() {
	}
}
`

// rssChildEnv names the fixture directory in the test binary run again
// by TestOutputMemoryBounded, so that the peak measured is of that run alone.
const rssChildEnv = "NATSBENCH_RSS_FIXTURE"

// TestOutputMemoryBounded (issue 11, item 6): 400 MiB of benchmark output
// keep the runner's peak RSS under 200 MB; before, it was held whole and
// copied (2.16 GB). The run is measured in a process of its own, the test
// binary run again, by its VmHWM.
func TestOutputMemoryBounded(t *testing.T) {
	if dir := os.Getenv(rssChildEnv); dir != "" {
		res, err := Run(t.Context(), Config{Dir: dir, Count: 1, Benchtime: "1x", OutputDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(t, res.Head); got["example.com/fixture/loud Quiet"] != 1 || len(res.Failures) > 0 {
			t.Errorf("results %v, failures %+v: want Quiet's result and no failure", got, res.Failures)
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				t.Log(l)
			}
		}
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc to read the peak RSS from")
	}
	dir := fixtureModule(t, map[string]string{"go.mod": fixtureGoMod, "loud/loud_test.go": loudBench})
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutputMemoryBounded$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the measured run failed: %v\n%s", err, tail(string(out), 4000))
	}
	var kb int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if _, v, ok := strings.Cut(sc.Text(), "VmHWM:"); ok {
			kb, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	if kb == 0 {
		t.Fatalf("no VmHWM in the measured run's output:\n%s", tail(string(out), 4000))
	}
	t.Logf("peak RSS of a run whose benchmark printed 400 MiB: %d kB", kb)
	if kb*1024 >= 200e6 {
		t.Errorf("peak RSS %d kB, want under 200 MB", kb)
	}
}

// longBench prints one line of 17 MiB: over the scanner's old 16 MiB
// limit, which lost every result of the run without a word.
const longBench = `package long

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkLong(b *testing.B) {
	os.Stdout.Write(append(append([]byte("\n"), bytes.Repeat([]byte("y"), 17<<20)...), '\n'))
	for b.Loop() {
	}
}

func BenchmarkAfterLong(b *testing.B) {
	for b.Loop() {
	}
}
`

// TestLongLineIsFailure (issue 11, item 7): a 17 MiB line is a recorded
// failure of the benchmark that printed it, and the other results stay.
func TestLongLineIsFailure(t *testing.T) {
	dir := fixtureModule(t, map[string]string{"go.mod": fixtureGoMod, "long/long_test.go": longBench})
	res, err := Run(t.Context(), Config{Dir: dir, Count: 2, Benchtime: "1x", OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 1 {
		t.Fatalf("failures = %+v, want one", res.Failures)
	}
	f := res.Failures[0]
	if f.Benchmark != "Long" || f.Reason != "failed" || !strings.Contains(f.Output, "over the 1048576-byte limit") {
		t.Errorf("failure = %+v", f)
	}
	if got := counts(t, res.Head); got["example.com/fixture/long AfterLong"] != 2 || got["example.com/fixture/long Long"] != 0 {
		t.Errorf("results %v: want AfterLong twice and no Long", got)
	}
}

func TestLineWriterBounds(t *testing.T) {
	var lines []string
	var long []int
	w := &lineWriter{line: func(l string) { lines = append(lines, l) }, long: func(n int) { long = append(long, n) }}
	in := "a\n" + strings.Repeat("z", maxLine+1) + "\nb\nc"
	// In small writes, as a pipe delivers them.
	for chunk := range slicesChunk([]byte(in), 4096) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	w.flush()
	if strings.Join(lines, ",") != "a,b,c" || len(long) != 1 || long[0] != maxLine+1 {
		t.Errorf("lines %q, long %v", lines, long)
	}
	// Past maxOutput in all, Write refuses.
	buf := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	var err error
	for n := 0; n <= maxOutput/len(buf) && err == nil; n++ {
		_, err = w.Write(buf)
	}
	if !errors.Is(err, errOutputTooLarge) {
		t.Errorf("after %d MiB: %v, want errOutputTooLarge", maxOutput>>20, err)
	}
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			c := b[:min(n, len(b))]
			b = b[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

// TestCommandStopsOnRefusedOutput: a writer that refuses more output
// ends the command, rather than reading on forever.
func TestCommandStopsOnRefusedOutput(t *testing.T) {
	out := &limitedBuffer{max: 1 << 20}
	r := command{dir: t.TempDir(), env: os.Environ(), timeout: time.Minute, out: out}.run(t.Context(), "yes")
	if !errors.Is(r.err, errOutputTooLarge) || r.timedOut {
		t.Errorf("run = %+v, want errOutputTooLarge", r)
	}
}

// TestBuildTimeout (issue 11, item 13): a go command that hangs (here on
// a toolchain download from a proxy that never answers) is stopped by
// BuildTimeout and reported as the package's build error.
func TestBuildTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	dir := fixtureModule(t, map[string]string{
		"go.mod":      "module example.com/fixture\n\ngo 1.99.0\n",
		"p/p_test.go": "package p\n\nimport \"testing\"\n\nfunc BenchmarkP(b *testing.B) {}\n",
	})
	res, err := Run(t.Context(), Config{
		Dir: dir, Count: 1, Benchtime: "1x", BuildTimeout: 3 * time.Second, OutputDir: t.TempDir(),
		Env: append(os.Environ(), "GOTOOLCHAIN=auto", "GOPROXY="+srv.URL, "GOSUMDB=off", "GONOSUMCHECK=1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BuildErrors) != 1 || !strings.Contains(res.BuildErrors[0].Output, "timed out after 3s") {
		t.Errorf("build errors = %+v, want go list timed out", res.BuildErrors)
	}
}

func TestProgressNeutralisesCommands(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 1, 0)
	p.printf("baseline %s", "x\n::error::pwned\n  ::add-mask::x\nok ##[set-output name=a;]b")
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::") || strings.Contains(l, "##[") {
			t.Errorf("a workflow command got through: %q", l)
		}
	}
	if !strings.Contains(buf.String(), "> ::error::pwned") {
		t.Errorf("the text is lost:\n%s", buf.String())
	}
}

// TestProfileSmall: a profile that decompresses past maxProfileData (a
// gzip bomb a benchmark could write) is not parsed.
func TestProfileSmall(t *testing.T) {
	write := func(name string, n int) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		gz.Write(make([]byte, n))
		gz.Close()
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if !profileSmall(write("ok.pprof", 1<<20)) {
		t.Error("a 1 MiB profile was refused")
	}
	if profileSmall(write("bomb.pprof", maxProfileData+1)) {
		t.Error("a profile decompressing past maxProfileData was accepted")
	}
}

// TestTimeoutQuitExitZero: a process that exits 0 when asked to quit on
// its timeout is still a timeout, and the run returns.
func TestTimeoutQuitExitZero(t *testing.T) {
	c := command{dir: t.TempDir(), env: os.Environ(), timeout: time.Second, quit: true}
	r := c.run(t.Context(), "/bin/sh", "-c", `trap "exit 0" QUIT; sleep 100 & wait`)
	if !r.timedOut {
		t.Errorf("run = %+v, want timedOut", r)
	}
}
