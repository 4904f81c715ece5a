// Package app is natsbench's program: it reads the configuration once
// (the action's inputs in GitHub Actions, flags on the command line),
// runs runner → compare → comment, and writes the report files, the job
// summary and the step outputs. main only wires it to the process.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// ErrGate is returned when fail-on-regression is set and the head is
// worse than the baseline or could not be judged: a regression; a
// benchmark that failed, panicked or timed out on head; a removed
// benchmark; a package that does not build on head; or no report at all
// (an infrastructure error). It is the only failure that is not a usage
// error.
var ErrGate = errors.New("fail-on-regression")

// Run is the whole program. args are the command-line arguments without
// the program name; getenv is the only way it reads the environment.
//
//   - In GitHub Actions (GITHUB_ACTIONS=true, no arguments) it is the
//     action: inputs from INPUT_*, report to the job summary, outputs and
//     the pull request comment.
//   - `compare [flags] OLD NEW` compares two benchmark files.
//   - `merge [flags] DIR...` merges the outputs of shards into one report.
//   - `history [flags]` prints the trends of the history branch (or of
//     a directory of report.json files) and writes the trend page.
//   - Otherwise it benchmarks the current checkout against its baseline
//     and prints the markdown report on stdout, progress on stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "history" {
		return runHistory(ctx, args[1:], stdout, stderr)
	}
	if getenv("GITHUB_ACTIONS") == "true" && len(args) == 0 {
		return runAction(ctx, getenv, stdout)
	}
	return runLocal(ctx, args, stdout, stderr)
}

// tree resolves where the head is: the root of the git checkout holding
// dir, and dir relative to it (the runner checks the baseline out as a
// whole repository, so the module's place in it must be known).
func tree(ctx context.Context, dir string) (root, rel string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("resolving directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return "", "", fmt.Errorf("resolving directory: %w", err)
	} else if !fi.IsDir() {
		return "", "", fmt.Errorf("resolving directory: %s is not a directory", abs)
	}
	root, err = git(ctx, abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", "", fmt.Errorf("%s is not in a git checkout: %w", abs, err)
	}
	// git prints the physical path; compare like with like.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", "", fmt.Errorf("resolving directory: %w", err)
	}
	rel, err = filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("resolving directory: %s is outside its checkout %s", real, root)
	}
	return root, rel, nil
}

// links are what a report names besides its figures: the run that made
// it and the pull request it measured. They are known before the report
// is computed and passed in, so that the report is finished when made.
type links struct {
	RunURL string
	PR     int
}

// benchmark runs the runner with cfg and computes the report. A shard
// also records what it ran, or why it failed, in shard.json.
func benchmark(ctx context.Context, cfg Config, dir, baseline string, progress io.Writer, l links) (*compare.Report, error) {
	r, res, err := measure(ctx, cfg, dir, baseline, progress, l)
	if cfg.Run.Shard != (runner.Shard{}) && ctx.Err() == nil {
		if werr := writeShard(cfg.OutputDir, cfg, res, r, err); werr != nil {
			return nil, errors.Join(err, werr)
		}
	}
	return r, err
}

// measure runs the runner with cfg and computes the report.
func measure(ctx context.Context, cfg Config, dir, baseline string, progress io.Writer, l links) (*compare.Report, *runner.Result, error) {
	root, rel, err := tree(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cfg.OutputDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("making the output directory: %w", err)
	}
	rc := cfg.Run
	rc.Dir, rc.WorkDir = root, rel
	rc.Baseline = baseline
	rc.Profile = true
	rc.ProfileOnly = func(res *runner.Result) []runner.Profiled { return regressed(res, cfg) }
	rc.OutputDir = cfg.OutputDir
	rc.Progress = progress
	rc.Env = benchEnv(os.Environ(), cfg.Token)
	// In the action's container (root), the pull request's code runs as
	// nobody; the local CLI runs it as the user who runs it.
	rc.Isolate = cfg.source == fromInput && os.Geteuid() == 0
	var settler *Settler
	if baseline != "" && cfg.sequential() {
		settler = NewSettler(cfg.Compare)
		rc.Settle = settler.Settle
	}
	res, err := runner.Run(ctx, rc)
	if err != nil {
		return nil, nil, fmt.Errorf("running benchmarks: %w", err)
	}
	opt := cfg.Compare
	if res.BudgetSpent {
		// The budget's last look spends the alpha of the looks not taken.
		opt.Plan.Ended = res.Rounds
	}
	in := CompareInput(res, opt, cfg.record())
	if settler != nil {
		in.Stopped = settler.Stopped()
	}
	in.RunURL, in.PR = l.RunURL, l.PR
	in.Created = time.Now()
	r, err := compare.Compute(in)
	if err != nil {
		return nil, res, fmt.Errorf("comparing results: %w", err)
	}
	return r, res, nil
}

// regressed returns the packages in which the runner's results so far
// have a regression, each with the benchmark functions that regressed:
// the report shows the hotspots of those packages only, so only those
// are profiled, and only the regressed benchmarks run with the profile. A comparison that fails names none; the
// report's own computation reports the error.
func regressed(res *runner.Result, cfg Config) []runner.Profiled {
	r, err := compare.Compute(CompareInput(res, cfg.Compare, cfg.record()))
	if err != nil {
		return nil
	}
	var out []runner.Profiled
	for _, row := range r.Benchmarks {
		if row.Verdict != compare.Regression {
			continue
		}
		i := slices.IndexFunc(out, func(p runner.Profiled) bool { return p.Package == row.Package })
		if i < 0 {
			out = append(out, runner.Profiled{Package: row.Package})
			i = len(out) - 1
		}
		if fn := benchFunc(row.Name); !slices.Contains(out[i].Benchmarks, fn) {
			out[i].Benchmarks = append(out[i].Benchmarks, fn)
		}
	}
	return out
}

// benchFunc is the benchmark function a result row comes from: its name
// up to the first sub-benchmark or the -GOMAXPROCS suffix, neither of
// which a Go identifier can hold ("CPU/paced-2" is BenchmarkCPU).
func benchFunc(name string) string {
	if i := strings.IndexAny(name, "/-"); i >= 0 {
		name = name[:i]
	}
	return "Benchmark" + name
}

// CompareInput turns the runner's result into compare's input: the one
// conversion between the two stages, used by the action, the local
// command, the tests and calibrate alike. rec records the settings in the
// report.
func CompareInput(res *runner.Result, opt compare.Options, rec compare.Config) compare.Input {
	in := compare.Input{
		Head:        res.Head,
		BaseName:    res.BaseFile,
		HeadName:    res.HeadFile,
		Options:     opt,
		BaseRef:     compare.Ref{Ref: res.BaseRef, SHA: res.BaseSHA},
		HeadRef:     compare.Ref{Ref: res.HeadRef, SHA: res.HeadSHA},
		Config:      rec,
		Failures:    res.Failures,
		BuildErrors: res.BuildErrors,
		Hotspots:    res.Hotspots,
		Command:     res.Command,
	}
	if res.BaseSHA != "" {
		// A nil Base means absolute mode; an empty but compared base
		// (everything failed) must still be a comparison.
		in.Base = res.Base
		if in.Base == nil {
			in.Base = []byte{}
		}
	}
	return in
}

// secretEnv are variables the benchmarked code (a pull request's code)
// must not see: the action's inputs carry the token, the runner's own
// ACTIONS_* tokens open the cache and artifact services, and the file
// commands' paths would let it set the environment, PATH, outputs, state
// and summary of this and later steps.
var secretEnv = []string{
	"INPUT_", "ACTIONS_", "GITHUB_TOKEN=", "GH_TOKEN=",
	"GITHUB_ENV=", "GITHUB_PATH=", "GITHUB_OUTPUT=", "GITHUB_STATE=", "GITHUB_STEP_SUMMARY=",
}

// benchEnv is the environment of the go commands and benchmark
// processes: the process's own, without secrets.
func benchEnv(environ []string, token string) []string {
	out := make([]string, 0, len(environ))
next:
	for _, kv := range environ {
		for _, p := range secretEnv {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		if token != "" && strings.Contains(kv, token) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
