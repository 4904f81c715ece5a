package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/outcome"
)

// WriteJSON writes r as report.json (schema natsbench/report/v1),
// indented. Lists are never null and the summary has a count for every
// verdict, so consumers need no special cases.
func WriteJSON(w io.Writer, r *Report) error {
	out := normalize(*r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("writing report json: %w", err)
	}
	return nil
}

// Limits of a report.json that ReadJSON accepts. Post mode reads one made
// by a pull request's workflow, which ran the pull request's code: its
// size and its shape are checked before anything renders it.
const (
	// MaxReportBytes bounds the file (a report of 1,500 rows is about 1 MB).
	MaxReportBytes = 32 << 20
	// MaxRows bounds the rows, and each list of failures, build errors,
	// hotspots and warnings.
	MaxRows = 100_000
	// maxName bounds a package, benchmark, function or file name.
	maxName = 4096
	// maxWord bounds a ref, a SHA, a unit, a side, a reason, a shard, a
	// CPU and the settings' strings.
	maxWord = 256
	// maxShards bounds the shards of a merged report (GitHub's matrix
	// has at most 256 legs).
	maxShards = 256
	// MaxPlanRounds bounds count in a sequential run's config: rendering
	// the report computes the boundaries of every look up to it (2–1000
	// takes about 25 s on a 2-core machine).
	MaxPlanRounds = 1000
)

// ReadJSON reads a report written by WriteJSON and checks it as untrusted
// input: at most MaxReportBytes, the schema's verdicts and sides only,
// every row with the sides its verdict needs, bounded names. The summary
// is recounted from the rows, never read. Unknown fields are ignored
// (newer writers may add some); another schema is an error.
func ReadJSON(r io.Reader) (*Report, error) {
	lr := &io.LimitedReader{R: r, N: MaxReportBytes + 1}
	var rep Report
	err := json.NewDecoder(lr).Decode(&rep)
	if lr.N <= 0 {
		return nil, fmt.Errorf("reading report json: larger than %d bytes", MaxReportBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("reading report json: %w", err)
	}
	if rep.Schema != Schema {
		return nil, fmt.Errorf("reading report json: schema %q, want %q", rep.Schema, Schema)
	}
	if err := check(&rep); err != nil {
		return nil, fmt.Errorf("reading report json: %w", err)
	}
	rep = normalize(rep)
	return &rep, nil
}

// sides says which sides a row needs figures of.
type sides struct{ base, head bool }

func (s sides) String() string {
	switch {
	case s.base && s.head:
		return "both base and head"
	case s.base:
		return "base"
	}
	return "head"
}

// sidesNeeded lists the known verdicts with the sides each needs.
var sidesNeeded = map[Verdict]sides{
	Regression:  {base: true, head: true},
	Improvement: {base: true, head: true},
	Unchanged:   {base: true, head: true},
	Added:       {head: true},
	Removed:     {base: true},
	Measured:    {head: true},
	Failed:      {},
}

// check validates what the renderer relies on, and reports every problem
// up to a few.
func check(r *Report) error {
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	long := func(what, s string, max int) {
		if len(s) > max {
			bad("%s is %d bytes long, over %d", what, len(s), max)
		}
	}
	for what, n := range map[string]int{"benchmarks": len(r.Benchmarks), "failures": len(r.Failures),
		"build_errors": len(r.BuildErrors), "hotspots": len(r.Hotspots), "warnings": len(r.Warnings)} {
		if n > MaxRows {
			bad("%s has %d entries, over %d", what, n, MaxRows)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, ref := range []Ref{r.Base, r.Head} {
		long("a ref", ref.Ref, maxWord)
		long("a sha", ref.SHA, maxWord)
	}
	if !r.Created.IsZero() && (r.Created.Year() < 2000 || r.Created.Year() > 9999) {
		bad("created %s is out of range", r.Created.Format(time.RFC3339))
	}
	long("config.benchtime", r.Config.Benchtime, maxWord)
	long("config.time_budget", r.Config.TimeBudget, maxWord)
	if r.Config.MinCount < 0 {
		bad("config.min_count is %d, below 0", r.Config.MinCount)
	}
	if r.Config.MinCount > 0 && r.Config.MinCount < r.Config.Count && r.Config.Count > MaxPlanRounds {
		bad("config.count is %d with min_count %d, over %d", r.Config.Count, r.Config.MinCount, MaxPlanRounds)
	}
	long("config.bench", r.Config.Bench, maxName)
	if len(r.Config.Packages) > 1000 {
		bad("config.packages has %d patterns, over 1000", len(r.Config.Packages))
	}
	for _, p := range r.Config.Packages {
		long("a package pattern", p, maxName)
	}
	for _, f := range []float64{r.Config.Threshold, r.Config.Alpha} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			bad("config threshold and alpha must be finite")
		}
	}
	measured, compared := false, false
	for i, row := range r.Benchmarks {
		at := fmt.Sprintf("benchmarks[%d]", i)
		long(at+".package", row.Package, maxName)
		long(at+".name", row.Name, maxName)
		long(at+".unit", row.Unit, maxWord)
		long(at+".shard", row.Shard, maxWord)
		long(at+".cpu", row.CPU, maxWord)
		for side, s := range map[string]*Summary{"base": row.Base, "head": row.Head} {
			if s != nil && (s.N < 0 || math.IsNaN(s.Center) || math.IsInf(s.Center, 0)) {
				bad("%s.%s: n must not be negative and center must be a number", at, side)
			}
		}
		if row.Rounds < 0 {
			bad("%s.rounds is %d, below 0", at, row.Rounds)
		}
		if m := row.MDEPct; m != nil && !(*m >= 0 && !math.IsInf(*m, 0)) {
			bad("%s.mde_pct must be a finite number that is not negative", at)
		}
		need, known := sidesNeeded[row.Verdict]
		switch {
		case !known:
			bad("%s: unknown verdict %s", at, shown(string(row.Verdict)))
			continue
		case need.base && row.Base == nil || need.head && row.Head == nil:
			bad("%s: verdict %q needs %s", at, row.Verdict, need)
		}
		if row.Verdict == Measured {
			measured = true
		} else if row.Verdict != Failed {
			compared = true
		}
	}
	if measured && compared {
		bad("rows measured without a baseline and rows compared with one in the same report")
	}
	side := func(at string, s outcome.Side) {
		if s != outcome.Base && s != outcome.Head {
			bad("%s: side %s, want base or head", at, shown(string(s)))
		}
	}
	for i, f := range r.Failures {
		at := fmt.Sprintf("failures[%d]", i)
		side(at, f.Side)
		long(at+".package", f.Package, maxName)
		long(at+".benchmark", f.Benchmark, maxName)
		long(at+".reason", f.Reason, maxWord)
	}
	if len(r.Shards) > maxShards {
		bad("shards has %d entries, over %d", len(r.Shards), maxShards)
	}
	for i, sh := range r.Shards {
		at := fmt.Sprintf("shards[%d]", i)
		long(at+".shard", sh.Shard, maxWord)
		long(at+".cpu", sh.CPU, maxWord)
		long(at+".error", sh.Error, maxName)
		switch sh.Status {
		case ShardMerged, ShardMissing, ShardFailed:
		default:
			bad("%s: unknown status %s", at, shown(string(sh.Status)))
		}
		if sh.Benchmarks < 0 || sh.Benchmarks > MaxRows {
			bad("%s: benchmarks must be between 0 and %d", at, MaxRows)
		}
	}
	for i, b := range r.BuildErrors {
		at := fmt.Sprintf("build_errors[%d]", i)
		side(at, b.Side)
		long(at+".package", b.Package, maxName)
	}
	for i, h := range r.Hotspots {
		at := fmt.Sprintf("hotspots[%d]", i)
		side(at, h.Side)
		long(at+".package", h.Package, maxName)
		long(at+".function", h.Function, maxName)
	}
	return errors.Join(errs...)
}

// normalize returns r with empty lists instead of nil and every verdict
// counted.
func normalize(r Report) Report {
	if r.Schema == "" {
		r.Schema = Schema
	}
	if r.Benchmarks == nil {
		r.Benchmarks = []Row{}
	}
	if r.Hotspots == nil {
		r.Hotspots = []outcome.Hotspot{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	// JSON has no NaN or infinity; a non-finite figure is unknown.
	rows := make([]Row, len(r.Benchmarks))
	for i, b := range r.Benchmarks {
		for _, f := range []**float64{&b.DeltaPct, &b.PValue, &b.PAdjusted, &b.MDEPct} {
			if *f != nil {
				*f = finite(**f)
			}
		}
		if b.Reason == NoReason {
			b.Reason = reasonOf(b.Verdict, b.Note)
		}
		rows[i] = b
	}
	r.Benchmarks = rows
	// The counts are always the rows': a summary is never taken as given.
	r.Summary = countVerdicts(r.Benchmarks)
	return r
}

// shown quotes an unexpected value from the report in an error if it is
// one short word; anything else may be crafted to read as something in a
// log, so only its size is said.
func shown(s string) string {
	if len(s) > 0 && len(s) <= 20 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz_") == "" {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("of %d bytes", len(s))
}

// summaryJSON is Summary on the wire: JSON has no infinity, so an
// unbounded confidence interval (too few samples for one) is null.
type summaryJSON struct {
	N      int      `json:"n"`
	Center *float64 `json:"center"`
	Low    *float64 `json:"low"`
	High   *float64 `json:"high"`
}

func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON writes non-finite bounds as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{N: s.N, Center: finite(s.Center), Low: finite(s.Low), High: finite(s.High)})
}

// UnmarshalJSON reads null bounds back as -Inf and +Inf.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{N: j.N, Center: math.NaN(), Low: math.Inf(-1), High: math.Inf(1)}
	if j.Center != nil {
		s.Center = *j.Center
	}
	if j.Low != nil {
		s.Low = *j.Low
	}
	if j.High != nil {
		s.High = *j.High
	}
	return nil
}
