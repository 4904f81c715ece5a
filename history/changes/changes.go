// Package changes finds the change points of a history: for every head
// series (package, benchmark, unit) it runs changepoint.Detect, one
// environment at a time, and names each shift by the records around it,
// the commit range between them, a compare link, and the exact commands
// that rerun the two commits interleaved to confirm or refute it. The
// history suspects; an interleaved run decides (docs/CHANGEPOINTS.md).
//
// It is pure computation and rendering: the server URL, the repository
// and the action's version come in through Options, never from the
// environment. Everything from the history is untrusted (anyone who can
// push the history branch, or write a benchmark name, wrote it): commit ids
// are checked to be hex before they enter a link or a command, names are
// escaped in markdown and single-quoted in shell commands.
package changes

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/natsbench/natsbench-action/changepoint"
	"github.com/natsbench/natsbench-action/history"
)

// Module is the action's Go module, which `go run` fetches for the local
// confirmation command.
const Module = "github.com/natsbench/natsbench-action"

// DefaultWorkflow is the workflow file the dispatch command names when
// Options.Workflow is empty: the README's weekly workflow.
const DefaultWorkflow = "benchmarks.yml"

// ConfirmCount is the number of interleaved rounds the confirmation
// commands ask for: more than a pull request's run, since the point is to
// settle a doubt about one benchmark.
const ConfirmCount = 20

// MatchDistance is how many records a change point may move between two
// analyses and still be the same one: a step's estimated place wobbles by
// a record or two as records are added after it.
const MatchDistance = 2

// Options tune Find and New and supply what the links and commands need.
type Options struct {
	// ThresholdPct drops shifts smaller than this many percent in absolute
	// value: the action's threshold input.
	ThresholdPct float64
	// Detect tunes the detection; its MinShiftPct is replaced by
	// ThresholdPct. Its zero value takes changepoint's defaults.
	Detect changepoint.Options
	// ServerURL (GITHUB_SERVER_URL, e.g. https://github.com) and
	// Repository (owner/name) make the compare links; without both, or
	// when either is malformed, there is no link.
	ServerURL  string
	Repository string
	// Version is the action's version for `go run module@version`;
	// "" or anything that is not a plain version is "latest".
	Version string
	// Workflow names the workflow the dispatch command runs: its file
	// (benchmarks.yml) or its name (GITHUB_WORKFLOW), which gh accepts
	// alike; "" or a name with control characters is DefaultWorkflow.
	Workflow string
	// WorkingDirectory is the module's directory in the repository (the
	// action's working-directory input), where the local command must
	// run; "" or "." is the repository's root.
	WorkingDirectory string
}

// Run is a record on one side of a change point.
type Run struct {
	// Record is the index of the record in History.Records.
	Record int
	// ID is the record's ID, which stays the same when retention drops
	// older records and the indexes move.
	ID         string
	SHA        string
	CommitTime time.Time
	RunTime    time.Time
	RunURL     string
	// Center is the series' value in this record.
	Center float64
}

// Change is one change point of one series.
type Change struct {
	Key history.Key
	// Env is the environment key both sides were measured in.
	Env string
	// BeforeIndex and AfterIndex index the series' points as
	// History.Series(history.SideHead) gives them: where a trend page
	// marks the change.
	BeforeIndex, AfterIndex int
	// Before is the last record before the change, After the first after
	// it; the code change lies in the commits (Before.SHA, After.SHA].
	Before, After Run
	// ShiftPct is the shift of the level in percent (positive: the
	// values grew), with its 95% interval [Low, High], and PValue the
	// significance of the split (see changepoint.Change).
	ShiftPct, Low, High, PValue float64
	// BeforeMedian and AfterMedian are the levels on each side.
	BeforeMedian, AfterMedian float64
	// HigherIsBetter says which way is an improvement for the unit.
	HigherIsBetter bool
	// CompareURL is the compare view of the commit range, or "" when the
	// options give no valid server and repository.
	CompareURL string
	// Command is the shell command that reruns the two commits
	// interleaved on this benchmark alone; "" when the record's commit
	// ids are not hex or the name cannot be put in a command (it holds
	// control characters).
	Command string
	// Dispatch is the gh command that runs the workflow with the inputs
	// baseline = Before.SHA and head = After.SHA; "" like Command.
	Dispatch string
}

// Regression reports whether the change made the benchmark worse.
func (c Change) Regression() bool { return (c.ShiftPct > 0) != c.HigherIsBetter }

// HigherIsBetter says which direction is an improvement for a unit, by
// the rule compare uses when the benchmark output gives no "better"
// metadata (the history does not keep it): rates (".../s", such as MB/s
// or ops/s) are better higher, everything else (sec/op, B/op, allocs/op,
// latencies, custom counts per op) is better lower. A custom unit whose
// larger values are better and that does not end in "/s" is read the
// other way round; only the sort order and the words "slower/faster"
// depend on it, never what is detected.
func HigherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") }

// Label is the short text a chart draws beside the change point.
func (c Change) Label() string {
	return fmt.Sprintf("%+.1f%% (%s, p=%s)", c.ShiftPct, c.word(), formatP(c.PValue))
}

// word says in one word whether the change is good or bad.
func (c Change) word() string {
	if c.Regression() {
		return "regression"
	}
	return "improvement"
}

// Find returns the change points of every head series of h, worst first.
// It fails only on invalid detection options.
func Find(h *history.History, opt Options) ([]Change, error) {
	return find(h, h.Series(history.SideHead), opt)
}

func find(h *history.History, series []history.Series, opt Options) ([]Change, error) {
	dopt := opt.Detect
	dopt.MinShiftPct = math.Max(opt.ThresholdPct, 0)
	var out []Change
	points := make([]changepoint.Point, 0, len(h.Records))
	for _, s := range series {
		points = points[:0]
		for _, p := range s.Points {
			points = append(points, changepoint.Point{Value: p.Center, Env: p.Env})
		}
		found, err := changepoint.Detect(points, dopt)
		if err != nil {
			return nil, fmt.Errorf("finding change points of %s: %w", s.Key, err)
		}
		for _, f := range found {
			out = append(out, newChange(h, s, f, opt))
		}
	}
	sortWorstFirst(out)
	return out, nil
}

func newChange(h *history.History, s history.Series, f changepoint.Change, opt Options) Change {
	run := func(i int) Run {
		p := s.Points[i]
		r := h.Records[p.Record]
		return Run{Record: p.Record, ID: r.ID, SHA: r.SHA, CommitTime: r.CommitTime, RunTime: r.RunTime,
			RunURL: r.RunURL, Center: p.Center}
	}
	c := Change{
		Key: s.Key, Env: s.Points[f.After].Env,
		BeforeIndex: f.Before, AfterIndex: f.After,
		Before: run(f.Before), After: run(f.After),
		ShiftPct: f.ShiftPct, Low: f.Low, High: f.High, PValue: f.PValue,
		BeforeMedian: f.BeforeMedian, AfterMedian: f.AfterMedian,
		HigherIsBetter: HigherIsBetter(s.Key.Unit),
	}
	c.CompareURL = compareURL(opt, c.Before.SHA, c.After.SHA)
	c.Command, c.Dispatch = commands(opt, c, h.Records[c.After.Record].Env.GOMAXPROCS)
	return c
}

// sortWorstFirst puts regressions before improvements, each by the size
// of the shift, largest first; ties in a fixed order.
func sortWorstFirst(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if a.Regression() != b.Regression() {
			if a.Regression() {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(math.Abs(b.ShiftPct), math.Abs(a.ShiftPct)); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Key.Package, b.Key.Package), cmp.Compare(a.Key.Name, b.Key.Name),
			cmp.Compare(a.Key.Unit, b.Key.Unit), cmp.Compare(a.AfterIndex, b.AfterIndex))
	})
}

// Lookback is how many analyses before the current one New compares
// with: the previous history, and that history without its newest one
// and two head records. A change point near the significance level can
// flicker in and out as records are added; it is new only the first
// time.
const Lookback = 3

// New returns the change points of cur that are new since the previous
// run: prev is the history as the previous run left it, cur the history
// with this run's records. A change point of cur is old when the analysis
// of prev, or of prev without its newest one or two head records (see
// Lookback), has one of the same series, environment and direction whose
// first record after is within MatchDistance records of cur's. Records are
// matched by ID, so that retention dropping old records does not make old
// change points new.
func New(prev, cur *history.History, opt Options) ([]Change, error) {
	now, err := Find(cur, opt)
	if err != nil || len(now) == 0 {
		return now, err
	}
	// Only the series that have a change point now need a second look.
	keys := map[history.Key]bool{}
	for _, c := range now {
		keys[c.Key] = true
	}
	// Where each record of cur sits in each of those series.
	at := map[history.Key]map[string]int{}
	for _, s := range cur.Series(history.SideHead) {
		if !keys[s.Key] {
			continue
		}
		m := make(map[string]int, len(s.Points))
		for i, p := range s.Points {
			m[cur.Records[p.Record].ID] = i
		}
		at[s.Key] = m
	}
	var before []Change
	earlier := prev
	for range Lookback {
		var series []history.Series
		for _, s := range earlier.Series(history.SideHead) {
			if keys[s.Key] {
				series = append(series, s)
			}
		}
		found, err := find(earlier, series, opt)
		if err != nil {
			return nil, err
		}
		before = append(before, found...)
		if earlier = withoutNewestHead(earlier); earlier == nil {
			break
		}
	}
	var out []Change
	for _, c := range now {
		seen := slices.ContainsFunc(before, func(b Change) bool {
			i, ok := at[c.Key][b.After.ID]
			return ok && b.Key == c.Key && b.Env == c.Env && (b.ShiftPct > 0) == (c.ShiftPct > 0) &&
				abs(i-c.AfterIndex) <= MatchDistance
		})
		if !seen {
			out = append(out, c)
		}
	}
	return out, nil
}

// withoutNewestHead returns h without its newest head record, or nil when
// it has none.
func withoutNewestHead(h *history.History) *history.History {
	for i := len(h.Records) - 1; i >= 0; i-- {
		if h.Records[i].Side == history.SideHead {
			recs := append(slices.Clip(h.Records[:i]), h.Records[i+1:]...)
			return &history.History{Records: recs}
		}
	}
	return nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

var (
	hexRE     = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	repoRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)
	serverRE  = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$`)
	versionRE = regexp.MustCompile(`^v[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.-]+)?$`)
)

// compareURL is the compare view of before...after, or "" when anything
// that goes into it is malformed.
func compareURL(opt Options, before, after string) string {
	if !hexRE.MatchString(before) || !hexRE.MatchString(after) || !repoRE.MatchString(opt.Repository) ||
		!serverRE.MatchString(opt.ServerURL) || strings.Contains(opt.Repository, "..") {
		return ""
	}
	return strings.TrimRight(opt.ServerURL, "/") + "/" + opt.Repository + "/compare/" + before + "..." + after
}

// commands returns the local and the dispatch command that confirm c,
// measured with GOMAXPROCS procs.
func commands(opt Options, c Change, procs int) (local, dispatch string) {
	before, after := c.Before.SHA, c.After.SHA
	if !hexRE.MatchString(before) || !hexRE.MatchString(after) || !printable(c.Key.Package) || !printable(c.Key.Name) {
		return "", ""
	}
	version := "latest"
	if versionRE.MatchString(opt.Version) {
		version = opt.Version
	}
	dir := "/tmp/natsbench-" + short(after)
	cd := dir
	if wd := strings.Trim(opt.WorkingDirectory, "/"); wd != "" && wd != "." {
		if !printable(wd) {
			return "", ""
		}
		cd = dir + "/" + wd
	}
	// Reports of benchmark output without a pkg line have no package:
	// then the command runs the benchmark wherever it is.
	pkgs := ""
	if c.Key.Package != "" {
		pkgs = " -packages " + shellQuote(c.Key.Package)
	}
	local = fmt.Sprintf("git worktree add --detach %s %s && cd %s && go run %s@%s -baseline %s%s -bench %s -count %d",
		dir, after, shellQuote(cd), Module, version, before, pkgs, shellQuote(BenchRegexp(TestName(c.Key.Name, procs))), ConfirmCount)
	workflow := DefaultWorkflow
	if opt.Workflow != "" && len(opt.Workflow) <= 256 && printable(opt.Workflow) {
		workflow = opt.Workflow
	}
	dispatch = "gh workflow run " + shellQuote(workflow)
	if repoRE.MatchString(opt.Repository) {
		dispatch += " --repo " + opt.Repository
	}
	dispatch += " -f baseline=" + before + " -f head=" + after
	return local, dispatch
}

// TestName is a benchmark's name as go test knows it, without the
// "Benchmark" prefix: the report's name without the -GOMAXPROCS suffix go
// test appends when GOMAXPROCS is not 1 (BenchmarkWork-4 is Work).
func TestName(name string, procs int) string {
	if procs > 1 {
		return strings.TrimSuffix(name, "-"+strconv.Itoa(procs))
	}
	return name
}

// BenchRegexp is the -bench regular expression that runs the benchmark
// named name (without "Benchmark" and the -GOMAXPROCS suffix, see
// TestName) and nothing else: go test splits -bench at slashes
// into one expression per level of sub-benchmark, so each level is
// anchored and quoted.
func BenchRegexp(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if i == 0 {
			p = "Benchmark" + p
		}
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// shellQuote makes s one word of a POSIX shell command that the shell
// takes literally: single quotes around it, and each single quote in it
// closed, backslash-escaped and reopened. Nothing inside single quotes is
// expanded: no $(…), backquote, variable or glob.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printable reports whether s can go into a one-line command: valid
// UTF-8 and no control or line-breaking character.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085'
	})
}

// short is a commit id's first 7 characters.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// formatP writes a p-value with two significant digits.
func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", p), "0"), ".")
}
