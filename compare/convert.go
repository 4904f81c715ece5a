package compare

import "github.com/natsbench/natsbench-action/runner"

// FromRunner converts runner's failures, build errors and hotspots into
// the report's types, for Input.
func FromRunner(res *runner.Result) (failures []Failure, builds []BuildError, hot []Hotspot) {
	if res == nil {
		return nil, nil, nil
	}
	for _, f := range res.Failures {
		failures = append(failures, Failure{Side: string(f.Side), Package: f.Package, Benchmark: f.Benchmark, Reason: f.Reason, Output: f.Output})
	}
	for _, b := range res.BuildErrors {
		builds = append(builds, BuildError{Side: string(b.Side), Package: b.Package, Output: b.Output})
	}
	for _, h := range res.Hotspots {
		hot = append(hot, Hotspot{Side: string(h.Side), Package: h.Package, Function: h.Function, Flat: h.Flat, Cum: h.Cum})
	}
	return failures, builds, hot
}
