package history

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/natsbench/natsbench-action/compare"
)

// Meta is what a run knows about itself that a report does not say.
type Meta struct {
	ID         string
	CommitTime time.Time
	RunTime    time.Time
	Ref        string
	Event      string
	RunURL     string
	Image      string
}

// FromReport makes the record of one side of a report: every row that
// has figures for that side.
func FromReport(rep *compare.Report, side string, m Meta) (Record, error) {
	if side != SideHead && side != SideBase {
		return Record{}, fmt.Errorf("history record: side %q is not head or base", side)
	}
	ref := rep.Head
	if side == SideBase {
		ref = rep.Base
	}
	rec := Record{
		Schema:     Schema,
		ID:         m.ID,
		SHA:        ref.SHA,
		CommitTime: m.CommitTime.UTC(),
		RunTime:    m.RunTime.UTC(),
		Ref:        m.Ref,
		Event:      m.Event,
		RunURL:     m.RunURL,
		Side:       side,
		Env: Env{
			CPU:        rep.Environment.CPU,
			GOMAXPROCS: rep.Environment.GOMAXPROCS,
			GoVersion:  rep.Environment.GoVersion,
			GOOS:       rep.Environment.GOOS,
			GOARCH:     rep.Environment.GOARCH,
			Image:      m.Image,
		},
		Count:     rep.Config.Count,
		Benchtime: rep.Config.Benchtime,
	}
	if rec.Ref == "" {
		rec.Ref = ref.Ref
	}
	for _, row := range rep.Benchmarks {
		s := row.Head
		if side == SideBase {
			s = row.Base
		}
		if s == nil || s.N == 0 || !finite(s.Center) {
			continue
		}
		r := Row{Package: row.Package, Name: row.Name, Unit: row.Unit,
			N: s.N, Center: s.Center, Low: s.Low, High: s.High}
		// Too few samples give no interval; the center is still the
		// run's best figure, so it is kept with an empty one and N says
		// how little it rests on.
		if !finite(s.Low, s.High) {
			r.Low, r.High = s.Center, s.Center
		}
		if row.CPU != "" && row.CPU != rec.Env.CPU {
			r.CPU = row.CPU
		}
		rec.Rows = append(rec.Rows, r)
	}
	return rec, nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Point is one record's figures for one series.
type Point struct {
	// Record is the index of the record in History.Records.
	Record int
	SHA    string
	Time   time.Time // the run's time
	// Env is the environment key; a series breaks where it changes.
	Env    string
	N      int
	Center float64
	Low    float64
	High   float64
}

// Series is one (package, benchmark, unit) across the records, oldest
// first.
type Series struct {
	Key    Key
	Points []Point
}

// Breaks returns the indexes of the points whose environment differs from
// the point before: where a chart must not draw one line through.
func (s Series) Breaks() []int {
	var out []int
	for i := 1; i < len(s.Points); i++ {
		if s.Points[i].Env != s.Points[i-1].Env {
			out = append(out, i)
		}
	}
	return out
}

// Series returns every series of the head records (the code as it was on
// its branch), sorted by package, benchmark and unit. side "" takes both
// sides.
func (h *History) Series(side string) []Series {
	idx := map[Key]int{}
	var out []Series
	for i, rec := range h.Records {
		if side != "" && rec.Side != side {
			continue
		}
		for _, row := range rec.Rows {
			k := row.Key()
			j, ok := idx[k]
			if !ok {
				j = len(out)
				idx[k] = j
				out = append(out, Series{Key: k})
			}
			env := rec.Env
			if row.CPU != "" {
				env.CPU = row.CPU
			}
			out[j].Points = append(out[j].Points, Point{Record: i, SHA: rec.SHA, Time: rec.RunTime,
				Env: env.Key(), N: row.N, Center: row.Center, Low: row.Low, High: row.High})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Unit < b.Unit
	})
	return out
}

// Last returns the series' last n points (all when it has fewer).
func (s Series) Last(n int) Series {
	if len(s.Points) > n {
		s.Points = s.Points[len(s.Points)-n:]
	}
	return s
}

// sparks are the eight heights of a sparkline.
var sparks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values as unicode blocks scaled between their minimum
// and maximum. A non-finite value is a space.
func Sparkline(values []float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if finite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	var b strings.Builder
	for _, v := range values {
		switch {
		case !finite(v):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(sparks[len(sparks)/2-1])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(len(sparks)-1)))
			b.WriteRune(sparks[i])
		}
	}
	return b.String()
}
