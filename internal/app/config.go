package app

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/runner"
)

// Mode says what an action run does.
type Mode string

// The action's modes.
const (
	// ModeRun benchmarks head and baseline and reports (the default).
	ModeRun Mode = "run"
	// ModePost posts an existing report.json without benchmarking: the
	// second half of the two-workflow pattern for pull requests from forks.
	ModePost Mode = "post"
	// ModeMerge makes one report from the raw results of the shards of a
	// sharded run and publishes it, without running benchmark code.
	ModeMerge Mode = "merge"
)

// HistoryMode says what a run does with the history branch.
type HistoryMode string

// The history modes.
const (
	// HistoryAuto reads the history on every run and writes it on trusted
	// runs: push, schedule and workflow_dispatch on the default branch.
	HistoryAuto HistoryMode = "auto"
	// HistoryRead reads it and never writes.
	HistoryRead HistoryMode = "read"
	// HistoryOff neither reads nor writes it.
	HistoryOff HistoryMode = "off"
)

// Defaults of the settings that have one, shared by action.yml, the
// local flags and the README.
const (
	DefaultWorkingDirectory = "."
	DefaultPackages         = "./..."
	DefaultBench            = "."
	DefaultCount            = runner.DefaultCount
	DefaultBenchtime        = runner.DefaultBenchtime
	DefaultTimeout          = runner.DefaultTimeout
	DefaultThreshold        = compare.DefaultThreshold // percent
	DefaultAlpha            = compare.DefaultAlpha
	DefaultOutputDir        = "natsbench-results"
	DefaultHistory          = HistoryAuto
	DefaultHistoryBranch    = "natsbench-history"
	// DefaultHistoryKeep keeps about a year and four months of daily
	// runs: a 200-row suite's year is a few MB, a cheap depth-1 fetch.
	DefaultHistoryKeep = 500
	// MinMinCount is the least min-count: with fewer rounds no row can
	// be tested or shown equivalent at any usual level.
	MinMinCount = 2
	// MaxSequentialCount bounds count in a sequential run, whose looks'
	// boundaries are computed for every round between min-count and it.
	MaxSequentialCount = compare.MaxPlanRounds
)

// Config is the typed configuration of one run, read once from the
// action's inputs or the command line's flags, and validated once here:
// runner and compare take their parts as they are and only fill in zero
// values.
type Config struct {
	Mode             Mode
	Token            string
	WorkingDirectory string
	Baseline         string
	OutputDir        string
	Comment          bool
	CommentKey       string
	// Matrix is the job's matrix as JSON (the action's `matrix` input):
	// the default CommentKey includes it, so matrix legs keep a comment each.
	Matrix           string
	FailOnRegression bool
	// Report is the report.json (or the directory holding it) that
	// ModePost posts.
	Report string
	// Shards are the directories or globs of shard outputs that
	// ModeMerge merges (the report input, split like a list).
	Shards []string
	// Run holds the runner's settings that come from the inputs
	// (packages, bench, count, benchtime, timeout, nats); the directories,
	// the baseline commit and the environment are filled in when it runs.
	Run runner.Config
	// Compare holds the decision settings (alpha, threshold in percent).
	Compare compare.Options
	// History says whether the run reads and may write the history
	// branch HistoryBranch, which keeps the newest HistoryKeep runs.
	History       HistoryMode
	HistoryBranch string
	HistoryKeep   int
	// RunnerImage is the runner's image (ImageOS/ImageVersion), recorded
	// in the history; not an input.
	RunnerImage string

	// source names where settings come from in error messages: `input "alpha"`
	// in the action, `flag -alpha` on the command line.
	source source
}

type source int

const (
	fromInput source = iota
	fromFlag
)

// name is how an error message names the setting.
func (c *Config) name(setting string) string {
	if c.source == fromFlag {
		return "flag -" + setting
	}
	return fmt.Sprintf("input %q", setting)
}

// parseConfig turns raw settings into a Config. get returns a setting's
// raw value, "" when unset (the default applies). Every malformed value
// is reported, not just the first.
func parseConfig(src source, get func(setting string) string) (Config, error) {
	c := Config{source: src}
	var errs []error
	str := func(setting, def string) string {
		if v := strings.TrimSpace(get(setting)); v != "" {
			return v
		}
		return def
	}
	integer := func(setting string, def int) int {
		v := str(setting, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be a positive integer, got %q", c.name(setting), v))
			return def
		}
		return n
	}
	number := func(setting string, def float64) float64 {
		v := str(setting, "")
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be a number, got %q", c.name(setting), v))
			return def
		}
		return f
	}
	boolean := func(setting string, def bool) bool {
		v := str(setting, "")
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be true or false, got %q", c.name(setting), v))
			return def
		}
		return b
	}
	duration := func(setting string, def time.Duration) time.Duration {
		v := str(setting, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be a duration such as 10m, got %q", c.name(setting), v))
			return def
		}
		return d
	}

	c.Mode = Mode(strings.ToLower(str("mode", string(ModeRun))))
	c.Token = strings.TrimSpace(get("github-token"))
	c.WorkingDirectory = str("working-directory", DefaultWorkingDirectory)
	c.Run.Packages = splitList(str("packages", DefaultPackages))
	c.Run.Bench = str("bench", DefaultBench)
	c.Run.Count = integer("count", DefaultCount)
	// Unset, min-count is half of count: a benchmark whose rows are all
	// settled by then stops, and the rest run on (DefaultMinCount).
	c.Run.MinCount = integer("min-count", DefaultMinCount(c.Run.Count))
	c.Run.TimeBudget = duration("time-budget", 0)
	c.Run.Benchtime = str("benchtime", DefaultBenchtime)
	c.Run.Timeout = duration("timeout", DefaultTimeout)
	c.Run.NATS = boolean("nats", true)
	if sh, err := runner.ParseShard(str("shard", "")); err != nil {
		errs = append(errs, fmt.Errorf("%s %v", c.name("shard"), err))
	} else {
		c.Run.Shard = sh
	}
	c.Baseline = str("baseline", "")
	c.Compare.Threshold = number("threshold", DefaultThreshold)
	c.Compare.Alpha = number("alpha", DefaultAlpha)
	if c.sequential() {
		c.Compare.Plan = compare.Plan{MinRounds: c.Run.MinCount, MaxRounds: c.Run.Count}
	}
	c.OutputDir = str("output-dir", DefaultOutputDir)
	// A shard of several does not comment unless asked: the merge does.
	c.Comment = boolean("comment", !c.Run.Shard.Sharded())
	c.CommentKey = str("comment-key", "")
	c.Matrix = str("matrix", "")
	c.FailOnRegression = boolean("fail-on-regression", false)
	c.Report = str("report", "")
	c.History = HistoryMode(strings.ToLower(str("history", string(DefaultHistory))))
	c.HistoryBranch = str("history-branch", DefaultHistoryBranch)
	c.HistoryKeep = integer("history-keep", DefaultHistoryKeep)
	if c.Mode == ModeMerge {
		c.Shards = splitList(c.Report)
	}
	// A value that did not parse kept its (valid) default, so Validate
	// adds only the other problems.
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// splitList splits a list input: one item per line, or separated by
// spaces or commas, as users write them in YAML.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// Validate checks every setting and reports all the problems, each
// naming its input (or flag).
func (c *Config) Validate() error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s "+format, append([]any{c.name(setting)}, args...)...))
	}
	switch c.Mode {
	case ModeRun:
	case ModePost:
		if c.Report == "" {
			bad("report", "is required when mode is %q: the path of report.json or of the directory that holds it", ModePost)
		}
	case ModeMerge:
		if len(c.Shards) == 0 {
			bad("report", "is required when mode is %q: the directories (or globs) of the shards' output-dirs", ModeMerge)
		}
	default:
		bad("mode", "must be %q, %q or %q, got %q", ModeRun, ModePost, ModeMerge, c.Mode)
	}
	if sh := c.Run.Shard; sh != (runner.Shard{}) {
		if sh.Count < 1 || sh.Count > runner.MaxShards || sh.Index < 1 || sh.Index > sh.Count {
			bad("shard", "must be i/n with 1 <= i <= n <= %d, got %d/%d", runner.MaxShards, sh.Index, sh.Count)
		}
		if c.Mode != ModeRun {
			bad("shard", "applies to mode %q only, not %q", ModeRun, c.Mode)
		}
	}
	if len(c.Run.Packages) == 0 {
		bad("packages", "must name at least one package pattern")
	}
	for _, p := range c.Run.Packages {
		// A pattern is an argument of the go command: refuse anything it
		// would read as a flag.
		if strings.HasPrefix(p, "-") {
			bad("packages", "pattern %q must not start with '-'", p)
		}
	}
	if c.Run.Count < 1 {
		bad("count", "must be a positive integer, got %d", c.Run.Count)
	}
	if m := c.Run.MinCount; m < 0 || m > c.Run.Count || m > 0 && m < c.Run.Count && m < MinMinCount {
		bad("min-count", "must be between %d and count (%d), got %d", MinMinCount, c.Run.Count, c.Run.MinCount)
	}
	if c.Run.Count > MaxSequentialCount && c.sequential() {
		bad("count", "must be at most %d when min-count is below it, got %d", MaxSequentialCount, c.Run.Count)
	}
	if c.Run.TimeBudget < 0 {
		bad("time-budget", "must be a positive duration, got %s", c.Run.TimeBudget)
	}
	if c.Run.TimeBudget > 0 && !c.sequential() {
		bad("time-budget", "applies only when min-count is below count (a run of count rounds has no rounds to cut)")
	}

	if _, err := regexp.Compile(c.Run.Bench); err != nil {
		bad("bench", "is not a valid regular expression: %v", err)
	}
	if err := validBenchtime(c.Run.Benchtime); err != nil {
		bad("benchtime", "%v", err)
	}
	if c.Run.Timeout <= 0 {
		bad("timeout", "must be a positive duration, got %s", c.Run.Timeout)
	}
	if t := c.Compare.Threshold; math.IsNaN(t) || math.IsInf(t, 0) || t <= 0 {
		bad("threshold", "must be a positive percentage, got %v", t)
	}
	if a := c.Compare.Alpha; !(a > 0 && a < 1) {
		bad("alpha", "must be between 0 and 1, got %v", a)
	}
	if c.OutputDir == "" {
		bad("output-dir", "must not be empty")
	}
	switch c.History {
	case HistoryAuto, HistoryRead, HistoryOff:
	default:
		bad("history", "must be %q, %q or %q, got %q", HistoryAuto, HistoryRead, HistoryOff, c.History)
	}
	if !validBranch(c.HistoryBranch) {
		bad("history-branch", "must be a branch name (letters, digits and ._/-, no '..', not starting with '-' or '.'), got %q", c.HistoryBranch)
	}
	if c.HistoryKeep < 1 {
		bad("history-keep", "must be a positive number of runs, got %d", c.HistoryKeep)
	}
	if strings.ContainsAny(c.Baseline, " \t\r\n\x00:") || strings.HasPrefix(c.Baseline, "-") {
		bad("baseline", "must be a commit, branch or tag, got %q", c.Baseline)
	}
	return errors.Join(errs...)
}

// DefaultMinCount is min-count when none is given: half of count, so
// that rounds go where they decide something (a sequential run found the
// same changes as 20 fixed rounds in two thirds of the time, with no
// more false alarms: docs/STATISTICS.md). Below 10 rounds, or above
// MaxSequentialCount, it is count: every benchmark runs every round.
func DefaultMinCount(count int) int {
	if count < 10 || count > MaxSequentialCount {
		return count
	}
	return count / 2
}

// sequential reports whether min-count is set below count: benchmarks
// then stop once their rows are settled.
func (c *Config) sequential() bool {
	return c.Run.MinCount > 0 && c.Run.MinCount < c.Run.Count
}

// record is the report's record of the settings; compare fills in the
// effective alpha and threshold.
func (c *Config) record() compare.Config {
	rec := compare.Config{Packages: c.Run.Packages, Bench: c.Run.Bench, Count: c.Run.Count, Benchtime: c.Run.Benchtime}
	if c.sequential() {
		rec.MinCount = c.Run.MinCount
		if c.Run.TimeBudget > 0 {
			rec.TimeBudget = c.Run.TimeBudget.String()
		}
	}
	return rec
}

var branchRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$`)

// validBranch accepts the branch names that git accepts and that need no
// quoting anywhere: a stricter subset of git check-ref-format.
func validBranch(b string) bool {
	return branchRE.MatchString(b) && !strings.Contains(b, "..") && !strings.Contains(b, "//") &&
		!strings.HasSuffix(b, "/") && !strings.HasSuffix(b, ".lock") && !strings.HasSuffix(b, ".") &&
		!strings.Contains(b, "/.") && b != "HEAD"
}

// validBenchtime accepts what -test.benchtime accepts: a positive
// duration or a positive iteration count such as 100x.
func validBenchtime(s string) error {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return nil
		}
		return fmt.Errorf("must be a positive iteration count such as 100x, got %q", s)
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return nil
	}
	return fmt.Errorf("must be a positive duration such as 100ms or a count such as 100x, got %q", s)
}
