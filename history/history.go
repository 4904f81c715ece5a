// Package history is the memory of trusted runs: one Record per run and
// side measured, kept as JSON Lines on a branch of the repository itself
// (see history/gitstore), so that a pull request can see a row's trend on
// the default branch and a trend page can draw every series.
//
// The store is read by every run, including runs of hostile pull
// requests, and anyone with push access can write the branch, so Load
// treats it as untrusted input: files and lines are bounded, records are
// validated, and whatever is bad is skipped with a Warning while the good
// records are kept.
//
// Records are compact on purpose: a year of daily runs of a 200-row suite
// must stay a cheap depth-1 fetch, so a row is a JSON array, not an
// object, and figures keep six significant digits.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schema identifies the history record format.
const Schema = "natsbench/history/v1"

// Side names which side of a run a record measured.
const (
	SideHead = "head"
	SideBase = "base"
)

// Limits on what a record may hold; a record over one is skipped whole.
const (
	// MaxRows bounds the rows of one record.
	MaxRows = 10000
	// maxName bounds a package or benchmark name.
	maxName = 1024
	// maxWord bounds a unit, a ref, an event, a SHA, an environment field.
	maxWord = 256
	// maxURL bounds the run URL.
	maxURL = 2048
	// maxN bounds a row's sample count.
	maxN = 1 << 20
	// maxAbs bounds a figure: anything larger is not a measurement.
	maxAbs = 1e18
)

// Record is one run's measurements of one side.
type Record struct {
	Schema string `json:"schema"`
	// ID is unique per run attempt and side; appending a record whose ID
	// is already stored does nothing, which makes a retried write safe.
	ID         string    `json:"id"`
	SHA        string    `json:"sha"`
	CommitTime time.Time `json:"commit_time"`
	RunTime    time.Time `json:"run_time"`
	Ref        string    `json:"ref,omitempty"`
	Event      string    `json:"event,omitempty"`
	RunURL     string    `json:"run_url,omitempty"`
	Side       string    `json:"side"`
	Env        Env       `json:"env"`
	Count      int       `json:"count,omitempty"`
	Benchtime  string    `json:"benchtime,omitempty"`
	Rows       []Row     `json:"rows"`
}

// Env is the machine a record was measured on. Figures from different
// environments are not comparable, so a series breaks where it changes.
type Env struct {
	CPU        string `json:"cpu,omitempty"`
	GOMAXPROCS int    `json:"gomaxprocs,omitempty"`
	GoVersion  string `json:"go,omitempty"`
	GOOS       string `json:"goos,omitempty"`
	GOARCH     string `json:"goarch,omitempty"`
	// Image is the runner image (ImageOS/ImageVersion) when known.
	Image string `json:"image,omitempty"`
}

// Key identifies the environment for breaking series. The runner image is
// left out: an image update with the same CPU and Go is still the same
// machine for the figures.
func (e Env) Key() string {
	var parts []string
	if e.CPU != "" {
		parts = append(parts, e.CPU)
	}
	if e.GoVersion != "" {
		parts = append(parts, e.GoVersion)
	}
	if e.GOMAXPROCS != 0 {
		parts = append(parts, "GOMAXPROCS="+strconv.Itoa(e.GOMAXPROCS))
	}
	if e.GOOS != "" || e.GOARCH != "" {
		parts = append(parts, e.GOOS+"/"+e.GOARCH)
	}
	if len(parts) == 0 {
		return "unknown environment"
	}
	return strings.Join(parts, ", ")
}

// Row is one (package, benchmark, unit) of a record: the sample count and
// the median with its confidence interval, as report.json gives them.
// CPU is set only when the row ran on another processor than the
// record's (a shard of a merged run).
type Row struct {
	Package string
	Name    string
	Unit    string
	N       int
	Center  float64
	Low     float64
	High    float64
	CPU     string
}

// Key returns the series the row belongs to.
func (r Row) Key() Key { return Key{Package: r.Package, Name: r.Name, Unit: r.Unit} }

// MarshalJSON writes the row as [package, name, unit, n, center, low,
// high] with cpu appended when set.
func (r Row) MarshalJSON() ([]byte, error) {
	a := []any{r.Package, r.Name, r.Unit, r.N, short(r.Center), short(r.Low), short(r.High)}
	if r.CPU != "" {
		a = append(a, r.CPU)
	}
	return json.Marshal(a)
}

// UnmarshalJSON reads the array MarshalJSON writes. It decodes the array
// once into plain values rather than field by field: rows are most of
// what reading a history costs.
func (r *Row) UnmarshalJSON(b []byte) error {
	var a []any
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("a row must be an array: %w", err)
	}
	if len(a) != 7 && len(a) != 8 {
		return fmt.Errorf("a row has %d fields, want 7 or 8", len(a))
	}
	var x Row
	strs := []*string{&x.Package, &x.Name, &x.Unit}
	if len(a) == 8 {
		strs = append(strs, &x.CPU)
	}
	for i, dst := range strs {
		j := i
		if i == 3 {
			j = 7
		}
		s, ok := a[j].(string)
		if !ok {
			return fmt.Errorf("row field %d must be a string", j+1)
		}
		*dst = s
	}
	for i, dst := range []*float64{&x.Center, &x.Low, &x.High} {
		v, ok := a[4+i].(float64)
		if !ok {
			return fmt.Errorf("row field %d must be a number", 5+i)
		}
		*dst = v
	}
	n, ok := a[3].(float64)
	if !ok || n != math.Trunc(n) || math.Abs(n) > maxN {
		return fmt.Errorf("row field 4 must be a whole number of samples")
	}
	x.N = int(n)
	*r = x
	return nil
}

// short keeps six significant digits: more is noise, and it is bytes in
// every fetch.
func short(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

var (
	shaRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	idRE  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

// earliest is before any record this tool can have written.
var earliest = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate reports what is wrong with a record, or nil. now bounds the
// times: a record from the future is absurd.
func (r *Record) Validate(now time.Time) error {
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < 5 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if r.Schema != Schema {
		return fmt.Errorf("schema %q, want %q", clip(r.Schema), Schema)
	}
	if !idRE.MatchString(r.ID) {
		bad("id %q is not 1-128 letters, digits or ._:-", clip(r.ID))
	}
	if !shaRE.MatchString(r.SHA) {
		bad("sha %q is not a hex commit id", clip(r.SHA))
	}
	late := now.Add(24 * time.Hour)
	if r.RunTime.Before(earliest) || r.RunTime.After(late) {
		bad("run_time %s is out of range", r.RunTime.Format(time.RFC3339))
	}
	if !r.CommitTime.IsZero() && (r.CommitTime.Before(earliest) || r.CommitTime.After(late)) {
		bad("commit_time %s is out of range", r.CommitTime.Format(time.RFC3339))
	}
	if r.Side != SideHead && r.Side != SideBase {
		bad("side %q is not head or base", clip(r.Side))
	}
	for what, s := range map[string]string{"ref": r.Ref, "event": r.Event, "benchtime": r.Benchtime,
		"env.cpu": r.Env.CPU, "env.go": r.Env.GoVersion, "env.goos": r.Env.GOOS, "env.goarch": r.Env.GOARCH, "env.image": r.Env.Image} {
		if len(s) > maxWord {
			bad("%s is %d bytes long, over %d", what, len(s), maxWord)
		}
	}
	if len(r.RunURL) > maxURL || (r.RunURL != "" && !strings.HasPrefix(r.RunURL, "https://") && !strings.HasPrefix(r.RunURL, "http://")) {
		bad("run_url is not an http(s) URL of at most %d bytes", maxURL)
	}
	if r.Count < 0 || r.Count > maxN || r.Env.GOMAXPROCS < 0 || r.Env.GOMAXPROCS > 1<<16 {
		bad("count %d or gomaxprocs %d is out of range", r.Count, r.Env.GOMAXPROCS)
	}
	if len(r.Rows) == 0 {
		bad("no rows")
	}
	if len(r.Rows) > MaxRows {
		bad("%d rows, over %d", len(r.Rows), MaxRows)
		return errors.Join(errs...)
	}
	seen := make(map[Key]bool, len(r.Rows))
	for i, row := range r.Rows {
		if err := row.validate(); err != nil {
			bad("row %d: %v", i+1, err)
			continue
		}
		if seen[row.Key()] {
			bad("row %d: %s %s %s appears twice", i+1, clip(row.Package), clip(row.Name), clip(row.Unit))
		}
		seen[row.Key()] = true
	}
	return errors.Join(errs...)
}

func (row Row) validate() error {
	switch {
	case row.Package == "" || len(row.Package) > maxName:
		return fmt.Errorf("package is empty or over %d bytes", maxName)
	case row.Name == "" || len(row.Name) > maxName:
		return fmt.Errorf("name is empty or over %d bytes", maxName)
	case row.Unit == "" || len(row.Unit) > maxWord || len(row.CPU) > maxWord:
		return fmt.Errorf("unit or cpu is empty or over %d bytes", maxWord)
	case row.N < 1 || row.N > maxN:
		return fmt.Errorf("n %d is out of range", row.N)
	}
	for _, v := range []float64{row.Center, row.Low, row.High} {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxAbs {
			return fmt.Errorf("figure %g is not a measurement", v)
		}
	}
	// Six digits each side can round the interval's ends past the center.
	tol := 1e-5 * math.Abs(row.Center)
	if row.Low > row.Center+tol || row.High < row.Center-tol {
		return fmt.Errorf("interval [%g, %g] does not hold its center %g", row.Low, row.High, row.Center)
	}
	return nil
}

// clip shortens hostile text quoted in a warning.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Key names a series: one (package, benchmark, unit).
type Key struct {
	Package string
	Name    string
	Unit    string
}

// String is "package Name unit".
func (k Key) String() string { return k.Package + " " + k.Name + " " + k.Unit }
