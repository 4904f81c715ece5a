package runner

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOutput(t *testing.T) {
	const head = "goos: linux\ngoarch: amd64\npkg: example.com/m/p\ncpu: Some CPU   \n"
	tests := []struct {
		name    string
		out     string
		results []string // names of the kept results
		failed  []string
		started string
		crashed bool
	}{
		{
			name:    "pass",
			out:     head + "BenchmarkA-2   \t     100\t     12.5 ns/op\t       0 B/op\t       0 allocs/op\nBenchmarkB/n=1-2 \t 5\t 3 ns/op\nPASS\nok  \texample.com/m/p\t0.1s\n",
			results: []string{"BenchmarkA-2", "BenchmarkB/n=1-2"},
		},
		{
			name:    "fatal",
			out:     head + "BenchmarkA-2 \t 1\t 2 ns/op\n--- FAIL: BenchmarkF\n    f_test.go:6: boom\nBenchmarkC-2 \t 1\t 2 ns/op\nFAIL\n",
			results: []string{"BenchmarkA-2", "BenchmarkC-2"},
			failed:  []string{"BenchmarkF"},
		},
		{
			name:   "sub-benchmark fatal names the sub-benchmark",
			out:    head + "--- FAIL: BenchmarkS\n    --- FAIL: BenchmarkS/n=2\n        s_test.go:9: boom\nFAIL\n",
			failed: []string{"BenchmarkS/n=2"},
		},
		{
			name:    "panic after the name",
			out:     head + "BenchmarkA-2 \t 1\t 2 ns/op\nBenchmarkP-2   \tpanic: boom\n\ngoroutine 7 [running]:\nexample.com/m/p.BenchmarkP(0xc0?)\n\t/x/p_test.go:7 +0x25\ntesting.(*B).runN(0xc0, 0x1)\n",
			results: []string{"BenchmarkA-2"},
			started: "BenchmarkP-2",
			crashed: true,
		},
		{
			name:    "panic racing a result line",
			out:     head + "BenchmarkA-2 \t 1\t 2 ns/op\nBenchmarkP-2   \t 1\t 0 B/op\t 0 allocs/op\npanic: boom\n\ngoroutine 7 [running]:\nexample.com/m/p.BenchmarkP(0xc0?)\n\t/x/p_test.go:7 +0x25\ntesting.(*B).runN(0xc0, 0x1)\n",
			results: []string{"BenchmarkA-2"},
			started: "BenchmarkP",
			crashed: true,
		},
		{
			name:    "panic before the name is printed, in a helper of a sub-benchmark",
			out:     head + "BenchmarkA-2 \t 1\t 2 ns/op\npanic: boom [recovered]\n\ngoroutine 9 [running]:\nexample.com/m/p.helper(...)\n\t/x/p_test.go:3\nexample.com/m/p.BenchmarkQ.func1(0xc0?)\n\t/x/p_test.go:7 +0x25\ntesting.(*B).runN(0xc0, 0x1)\n\t/go/testing/benchmark.go:219\n",
			results: []string{"BenchmarkA-2"},
			started: "BenchmarkQ",
			crashed: true,
		},
		{
			name:    "quit on timeout",
			out:     head + "BenchmarkH-2 \tSIGQUIT: quit\nPC=0x47 m=0 sigcode=0\n\ngoroutine 1 [chan receive]:\ntesting.(*B).run1(0xc0)\n\t/go/testing/benchmark.go:245\n\ngoroutine 8 [sleep]:\ntime.Sleep(0x34630b8a000)\n\t/go/runtime/time.go:363\nexample.com/m/p.BenchmarkH(0xc0)\n\t/x/h_test.go:9\ntesting.(*B).runN(0xc0, 0x1)\n",
			started: "BenchmarkH-2",
			crashed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parseOutput([]byte(tt.out))
			var names []string
			for _, l := range o.results {
				names = append(names, strings.Fields(l)[0])
			}
			if !slices.Equal(names, tt.results) || !slices.Equal(o.failed, tt.failed) || o.started != tt.started || o.crashed != tt.crashed {
				t.Errorf("got results %q failed %q started %q crashed %v; want %q %q %q %v",
					names, o.failed, o.started, o.crashed, tt.results, tt.failed, tt.started, tt.crashed)
			}
			if o.headers["pkg"] != "example.com/m/p" || o.headers["cpu"] != "Some CPU" {
				t.Errorf("headers = %v", o.headers)
			}
		})
	}
}

func TestParseOutputTexts(t *testing.T) {
	o := parseOutput([]byte("BenchmarkA-2 \t 1\t 2 ns/op\n--- FAIL: BenchmarkF\n    f_test.go:6: boom\n    f_test.go:7: more\nBenchmarkC-2 \t 1\t 2 ns/op\n" +
		"BenchmarkP-2   \tpanic: bad thing\n\ngoroutine 7 [running]:\nexample.com/m/p.BenchmarkP(0xc0?)\n"))
	if got, want := o.failText["BenchmarkF"], "--- FAIL: BenchmarkF\n    f_test.go:6: boom\n    f_test.go:7: more"; got != want {
		t.Errorf("fail text = %q, want %q", got, want)
	}
	if want := "panic: bad thing\n\ngoroutine 7 [running]:\nexample.com/m/p.BenchmarkP(0xc0?)"; o.crashText != want {
		t.Errorf("crash text = %q, want %q", o.crashText, want)
	}
}

func TestPatterns(t *testing.T) {
	splits := map[string][]string{
		".":             {"."},
		"A/n=1":         {"A", "n=1"},
		"(A/B)|C/x":     {"(A/B)|C", "x"},
		`[/]x/y`:        {`[/]x`, "y"},
		`A\/B/c`:        {`A\/B`, "c"},
		"Encode/size=/": {"Encode", "size=", ""},
	}
	for in, want := range splits {
		if got := splitLevels(in); !slices.Equal(got, want) {
			t.Errorf("splitLevels(%q) = %q, want %q", in, got, want)
		}
	}
	names := []string{"BenchmarkEncode", "BenchmarkDecode", "BenchmarkEncodeAll"}
	if got := selectBenchmarks("Encode/size=1", names); !slices.Equal(got, []string{"BenchmarkEncode", "BenchmarkEncodeAll"}) {
		t.Errorf("selectBenchmarks = %q", got)
	}
	if got := narrowPattern("Encode/size=1", []string{"BenchmarkEncode", "BenchmarkX.Y"}); got != `^(?:BenchmarkEncode|BenchmarkX\.Y)$/size=1` {
		t.Errorf("narrowPattern = %q", got)
	}
	for in, want := range map[string]string{"BenchmarkA-2": "A", "BenchmarkS/n=1-16": "S/n=1", "BenchmarkF": "F"} {
		if got := reportName(in); got != want {
			t.Errorf("reportName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReproduceCommand(t *testing.T) {
	c := Config{Count: 5, Benchtime: "100ms", Bench: "Foo|Bar", Packages: []string{"./...", "./x"}}
	got := reproduce(c, "abc123")
	want := "go run github.com/natsbench/natsbench-action@latest -baseline abc123 -count 5 -benchtime 100ms -bench 'Foo|Bar' -packages ./...,./x -nats=false"
	if got != want {
		t.Errorf("reproduce =\n%s\nwant\n%s", got, want)
	}
	c.MinCount, c.TimeBudget = 2, 90*time.Second
	got = reproduce(c, "abc123")
	want = "go run github.com/natsbench/natsbench-action@latest -baseline abc123 -count 5 -min-count 2 -time-budget 1m30s -benchtime 100ms -bench 'Foo|Bar' -packages ./...,./x -nats=false"
	if got != want {
		t.Errorf("reproduce, sequential =\n%s\nwant\n%s", got, want)
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote = %s", got)
	}
}

func TestStartNATS(t *testing.T) {
	u, stop, err := StartNATS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(parsed.Host, "127.0.0.1:") || parsed.Port() == "4222" {
		t.Fatalf("url %q: want loopback and a random port (%v)", u, err)
	}
	c, err := net.Dial("tcp", parsed.Host)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(line, "INFO ") || !strings.Contains(line, `"jetstream":true`) {
		t.Errorf("INFO line %q, %v", line, err)
	}
	before, _ := os.ReadDir(os.TempDir())
	stop()
	if _, err := net.DialTimeout("tcp", parsed.Host, time.Second); err == nil {
		t.Error("server still accepts connections after stop")
	}
	after, _ := os.ReadDir(os.TempDir())
	if countPrefix(after, "natsbench-nats-") >= countPrefix(before, "natsbench-nats-") && countPrefix(before, "natsbench-nats-") > 0 {
		t.Error("stop left the JetStream store directory behind")
	}
}

func countPrefix(entries []os.DirEntry, prefix string) int {
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

func TestHasBenchmarks(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      bool
	}{
		{"benchmark", "package p\nimport \"testing\"\nfunc BenchmarkX(b *testing.B) {}\n", true},
		{"bare name", "package p\nimport \"testing\"\nfunc Benchmark(b *testing.B) {}\n", true},
		{"quoted in a string", "package p\nconst src = `\nfunc BenchmarkX(b *testing.B) {}\n`\n", false},
		{"lower-case suffix is no benchmark", "package p\nimport \"testing\"\nfunc Benchmarking(b *testing.B) {}\n", false},
		{"method", "package p\nimport \"testing\"\ntype T struct{}\nfunc (T) BenchmarkX(b *testing.B) {}\n", false},
		{"syntax error is built to show it", "package p\nfunc BenchmarkX(\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := hasBenchmarks(dir); got != c.want {
				t.Errorf("hasBenchmarks = %v, want %v", got, c.want)
			}
		})
	}
}
