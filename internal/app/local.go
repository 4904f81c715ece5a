package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/natsbench/natsbench-action/compare"
)

// usage heads the local command's help.
const usage = `natsbench benchmarks the Go checkout in the current directory against
its baseline (interleaved rounds, benchstat statistics) and prints a
markdown report. Progress goes to stderr; report.json, report.md,
base.txt, head.txt and CPU profiles go to -output-dir.

Usage:
  natsbench [flags]
  natsbench compare [-json FILE] [-md FILE] [-alpha A] [-threshold T] OLD NEW
  natsbench merge [-output-dir DIR] [-fail-on-regression] DIR...
  natsbench history [-branch REF | -dir DIR] [-html FILE] [-plain]

With -shard i/n it runs part i of n of the benchmarks into
OUTPUT-DIR/shard-i-of-n; merge makes one report of the parts.

The baseline is -baseline if set, else the merge-base with the remote's
default branch (origin/HEAD), else HEAD (uncommitted changes) or HEAD~1.

Flags:
`

// runLocal benchmarks the checkout in the working directory.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("natsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	// Every flag is a string parsed by parseConfig, so that flags and
	// action inputs share defaults, parsing and error messages.
	settings := map[string]*setting{}
	def := func(name, value, help string) {
		s := &setting{value: value, isBool: value == "true" || value == "false"}
		settings[name] = s
		fs.Var(s, name, help)
	}
	def("packages", DefaultPackages, "package patterns to benchmark, comma- or space-separated")
	def("bench", DefaultBench, "run only benchmarks matching this regular expression")
	def("count", strconv.Itoa(DefaultCount), "interleaved rounds (samples per benchmark and side); with -min-count below it, the most")
	def("min-count", "", "fewest rounds: from this many on, a benchmark whose rows are all settled stops (default: half of count from 10 rounds on; equal to count: every benchmark runs every round)")
	def("time-budget", "", "with -min-count: start no round after this `duration` since the start, though never before min-count rounds")
	def("benchtime", DefaultBenchtime, "time (100ms) or iterations (100x) per benchmark run")
	def("timeout", DefaultTimeout.String(), "limit for one run of one test binary")
	def("baseline", "", "commit, branch or tag to compare against (default: see above)")
	def("threshold", strconv.FormatFloat(DefaultThreshold, 'g', -1, 64), "smallest change in percent that counts")
	def("alpha", strconv.FormatFloat(DefaultAlpha, 'g', -1, 64), "significance level")
	def("output-dir", DefaultOutputDir, "directory for the report and raw results")
	def("nats", "true", "give each benchmark an in-process NATS server in NATS_URL")
	def("shard", "", "run only part `i/n` of the benchmarks (results in OUTPUT-DIR/shard-i-of-n, for merge)")
	def("fail-on-regression", "false", "exit with status 1 if anything regressed, failed on head, was removed or did not build")
	if help, err := parseFlags(fs, args, ""); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (did you mean `compare OLD NEW`?)", fs.Arg(0))
	}
	cfg, err := parseConfig(fromFlag, func(s string) string {
		if p, ok := settings[s]; ok {
			return p.value
		}
		return ""
	})
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}

	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("finding the working directory: %w", err)
	}
	// The runner works in several directories; give it a fixed place.
	if cfg.OutputDir, err = filepath.Abs(cfg.OutputDir); err != nil {
		return fmt.Errorf("resolving flag -output-dir: %w", err)
	}
	cfg.OutputDir = shardOutputDir(cfg)
	baseline := cfg.Baseline
	if baseline == "" {
		if baseline, err = localBaseline(ctx, cwd); err != nil {
			return err
		}
	}
	if baseline == "" {
		fmt.Fprintln(stderr, "natsbench: no baseline (a single commit?): reporting absolute figures")
	} else {
		fmt.Fprintf(stderr, "natsbench: comparing the checkout with %s\n", baseline)
	}
	r, err := benchmark(ctx, cfg, cwd, baseline, stderr, links{})
	if err != nil {
		return err
	}
	p := &publisher{dir: cfg.OutputDir, stdout: stdout}
	out, warnings := p.publish(ctx, r)
	if len(warnings) > 0 {
		// Locally the report files and stdout are the only targets.
		return errors.Join(warnings...)
	}
	fmt.Fprintf(stderr, "natsbench: %d regressions, %d improvements; report in %s\n", out.Regressions, out.Improvements, out.ReportMarkdown)
	return gate(cfg, r)
}

// runCompare is `compare OLD NEW`: benchstat's comparison of two files of
// Go benchmark output, with natsbench's verdicts, as markdown on stdout.
// With one file it reports absolute figures.
func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("natsbench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.String("json", "", "also write the report as JSON to `FILE`")
	mdOut := fs.String("md", "", "also write the markdown report to `FILE`")
	alpha := fs.String("alpha", strconv.FormatFloat(DefaultAlpha, 'g', -1, 64), "significance level")
	threshold := fs.String("threshold", strconv.FormatFloat(DefaultThreshold, 'g', -1, 64), "smallest change in percent that counts")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: natsbench compare [-json FILE] [-md FILE] [-alpha A] [-threshold T] OLD NEW\n\nOLD and NEW hold Go benchmark output (as for benchstat); with NEW alone the report\nhas absolute figures.\n\nFlags:")
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args, "compare: "); help || err != nil {
		return err
	}
	cfg, err := parseConfig(fromFlag, func(s string) string {
		switch s {
		case "alpha":
			return *alpha
		case "threshold":
			return *threshold
		}
		return ""
	})
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	var in compare.Input
	switch fs.NArg() {
	case 1:
		in.HeadName = fs.Arg(0)
	case 2:
		in.BaseName, in.HeadName = fs.Arg(0), fs.Arg(1)
		if in.Base, err = os.ReadFile(in.BaseName); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	default:
		fs.Usage()
		return fmt.Errorf("compare: want OLD NEW (or NEW alone), got %d files", fs.NArg())
	}
	if in.Head, err = os.ReadFile(in.HeadName); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	in.Options = cfg.Compare
	in.BaseRef = compare.Ref{Ref: in.BaseName}
	in.HeadRef = compare.Ref{Ref: in.HeadName}
	r, err := compare.Compute(in)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	md := compare.Markdown(r, compare.MarkdownOptions{})
	if *jsonOut != "" {
		if err := writeJSONFile(*jsonOut, r); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	if *mdOut != "" {
		if err := os.WriteFile(*mdOut, []byte(md), 0o644); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	if _, err := io.WriteString(stdout, md); err != nil {
		return fmt.Errorf("compare: printing the report: %w", err)
	}
	return nil
}

// setting is a flag kept as text for parseConfig. Boolean settings can be
// given bare (-fail-on-regression), as the flag package's own booleans.
type setting struct {
	value  string
	isBool bool
}

func (s *setting) String() string {
	if s == nil {
		return ""
	}
	return s.value
}

func (s *setting) Set(v string) error { s.value = v; return nil }

func (s *setting) IsBoolFlag() bool { return s.isBool }

// parseFlags parses args into fs. help is true when -h asked for the usage
// (fs printed it): the command then does nothing and succeeds. An error
// names the command by prefix.
func parseFlags(fs *flag.FlagSet, args []string, prefix string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, fmt.Errorf("%sparsing flags: %w", prefix, err)
	}
	return false, nil
}
