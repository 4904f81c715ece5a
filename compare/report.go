package compare

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/outcome"
)

// Schema identifies the report.json format.
const Schema = "natsbench/report/v1"

// Verdict is the decision for one (package, benchmark, unit) row.
type Verdict string

// The verdicts, in the order a reviewer cares about them.
const (
	Regression  Verdict = "regression"
	Improvement Verdict = "improvement"
	Unchanged   Verdict = "unchanged"
	Added       Verdict = "added"
	Removed     Verdict = "removed"
	Failed      Verdict = "failed"
)

// Report is the computed comparison; rendering (markdown, JSON) is separate.
type Report struct {
	Schema      string               `json:"schema"`
	Base        Ref                  `json:"base"`
	Head        Ref                  `json:"head"`
	Config      Config               `json:"config"`
	Environment Environment          `json:"environment"`
	Benchmarks  []Row                `json:"benchmarks"`
	Summary     map[Verdict]int      `json:"summary"`
	Hotspots    []outcome.Hotspot    `json:"hotspots"`
	Failures    []outcome.Failure    `json:"failures,omitempty"`
	BuildErrors []outcome.BuildError `json:"build_errors,omitempty"`
	Warnings    []string             `json:"warnings"`
	Command     string               `json:"command,omitempty"`
	RunURL      string               `json:"run_url,omitempty"`
	// Created is when the run measured, so that reports kept as
	// artifacts can be put in order (natsbench history -dir); zero when
	// unknown.
	Created time.Time         `json:"created,omitzero"`
	Extra   map[string]string `json:"extra,omitempty"`
	// Shards lists the shards of a merged report, missing and failed ones
	// included; empty for a report made on one machine.
	Shards []ShardRun `json:"shards,omitempty"`
}

// ShardRun is one shard of a merged report.
type ShardRun struct {
	// Shard is "i/n".
	Shard string `json:"shard"`
	// Status says whether its results are in the report.
	Status ShardStatus `json:"status"`
	// Benchmarks is the number of benchmarks the split gave it.
	Benchmarks int `json:"benchmarks"`
	// CPU is the processor it ran on, as its results name it.
	CPU string `json:"cpu,omitempty"`
	// Error is why a failed shard has no results.
	Error string `json:"error,omitempty"`
}

// ShardStatus says what became of a shard.
type ShardStatus string

// The shard statuses.
const (
	// ShardMerged: its results are in the report.
	ShardMerged ShardStatus = "merged"
	// ShardMissing: no output of it was found.
	ShardMissing ShardStatus = "missing"
	// ShardFailed: it ran, and its run failed before it had results.
	ShardFailed ShardStatus = "failed"
)

// Lost reports whether the shard's benchmarks are not in the report.
func (s ShardRun) Lost() bool { return s.Status != ShardMerged }

// LostText says what a lost shard costs: "shard 3/4 missing: 57
// benchmarks not measured".
func (s ShardRun) LostText() string {
	what := "1 benchmark"
	if s.Benchmarks != 1 {
		what = strconv.Itoa(s.Benchmarks) + " benchmarks"
	}
	t := "shard " + s.Shard + " " + string(s.Status) + ": " + what + " not measured"
	if s.Error != "" {
		t += " (" + s.Error + ")"
	}
	return t
}

// Ref names one side of the comparison.
type Ref struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

// Config records the settings that produced the report.
type Config struct {
	Packages  []string `json:"packages,omitempty"`
	Bench     string   `json:"bench,omitempty"`
	Count     int      `json:"count,omitempty"`
	Benchtime string   `json:"benchtime,omitempty"`
	// MinCount is the fewest rounds of a sequential run, in which a
	// benchmark stops once its rows are settled (Count is then the most);
	// absent for the fixed design.
	MinCount int `json:"min_count,omitempty"`
	// TimeBudget is the sequential run's time budget, a Go duration.
	TimeBudget string  `json:"time_budget,omitempty"`
	Threshold  float64 `json:"threshold"` // percent
	Alpha      float64 `json:"alpha"`
}

// Environment describes the machine, from the benchmark files' headers
// where they say it, else from the running process.
type Environment struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
}

// Row is one (package, benchmark, unit) comparison.
type Row struct {
	Package   string   `json:"package"`
	Name      string   `json:"name"`
	Unit      string   `json:"unit"`
	Base      *Summary `json:"base,omitempty"`
	Head      *Summary `json:"head,omitempty"`
	DeltaPct  *float64 `json:"delta_pct"`
	PValue    *float64 `json:"p_value"`
	PAdjusted *float64 `json:"p_adjusted"`
	Verdict   Verdict  `json:"verdict"`
	// MDEPct is the smallest change in percent this run could have
	// detected on the row (at its level after the correction, with
	// probability Power); absent when none could be, 0 when any would
	// have shown.
	MDEPct *float64 `json:"mde_pct,omitempty"`
	// Rounds is the rounds the row got (the smaller sample's size) in a
	// sequential run, where benchmarks stop once settled; absent in a
	// fixed one.
	Rounds int `json:"rounds,omitempty"`
	// Settled is true when the row needs no more rounds: decided exactly,
	// significant at its look's level, or shown equivalent. Computed, not
	// read from report.json.
	Settled bool `json:"-"`
	// Reason is why the row got its verdict when the numbers alone don't
	// say (too few samples, noise wider than the threshold, a failure);
	// renderers switch on it. report.json carries it as the first words
	// of Note.
	Reason Reason `json:"-"`
	// Note explains the reason to a reader, with its figures.
	Note string `json:"note,omitempty"`
	// Shard is the shard ("i/n") that measured the row, in a merged report.
	Shard string `json:"shard,omitempty"`
	// CPU is the processor that shard ran on, in a merged report.
	CPU string `json:"cpu,omitempty"`
}

// Reason says why a row got its verdict when the numbers alone don't
// tell. Its value is also the start of the row's note in report.json.
type Reason string

// The reasons a row can carry.
const (
	// NoReason: the verdict is what the figures say.
	NoReason Reason = ""
	// Exact: a deterministic unit (every sample equal on each side)
	// decided without a test.
	Exact Reason = "exact"
	// TooFewSamples: the test could never reach significance with this
	// many runs, so the row stays unchanged without a verdict.
	TooFewSamples Reason = "too few samples"
	// Noisy: not significant, with a confidence interval wider than the
	// threshold, so a change of that size could go unseen.
	Noisy Reason = "noisy"
	// BelowThreshold: significant, but smaller than the threshold.
	BelowThreshold Reason = "significant but smaller"
	// Equivalent: not significant, and the confidence interval of the
	// change lies within ±threshold (sequential runs only).
	Equivalent Reason = "equivalent"
	// FailedRun: the benchmark failed or its package did not build on a
	// side.
	FailedRun Reason = "failed"
)

// Inconclusive reports whether a row with this reason could not be
// decided: a reviewer should not read its "unchanged" as a green light.
func (r Reason) Inconclusive() bool { return r == TooFewSamples || r == Noisy }

// reasonOf recovers a row's reason from report.json, where v1 writes it
// as the first words of the note.
func reasonOf(v Verdict, note string) Reason {
	if v == Failed {
		return FailedRun
	}
	for _, r := range []Reason{Exact, TooFewSamples, Noisy, BelowThreshold, Equivalent} {
		if strings.HasPrefix(note, string(r)) {
			return r
		}
	}
	return NoReason
}

// Summary is benchmath's summary of one side's sample.
type Summary struct {
	N      int     `json:"n"`
	Center float64 `json:"center"`
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
}

// Spread is the confidence interval's wider half as a percentage of the
// center: benchstat's "±". It is +Inf when the interval is unbounded (too
// few samples for one) and 0 when the center is 0. The noise check and the
// tables both use it.
func (s *Summary) Spread() float64 {
	switch {
	case math.IsInf(s.Low, 0) || math.IsInf(s.High, 0):
		return math.Inf(1)
	case s.Center == 0:
		return 0
	}
	return math.Abs(100 * math.Max(s.High/s.Center-1, 1-s.Low/s.Center))
}
