package runner

import "time"

// Defaults of Config, chosen by measurement (docs/STATISTICS.md): on a
// CPU-bound fixture, 20 rounds of 20ms found every 10% change with no
// false alarm, in half the time of 10 rounds of 100ms, which missed some.
// The number of samples, not their length, is what finds a change.
const (
	// DefaultCount is the default number of interleaved rounds.
	DefaultCount = 20
	// DefaultBenchtime is the default -test.benchtime of one run.
	DefaultBenchtime = "20ms"
	// DefaultTimeout bounds one run of one test binary by default.
	DefaultTimeout = 10 * time.Minute
)

// sequential reports whether benchmarks may stop before Count rounds.
func (c Config) sequential() bool { return c.MinCount < c.Count && c.Settle != nil }

// withDefaults returns c with every unset optional field at its default.
// Config is not validated here: the caller (internal/app) validates the
// settings once, with the rules and messages of its inputs.
func (c Config) withDefaults() Config {
	if c.WorkDir == "" {
		c.WorkDir = "."
	}
	if len(c.Packages) == 0 {
		c.Packages = []string{"./..."}
	}
	if c.Bench == "" {
		c.Bench = "."
	}
	if c.Count == 0 {
		c.Count = DefaultCount
	}
	if c.MinCount <= 0 || c.MinCount > c.Count {
		c.MinCount = c.Count
	}
	if c.Benchtime == "" {
		c.Benchtime = DefaultBenchtime
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BuildTimeout <= 0 {
		c.BuildTimeout = DefaultTimeout
	}
	return c
}
