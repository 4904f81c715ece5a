// Package outcome holds what a benchmark run yields besides the numbers:
// the sides, the benchmarks that failed, the packages that did not build
// and the CPU hotspots. Package runner makes these records and package
// compare reads them; a leaf package of their own lets the two share one
// type without importing each other. The JSON tags are report.json's.
package outcome

// Side names one of the two builds being compared.
type Side string

// The two sides of a comparison.
const (
	Base Side = "base"
	Head Side = "head"
)

// Failure is a benchmark that failed, panicked or timed out on one side.
type Failure struct {
	Side    Side   `json:"side"`
	Package string `json:"package"`
	// Benchmark is named as benchfmt and benchstat name it, without the
	// "Benchmark" prefix and the -GOMAXPROCS suffix ("Encode/size=1");
	// empty if the whole binary failed before naming one.
	Benchmark string `json:"benchmark,omitempty"`
	Reason    string `json:"reason"`           // "failed", "panic", "timeout"
	Output    string `json:"output,omitempty"` // the tail of the output
}

// BuildError is a package that did not compile on one side.
type BuildError struct {
	Side    Side   `json:"side"`
	Package string `json:"package"`
	Output  string `json:"output"` // the compiler's message
}

// Hotspot is one of the top functions of a package's CPU profile.
type Hotspot struct {
	Side     Side    `json:"side"`
	Package  string  `json:"package"`
	Function string  `json:"function"`
	Flat     float64 `json:"flat"` // share of the profile's total samples, 0..1
	Cum      float64 `json:"cum"`  // cumulative share, 0..1
}
