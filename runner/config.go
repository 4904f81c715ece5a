package runner

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

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

// withDefaults returns c with every unset optional field at its default.
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

// Validate reports the first problem with c, naming the field. Unset
// optional fields are valid: they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Dir == "" {
		return errors.New("dir must be set")
	}
	if filepath.IsAbs(c.WorkDir) {
		return fmt.Errorf("work dir %q must be relative to dir", c.WorkDir)
	}
	if w := filepath.Clean(c.WorkDir); w == ".." || strings.HasPrefix(w, ".."+string(filepath.Separator)) {
		return fmt.Errorf("work dir %q must stay inside dir", c.WorkDir)
	}
	for _, p := range c.Packages {
		if strings.TrimSpace(p) == "" {
			return errors.New("packages: empty pattern")
		}
		// A pattern is handed to the go command as an argument: refuse
		// anything it would read as a flag.
		if strings.HasPrefix(p, "-") {
			return fmt.Errorf("packages: pattern %q must not start with '-'", p)
		}
	}
	if _, err := regexp.Compile(c.Bench); err != nil {
		return fmt.Errorf("bench: invalid regular expression %q: %w", c.Bench, err)
	}
	if c.Count < 1 {
		return fmt.Errorf("count must be at least 1, got %d", c.Count)
	}
	if err := checkBenchtime(c.Benchtime); err != nil {
		return fmt.Errorf("benchtime: %w", err)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must not be negative, got %s", c.Timeout)
	}
	if strings.HasPrefix(c.Baseline, "-") {
		return fmt.Errorf("baseline %q must not start with '-'", c.Baseline)
	}
	if strings.ContainsAny(c.Baseline, " \t\n") {
		return fmt.Errorf("baseline %q must not contain spaces", c.Baseline)
	}
	if strings.Contains(c.Baseline, ":") {
		return fmt.Errorf("baseline %q must not contain ':' (git fetch would read it as a refspec)", c.Baseline)
	}
	if c.OutputDir == "" {
		return errors.New("output dir must be set")
	}
	return nil
}

// checkBenchtime accepts what -test.benchtime accepts: a positive
// duration ("100ms") or a positive iteration count ("500x").
func checkBenchtime(s string) error {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return fmt.Errorf("%q: want a positive count like 100x or a duration like 100ms", s)
		}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: want a positive duration like 100ms or a count like 100x", s)
	}
	return nil
}
