// Command calibrate measures how well the runner's interleaved rounds,
// judged by package compare, tell real changes from noise on this
// machine, for several (count, benchtime) settings. It is how
// runner.DefaultCount and runner.DefaultBenchtime were chosen; see
// docs/STATISTICS.md. It is not part of go test: it takes minutes.
//
//	go run ./internal/calibrate -settings 5x50ms,10x100ms -reps 3
//
// A setting written 40x20ms/10, or every setting with -min-count 10, runs
// sequentially (min-count 10, count 40): a benchmark stops once its rows
// are settled, as with the action's min-count input, and the tables say
// how many rounds the rows got. `-settings 40x20ms,40x20ms/10` measures
// the fixed and the sequential design side by side.
//
// It makes a fixture module in a temporary git repository: six benchmarks
// that are identical on base and head (the A/A rows, where any verdict
// other than "unchanged" is a false alarm) and three whose head does 5%,
// 10% and 20% more work than their base.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/internal/app"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "calibrate:", err)
		os.Exit(1)
	}
}

// setting is one (count, benchtime) pair under test, sequential from
// minCount rounds on when minCount is set.
type setting struct {
	count     int
	benchtime string
	minCount  int
}

func (s setting) String() string {
	if s.minCount > 0 {
		return fmt.Sprintf("%dx%s/%d", s.count, s.benchtime, s.minCount)
	}
	return fmt.Sprintf("%dx%s", s.count, s.benchtime)
}

// parseSettings reads COUNTxBENCHTIME settings, each optionally
// /MINCOUNT (sequential); minCount applies to those without one.
func parseSettings(s string, minCount int) ([]setting, error) {
	var out []setting
	for _, f := range strings.Split(s, ",") {
		f, mc, seq := strings.Cut(strings.TrimSpace(f), "/")
		c, bt, ok := strings.Cut(f, "x")
		n, err := strconv.Atoi(c)
		if !ok || err != nil || n < 1 || bt == "" {
			return nil, fmt.Errorf("setting %q: want COUNTxBENCHTIME like 10x100ms, or 40x20ms/10 for min-count 10", f)
		}
		m := minCount
		if seq {
			if m, err = strconv.Atoi(mc); err != nil || m < 2 || m >= n {
				return nil, fmt.Errorf("setting %q: min-count %q must be between 2 and the count less one", f, mc)
			}
		}
		if m >= n {
			m = 0
		}
		out = append(out, setting{n, bt, m})
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settingsFlag := fs.String("settings", "5x50ms,10x20ms,10x50ms,6x100ms,10x100ms,20x50ms", "comma-separated COUNTxBENCHTIME settings")
	reps := fs.Int("reps", 3, "repetitions of every setting (each with a new random order seed)")
	keep := fs.String("keep", "", "directory to keep the fixture and every run's base.txt/head.txt in (default: a temporary one)")
	minCount := fs.Int("min-count", 0, "run sequentially: from this many rounds on, benchmarks whose rows are settled stop (0: every round runs every benchmark)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	settings, err := parseSettings(*settingsFlag, *minCount)
	if err != nil {
		return err
	}
	root := *keep
	if root == "" {
		if root, err = os.MkdirTemp("", "natsbench-calibrate-"); err != nil {
			return err
		}
		defer os.RemoveAll(root)
	}
	repo := filepath.Join(root, "fixture")
	if err := makeFixture(repo); err != nil {
		return fmt.Errorf("making the fixture: %w", err)
	}
	base, err := gittest.Git(repo, "rev-parse", "HEAD~1")
	if err != nil {
		return err
	}

	type tally struct {
		runs, aaRows, falseAlarms int
		aaRounds, plusRounds      int       // rounds the A/A and Plus rows got, summed
		orderRatios               []float64 // first/second of each round, A/A rows
		detected                  map[string]int
		deltas                    map[string][]float64
		wall                      time.Duration
	}
	tallies := map[setting]*tally{}
	var allRatios []float64
	fmt.Fprintln(stdout, "| setting | rep | load before/after | wall | false alarms (A/A rows) | +5% | +10% | +20% |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|")
	for rep := 1; rep <= *reps; rep++ {
		// Settings run in turn within a repetition, so that a noisy
		// stretch of the shared machine hits all of them.
		for _, s := range settings {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			out := filepath.Join(root, "runs", fmt.Sprintf("%s-rep%d", s, rep))
			loadBefore := loadavg()
			rc := runner.Config{
				Dir: repo, Baseline: base, Count: s.count, Benchtime: s.benchtime,
				OutputDir: out,
			}
			opt := compare.Options{}
			var settler *app.Settler
			if s.minCount > 0 {
				// The action's defaults, with the plan of the looks.
				opt = compare.Options{Alpha: app.DefaultAlpha, Threshold: app.DefaultThreshold,
					Plan: compare.Plan{MinRounds: s.minCount, MaxRounds: s.count}}
				settler = app.NewSettler(opt)
				rc.MinCount, rc.Settle = s.minCount, settler.Settle
			}
			res, err := runner.Run(ctx, rc)
			if err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			in := app.CompareInput(res, opt, compare.Config{})
			if settler != nil {
				in.Stopped = settler.Stopped()
			}
			rep2, err := compare.Compute(in)
			if err != nil {
				return fmt.Errorf("%s: comparing: %w", s, err)
			}
			t := tallies[s]
			if t == nil {
				t = &tally{detected: map[string]int{}, deltas: map[string][]float64{}}
				tallies[s] = t
			}
			t.runs++
			t.wall += res.Elapsed
			t.orderRatios = append(t.orderRatios, orderRatios(res)...)
			allRatios = append(allRatios, orderRatios(res)...)
			alarms, cells := 0, map[string]string{}
			for _, r := range rep2.Benchmarks {
				if r.Unit != "sec/op" {
					continue
				}
				changed := r.Verdict == compare.Regression || r.Verdict == compare.Improvement
				d := math.NaN()
				if r.DeltaPct != nil {
					d = *r.DeltaPct
				}
				p := math.NaN()
				if r.PAdjusted != nil {
					p = *r.PAdjusted
				}
				switch {
				case strings.HasPrefix(r.Name, "AA"):
					t.aaRows++
					t.aaRounds += rowRounds(r)
					if changed {
						alarms++
						t.falseAlarms++
					}
				case strings.HasPrefix(r.Name, "Plus"):
					key := strings.TrimPrefix(r.Name, "Plus")[:2] // "Plus05-2" -> "05"
					mark := "missed"
					if r.Verdict == compare.Regression {
						mark = "found"
						t.detected[key]++
					}
					t.deltas[key] = append(t.deltas[key], d)
					t.plusRounds += rowRounds(r)
					cells[key] = fmt.Sprintf("%s %+.1f%% (p=%.3f)", mark, d, p)
				}
			}
			fmt.Fprintf(stdout, "| %s | %d | %s/%s | %s | %d | %s | %s | %s |\n", s, rep, loadBefore, loadavg(),
				res.Elapsed.Round(time.Second), alarms, cells["05"], cells["10"], cells["20"])
		}
	}

	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "| setting | mean wall | false alarms / A/A rows | +5% found | +10% found | +20% found | median measured Δ (5/10/20) | A/A time of the side run first / second (median, n) | mean rounds A/A / Plus |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|")
	for _, s := range settings {
		t := tallies[s]
		if t == nil {
			continue
		}
		fmt.Fprintf(stdout, "| %s | %s | %d/%d | %d/%d | %d/%d | %d/%d | %+.1f%% / %+.1f%% / %+.1f%% | %.3f (%d) | %.1f / %.1f |\n", s,
			(t.wall / time.Duration(t.runs)).Round(time.Second), t.falseAlarms, t.aaRows,
			t.detected["05"], t.runs, t.detected["10"], t.runs, t.detected["20"], t.runs,
			median(t.deltas["05"]), median(t.deltas["10"]), median(t.deltas["20"]),
			median(t.orderRatios), len(t.orderRatios),
			float64(t.aaRounds)/float64(max(t.aaRows, 1)), float64(t.plusRounds)/float64(max(3*t.runs, 1)))
	}
	fmt.Fprintf(stdout, "\nAll settings: A/A time of the side run first / second in a round: median %.3f over %d pairs.\n",
		median(allRatios), len(allRatios))
	return nil
}

// rowRounds is the rounds a row got: the smaller of its samples.
func rowRounds(r compare.Row) int {
	if r.Base == nil || r.Head == nil {
		return 0
	}
	return min(r.Base.N, r.Head.N)
}

// orderRatios returns, for every A/A benchmark and round, the time of the
// side that ran first in the round divided by that of the side that ran
// second: a median away from 1 means the position in a round matters.
func orderRatios(res *runner.Result) []float64 {
	base, head := nsPerOp(res.Base), nsPerOp(res.Head)
	var out []float64
	for name, b := range base {
		h := head[name]
		if !strings.HasPrefix(name, "AA") || len(b) != len(res.Orders) || len(h) != len(res.Orders) {
			continue
		}
		for i, o := range res.Orders {
			if o[0] == runner.Base {
				out = append(out, b[i]/h[i])
			} else {
				out = append(out, h[i]/b[i])
			}
		}
	}
	return out
}

// nsPerOp reads the ns/op values of a benchmark file, in file order (which
// is round order), by benchmark name.
func nsPerOp(data []byte) map[string][]float64 {
	out := map[string][]float64{}
	r := benchfmt.NewReader(bytes.NewReader(data), "")
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		v, ok := res.Value("sec/op")
		if !ok {
			v, ok = res.Value("ns/op")
		}
		if ok {
			name := string(res.Name.Base())
			out[name] = append(out[name], v)
		}
	}
	return out
}

// loadavg returns the machine's one-minute load average, the measure of
// how much other work competed with the benchmarks ("?" where unknown).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// calibWork is the CPU-bound loop of the fixture: n iterations of a
// multiply-xor hash, about 1ns each, nothing the compiler can remove.
const calibWork = `package cal

// Spin does n iterations of fixed work.
func Spin(n int) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < n; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	return h
}

// Fill allocates and fills a slice: work that involves the allocator and
// the garbage collector, whose noise differs from pure computation.
func Fill(n int) int {
	s := make([]int, 0, 16)
	for i := 0; i < n; i++ {
		s = append(s, i)
	}
	return len(s)
}
`

// calibBench returns the fixture's benchmarks; the Plus rows do
// 1.05, 1.10 and 1.20 times the base work on head.
func calibBench(head bool) string {
	scale := func(n int, f float64) int {
		if head {
			return int(math.Round(float64(n) * f))
		}
		return n
	}
	return fmt.Sprintf(`package cal

import "testing"

var sink uint64

func BenchmarkAATiny(b *testing.B)  { for b.Loop() { sink += Spin(1000) } }
func BenchmarkAASmall(b *testing.B) { for b.Loop() { sink += Spin(10000) } }
func BenchmarkAAMid(b *testing.B)   { for b.Loop() { sink += Spin(50000) } }
func BenchmarkAAMid2(b *testing.B)  { for b.Loop() { sink += Spin(50000) } }
func BenchmarkAALarge(b *testing.B) { for b.Loop() { sink += Spin(200000) } }
func BenchmarkAAAlloc(b *testing.B) { for b.Loop() { sink += uint64(Fill(5000)) } }

func BenchmarkPlus05(b *testing.B) { for b.Loop() { sink += Spin(%d) } }
func BenchmarkPlus10(b *testing.B) { for b.Loop() { sink += Spin(%d) } }
func BenchmarkPlus20(b *testing.B) { for b.Loop() { sink += Spin(%d) } }
`, scale(50000, 1.05), scale(50000, 1.10), scale(50000, 1.20))
}

// makeFixture makes the two-commit fixture repository in dir.
func makeFixture(dir string) error {
	if _, err := gittest.Commit(dir, map[string]string{
		"go.mod":          "module example.com/calib\n\ngo 1.26\n",
		"cal/cal.go":      calibWork,
		"cal/cal_test.go": calibBench(false),
	}, "base"); err != nil {
		return err
	}
	_, err := gittest.Commit(dir, map[string]string{"cal/cal_test.go": calibBench(true)}, "head: Plus05/10/20 do 5/10/20% more work")
	return err
}
