package compare

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"

	"github.com/natsbench/natsbench-action/outcome"
)

// Defaults for Options fields left at zero.
const (
	DefaultAlpha     = 0.05
	DefaultThreshold = 5.0 // percent
	// Confidence is the level of the confidence intervals, benchstat's default.
	Confidence = 0.95
)

// Measured is the verdict of every row in absolute mode (no baseline):
// the head was measured, nothing was compared.
const Measured Verdict = "measured"

// Options are the decision settings of a comparison.
type Options struct {
	// Alpha is the false discovery rate across rows: a row's change is
	// significant if its Benjamini-Hochberg adjusted p-value is <= Alpha.
	// 0 means DefaultAlpha.
	Alpha float64
	// Threshold is the smallest |delta| in percent that counts as a
	// change. 0 means DefaultThreshold (for "any significant change" use
	// a tiny positive value).
	Threshold float64
	// Plan is the sequential design the rounds followed; its zero value
	// is the fixed design (one look at the end, at level Alpha).
	Plan Plan
}

// withDefaults fills in the fields left at zero. The ranges are the
// caller's to check (internal/app validates its inputs once).
func (o Options) withDefaults() Options {
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Threshold == 0 {
		o.Threshold = DefaultThreshold
	}
	return o
}

// Input is everything a Report is computed from.
type Input struct {
	// Base and Head are results in Go's benchmark format. A nil Base
	// selects absolute mode: the head's figures, no comparison.
	Base, Head []byte
	// BaseName and HeadName name the inputs in errors and warnings
	// ("base" and "head" if empty).
	BaseName, HeadName string
	Options            Options
	BaseRef, HeadRef   Ref
	// Config is copied into the report; its Alpha and Threshold are
	// overwritten by the effective Options.
	Config      Config
	Failures    []outcome.Failure
	BuildErrors []outcome.BuildError
	Hotspots    []outcome.Hotspot
	// Command reproduces the run locally; RunURL links to the CI run.
	Command, RunURL string
	// PR is the pull request the run measured, 0 for none. The report
	// records it as extra.pr_number.
	PR int
	// Created is when the run measured; the report records it.
	Created time.Time
	// Stopped are the rows of the benchmarks a sequential run stopped, as
	// the look that stopped them decided them. Their verdicts stand: the
	// other rows' p-values, which the correction across rows depends on,
	// moved on after them, but the decision to stop was taken at that
	// look. A row matches by package, name, unit and rounds, and is kept
	// only if its decision fits the row's samples (they may come from a
	// shard's report.json: see StoppedRows).
	Stopped []Row
}

// cell accumulates one (package, benchmark, unit) sample of one side.
type cell struct {
	values  []float64
	residue map[benchproc.Key]struct{}
}

// parsed is one side's input, grouped.
type parsed struct {
	cells    map[benchproc.Key]*cell
	order    []benchproc.Key
	units    benchfmt.UnitMetadataMap
	env      Environment
	results  int
	warnings []string
}

// grouper holds the projections shared by both sides, so that equal
// (package, benchmark, unit) triples get equal keys.
type grouper struct {
	filter             *benchproc.Filter
	proj, residue      *benchproc.Projection
	pkgF, nameF, unitF *benchproc.Field
}

func newGrouper() (*grouper, error) {
	filter, err := benchproc.NewFilter("*")
	if err != nil {
		return nil, fmt.Errorf("making filter: %w", err)
	}
	// benchstat's default is -table .config -row .fullname -col .file.
	// We compare exactly two inputs, so the column is implicit; of the
	// configuration only pkg keeps benchmarks apart (the same name in two
	// packages is two benchmarks). Any other varying configuration is
	// caught by the residue and reported, as benchstat does.
	var pp benchproc.ProjectionParser
	proj, unitF, err := pp.ParseWithUnit("pkg,.fullname", filter)
	if err != nil {
		return nil, fmt.Errorf("making projection: %w", err)
	}
	g := &grouper{filter: filter, proj: proj, residue: pp.Residue(), unitF: unitF}
	for _, f := range proj.Fields() {
		switch f.Name {
		case "pkg":
			g.pkgF = f
		case ".fullname":
			g.nameF = f
		}
	}
	if g.pkgF == nil || g.nameF == nil {
		return nil, errors.New("making projection: missing pkg or .fullname field")
	}
	return g, nil
}

// read parses one side. Syntax errors are kept as warnings, as benchstat
// keeps going past them; a non-empty input in which nothing parses is an
// error naming the first bad line.
func (g *grouper) read(data []byte, name string) (*parsed, error) {
	p := &parsed{cells: make(map[benchproc.Key]*cell)}
	r := benchfmt.NewReader(bytes.NewReader(data), name)
	var first *benchfmt.SyntaxError
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			p.warnings = append(p.warnings, rec.Error())
			if first == nil {
				first = rec
			}
		case *benchfmt.Result:
			if ok, _ := g.filter.Apply(rec); !ok {
				continue
			}
			p.results++
			p.noteEnv(rec)
			keys := g.proj.ProjectValues(rec)
			res := g.residue.Project(rec)
			for i, k := range keys {
				c := p.cells[k]
				if c == nil {
					c = &cell{residue: make(map[benchproc.Key]struct{})}
					p.cells[k] = c
					p.order = append(p.order, k)
				}
				c.values = append(c.values, rec.Values[i].Value)
				c.residue[res] = struct{}{}
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if p.results == 0 && first != nil {
		return nil, fmt.Errorf("parsing %s: no benchmark results, first error at %w", name, first)
	}
	if p.results == 0 && len(bytes.TrimSpace(data)) > 0 {
		p.warnings = append(p.warnings, name+": no benchmark results")
	}
	p.units = r.Units()
	return p, nil
}

// noteEnv records the first machine description the results carry.
func (p *parsed) noteEnv(r *benchfmt.Result) {
	set := func(dst *string, key string) {
		if *dst == "" {
			*dst = r.GetConfig(key)
		}
	}
	set(&p.env.GOOS, "goos")
	set(&p.env.GOARCH, "goarch")
	set(&p.env.CPU, "cpu")
	set(&p.env.GoVersion, "go")
	if p.env.GOMAXPROCS == 0 {
		// go test appends -GOMAXPROCS to names unless it is 1.
		p.env.GOMAXPROCS = 1
		if _, parts := r.Name.Parts(); len(parts) > 0 {
			last := parts[len(parts)-1]
			if len(last) > 1 && last[0] == '-' {
				if n, err := strconv.Atoi(string(last[1:])); err == nil {
					p.env.GOMAXPROCS = n
				}
			}
		}
	}
}

// work is a row being decided.
type work struct {
	Row
	baseVals, headVals []float64
	exact              bool    // compared exactly, no test
	better             int     // +1 higher is better, -1 lower is better
	level              float64 // the level its adjusted p-value is tested at
}

// Compute parses, groups, summarizes and compares the inputs and decides
// a verdict per row. Only I/O errors and inputs with nothing but syntax
// errors are errors; everything else that limits what
// can be concluded is a warning in the report.
func Compute(in Input) (*Report, error) {
	opt := in.Options.withDefaults()
	g, err := newGrouper()
	if err != nil {
		return nil, err
	}
	headName, baseName := orDefault(in.HeadName, "head"), orDefault(in.BaseName, "base")
	absolute := in.Base == nil
	var base *parsed
	if !absolute {
		if base, err = g.read(in.Base, baseName); err != nil {
			return nil, err
		}
	} else {
		base = &parsed{cells: map[benchproc.Key]*cell{}}
	}
	head, err := g.read(in.Head, headName)
	if err != nil {
		return nil, err
	}

	rep := &Report{
		Schema:      Schema,
		Base:        in.BaseRef,
		Head:        in.HeadRef,
		Config:      in.Config,
		Environment: mergeEnv(mergeEnv(head.env, base.env), processEnv()),
		Hotspots:    append([]outcome.Hotspot{}, in.Hotspots...),
		Failures:    in.Failures,
		BuildErrors: in.BuildErrors,
		Command:     in.Command,
		RunURL:      in.RunURL,
		Created:     in.Created.UTC(),
		Benchmarks:  []Row{},
		Warnings:    []string{},
	}
	rep.Config.Alpha, rep.Config.Threshold = opt.Alpha, opt.Threshold
	if in.PR > 0 {
		rep.Extra = map[string]string{"pr_number": strconv.Itoa(in.PR)}
	}
	rep.Warnings = append(rep.Warnings, base.warnings...)
	rep.Warnings = append(rep.Warnings, head.warnings...)
	if b, h := base.env, head.env; b.CPU != "" && h.CPU != "" && b.CPU != h.CPU || b.GOARCH != "" && h.GOARCH != "" && b.GOARCH != h.GOARCH {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("base and head ran on different machines (%s %s vs %s %s): differences may be the machine's", b.GOARCH, b.CPU, h.GOARCH, h.CPU))
	}

	units := benchfmt.UnitMetadataMap{}
	for _, m := range []benchfmt.UnitMetadataMap{base.units, head.units} {
		for k, v := range m {
			units[k] = v
		}
	}

	keys := append([]benchproc.Key{}, base.order...)
	for _, k := range head.order {
		if _, ok := base.cells[k]; !ok {
			keys = append(keys, k)
		}
	}
	benchproc.SortKeys(keys)

	ws := newWarnSet()
	levelOf := opt.Plan.levels(opt.Alpha)
	thr := benchmath.DefaultThresholds
	thr.CompareAlpha = opt.Alpha
	var rows []*work
	for _, k := range keys {
		w := &work{Row: Row{Package: k.Get(g.pkgF), Name: k.Get(g.nameF), Unit: k.Get(g.unitF)}}
		w.better = betterOf(units, w.Unit)
		assumption := units.GetAssumption(w.Unit)
		label := w.label()
		var bs, hs *benchmath.Sample
		if c := base.cells[k]; c != nil {
			w.baseVals = append([]float64{}, c.values...)
			bs = benchmath.NewSample(w.baseVals, &thr)
			w.Base = summarize(assumption, bs, ws, label, baseName)
			ws.residue(c, label, baseName)
		}
		if c := head.cells[k]; c != nil {
			w.headVals = append([]float64{}, c.values...)
			hs = benchmath.NewSample(w.headVals, &thr)
			w.Head = summarize(assumption, hs, ws, label, headName)
			ws.residue(c, label, headName)
		}
		switch {
		case absolute:
			w.Verdict = Measured
		case bs == nil:
			w.Verdict = Added
		case hs == nil:
			w.Verdict = Removed
		default:
			w.DeltaPct = deltaPct(w.Base.Center, w.Head.Center)
			rounds := min(len(w.baseVals), len(w.headVals))
			w.level = levelOf(rounds)
			if opt.Plan.Sequential() {
				w.Rounds = rounds
			}
			// One sample can't show that a unit is deterministic.
			w.exact = assumption == benchmath.AssumeExact ||
				((w.Unit == "allocs/op" || w.Unit == "B/op") && len(w.baseVals) > 1 && len(w.headVals) > 1 &&
					constant(w.baseVals) && constant(w.headVals))
			// benchstat's own test, reported for every row so that
			// p_value matches benchstat; on its errors (e.g. all samples
			// equal) it reports P=1, as do we. Exact rows are decided
			// without it and stay out of the FDR family.
			c := assumption.Compare(bs, hs)
			p := c.P
			w.PValue = &p
		}
		rows = append(rows, w)
	}

	// Failures first: a failed row is not part of the tested family.
	rows = applyFailures(rows, in.Failures, in.BuildErrors)
	adjust(rows)
	stopped := keepStopped(rows, in.Stopped, opt)
	for _, w := range rows {
		decide(w, opt, ws)
		// Only a sequential run stops benchmarks.
		w.Settled = w.Settled && opt.Plan.Sequential()
	}
	setMDE(rows)
	for w, r := range stopped {
		w.MDEPct = r.MDEPct
	}

	for _, w := range rows {
		rep.Benchmarks = append(rep.Benchmarks, w.Row)
	}
	rep.Warnings = append(rep.Warnings, ws.strings()...)
	rep.Summary = countVerdicts(rep.Benchmarks)
	return rep, nil
}

// summarize is benchstat's summary of one side, with its warnings noted.
func summarize(a benchmath.Assumption, s *benchmath.Sample, ws *warnSet, label, side string) *Summary {
	sum := a.Summary(s, Confidence)
	for _, e := range s.Warnings {
		ws.add(side+": "+e.Error(), label)
	}
	for _, e := range sum.Warnings {
		ws.add(side+": "+e.Error(), label)
	}
	return &Summary{N: len(s.Values), Center: sum.Center, Low: sum.Lo, High: sum.Hi}
}

// label names a row in warnings.
func (w *work) label() string {
	s := w.Name + " " + w.Unit
	if w.Package != "" {
		s = w.Package + " " + s
	}
	return s
}

// betterOf says which direction is an improvement: the unit's "better"
// metadata if the file gives one, else higher for rates (".../s") and
// lower for everything else (time, bytes, allocations, latencies).
func betterOf(units benchfmt.UnitMetadataMap, unit string) int {
	if m := units.Get(unit, "better"); m != nil {
		switch m.Value {
		case "higher":
			return +1
		case "lower":
			return -1
		}
	}
	if strings.HasSuffix(unit, "/s") {
		return +1
	}
	return -1
}

// deltaPct is the change of head's center from base's, in percent; nil
// when base is 0 and head is not (no finite percentage).
func deltaPct(base, head float64) *float64 {
	var d float64
	switch {
	case base == head:
		d = 0
	case base == 0:
		return nil
	default:
		d = (head/base - 1) * 100
	}
	return &d
}

func constant(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return len(v) > 0
}

// mergeEnv fills in what primary leaves empty from secondary.
func mergeEnv(primary, secondary Environment) Environment {
	e := primary
	if e.GOOS == "" {
		e.GOOS = secondary.GOOS
	}
	if e.GOARCH == "" {
		e.GOARCH = secondary.GOARCH
	}
	if e.CPU == "" {
		e.CPU = secondary.CPU
	}
	if e.GoVersion == "" {
		e.GoVersion = secondary.GoVersion
	}
	if e.GOMAXPROCS == 0 {
		e.GOMAXPROCS = secondary.GOMAXPROCS
	}
	return e
}

// processEnv describes the running process. What the benchmark files don't
// say, it does: compare runs on the machine that ran the benchmarks, in the
// action and locally. It cannot name the CPU.
func processEnv() Environment {
	return Environment{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// countVerdicts counts rows per verdict, with every verdict present so
// that consumers of report.json need not test for missing keys.
func countVerdicts(rows []Row) map[Verdict]int {
	m := map[Verdict]int{}
	for _, v := range []Verdict{Regression, Improvement, Unchanged, Added, Removed, Failed, Measured} {
		m[v] = 0
	}
	for _, r := range rows {
		m[r.Verdict]++
	}
	return m
}
