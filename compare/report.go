package compare

import "github.com/natsbench/natsbench-action/outcome"

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
	Extra       map[string]string    `json:"extra,omitempty"`
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
	Threshold float64  `json:"threshold"` // percent
	Alpha     float64  `json:"alpha"`
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
	// Note explains a verdict that is not what the numbers alone suggest
	// (too few samples, noise wider than the threshold, failed on head).
	Note string `json:"note,omitempty"`
}

// Summary is benchmath's summary of one side's sample.
type Summary struct {
	N      int     `json:"n"`
	Center float64 `json:"center"`
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
}
