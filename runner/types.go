package runner

import (
	"context"
	"io"
	"time"

	"github.com/natsbench/natsbench-action/outcome"
)

// Side names one of the two builds being compared.
type Side = outcome.Side

// The two sides of a comparison.
const (
	Base = outcome.Base
	Head = outcome.Head
)

// Config says what to benchmark and how. The zero value of an optional
// field takes the default named beside it.
type Config struct {
	// Dir is the root of the git checkout that holds the head (the
	// module may sit in a subdirectory of it; see WorkDir).
	Dir string
	// WorkDir is the module directory relative to Dir ("." by default).
	WorkDir string
	// Packages are go package patterns, relative to WorkDir ("./..." by default).
	Packages []string
	// Bench is the -test.bench regular expression ("." by default).
	Bench string
	// Count is the number of interleaved rounds (DefaultCount by
	// default); with MinCount below it, the most rounds.
	Count int
	// MinCount, when set below Count, makes the run sequential: after
	// each round from MinCount on, Settle names the benchmarks that need
	// no more rounds, and they stop running. 0 means Count (every
	// benchmark runs every round).
	MinCount int
	// TimeBudget, in a sequential run, stops starting new rounds once
	// this much time has passed since the run started, though never
	// before MinCount rounds; 0 means none.
	TimeBudget time.Duration
	// Settle is called, in a sequential run, after each round from
	// MinCount on (but the last) with the results so far, in the formats
	// of base.txt and head.txt (base nil without a baseline); it returns
	// the benchmarks to stop. It must not keep or change the slices.
	Settle SettleFunc
	// Benchtime is passed to -test.benchtime (DefaultBenchtime by default).
	Benchtime string
	// Timeout bounds one run of one test binary (10m by default).
	Timeout time.Duration
	// BuildTimeout bounds one go list or go test -c, which may download
	// modules and a toolchain (10m by default).
	BuildTimeout time.Duration
	// Baseline is the commit-ish to compare against. Empty means no
	// comparison: only the head is benchmarked.
	Baseline string
	// NATS gives every benchmark process an in-process NATS server via NATS_URL.
	NATS bool
	// Profile collects a CPU profile in one extra, unmeasured run per
	// side of every package, or of those ProfileOnly names.
	Profile bool
	// ProfileOnly, when set, names after the measured rounds the
	// packages to profile, and in each the benchmarks to run with the
	// profile, given the results so far (Base and Head are set; the
	// files are not written yet). The report shows hotspots of regressed
	// packages only, and a profile of every package costs another run of
	// each on each side: about a twentieth of the rounds at the default
	// count. nil profiles every package.
	ProfileOnly func(*Result) []Profiled
	// OutputDir receives base.txt, head.txt and the profiles.
	OutputDir string
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
	// Env is the environment of the go commands and benchmark processes;
	// nil means the current process's environment.
	Env []string
	// Seed seeds the per-round order of base and head; 0 picks one at random.
	Seed int64
	// Isolate builds and runs the benchmarked code as an unprivileged
	// user (nobody), with a home, caches and temporary directory of its
	// own, while git's credential files are unreadable to it and this
	// process's /proc files are closed to it. It needs root on Linux: it
	// is for the action's container, where the benchmarked code is a pull
	// request's. Dir must be readable by others.
	Isolate bool
	// GoCache and GoModCache are, with Isolate, the build and module
	// caches of the unprivileged user: directories that a workflow keeps
	// warm with actions/cache, given to that user for the run. Empty: a
	// directory in the temporary directory, kept across runs on the
	// machine.
	GoCache, GoModCache string
	// Shard, when set, runs only this shard's part of the benchmarks
	// (see Split); the zero value runs them all.
	Shard Shard
	// Durations are the benchmarks' expected times for the split; nil
	// splits by count. (No history of durations is kept yet.)
	Durations Durations
}

// SettleFunc decides, between the rounds of a sequential run, which
// benchmarks need no more rounds; round is the number of rounds done.
// The runner does not judge results itself: its caller does (with
// package compare), through this hook.
type SettleFunc func(ctx context.Context, round int, base, head []byte) ([]BenchmarkID, error)

// Result is what one Run produced. Raw benchmark output is kept in
// Go's benchmark format so that compare (and benchstat) can read it.
type Result struct {
	BaseRef, BaseSHA string // empty BaseSHA: no comparison was made
	HeadRef, HeadSHA string
	// BaseFile and HeadFile are the paths of base.txt and head.txt in OutputDir.
	BaseFile, HeadFile string
	// Base and Head hold the same bytes as BaseFile and HeadFile. Base
	// is nil exactly when there was no baseline (BaseFile is then empty).
	Base, Head  []byte
	Failures    []Failure
	BuildErrors []BuildError
	Hotspots    []Hotspot
	// Rounds is the number of rounds run: in a sequential run, fewer
	// than Count when every benchmark settled or the time budget ran out.
	Rounds int
	// Settled lists, in a sequential run, the benchmarks that stopped
	// before the last round because their results were settled, with the
	// rounds each got, in the order they stopped.
	Settled []SettledBenchmark
	// BudgetSpent is true when the time budget stopped the rounds.
	BudgetSpent bool
	// Orders lists, per round, the order in which the sides ran.
	Orders [][]Side
	// Seed is the seed that chose Orders; Config.Seed repeats them.
	Seed    int64
	Elapsed time.Duration
	// Phases is where Elapsed went, in the order the phases ran (see
	// the Phase names); a phase that did not run is not listed.
	Phases []Phase
	// Command reproduces this run locally (for the report).
	Command string
	// Shard is the split of a sharded run; nil when Config.Shard is unset.
	Shard *ShardResult
}

// Phase is one stage of a Run and the wall time it took: the time that
// the benchmarks themselves do not take is the action's overhead, and
// these say where it goes.
type Phase struct {
	// Name is one of the Phase* names.
	Name    string
	Elapsed time.Duration
}

// The phases of a Run.
const (
	// PhaseCheckout resolves the commits and checks the baseline out.
	PhaseCheckout = "checkout"
	// PhaseBuild lists the packages, builds the test binaries and asks
	// each binary for its benchmarks.
	PhaseBuild = "build"
	// PhaseRounds runs the measured rounds.
	PhaseRounds = "rounds"
	// PhaseProfile runs the unmeasured CPU-profile runs.
	PhaseProfile = "profile"
)

// SettledBenchmark is a benchmark that a sequential run stopped after
// Rounds rounds.
type SettledBenchmark struct {
	BenchmarkID
	Rounds int
}

// Failure, BuildError and Hotspot are the runner's records of what went
// wrong and where the time went; they live in package outcome so that
// compare reads them without importing the runner.
type (
	Failure    = outcome.Failure
	BuildError = outcome.BuildError
	Hotspot    = outcome.Hotspot
)

// Profiled names a package to profile and the benchmark functions
// (BenchmarkX) of it to run with the profile: those that regressed, so
// that the hotspots are theirs and the run costs theirs alone. None, or
// none the package has, means all of them.
type Profiled struct {
	Package    string
	Benchmarks []string
}
