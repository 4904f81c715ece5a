// Package page renders the trend page of a history: one self-contained
// index.html with a chart per (package, benchmark, unit) of the head
// records, grouped by package, and a filter box.
//
// The page is served from the repository's own history branch by GitHub
// Pages, so it loads nothing from anywhere: no CDN, no font, no image;
// its CSS and the few lines of its filter script are inline, and a
// Content-Security-Policy allows nothing else. The charts are drawn with
// gonum.org/v1/plot and embedded as inline SVG.
//
// Every name on the page comes from the history branch, which anyone with
// push access writes: html/template escapes the page's text and
// attributes, and the charts' text goes through vgsvg, which escapes it
// too.
//
// Absolute figures from different machines are not comparable, so a
// chart breaks where the environment changes (history.Series.Breaks): a
// new line, in the environment's colour, after a dashed line that names
// the change.
package page

import (
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/natsbench/natsbench-action/history"
)

// Default bounds of a page; Options can lower or raise them.
const (
	// DefaultMaxCharts bounds the charts of a page: past it the page
	// would take too long to open.
	DefaultMaxCharts = 2000
	// DefaultMaxPoints bounds the points of a chart; the newest are kept.
	DefaultMaxPoints = 1000
)

// Mark is a change point to draw on a chart.
type Mark struct {
	// Index is the index of the point in the series'
	// History.Series(history.SideHead) gives for the key.
	Index int
	// Label is drawn beside the marker, e.g. "+18% (change point)".
	Label string
}

// Options are what a page shows besides the history.
type Options struct {
	// Repository is the owner/name the page is about.
	Repository string
	// Generated is the time the page says it was made; zero is now.
	Generated time.Time
	// Marks are the change points of each series.
	Marks map[history.Key][]Mark
	// MaxCharts and MaxPoints bound the page; zero takes the defaults.
	MaxCharts int
	MaxPoints int
}

//go:embed page.tmpl
var pageTmpl string

//go:embed page.css
var pageCSS string

//go:embed filter.js
var filterJS string

var tmpl = template.Must(template.New("page").Parse(pageTmpl))

// scriptHash is the CSP source of the one script the page may run.
var scriptHash = func() string {
	sum := sha256.Sum256([]byte(filterJS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// view is what the template shows.
type view struct {
	Repository string
	Records    int
	Span       string
	Generated  string
	Envs       []envView
	Packages   []packageView
	Charts     int
	Notes      []string
	Problems   []string
	CSP        string
	CSS        template.CSS
	Script     template.JS
}

type envView struct {
	Key     string
	Color   string
	Records int
	Span    string
}

type packageView struct {
	Name   string
	Charts []chartView
}

type chartView struct {
	Filter    string // what the filter box matches, lower case
	Name      string
	Unit      string
	Last      string
	LastTitle string
	Change    string
	ChangeDir string // worse, better or flat: a class
	Since     string
	// SinceTitle says what the change is measured against.
	SinceTitle string
	Points     int
	Capped     bool
	SVG        template.HTML
}

// Render writes the trend page of the head records of h to w.
func Render(w io.Writer, h *history.History, opt Options) error {
	if opt.MaxCharts <= 0 {
		opt.MaxCharts = DefaultMaxCharts
	}
	if opt.MaxPoints <= 0 {
		opt.MaxPoints = DefaultMaxPoints
	}
	if opt.Generated.IsZero() {
		opt.Generated = time.Now()
	}
	v := view{
		Repository: opt.Repository,
		Generated:  opt.Generated.UTC().Format("2006-01-02 15:04 MST"),
		CSP:        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src " + scriptHash,
		CSS:        template.CSS(pageCSS),
		Script:     template.JS(filterJS),
	}
	var first, last time.Time
	for _, r := range h.Records {
		if r.Side != history.SideHead {
			continue
		}
		if v.Records == 0 || r.RunTime.Before(first) {
			first = r.RunTime
		}
		if v.Records == 0 || r.RunTime.After(last) {
			last = r.RunTime
		}
		v.Records++
	}
	if v.Records > 0 {
		v.Span = span(first, last)
	}

	all := h.Series(history.SideHead)
	envIdx := environments(h, all)
	for _, e := range envIdx.list {
		v.Envs = append(v.Envs, envView{Key: e.key, Color: hexColor(envColor(e.idx)), Records: e.records, Span: span(e.first, e.last)})
	}
	series := all
	if len(series) > opt.MaxCharts {
		v.Notes = append(v.Notes, fmt.Sprintf("Showing the first %d of %d charts (the page's limit).", opt.MaxCharts, len(all)))
		series = series[:opt.MaxCharts]
	}
	charts := make([]chartView, len(series))
	errs := make([]error, len(series))
	capped := 0
	// Charts are independent: draw them on every core.
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				charts[i], errs[i] = chart(series[i], opt, envIdx.byKey)
			}
		})
	}
	for i, s := range series {
		if len(s.Points) > opt.MaxPoints {
			capped++
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if capped > 0 {
		note := fmt.Sprintf("%d charts show only their newest %d points.", capped, opt.MaxPoints)
		if capped == 1 {
			note = fmt.Sprintf("1 chart shows only its newest %d points.", opt.MaxPoints)
		}
		v.Notes = append(v.Notes, note)
	}
	for i, s := range series {
		if errs[i] != nil {
			v.Problems = append(v.Problems, errs[i].Error())
			continue
		}
		if n := len(v.Packages); n == 0 || v.Packages[n-1].Name != s.Key.Package {
			v.Packages = append(v.Packages, packageView{Name: s.Key.Package})
		}
		pv := &v.Packages[len(v.Packages)-1]
		pv.Charts = append(pv.Charts, charts[i])
		v.Charts++
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("writing the trend page: %w", err)
	}
	return nil
}

// chart draws one series and says what its card says.
func chart(s history.Series, opt Options, env func(string) int) (chartView, error) {
	full := len(s.Points)
	s = s.Last(opt.MaxPoints)
	dropped := full - len(s.Points)
	var marks []Mark
	for _, m := range opt.Marks[s.Key] {
		if m.Index -= dropped; m.Index >= 0 && m.Index < len(s.Points) {
			marks = append(marks, m)
		}
	}
	svg, err := drawChart(s, marks, env)
	if err != nil {
		return chartView{}, err
	}
	last := s.Points[len(s.Points)-1]
	cv := chartView{
		Filter:    strings.ToLower(s.Key.Package + " " + s.Key.Name + " " + s.Key.Unit),
		Name:      s.Key.Name,
		Unit:      s.Key.Unit,
		Last:      formatValue(last.Center, s.Key.Unit),
		LastTitle: fmt.Sprintf("%s on %s, interval %s to %s, n=%d", shortSHA(last.SHA), last.Time.UTC().Format("2006-01-02"), formatValue(last.Low, s.Key.Unit), formatValue(last.High, s.Key.Unit), last.N),
		Points:    len(s.Points),
		Capped:    dropped > 0,
		// The SVG is gonum's output, whose text vgsvg escapes; nothing
		// else from the history is in it.
		SVG: template.HTML(svg),
	}
	// The change is measured within the newest environment only: across
	// a break it would compare two machines.
	from := 0
	if b := s.Breaks(); len(b) > 0 {
		from = b[len(b)-1]
	}
	if first := s.Points[from]; from < len(s.Points)-1 {
		cv.Change = formatChange(first.Center, last.Center)
		cv.Since = "since " + first.Time.UTC().Format("Jan 2")
		cv.SinceTitle = "change of the median from " + formatValue(first.Center, s.Key.Unit) + " on " + first.Time.UTC().Format("2006-01-02")
		if from > 0 {
			cv.SinceTitle += ", when this series moved to its current environment"
		}
		up, down := "worse", "better"
		if higherIsBetter(s.Key.Unit) {
			up, down = down, up
		}
		switch {
		case strings.HasPrefix(cv.Change, "+"):
			cv.ChangeDir = up
		case strings.HasPrefix(cv.Change, "−"):
			cv.ChangeDir = down
		default:
			cv.ChangeDir = "flat"
		}
	}
	return cv, nil
}

// higherIsBetter tells a rate (B/s, msgs/s) from a cost (sec/op, B/op),
// whose rise is the bad news.
func higherIsBetter(unit string) bool {
	return strings.HasSuffix(unit, "/s") && !strings.HasPrefix(unit, "sec/") && !strings.HasPrefix(unit, "ns/")
}

func shortSHA(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// span is "Sep 2 – Dec 1, 2026 (90 days)".
func span(a, b time.Time) string {
	a, b = a.UTC(), b.UTC()
	days := int(b.Sub(a).Hours()/24 + 0.5)
	from := a.Format("Jan 2, 2006")
	if a.Year() == b.Year() {
		from = a.Format("Jan 2")
	}
	if days == 0 && a.YearDay() == b.YearDay() {
		return b.Format("Jan 2, 2006")
	}
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return fmt.Sprintf("%s – %s (%d %s)", from, b.Format("Jan 2, 2006"), days, unit)
}

type envInfo struct {
	key         string
	idx         int
	records     int
	first, last time.Time
	firstRecord int
}

type envIndex struct {
	list  []*envInfo
	byKey func(string) int
}

// environments numbers the environments of the head series in the order
// they first appear, so that an environment has one colour on every chart.
func environments(h *history.History, all []history.Series) envIndex {
	m := map[string]*envInfo{}
	for _, s := range all {
		for _, p := range s.Points {
			e := m[p.Env]
			if e == nil {
				e = &envInfo{key: p.Env, firstRecord: p.Record, first: p.Time, last: p.Time}
				m[p.Env] = e
			}
			e.firstRecord = min(e.firstRecord, p.Record)
			if p.Time.Before(e.first) {
				e.first = p.Time
			}
			if p.Time.After(e.last) {
				e.last = p.Time
			}
		}
	}
	var list []*envInfo
	for _, e := range m {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *envInfo) int {
		return cmp.Or(cmp.Compare(a.firstRecord, b.firstRecord), strings.Compare(a.key, b.key))
	})
	for i, e := range list {
		e.idx = i
	}
	// Records per environment: a record counts for each environment its
	// rows ran on (a merged run can have several).
	for _, r := range h.Records {
		if r.Side != history.SideHead {
			continue
		}
		keys := map[string]bool{r.Env.Key(): true}
		for _, row := range r.Rows {
			if row.CPU != "" {
				e := r.Env
				e.CPU = row.CPU
				keys[e.Key()] = true
			}
		}
		for k := range keys {
			if e := m[k]; e != nil {
				e.records++
			}
		}
	}
	return envIndex{list: list, byKey: func(k string) int {
		if e := m[k]; e != nil {
			return e.idx
		}
		return 0
	}}
}
